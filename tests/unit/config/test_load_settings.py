"""``[load]`` settings: bad combinations stop start-up naming the key."""

from __future__ import annotations

import pytest

from csms.config import load_settings
from csms.errors import ConfigError


@pytest.mark.parametrize(("values", "message"), [
    ({"lease_s": 60, "renew_before_s": 60}, "below lease_s"),
    ({"reallocate_interval_s": 200, "renew_before_s": 180}, "above reallocate_interval_s"),
    ({"default_phases": 4}, "load.default_phases"),
])
def test_bad_load_settings_name_the_key(values: dict[str, float], message: str,
                                        clean_env: None) -> None:
    with pytest.raises(ConfigError, match="load\\.") as raised:
        load_settings(None, load=values)
    assert message in str(raised.value)


def test_defaults_renew_well_inside_the_lease(clean_env: None) -> None:
    load = load_settings(None).load
    assert load.reallocate_interval_s < load.renew_before_s < load.lease_s
