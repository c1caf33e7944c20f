"""``[platform]``: the municipal platform feed in the T/CEC 102.4 style (csms.services.platform).

Off by default, so ``make run`` works without a platform. When ``enabled``, every key the
exchange needs must be set; an error names the key (``platform.data_secret: ...``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

_REQUIRED = ("url", "operator_id", "operator_secret", "data_secret", "data_iv", "sig_secret",
             "platform_id", "platform_secret")


class PlatformSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    enabled: bool = False
    # The platform's base URL; pushes go to <url>/<interface> (e.g. .../evcs/v1).
    url: str = Field(default="", pattern=r"^(https?://[^\s/]+(/[^\s]*)?)?$")
    # Our OperatorID (9 characters, the organisation code) and the OperatorSecret we give
    # the platform's query_token.
    operator_id: str = Field(default="", max_length=9)
    operator_secret: str = ""
    # The agreed keys: DataSecret and DataSecretIV (AES-128-CBC, 16 bytes each), SigSecret.
    data_secret: str = ""
    data_iv: str = ""
    sig_secret: str = ""
    # The platform's own OperatorID and OperatorSecret, for its calls to our /evcs/v1/.
    platform_id: str = ""
    platform_secret: str = ""
    # Communities whose sites are sent (empty: all).
    communities: tuple[int, ...] = ()
    # Whether alarms raised and cleared are pushed (notification_alarmInfo, a safety-platform
    # extension some city platforms take).
    send_alarms: bool = False
    # Lifetime of the tokens our query_token issues (s).
    token_lifetime_s: int = Field(default=7200, ge=60)
    # Delivery: request timeout (s), attempts before a push is parked (first try plus
    # retries), seconds between attempts, and how often the deliverer looks for due pushes.
    timeout_s: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=4, ge=1)
    retry_interval_s: float = Field(default=60.0, gt=0)
    poll_interval_s: float = Field(default=5.0, gt=0)
    # Local zone of TimeStamp and order times; what StationInfo says of the fees.
    timezone: str = "Asia/Shanghai"
    electricity_fee: str = "valley 0.31, other 0.61 yuan/kWh"
    service_fee: str = "0.40 yuan/kWh"

    @model_validator(mode="after")
    def _complete(self) -> PlatformSettings:
        if not self.enabled:
            return self
        missing = [key for key in _REQUIRED if not getattr(self, key)]
        if missing:
            raise ValueError(f"required when platform.enabled: {', '.join(missing)}")
        for key in ("data_secret", "data_iv"):
            if len(getattr(self, key).encode()) != 16:
                raise ValueError(f"{key} must be exactly 16 bytes (AES-128)")
        return self
