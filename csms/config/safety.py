"""``[safety]``, ``[retention]`` and ``[sharing]``: the 24-hour watch's thresholds and
protective actions, how long its records are kept, and how they are shared (re-exported by
csms.config, where :class:`csms.config.Settings` holds them)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from csms.clock import iana_zone

ProtectiveAction = Literal["stop_session", "make_inoperative"]


class SafetyConfig(BaseModel):
    """``[safety]``: alarm thresholds (csms.safety.settings) and protective actions."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    enabled: bool = True
    scan_interval_s: float = Field(default=5.0, gt=0, le=3600)
    queue_size: int = Field(default=100_000, ge=100)
    summary_timezone: str = "Asia/Shanghai"
    actions_level_1: tuple[ProtectiveAction, ...] = ("stop_session", "make_inoperative")
    actions_level_2: tuple[ProtectiveAction, ...] = ()
    actions_level_3: tuple[ProtectiveAction, ...] = ()
    max_temperature_c: float = Field(default=80.0, gt=0, le=200)
    temperature_hysteresis_c: float = Field(default=5.0, ge=0, le=50)
    nominal_voltage_v: float = Field(default=220.0, gt=0, le=1500)
    over_voltage_ratio: float = Field(default=0.07, ge=0, le=1)
    under_voltage_ratio: float = Field(default=0.10, ge=0, lt=1)
    voltage_present_v: float = Field(default=50.0, ge=0)
    over_current_tolerance_ratio: float = Field(default=0.10, ge=0, le=10)
    over_current_duration_s: float = Field(default=60.0, ge=0)
    repeated_fault_count: int = Field(default=3, ge=1)
    repeated_fault_window_s: float = Field(default=24 * 3600.0, gt=0)
    stall_s: float = Field(default=15 * 60.0, gt=0)
    stall_min_increase_wh: float = Field(default=1.0, ge=0)
    register_backwards_tolerance_wh: float = Field(default=0.0, ge=0)
    per_transaction_meter_start_max_wh: float = Field(default=10.0, ge=0)
    lost_communication_intervals: float = Field(default=2.0, ge=1)
    emergency_stop_words: tuple[str, ...] = ("emergency", "estop", "e-stop", "e_stop")
    alarming_security_events: tuple[str, ...] | None = None  # None: the OCPP list
    charger_monitors: bool = False  # 2.0.1: set the thresholds as monitors after each boot

    @field_validator("summary_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return iana_zone(value)

    def actions(self, level: int) -> tuple[ProtectiveAction, ...]:
        """The protective actions configured for alarms of ``level`` (1–3)."""
        return {1: self.actions_level_1, 2: self.actions_level_2,
                3: self.actions_level_3}.get(level, ())


class RetentionSettings(BaseModel):
    """``[retention]``: how long rows are kept before ``csms db prune`` deletes them. The
    audit log is never pruned. Minimums are the city plan's: safety logs 6 months,
    sessions 3 years."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    safety_logs_days: int = 183
    sessions_days: int = 1096

    @field_validator("safety_logs_days")
    @classmethod
    def _six_months(cls, value: int) -> int:
        if value < 183:
            raise ValueError("must be at least 183 days (safety logs are kept >= 6 months)")
        return value

    @field_validator("sessions_days")
    @classmethod
    def _three_years(cls, value: int) -> int:
        if value < 1096:
            raise ValueError("must be at least 1096 days (sessions are kept >= 3 years)")
        return value


class SharingSettings(BaseModel):
    """``[sharing]``: the live safety feed and webhook delivery (csms.services.sharing.service)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    feed_queue_size: int = Field(default=1000, ge=1)
    feed_keepalive_s: float = Field(default=15.0, gt=0)
    location_cache_s: float = Field(default=60.0, ge=0)
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    webhook_max_attempts: int = Field(default=15, ge=1)
    webhook_backoff_initial_s: float = Field(default=1.0, gt=0)
    webhook_backoff_max_s: float = Field(default=900.0, gt=0)
    webhook_poll_interval_s: float = Field(default=5.0, gt=0)
