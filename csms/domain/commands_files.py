"""Firmware updates and log uploads: the commands and their results, version-neutral.

Rules:
1. ``request_id`` is the CSMS's id of the request (a row of ``firmware_updates`` or
   ``log_requests``): 2.0.1 and the 1.6 security extension send it and get it back in the
   status notifications; plain 1.6 (UpdateFirmware, GetDiagnostics) has no request id, its
   notifications belong to the station's latest open request.
2. ``UpdateFirmware`` with a signing certificate and a signature is 1.6
   SignedUpdateFirmware (security extension); without, 1.6 UpdateFirmware. 2.0.1 always
   sends UpdateFirmware, with the certificate and signature when given.
3. ``GetLog`` of kind DIAGNOSTICS is 1.6 GetDiagnostics unless ``security_extension``
   (then 1.6 GetLog DiagnosticsLog); kind SECURITY is always 1.6 GetLog SecurityLog.
   2.0.1 always sends GetLog (``security_extension`` means nothing there).
4. Times are aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class LogKind(StrEnum):
    DIAGNOSTICS = "DiagnosticsLog"
    SECURITY = "SecurityLog"


@dataclass(frozen=True, slots=True)
class UpdateFirmware:
    request_id: int
    location: str
    retrieve_at: datetime
    install_at: datetime | None = None
    retries: int | None = None
    retry_interval_s: int | None = None
    signing_certificate: str | None = None
    signature: str | None = None

    @property
    def signed(self) -> bool:
        return self.signing_certificate is not None and self.signature is not None


@dataclass(frozen=True, slots=True)
class GetLog:
    request_id: int
    location: str
    kind: LogKind = LogKind.DIAGNOSTICS
    oldest: datetime | None = None
    latest: datetime | None = None
    retries: int | None = None
    retry_interval_s: int | None = None
    security_extension: bool = False


@dataclass(frozen=True, slots=True)
class LogAnswer:
    """The charger's answer to GetLog / GetDiagnostics: Accepted (with the file name it will
    upload), Rejected, AcceptedCanceled; 1.6 GetDiagnostics without a file name is
    ``NoFile`` (nothing to upload)."""

    status: str
    filename: str | None = None
    reason: str | None = None
