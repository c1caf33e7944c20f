"""transaction integrity: start and event fingerprints, session flags, natural keys of samples
and status history (each stored once)

Existing rows get their keys computed here, with a frozen copy of the key functions (the
migration must give the same keys whatever the code does later). Rows that duplicate an
earlier row's key (retransmissions stored twice before this revision) are deleted, keeping
the first; 1.6 sessions whose start fingerprint collides keep no fingerprint.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

CHUNK = 5_000


def _key(*parts: object) -> str:
    text = "\x1f".join("" if part is None else str(part) for part in parts)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _instant(value: datetime) -> str:
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.isoformat()


def _rows(sql: str) -> Iterator[Any]:
    yield from op.get_bind().execute(sa.text(sql))


def _set(table: str, column: str, keys: list[tuple[int, str]]) -> None:
    bind = op.get_bind()
    statement = sa.text(f"UPDATE {table} SET {column} = :key WHERE id = :id")  # noqa: S608
    for start in range(0, len(keys), CHUNK):
        bind.execute(statement, [{"id": i, "key": k} for i, k in keys[start:start + CHUNK]])


def _delete(table: str, ids: list[int]) -> None:
    bind = op.get_bind()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        bind.execute(sa.text(f"DELETE FROM {table} WHERE id IN ({','.join(map(str, chunk))})"))  # noqa: S608


def _keyed(table: str, column: str, rows: Iterator[tuple[int, str]]) -> None:
    """Set ``column`` to each row's key; delete rows whose key an earlier row has."""
    seen: set[str] = set()
    keys, duplicates = [], []
    for row_id, key in rows:
        if key in seen:
            duplicates.append(row_id)
        else:
            seen.add(key)
            keys.append((row_id, key))
    _delete(table, duplicates)
    _set(table, column, keys)


def _sample_keys() -> Iterator[tuple[int, str]]:
    for r in _rows("SELECT id, station_id, evse_id, connector_id, session_id, at, measurand, "
                   "phase, location, context FROM meter_values ORDER BY id"):
        at = r.at if isinstance(r.at, datetime) else datetime.fromisoformat(str(r.at))
        if r.session_id is not None:
            yield r.id, _key("s", r.session_id, _instant(at), r.measurand, r.phase, r.location)
        else:
            yield r.id, _key("m", r.station_id, r.evse_id, r.connector_id, _instant(at),
                             r.measurand, r.phase, r.location, r.context)


def _status_keys() -> Iterator[tuple[int, str]]:
    for r in _rows("SELECT id, station_id, evse_id, connector_id, at, status, error_code "
                   "FROM connector_status_history ORDER BY id"):
        at = r.at if isinstance(r.at, datetime) else datetime.fromisoformat(str(r.at))
        yield r.id, _key(r.station_id, r.evse_id, r.connector_id, _instant(at), r.status,
                         r.error_code)


def _event_keys() -> Iterator[tuple[int, str]]:
    for r in _rows("SELECT id, seq_no, event_type, at, trigger_reason "
                   "FROM transaction_events ORDER BY id"):
        at = r.at if isinstance(r.at, datetime) else datetime.fromisoformat(str(r.at))
        yield r.id, _key("event", r.seq_no, r.event_type, _instant(at), r.trigger_reason)


def _start_keys() -> list[tuple[int, str]]:
    """1.6 sessions (their transaction id is their own id): the start fingerprint."""
    seen: dict[tuple[str, str], int] = {}
    for r in _rows("SELECT id, station_id, evse_id, connector_id, id_token, meter_start_wh, "
                   "started_at, transaction_id FROM sessions ORDER BY id"):
        if r.transaction_id != str(r.id) or r.started_at is None:
            continue
        at = r.started_at if isinstance(r.started_at, datetime) else \
            datetime.fromisoformat(str(r.started_at))
        meter = None if r.meter_start_wh is None else float(r.meter_start_wh)
        key = _key("start", r.evse_id, r.connector_id, r.id_token,
                   "ISO14443" if r.id_token is not None else None, repr(meter),
                   _instant(at), None)
        seen.setdefault((r.station_id, key), r.id)
    return [(session_id, key) for (_, key), session_id in seen.items()]


def upgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('start_key', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('flags', sa.JSON(), nullable=True))
    _set('sessions', 'start_key', _start_keys())
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f('uq_sessions_station_id_start_key'), ['station_id', 'start_key'])

    with op.batch_alter_table('transaction_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fingerprint', sa.String(length=32), nullable=True))
    _keyed('transaction_events', 'fingerprint', _event_keys())
    with op.batch_alter_table('transaction_events', schema=None) as batch_op:
        batch_op.alter_column('fingerprint', existing_type=sa.String(length=32),
                              nullable=False)
        batch_op.drop_constraint('uq_transaction_events_session_id_seq_no', type_='unique')
        batch_op.create_unique_constraint(
            batch_op.f('uq_transaction_events_session_id_fingerprint'),
            ['session_id', 'fingerprint'])
        batch_op.create_index('ix_transaction_events_session_seq', ['session_id', 'seq_no'],
                              unique=False)

    with op.batch_alter_table('meter_values', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sample_key', sa.String(length=32), nullable=True))
    _keyed('meter_values', 'sample_key', _sample_keys())
    with op.batch_alter_table('meter_values', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_meter_values_sample_key'),
                                          ['sample_key'])

    with op.batch_alter_table('connector_status_history', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_key', sa.String(length=32), nullable=True))
    _keyed('connector_status_history', 'status_key', _status_keys())
    with op.batch_alter_table('connector_status_history', schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f('uq_connector_status_history_status_key'), ['status_key'])


def downgrade() -> None:
    with op.batch_alter_table('connector_status_history', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_connector_status_history_status_key'),
                                 type_='unique')
        batch_op.drop_column('status_key')
    with op.batch_alter_table('meter_values', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_meter_values_sample_key'), type_='unique')
        batch_op.drop_column('sample_key')
    # A seqNo reused for another event cannot be kept under the old constraint: keep the first.
    op.execute("DELETE FROM transaction_events WHERE id NOT IN (SELECT MIN(id) FROM "
               "transaction_events GROUP BY session_id, seq_no)")
    with op.batch_alter_table('transaction_events', schema=None) as batch_op:
        batch_op.drop_index('ix_transaction_events_session_seq')
        batch_op.drop_constraint(batch_op.f('uq_transaction_events_session_id_fingerprint'),
                                 type_='unique')
        batch_op.create_unique_constraint('uq_transaction_events_session_id_seq_no',
                                          ['session_id', 'seq_no'])
        batch_op.drop_column('fingerprint')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_sessions_station_id_start_key'),
                                 type_='unique')
        batch_op.drop_column('flags')
        batch_op.drop_column('start_key')
