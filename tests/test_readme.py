"""The README's five-minute tour, run as a newcomer runs it: its shell commands, as written,
against a real server holding the worked example."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import Settings
from tests.conftest import ADMIN_KEY, _migrate
from tests.ui.browser import serve

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
# `make demo` as the Makefile runs it, without make's check that .venv is installed.
MAKE = "make() { [[ $1 == demo ]] && .venv/bin/tracer demo; }\n"


def tour(base_url: str) -> str:
    section = README.read_text("utf-8").split("## A five-minute tour", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    return "\n".join(blocks).replace("http://127.0.0.1:8000", base_url)


def test_the_readme_tour_runs_and_a_refusal_prints_its_problem(tmp_path: Path) -> None:
    tracer = Path(sys.prefix) / "bin" / "tracer"
    if shutil.which("curl") is None or not tracer.exists():
        pytest.skip("the tour needs curl and the installed `tracer` command")
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'tracer.db'}"
    _migrate(database_url)
    (tmp_path / ".venv").symlink_to(sys.prefix)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    (tmp_path / ".tracer-admin-key").write_text(ADMIN_KEY)
    settings = Settings(
        database_url=database_url,
        bootstrap_admin_key=ADMIN_KEY,
        admin_key_file=tmp_path / "admin-key",
        secret_key_file=tmp_path / "secret-key",
    )
    env = {**os.environ, "TRACER_DATABASE_URL": database_url}

    with serve(settings) as base_url:
        script = MAKE + tour(base_url)
        ran = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )

    out, err = ran.stdout, ran.stderr
    assert "Traceback" not in out + err, err
    assert "worked example: 9 sightings recorded" in out
    assert '"denial_lag_seconds": 864000' in out
    assert "\ndenied\n" in out
    assert '"alternateName": "fake"' in out
    assert "from_published_at,from_published_at_precision,from_url" in out
    assert "North Korea offered to send up to 100,000 troops" in out
    assert "event: claim.created" in out
    assert "0 created, 9 duplicates, 0 errors" in out
    # The one refusal of the tour shows its status and problem document, nothing else.
    refusal = re.search(r"HTTP 404: (\{.*\})", err)
    assert refusal is not None, err
    assert '"detail":"no claim with id \'no-such-claim\'"' in refusal.group(1)
