"""Operations: readiness, the first start of `tracer serve`, and the documentation."""

import asyncio
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import httpx

from app.config import Settings
from app.main import create_app
from tests.conftest import make_client, started
from tests.problems import assert_problem


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_readyz_is_503_until_the_database_is_migrated(tmp_path: Path) -> None:

    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'new.db'}"))
    async with started(app), make_client(app, None) as http:
        not_ready = await http.get("/readyz")
        alive = await http.get("/healthz")
    assert not_ready.status_code == 503
    assert not_ready.headers["content-type"].startswith("application/problem+json")
    assert alive.status_code == 200


async def test_docs_and_openapi_are_served(anonymous: httpx.AsyncClient) -> None:
    spec = (await anonymous.get("/openapi.json")).json()
    assert "/v1/claims/{claim_id}/chain" in spec["paths"]
    assert (await anonymous.get("/docs")).status_code == 200


async def _serve_until_ready(env: dict[str, str], port: int, key_file: Path) -> tuple[str, int]:
    """Start `tracer serve`, create a key with the admin key it left, stop it; its banner."""
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            # A start loads the matching model: on a busy machine, well over fifteen seconds.
            for _ in range(600):
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            created = await http.post(
                "/v1/keys",
                json={"name": "dashboard", "scope": "read"},
                headers={"Authorization": f"Bearer {key_file.read_text().strip()}"},
            )
    finally:
        server.terminate()
        # Stopping waits for the process that embeds and captures, which may still be loading
        # the model it started with: on a busy machine, more than twenty seconds.
        banner = server.communicate(timeout=90)[0]
    return banner, created.status_code


async def test_first_serve_creates_a_private_admin_key_and_says_where_the_docs_are(
    tmp_path: Path,
) -> None:
    port = _free_port()
    key_file = tmp_path / "admin-key"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRACER_")},
        "TRACER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'tracer.db'}",
        "TRACER_ADMIN_KEY_FILE": str(key_file),
        "TRACER_EVIDENCE_STORE": str(tmp_path / "evidence"),
    }

    first_banner, first_status = await _serve_until_ready(env, port, key_file)
    key = key_file.read_text().strip()
    second_banner, second_status = await _serve_until_ready(env, port, key_file)

    assert (first_status, second_status) == (201, 201)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key.startswith("trk_") and key in first_banner
    assert f"http://127.0.0.1:{port}/docs" in first_banner
    # Later starts point at the file; the key itself is printed only once.
    assert key not in second_banner and str(key_file) in second_banner


async def test_metrics_count_requests_by_route_without_a_key(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    await client.get("/v1/claims/some-id")
    await client.get("/v1/claims/other-id")

    response = await anonymous.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert (
        'tracer_http_requests_total{method="GET",route="/v1/claims/{claim_id}",status="404"} 2.0'
        in text
    )
    assert "some-id" not in text


async def test_unknown_paths_and_methods_are_problems_too(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/nothing-here"), 404)
    assert_problem(await client.delete("/v1/claims"), 405)
