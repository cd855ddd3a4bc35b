"""Keeps webhooks from reaching the service's own network (server-side request forgery).

A URL is refused when any address its host resolves to is not a public unicast address. The
check runs when a subscription is saved and again before every delivery, so a DNS record
changed afterwards cannot slip past it.
"""

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

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
