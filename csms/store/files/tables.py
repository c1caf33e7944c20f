"""Firmware files, rollouts and updates; log requests and their uploads.

Tables on the shared :data:`csms.store.tables.metadata`; :mod:`csms.store.schema` imports
this module so the migrations and ``alembic check`` see them.

Rules:
1. A ``firmware_updates`` row's id is the ``requestId`` sent (2.0.1, 1.6 security
   extension); a ``log_requests`` row's id likewise. Both AUTOINCREMENT on SQLite, so an id
   is never reused.
2. The files themselves live on disk under ``files.directory``; a row names the file
   (``stored_name``) and its SHA-256, which is checked when it is served.
3. A log request's upload URL carries a random token; only its SHA-256 is stored.
4. No foreign keys to charge points: like the command log, history outlives a charger.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text

from csms.store.tables import BigId, Stamp, metadata

firmware_files = Table(
    "firmware_files", metadata,
    Column("id", BigId, primary_key=True),
    Column("name", String(255), nullable=False),
    Column("version", String(50)),
    Column("sha256", String(64), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("stored_name", String(100), nullable=False),
    Column("download_token", String(64), nullable=False, unique=True),
    Column("signing_certificate", Text),
    Column("signature", Text),
    Column("uploaded_at", Stamp, nullable=False),
    Column("uploaded_by", String(100)),
    sqlite_autoincrement=True,
)

firmware_rollouts = Table(
    "firmware_rollouts", metadata,
    Column("id", BigId, primary_key=True),
    Column("file_id", BigInteger, ForeignKey("firmware_files.id"), nullable=False),
    Column("wave_size", Integer, nullable=False),
    Column("failure_threshold", Integer, nullable=False),
    Column("state", String(20), nullable=False),  # running, completed, stopped
    Column("reason", String(200)),
    Column("retrieve_at", Stamp),  # None: each wave retrieves when it is sent
    Column("created_at", Stamp, nullable=False),
    Column("created_by", String(100)),
    Column("finished_at", Stamp),
    sqlite_autoincrement=True,
)

firmware_updates = Table(
    "firmware_updates", metadata,
    Column("id", BigId, primary_key=True),
    Column("station_id", String(48), nullable=False),
    Column("file_id", BigInteger, ForeignKey("firmware_files.id")),
    Column("rollout_id", BigInteger, ForeignKey("firmware_rollouts.id")),
    Column("position", Integer, nullable=False, default=0),  # order within the rollout
    Column("wave", Integer),
    Column("location", String(512), nullable=False),
    # csms.domain.firmware_rollout.TargetState
    Column("state", String(20), nullable=False),
    Column("answer", String(30)),  # the charger's answer to UpdateFirmware, or the failure
    Column("last_status", String(30)),  # the latest FirmwareStatusNotification status
    Column("detail", String(200)),
    Column("requested_at", Stamp, nullable=False),
    Column("requested_by", String(100)),
    Column("sent_at", Stamp),
    Column("status_at", Stamp),
    Column("finished_at", Stamp),
    Index("ix_firmware_updates_rollout", "rollout_id", "position"),
    Index("ix_firmware_updates_station", "station_id", "requested_at"),
    sqlite_autoincrement=True,
)

log_requests = Table(
    "log_requests", metadata,
    Column("id", BigId, primary_key=True),
    Column("station_id", String(48), nullable=False),
    Column("kind", String(20), nullable=False),  # DiagnosticsLog, SecurityLog
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("requested_at", Stamp, nullable=False),
    Column("requested_by", String(100)),
    Column("expires_at", Stamp, nullable=False),  # the upload URL's end
    Column("answer", String(30)),  # Accepted, Rejected, NoFile, or the failure
    Column("filename", String(255)),  # the name the charger gave
    Column("last_status", String(30)),  # the latest Log/DiagnosticsStatusNotification
    Column("status_at", Stamp),
    Column("stored_name", String(100)),  # set once uploaded
    Column("upload_name", String(255)),
    Column("content_type", String(100)),
    Column("size_bytes", BigInteger),
    Column("sha256", String(64)),
    Column("uploaded_at", Stamp),
    Index("ix_log_requests_station", "station_id", "requested_at"),
    sqlite_autoincrement=True,
)
