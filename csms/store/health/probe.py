"""The readiness write: a real commit through the group-commit writer."""

from __future__ import annotations

import os
import socket
from datetime import datetime

from sqlalchemy import insert, update

from csms.store.health.tables import node_probes
from csms.store.writer import Writer, WriteTx

NODE_ID = f"{socket.gethostname()}:{os.getpid()}"[:64]


async def probe_write(writer: Writer, now: datetime, node_id: str = NODE_ID) -> None:
    """Rewrite this process's probe row and wait for the commit.

    Raises: whatever the commit raised (disk full, read-only database, lost connection).
    """

    async def unit(tx: WriteTx) -> None:
        table = node_probes
        result = await tx.conn.execute(
            update(table).where(table.c.node_id == node_id).values(checked_at=now))
        if not result.rowcount:
            await tx.conn.execute(insert(table).values(node_id=node_id, checked_at=now))

    await writer.submit(unit)
