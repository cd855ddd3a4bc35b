"""Reading the pages as a browser without scripts would: hidden fields, and signing in."""

import re

import httpx


def hidden_field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name}"
    return found.group(1)


async def sign_in(http: httpx.AsyncClient, key: str) -> httpx.Response:
    page = await http.get("/ui/login")
    return await http.post(
        "/ui/login",
        data={
            "api_key": key,
            "csrf_token": hidden_field(page.text, "csrf_token"),
            "next": "/ui/claims",
        },
    )
