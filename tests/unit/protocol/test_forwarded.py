"""The client's address behind a trusted proxy (csms.handlers.forwarded)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from csms.config import ServerSettings
from csms.handlers.forwarded import client_address, networks

LOCAL = networks(["127.0.0.1", "10.0.0.0/8"])


@pytest.mark.parametrize(("peer", "header", "expected"), [
    ("127.0.0.1", "203.0.113.7", "203.0.113.7"),  # the balancer forwarded for a charger
    ("127.0.0.1", "198.51.100.1, 203.0.113.7", "203.0.113.7"),  # the left part is the client's
    ("127.0.0.1", "203.0.113.7, 10.1.2.3", "203.0.113.7"),  # through two trusted proxies
    ("127.0.0.1", None, "127.0.0.1"),  # no header: the proxy itself
    ("127.0.0.1", "10.1.2.3", "10.1.2.3"),  # only trusted hops: the first of them
    ("127.0.0.1", "203.0.113.7, bogus", "127.0.0.1"),  # an unparsable hop ends the walk
    ("203.0.113.9", "127.0.0.1", "203.0.113.9"),  # an untrusted peer's header is ignored
])
def test_the_rightmost_untrusted_address_is_the_clients(
    peer: str, header: str | None, expected: str,
) -> None:
    assert expected == client_address(peer, header, LOCAL)


def test_without_trusted_proxies_the_header_is_never_read() -> None:
    assert "127.0.0.1" == client_address("127.0.0.1", "203.0.113.7", ())


def test_a_bad_entry_is_named_in_the_settings_error() -> None:
    with pytest.raises(ValidationError, match="not-an-address"):
        ServerSettings(trusted_proxies=["127.0.0.1", "not-an-address"])
    assert ["::1", "10.0.0.0/8"] == ServerSettings(trusted_proxies=["::1", "10.0.0.0/8"]
                                                   ).trusted_proxies
