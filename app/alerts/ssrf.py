"""Keeps webhooks from reaching the service's own network (server-side request forgery).

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


def is_forbidden(address: IPAddress) -> bool:
    """Loopback, private, link-local, multicast, reserved, unspecified or shared addresses."""
    if isinstance(address, ipaddress.IPv6Address):
        # ::ffff:127.0.0.1 reaches 127.0.0.1; 2002::/16 and NAT64 embed IPv4 the same way.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None and is_forbidden(embedded):
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
