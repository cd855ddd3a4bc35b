"""Schemathesis over the OpenAPI document, against a live API process on each engine.

Every operation, every check (server errors, status codes and content types the document does
not list, schema conformance, negative data accepted, allowed methods...), then a stateful
phase chaining operations by the identifiers they return. The seed is fixed, so a failure
reproduces; the budget is bounded, so the suite stays short.
"""

import subprocess
import sys
from pathlib import Path

from tests.conftest import ADMIN_KEY
from tests.processes import api_process, tracer_env

CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = "20261128"
BUDGET_SECONDS = "30"


def test_schemathesis_finds_nothing(database_url: str, tmp_path: Path) -> None:
    # Fuzzing sends thousands of requests, some without a key; no limit should stop it.
    env = tracer_env(
        database_url, tmp_path, TRACER_RATE_LIMIT="1000000", TRACER_AUTH_FAILURE_LIMIT="1000000"
    )
    with api_process(env) as base:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "--config-file",
                str(CONFIG),
                "run",
                f"{base}/openapi.json",
                "--header",
                f"Authorization: Bearer {ADMIN_KEY}",
                "--checks",
                "all",
                "--seed",
                SEED,
                "--max-examples",
                "15",
                "--max-time",
                BUDGET_SECONDS,
                "--workers",
                "1",
                "--no-color",
                "--report-dir",
                str(tmp_path / "report"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            # Schemathesis keeps a cache in its working directory; not in the repository.
            cwd=tmp_path,
        )
    assert result.returncode == 0, result.stdout + result.stderr
