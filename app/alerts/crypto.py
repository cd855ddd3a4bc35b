"""Webhook secrets at rest: encrypted with a key derived from TRACER_SECRET_KEY.

Without that setting a random key is created once in `secret_key_file` (readable only by its
owner) and reused from then on; every process that delivers webhooks must see the same key.
"""

import base64
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.config import Settings

SECRET_PREFIX = "whsec_"

__all__ = ["InvalidToken", "SecretBox", "new_webhook_secret"]


def new_webhook_secret() -> str:
    """`whsec_` and 32 random bytes in base64, as Standard Webhooks libraries expect."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key_material(settings: Settings) -> bytes:
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    return _key_file(settings.secret_key_file)


def _key_file(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    material = base64.urlsafe_b64encode(secrets.token_bytes(32))
    with os.fdopen(fd, "wb") as handle:
        handle.write(material + b"\n")
    return material


class SecretBox:
    """Encrypts and decrypts webhook secrets."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._cipher: Fernet | None = None

    @property
    def _fernet(self) -> Fernet:
        # Derived on first use, so a server nobody subscribes to never writes a key file.
        if self._cipher is None:
            derived = HKDF(
                algorithm=hashes.SHA256(), length=32, salt=None, info=b"tracer webhook secrets"
            ).derive(_key_material(self._settings))
            self._cipher = Fernet(base64.urlsafe_b64encode(derived))
        return self._cipher

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        """The clear secret; raises InvalidToken when sealed under another key."""
        return self._fernet.decrypt(sealed.encode()).decode()
