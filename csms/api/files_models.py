"""Request and answer bodies of the firmware and log endpoints (csms.api.routes.files.firmware,
csms.api.routes.files.logs). Unknown fields are refused (422), as for the other commands."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from csms.api.commands import MAX_TIMEOUT_S
from csms.api.models import MAX_ID, UtcTime
from csms.domain.firmware_rollout import TargetState

_IN = ConfigDict(extra="forbid", allow_inf_nan=False)
_OUT = ConfigDict(from_attributes=True)
Station = Annotated[str, Field(min_length=1, max_length=48, pattern=r"^[\x21-\x7e]+$")]
FileId = Annotated[int, Field(ge=1, le=MAX_ID)]
Seconds = Annotated[int, Field(ge=0, le=MAX_ID)]
Timeout = Annotated[float | None, Field(
    default=None, gt=0, le=MAX_TIMEOUT_S,
    description="how long to wait for the charger's answer; default server.call_timeout_s")]


class SigningIn(BaseModel):
    model_config = _IN

    signing_certificate: str = Field(min_length=1, max_length=5500,
                                     description="PEM certificate the signature verifies with")
    signature: str = Field(min_length=1, max_length=800, description="base64 signature")


class FirmwareFileOut(BaseModel):
    model_config = _OUT

    id: int
    name: str
    version: str | None
    sha256: str
    size_bytes: int
    signed: bool
    uploaded_at: datetime
    uploaded_by: str | None


class UpdateFirmwareIn(BaseModel):
    model_config = _IN

    file_id: FileId
    retrieve_at: UtcTime | None = Field(default=None, description="default: now")
    install_at: UtcTime | None = None
    retries: Seconds | None = None
    retry_interval_s: Seconds | None = None
    timeout_s: Timeout = None


class FirmwareUpdateOut(BaseModel):
    """One charger's update: ``state`` is waiting, assigned, running, succeeded or failed;
    ``answer`` the charger's answer to UpdateFirmware (or offline, timeout, ...);
    ``last_status`` its latest firmware status notification."""

    model_config = _OUT

    id: int = Field(description="the requestId sent")
    station_id: str
    file_id: int | None
    rollout_id: int | None
    wave: int | None
    state: TargetState
    answer: str | None
    last_status: str | None
    detail: str | None
    requested_at: datetime
    requested_by: str | None
    sent_at: datetime | None
    status_at: datetime | None
    finished_at: datetime | None
    firmware_version: str | None = Field(
        default=None, description="what the charger last said it runs (BootNotification)")


class RolloutIn(BaseModel):
    model_config = _IN

    file_id: FileId
    station_ids: list[Station] = Field(min_length=1, max_length=10_000)
    wave_size: int | None = Field(default=None, ge=1, le=10_000,
                                  description="default files.rollout_wave_size")
    failure_threshold: int | None = Field(
        default=None, ge=0, le=10_000,
        description="failures a wave may have before the rollout stops; default"
                    " files.rollout_failure_threshold")
    retrieve_at: UtcTime | None = Field(default=None, description="default: when sent")


class RolloutOut(BaseModel):
    """A rollout (state running; completed: every wave went out within the threshold;
    stopped: a wave passed it, or an operator stopped it; with the reason) and each
    charger's update."""

    id: int
    file_id: int
    wave_size: int
    failure_threshold: int
    state: str
    reason: str | None
    retrieve_at: datetime | None
    created_at: datetime
    created_by: str | None
    finished_at: datetime | None
    updates: list[FirmwareUpdateOut]


class GetLogIn(BaseModel):
    model_config = _IN

    kind: Literal["diagnostics", "security"] = "diagnostics"
    oldest: UtcTime | None = None
    latest: UtcTime | None = None
    security_extension: bool = Field(
        default=False, description="1.6: GetLog (security extension) instead of GetDiagnostics"
                                   " for a diagnostics log; 2.0.1 always sends GetLog")
    retries: Seconds | None = None
    retry_interval_s: Seconds | None = None
    timeout_s: Timeout = None


class LogRequestOut(BaseModel):
    """A log request: the charger's answer (Accepted, Rejected, NoFile, or offline, ...),
    its latest status notification, and the uploaded file once there (``download``)."""

    model_config = _OUT

    id: int = Field(description="the requestId sent")
    station_id: str
    kind: str
    requested_at: datetime
    requested_by: str | None
    expires_at: datetime
    answer: str | None
    filename: str | None
    last_status: str | None
    status_at: datetime | None
    upload_name: str | None
    content_type: str | None
    size_bytes: int | None
    sha256: str | None
    uploaded_at: datetime | None
    download: str | None = None
