"""Webhooks may reach only the public internet, however an address is written; their URLs are
for admin keys' eyes."""

import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from app.netguard import is_forbidden
from tests.alerts.conftest import fast_settings
from tests.conftest import make_client, started
from tests.problems import assert_problem

NOT_PUBLIC = [
    # IPv4 special-purpose registry
    "0.1.2.3", "10.0.0.1", "100.64.0.1", "127.0.0.1", "127.255.255.254", "169.254.169.254",
    "172.16.0.1", "172.31.255.255", "192.0.0.8", "192.0.2.1", "192.31.196.1", "192.52.193.1",
    "192.88.99.1", "192.168.1.1", "192.175.48.1", "198.18.0.1", "198.51.100.1", "203.0.113.1",
    "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
    # IPv6 special-purpose registry, multicast, site-local
    "::", "::1", "100::1", "2001:db8::1", "2001:2::1", "2001:10::1", "2001:20::1",
    "fc00::1", "fd12:3456::1", "fe80::1", "fec0::1", "feff::1", "ff02::1", "3fff::1",
    "5f00::1", "2620:4f:8000::1",
    # IPv4 carried inside IPv6
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:0:10.0.0.1",  # SIIT IPv4-translated
    "::127.0.0.1",  # IPv4-compatible
    "::169.254.169.254",
    "64:ff9b::127.0.0.1",  # NAT64, well-known prefix
    "64:ff9b::10.0.0.1",
    "64:ff9b::169.254.169.254",
    "64:ff9b:1:7f00:0:100::",  # NAT64, local-use /48, embedding 127.0.0.1
    "64:ff9b:1:a00:0:100::",  # ... 10.0.0.1
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
]  # fmt: skip
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.215.14", "2606:4700:4700::1111", "2a00:1450:4001::1"]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_every_non_public_form_is_refused(address: str) -> None:
    assert is_forbidden(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert not is_forbidden(ipaddress.ip_address(address))


@pytest.fixture
async def guarded(database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    app = create_app(fast_settings(database_url, tmp_path, webhook_allow_private=False))
    async with started(app):
        yield app


@pytest.mark.parametrize(
    "host", ["[64:ff9b::7f00:1]", "[64:ff9b:1:7f00:0:100::]", "[::127.0.0.1]", "[fec0::1]"]
)
async def test_subscriptions_to_embedded_private_addresses_are_refused(
    guarded: FastAPI, host: str
) -> None:
    body = {"url": f"http://{host}/hook", "event_types": ["denial.recorded"]}
    async with make_client(guarded) as admin:
        assert_problem(await admin.post("/v1/subscriptions", json=body), 422, "url")


async def test_webhook_urls_are_shown_to_admin_keys_only(
    client: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    url = "https://hooks.example/in?token=s3cr3t"
    created = await client.post(
        "/v1/subscriptions", json={"url": url, "event_types": ["denial.recorded"]}
    )
    path = f"/v1/subscriptions/{created.json()['id']}"

    assert (await client.get(path)).json()["url"] == url
    assert (await reader.get(path)).json()["url"] is None
    listed = (await reader.get("/v1/subscriptions")).json()["items"]
    assert [s["url"] for s in listed] == [None]
    assert "s3cr3t" not in (await reader.get("/v1/subscriptions")).text
