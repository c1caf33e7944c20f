"""The certificates our CA issued, and the certificates chargers report as installed.

Tables on the shared :data:`csms.store.tables.metadata`; :mod:`csms.store.schema` imports
this module so the migrations and ``alembic check`` see them.

Rules:
1. ``issued_certificates`` holds every certificate the CA signed, one row each, never
   deleted: ``serial`` (upper-case hex) is unique. ``status`` is issued (sent to the
   charger), installed (it accepted the chain), rejected (it refused it), superseded (a
   newer one of the same charger was installed) or revoked (on the CRL since
   ``revoked_at``).
2. ``renewal_requested_at``: when the expiry watch last asked the charger for a new CSR
   for this certificate; it asks once per certificate.
3. ``installed_certificates`` is what a charger last reported for each certificate use
   (GetInstalledCertificateIds): a report replaces the rows of the uses it covers.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, PrimaryKeyConstraint, String, Table, Text

from csms.store.tables import BigId, Stamp, metadata

issued_certificates = Table(
    "issued_certificates", metadata,
    Column("id", BigId, primary_key=True),
    Column("station_id", String(48), nullable=False),
    Column("serial", String(40), nullable=False, unique=True),
    Column("certificate_type", String(32), nullable=False),
    Column("common_name", String(64)),
    Column("not_before", Stamp, nullable=False),
    Column("not_after", Stamp, nullable=False),
    Column("status", String(16), nullable=False),
    Column("pem", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("issued_at", Stamp, nullable=False),
    Column("installed_at", Stamp),
    Column("renewal_requested_at", Stamp),
    Column("revoked_at", Stamp),
    Column("revoked_reason", String(200)),
    Index("ix_issued_certificates_station", "station_id", "issued_at"),
    Index("ix_issued_certificates_not_after", "not_after"),
    sqlite_autoincrement=True,
)

installed_certificates = Table(
    "installed_certificates", metadata,
    Column("station_id", String(48), nullable=False),
    Column("certificate_type", String(32), nullable=False),
    Column("hash_algorithm", String(8), nullable=False),
    Column("issuer_name_hash", String(128), nullable=False),
    Column("issuer_key_hash", String(128), nullable=False),
    Column("serial_number", String(40), nullable=False),
    Column("reported_at", Stamp, nullable=False),
    PrimaryKeyConstraint("station_id", "certificate_type", "hash_algorithm",
                         "issuer_name_hash", "issuer_key_hash", "serial_number"),
)
