"""Firmware files, rollouts and updates; log requests and uploads (csms.services.files)."""

from csms.store.files.firmware import FirmwareFile, FirmwareStore, FirmwareUpdate, Rollout
from csms.store.files.logs import LogRequest, LogStore

__all__ = ["FirmwareFile", "FirmwareStore", "FirmwareUpdate", "LogRequest", "LogStore",
           "Rollout"]
