"""The client's address, as far as it can be trusted.

The direct peer is the client, unless it is one of the configured reverse proxies
(`TRUSTED_PROXIES`): then `X-Forwarded-For` is read from the right, skipping the trusted hops, and
the first untrusted one is the client. Anyone else's `X-Forwarded-For` is ignored, so a forged
header buys nothing. The address is used for limits only, as a keyed hash of its network; it is
never stored or logged as such.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

IPV4_PREFIX = 24  # a town hall, a small office: one network
IPV6_PREFIX = 56  # what an operator usually gives one customer


@functools.lru_cache(maxsize=8)
def parse_trusted(text: str) -> tuple[IPNetwork, ...]:
    """`10.0.0.1, 192.168.0.0/16, ::1` as networks; raises ValueError on a malformed entry."""
    networks = []
    for part in text.split(","):
        part = part.strip()
        if part:
            networks.append(ipaddress.ip_network(part, strict=False))
    return tuple(networks)


def _parse(text: str) -> IPAddress | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress, trusted: tuple[IPNetwork, ...]) -> bool:
    return any(address.version == n.version and address in n for n in trusted)


def client_address(
    peer: str | None, forwarded_for: list[str], trusted: tuple[IPNetwork, ...]
) -> IPAddress | None:
    """The client behind `peer` (the direct connection) given its X-Forwarded-For headers."""
    current = _parse(peer) if peer else None
    if current is None or not _trusted(current, trusted):
        return current
    hops = [hop for header in forwarded_for for hop in header.split(",")]
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:  # garbage where a proxy should have written an address: stop here
            return current
        current = address
        if not _trusted(address, trusted):
            return address
    return current  # every hop is one of ours


def from_scope(scope: Mapping[str, Any], trusted_proxies: str) -> IPAddress | None:
    """The client of an ASGI connection (Litestar: `request.scope`)."""
    client = scope.get("client")
    peer = client[0] if client else None
    headers = [
        value.decode("latin-1")
        for name, value in scope.get("headers", ())
        if name.lower() == b"x-forwarded-for"
    ]
    return client_address(peer, headers, parse_trusted(trusted_proxies))


def network_of(address: IPAddress) -> IPNetwork:
    """The network an address is counted with: /24 in IPv4, /56 in IPv6."""
    prefix = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
    return ipaddress.ip_network(f"{address}/{prefix}", strict=False)
