"""Keeps outbound requests (webhooks, page fetches) from reaching the service's own network.

A URL is refused when any address its host resolves to is not a public unicast address. The
check runs when a subscription is saved and again before every delivery, so a DNS record
changed afterwards cannot slip past it; and the connection itself goes only to an address
checked at that moment, so a name that answers differently a second later (DNS rebinding)
cannot either.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(Exception):
    """The URL cannot or must not be called."""


# The IANA IPv4 and IPv6 Special-Purpose Address Registries, every entry, globally reachable
# or not (a webhook has no business with AS112 or AMT relays either), plus multicast,
# the deprecated site-local and IPv4-compatible ranges, and SIIT's IPv4-translated form.
_SPECIAL = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.31.196.0/24", "192.52.193.0/24",
        "192.88.99.0/24", "192.168.0.0/16", "192.175.48.0/24", "198.18.0.0/15",
        "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "255.255.255.255/32",
        "::/128", "::1/128", "::/96", "::ffff:0:0/96", "::ffff:0:0:0/96", "64:ff9b::/96",
        "64:ff9b:1::/48", "100::/64", "100:0:0:1::/64", "2001::/23", "2001:db8::/32",
        "2002::/16", "2620:4f:8000::/48", "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10",
        "fec0::/10", "ff00::/8",
    )
]  # fmt: skip


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries, in every form that carries one."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    value = int(address)
    low32 = ipaddress.IPv4Address(value & 0xFFFFFFFF)
    for prefix in ("::/96", "::ffff:0:0:0/96", "64:ff9b::/96"):
        if address in ipaddress.ip_network(prefix):
            found.append(low32)
    if address in ipaddress.ip_network("64:ff9b:1::/48"):
        # RFC 6052 with a /48 prefix: the IPv4 address sits in bits 48-63 and 72-87.
        high = (value >> 64) & 0xFFFF
        low = (value >> 40) & 0xFFFF
        found.append(ipaddress.IPv4Address((high << 16) | low))
    return found


def is_forbidden(address: IPAddress) -> bool:
    """Any special-purpose, multicast or non-global address, or one embedding such."""
    if any(address in network for network in _SPECIAL if network.version == address.version):
        return True
    if isinstance(address, ipaddress.IPv6Address) and any(
        is_forbidden(inner) for inner in embedded_ipv4(address)
    ):
        return True
    return address.is_multicast or not address.is_global


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to; an IP literal resolves to itself."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl(f"the host {host!r} cannot be resolved") from exc
    # Scoped IPv6 addresses come back as "fe80::1%eth0".
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


async def check_url(url: str, *, allow_private: bool) -> None:
    """Raise UnsafeUrl unless `url` is http(s) and its host resolves to public addresses only."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl("the URL must be http or https, with a host")
    if allow_private:
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeUrl("the URL's port is not a number from 0 to 65535") from exc
    addresses = await resolve(parts.hostname, port)
    if not addresses:
        raise UnsafeUrl(f"the host {parts.hostname!r} resolves to no address")
    for address in addresses:
        if is_forbidden(address):
            raise UnsafeUrl(
                f"the host {parts.hostname!r} resolves to {address}, which is not a public "
                "address; webhooks may only go to the public internet"
            )


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses it resolved and checked itself, just before connecting.

    TLS still verifies the certificate against the URL's host name: httpcore takes the server
    name from the request, not from the address connected to.
    """

    def __init__(self, *, allow_private: bool) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await resolve(host, port)
        except UnsafeUrl as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        if not self._allow_private and any(is_forbidden(a) for a in addresses):
            raise httpcore.ConnectError(f"{host!r} resolves to an address that is not public")
        failure: Exception = httpcore.ConnectError(f"{host!r} resolves to no address")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks do not go to local sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, its connection pool connecting through a PinnedBackend."""

    def __init__(self, *, allow_private: bool, limits: httpx.Limits) -> None:
        super().__init__(trust_env=False, limits=limits)
        # httpx has no public way to hand its pool a network backend; the pool it built is
        # replaced by one with the same settings and ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedBackend(allow_private=allow_private),
        )
