"""``[platform]`` settings: off by default, complete when enabled, errors name the key."""

from __future__ import annotations

import pytest

from csms.config import load_settings
from csms.errors import ConfigError

FULL = {"enabled": True, "url": "http://127.0.0.1:9/evcs/v1", "operator_id": "MA0000001",
        "operator_secret": "s", "data_secret": "a" * 16, "data_iv": "b" * 16,
        "sig_secret": "c", "platform_id": "MA0000002", "platform_secret": "p"}


def test_off_by_default() -> None:
    """Without a [platform] section nothing is sent."""
    assert not load_settings().platform.enabled


def test_complete_platform_loads() -> None:
    """An enabled platform with every key loads, communities as a tuple."""
    settings = load_settings(None, platform={**FULL, "communities": [3, 4]})
    assert (3, 4) == settings.platform.communities


@pytest.mark.parametrize(("key", "value", "message"), [
    ("data_secret", "short", "platform: Value error, data_secret must be exactly 16 bytes"),
    ("sig_secret", "", "required when platform.enabled: sig_secret"),
    ("url", "ftp://x", "platform.url"),
    ("max_attempts", 0, "platform.max_attempts"),
])
def test_errors_name_the_key(key: str, value: object, message: str) -> None:
    """A missing or bad key stops start-up with its name in the message."""
    with pytest.raises(ConfigError) as caught:
        load_settings(None, platform={**FULL, key: value})
    assert message in str(caught.value)
