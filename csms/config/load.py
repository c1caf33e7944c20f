"""``[load]``: orderly charging's settings (re-exported by csms.config, where
:class:`csms.config.Settings` holds them)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


class LoadSettings(BaseModel):
    """``[load]``: orderly charging (csms.services.load.service): re-allocation, leases, checks."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    enabled: bool = True
    reallocate_interval_s: float = Field(default=60.0, gt=0)
    lease_s: float = Field(default=600.0, gt=0)
    renew_before_s: float = Field(default=180.0, gt=0)
    deadband_a: float = Field(default=1.0, ge=0)
    min_run_s: float = Field(default=900.0, ge=0)
    draw_margin_a: float = Field(default=2.0, ge=0)
    draw_settle_s: float = Field(default=30.0, ge=0)
    profile_timeout_s: float = Field(default=15.0, gt=0)
    default_max_current_a: float = Field(default=32.0, gt=0)
    default_phases: int = Field(default=1, ge=1, le=3)
    default_voltage_v: float = Field(default=220.0, gt=0)
    overload_tolerance_w: float = Field(default=1000.0, ge=0)
    overload_hold_s: float = Field(default=120.0, ge=0)
    series_interval_s: float = Field(default=300.0, gt=0)
    valley_shifting: bool = False
    valley_start_hour: int = Field(default=0, ge=0, le=23)
    valley_end_hour: int = Field(default=8, ge=0, le=23)
    valley_assumed_share: float = Field(default=0.5, gt=0, le=1)
    valley_safety_factor: float = Field(default=1.25, ge=1)
    # With several nodes (cluster.command_bus = "postgres"): how long a node's ownership of
    # a site lasts unrenewed; a dead node's sites are taken over within about this long
    # (csms.services.load.cluster). Node clocks must agree to well within it (NTP).
    owner_lease_s: float = Field(default=30.0, ge=1)

    @field_validator("renew_before_s")
    @classmethod
    def _renew_inside_lease(cls, value: float, info: ValidationInfo) -> float:
        lease = info.data.get("lease_s")
        if lease is not None and value >= lease:
            raise ValueError("must be below lease_s (a lease is renewed before it ends)")
        interval = info.data.get("reallocate_interval_s")
        if interval is not None and value <= interval:
            raise ValueError("must be above reallocate_interval_s (the timer renews leases)")
        return value
