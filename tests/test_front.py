"""What a browser finds at the root: the pages, and the API's documentation served offline."""

import re

import httpx

from app.ui.pages import VENDOR


async def test_the_root_leads_to_the_pages(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/")

    assert response.status_code == 307
    assert response.headers["location"] == "/ui/"


async def test_docs_pages_load_only_vendored_files_under_a_policy_that_names_their_script(
    anonymous: httpx.AsyncClient,
) -> None:
    for path in ("/docs", "/redoc"):
        response = await anonymous.get(path)
        assert response.status_code == 200
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "'unsafe-eval'" not in policy
        assert not re.search(r"script-src[^;]*'unsafe-inline'", policy)
        sources = re.findall(r'(?:src|href)="([^"]+)"', response.text)
        assert sources, path
        for source in sources:
            assert source.startswith("/ui/static/vendor/"), (path, source)
            assert (VENDOR / source.removeprefix("/ui/static/vendor/")).is_file()


async def test_docs_are_not_part_of_the_api_document(anonymous: httpx.AsyncClient) -> None:
    paths = (await anonymous.get("/openapi.json")).json()["paths"]
    assert not {"/", "/docs", "/redoc"} & paths.keys()
