"""Which node holds a charger, cluster-wide: node heartbeats and the connection log.

Rules:
1. Each node writes its heartbeat (``cluster_nodes.seen_at``, the CSMS clock) every
   :data:`HEARTBEAT_S`; a node not heard for :data:`ALIVE_S` is gone (it crashed: it wrote no
   disconnects).
2. A charger is held by the node with its newest connect among the alive nodes whose own
   newest row for it is a connect; otherwise it is connected nowhere. Per node, because a
   node that notices a drop late (a ping timeout) writes its disconnect after the charger
   has already connected to another node: that late row ends only its own connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.store.city.tables import charger_connections as cc
from csms.store.cluster.tables import cluster_nodes as cn
from csms.store.rows import utc
from csms.store.writer import Writer, WriteTx

HEARTBEAT_S = 10.0
RECENT_ROWS = 20  # a charger's newest connection rows read to find its holder (rule 2)
ALIVE_S = 3 * HEARTBEAT_S


@dataclass(frozen=True, slots=True)
class Holder:
    node: str
    connected_at: datetime


async def heartbeat(writer: Writer, node: str, now: datetime) -> None:
    """Rule 1: ``node`` is alive at ``now``."""

    async def unit(tx: WriteTx) -> None:
        seen = await tx.conn.execute(update(cn).where(cn.c.node == node).values(seen_at=now))
        if not seen.rowcount:
            await tx.conn.execute(insert(cn).values(node=node, started_at=now, seen_at=now))

    await writer.submit(unit)


async def holder(engine: AsyncEngine, station_id: str, now: datetime) -> Holder | None:
    """Rule 2: the node holding ``station_id`` now, if any."""
    async with engine.connect() as conn:
        rows = (await conn.execute(
            select(cc.c.connected, cc.c.at, cc.c.node, cn.c.seen_at)
            .select_from(cc.outerjoin(cn, cn.c.node == cc.c.node))
            .where(cc.c.station_id == station_id)
            .order_by(cc.c.at.desc(), cc.c.id.desc()).limit(RECENT_ROWS))).all()
    newest: dict[str | None, Any] = {}
    for row in rows:  # newest first: the first row of a node is its newest
        newest.setdefault(row.node, row)
    alive_since = now - timedelta(seconds=ALIVE_S)
    held = [row for node, row in newest.items() if node is not None and row.connected
            and row.seen_at is not None and utc(row.seen_at) >= alive_since]
    if not held:
        return None
    row = max(held, key=lambda r: utc(r.at))
    return Holder(row.node, utc(row.at))
