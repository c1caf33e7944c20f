"""The client's address behind a trusted reverse proxy (HAProxy, nginx).

Rules:
1. A connection's address is its peer's, unless the peer is a trusted proxy
   (``[server] trusted_proxies``, addresses or networks) and the request carries
   ``X-Forwarded-For``: then it is the rightmost address of that header that is not itself a
   trusted proxy (what the last proxy we trust saw; anything left of it the client may have
   written).
2. An unparsable entry ends the walk: the address is the last trusted hop's, never a
   string a client chose.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """The trusted proxies as networks. Raises: ValueError naming a bad entry."""
    found = []
    for entry in entries:
        try:
            found.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or network: {entry!r}") from None
    return tuple(found)


def _trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_address(peer: str, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str:
    """Rules 1 and 2."""
    if not trusted or forwarded_for is None or not _trusted(peer, trusted):
        return peer
    address = peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return address  # rule 2
        address = hop
        if not _trusted(hop, trusted):
            return hop
    return address
