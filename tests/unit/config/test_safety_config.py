"""The ``[safety]`` section: thresholds reach the rules, bad values name their key."""

from __future__ import annotations

import pytest

from csms.config import SafetyConfig, load_settings
from csms.errors import ConfigError
from csms.safety.settings import DEFAULT_ALARMING_SECURITY_EVENTS
from csms.services.safety.monitor import rule_settings


class TestSafetyConfig:
    @pytest.mark.parametrize(("key", "value"), [
        ("max_temperature_c", -5), ("under_voltage_ratio", 1.0), ("repeated_fault_count", 0),
        ("stall_s", "soon"), ("actions_level_1", ["shout"]), ("summary_timezone", "Mars/Base"),
        ("lost_communication_intervals", 0.5), ("bogus", 1), ("over_current_duration_s", "nan"),
    ])
    def test_bad_value_names_the_key(self, key: str, value: object) -> None:
        """A bad or unknown ``[safety]`` key stops start-up with a message naming it."""
        with pytest.raises(ConfigError, match=rf"safety\.{key}[.:]"):
            load_settings(None, safety={key: value})

    def test_thresholds_reach_the_rules(self) -> None:
        """Every threshold is passed on; words are compared in lower case; no list of
        security events means the OCPP list."""
        config = SafetyConfig(max_temperature_c=70, stall_s=600, repeated_fault_count=5,
                              emergency_stop_words=("NOTAUS",))
        rules = rule_settings(config)
        assert (70, 600, 5, ("notaus",), DEFAULT_ALARMING_SECURITY_EVENTS) == (
            rules.max_temperature_c, rules.stall_s, rules.repeated_fault_count,
            rules.emergency_stop_words, rules.alarming_security_events)
        only = rule_settings(SafetyConfig(alarming_security_events=("TamperDetectionActivated",)))
        assert frozenset({"TamperDetectionActivated"}) == only.alarming_security_events

    def test_actions_per_level(self) -> None:
        """Level 1 stops the session and takes the connector out by default; the others do
        nothing unless configured."""
        config = SafetyConfig(actions_level_2=("make_inoperative",))
        assert [("stop_session", "make_inoperative"), ("make_inoperative",), ()] == [
            config.actions(level) for level in (1, 2, 3)]
