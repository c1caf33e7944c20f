"""samples and status history: the natural key unique within (station, time), in the index
that already served (station, time) look-ups, instead of a unique index of its own

A unique index over the bare 128-bit digest put every new row at a random place: each
committed batch dirtied one leaf page per row (8 per MeterValues) and fsynced them all.
Leading with (station_id, at) puts a station's new rows next to each other, as the old
(station_id, at) index did, and that index is the same one now. Same rows are duplicates as
before: the digest already covers the station (through the session for a session's sample)
and the time.

Revision ID: 0028
Revises: 0027
"""

from __future__ import annotations

from alembic import op

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None

_TABLES = (
    # table, its key column, the old unique constraint, the old (station, at) index, the new index
    ('meter_values', 'sample_key', 'uq_meter_values_sample_key',
     'ix_meter_values_station_at', 'uq_meter_values_station_at_key'),
    ('connector_status_history', 'status_key', 'uq_connector_status_history_status_key',
     'ix_status_history_station_at', 'uq_status_history_station_at_key'),
)


def upgrade() -> None:
    for table, key, old_unique, old_index, new_index in _TABLES:
        # the new one first: duplicates stay refused throughout
        op.create_index(new_index, table, ['station_id', 'at', key], unique=True)
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(old_unique, type_='unique')
            batch.drop_index(old_index)


def downgrade() -> None:
    for table, key, old_unique, old_index, new_index in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.create_unique_constraint(old_unique, [key])
            batch.create_index(old_index, ['station_id', 'at'], unique=False)
        op.drop_index(new_index, table_name=table)
