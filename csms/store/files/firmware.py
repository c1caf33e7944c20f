"""Firmware files, rollouts and per-charger updates (tables in :mod:`.tables`).

Rules:
1. Rows never leave this package: reads return the records below.
2. A status notification belongs to the update it names (``requestId``, checked against the
   charge point) or, without one (plain 1.6), to the charge point's latest update that is
   being sent or running. A final status (csms.domain.firmware_rollout.state_after) finishes it;
   a finished update only records later statuses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.domain.firmware_rollout import FINISHED, Target, TargetState, state_after
from csms.store.files.tables import firmware_files, firmware_rollouts, firmware_updates
from csms.store.rows import utc
from csms.store.writer import Writer, WriteTx

f, r, u = firmware_files, firmware_rollouts, firmware_updates


@dataclass(frozen=True, slots=True)
class FirmwareFile:
    id: int
    name: str
    version: str | None
    sha256: str
    size_bytes: int
    stored_name: str
    download_token: str
    signing_certificate: str | None
    signature: str | None
    uploaded_at: datetime
    uploaded_by: str | None


@dataclass(frozen=True, slots=True)
class FirmwareUpdate:
    id: int
    station_id: str
    file_id: int | None
    rollout_id: int | None
    wave: int | None
    location: str
    state: TargetState
    answer: str | None
    last_status: str | None
    detail: str | None
    requested_at: datetime
    requested_by: str | None
    sent_at: datetime | None
    status_at: datetime | None
    finished_at: datetime | None

    def target(self) -> Target:
        return Target(self.station_id, self.state, self.wave, self.sent_at)


@dataclass(frozen=True, slots=True)
class Rollout:
    id: int
    file_id: int
    wave_size: int
    failure_threshold: int
    state: str  # running, completed, stopped
    reason: str | None
    retrieve_at: datetime | None
    created_at: datetime
    created_by: str | None
    finished_at: datetime | None
    updates: tuple[FirmwareUpdate, ...]


class FirmwareStore:
    """Firmware files, rollouts and updates (module rules)."""

    def __init__(self, engine: AsyncEngine, writer: Writer) -> None:
        self._engine = engine
        self._writer = writer

    async def add_file(self, values: dict[str, Any]) -> FirmwareFile:
        async def unit(tx: WriteTx) -> int:
            return int((await tx.conn.execute(
                insert(f).values(**values).returning(f.c.id))).scalar_one())

        file_id = await self._writer.submit(unit)
        found = await self.file(file_id)
        assert found is not None
        return found

    async def set_signing(self, file_id: int, certificate: str, signature: str) -> None:
        async def unit(tx: WriteTx) -> None:
            await tx.conn.execute(update(f).where(f.c.id == file_id).values(
                signing_certificate=certificate, signature=signature))

        await self._writer.submit(unit)

    async def file(self, file_id: int) -> FirmwareFile | None:
        return await self._one_file(f.c.id == file_id)

    async def file_by_token(self, token: str) -> FirmwareFile | None:
        return await self._one_file(f.c.download_token == token)

    async def files(self) -> list[FirmwareFile]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(f).order_by(f.c.id))).all()
        return [_file(row) for row in rows]

    async def _one_file(self, where: Any) -> FirmwareFile | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(f).where(where))).one_or_none()
        return None if row is None else _file(row)

    async def create_update(self, station_id: str, file_id: int | None, location: str,
                            at: datetime, by: str | None) -> int:
        """A single update (no rollout), RUNNING once sent; its id is the requestId."""
        async def unit(tx: WriteTx) -> int:
            return int((await tx.conn.execute(insert(u).values(
                station_id=station_id, file_id=file_id, location=location, position=0,
                state=TargetState.ASSIGNED.value, requested_at=at, requested_by=by,
            ).returning(u.c.id))).scalar_one())

        return await self._writer.submit(unit)

    async def create_rollout(self, file_id: int, station_ids: Sequence[str], wave_size: int,
                             failure_threshold: int, retrieve_at: datetime | None,
                             at: datetime, by: str | None) -> int:
        """A running rollout with one WAITING update per charge point, in order."""
        async def unit(tx: WriteTx) -> int:
            rollout_id = int((await tx.conn.execute(insert(r).values(
                file_id=file_id, wave_size=wave_size, failure_threshold=failure_threshold,
                state="running", retrieve_at=retrieve_at, created_at=at, created_by=by,
            ).returning(r.c.id))).scalar_one())
            await tx.conn.execute(insert(u), [
                {"station_id": station_id, "file_id": file_id, "rollout_id": rollout_id,
                 "position": position, "location": "", "state": TargetState.WAITING.value,
                 "requested_at": at, "requested_by": by}
                for position, station_id in enumerate(station_ids)])
            return rollout_id

        return await self._writer.submit(unit)

    async def running_rollouts(self) -> list[int]:
        async with self._engine.connect() as conn:
            return [int(i) for i in (await conn.execute(
                select(r.c.id).where(r.c.state == "running").order_by(r.c.id))).scalars()]

    async def rollout(self, rollout_id: int) -> Rollout | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(r).where(r.c.id == rollout_id))).one_or_none()
            if row is None:
                return None
            updates = (await conn.execute(select(u).where(u.c.rollout_id == rollout_id)
                                          .order_by(u.c.position, u.c.id))).all()
        return Rollout(
            int(row.id), int(row.file_id), row.wave_size, row.failure_threshold, row.state,
            row.reason, _at(row.retrieve_at), utc(row.created_at), row.created_by,
            _at(row.finished_at), tuple(_update(x) for x in updates))

    async def rollouts(self) -> list[Rollout]:
        async with self._engine.connect() as conn:
            ids = [int(i) for i in (await conn.execute(
                select(r.c.id).order_by(r.c.id.desc()).limit(100))).scalars()]
        return [found for i in ids if (found := await self.rollout(i)) is not None]

    async def assign(self, rollout_id: int, wave: int, station_ids: Sequence[str]) -> None:
        """The rollout's WAITING updates of these charge points join ``wave``."""
        async def unit(tx: WriteTx) -> None:
            await tx.conn.execute(update(u).where(
                u.c.rollout_id == rollout_id, u.c.station_id.in_(station_ids),
                u.c.state == TargetState.WAITING.value,
            ).values(state=TargetState.ASSIGNED.value, wave=wave))

        await self._writer.submit(unit)

    async def sent(self, update_id: int, location: str, answer: str, state: TargetState,
                   at: datetime, detail: str | None = None) -> None:
        """The charger's answer to the UpdateFirmware (or the failure to send it). A final
        status the charger reported before this commit (a download that failed at once)
        is kept: only an update not finished yet takes ``state``."""
        async def unit(tx: WriteTx) -> None:
            await tx.conn.execute(update(u).where(u.c.id == update_id).values(
                location=location, answer=answer, sent_at=at))
            await tx.conn.execute(update(u).where(
                u.c.id == update_id, u.c.state.not_in([s.value for s in FINISHED]),
            ).values(state=state.value, detail=detail,
                     finished_at=at if state in FINISHED else None))

        await self._writer.submit(unit)

    async def status(self, station_id: str, request_id: int | None, status: str,
                     at: datetime) -> FirmwareUpdate | None:
        """Record a firmware status notification (rule 2); the update it belongs to."""
        async def unit(tx: WriteTx) -> int | None:
            if request_id is not None:
                where = [u.c.id == request_id, u.c.station_id == station_id]
            else:  # sent, or being sent (the answer not committed yet)
                where = [u.c.station_id == station_id, u.c.state.in_(
                    [TargetState.ASSIGNED.value, TargetState.RUNNING.value])]
            found = (await tx.conn.execute(select(u.c.id, u.c.state).where(*where)
                                           .order_by(u.c.id.desc()).limit(1))).one_or_none()
            if found is None:
                return None
            values: dict[str, Any] = {"last_status": status, "status_at": at}
            final = state_after(status)
            if final is not None and TargetState(found.state) not in FINISHED:
                values.update(state=final.value, finished_at=at, detail=status)
            await tx.conn.execute(update(u).where(u.c.id == found.id).values(**values))
            return int(found.id)

        update_id = await self._writer.submit(unit)
        return None if update_id is None else await self.update(update_id)

    async def fail(self, update_ids: Sequence[int], detail: str, at: datetime) -> None:
        async def unit(tx: WriteTx) -> None:
            await tx.conn.execute(update(u).where(
                u.c.id.in_(update_ids), u.c.state.not_in([s.value for s in FINISHED]),
            ).values(state=TargetState.FAILED.value, detail=detail, finished_at=at))

        await self._writer.submit(unit)

    async def finish_rollout(self, rollout_id: int, completed: bool, reason: str,
                             at: datetime) -> None:
        async def unit(tx: WriteTx) -> None:
            await tx.conn.execute(update(r).where(
                r.c.id == rollout_id, r.c.state == "running").values(
                state="completed" if completed else "stopped", reason=reason[:200],
                finished_at=at))

        await self._writer.submit(unit)

    async def update(self, update_id: int) -> FirmwareUpdate | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(u).where(u.c.id == update_id))).one_or_none()
        return None if row is None else _update(row)

    async def updates_of(self, station_id: str, limit: int = 100) -> list[FirmwareUpdate]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(u).where(u.c.station_id == station_id)
                                       .order_by(u.c.id.desc()).limit(limit))).all()
        return [_update(row) for row in rows]


def _at(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def _file(row: Row[Any]) -> FirmwareFile:
    return FirmwareFile(
        int(row.id), row.name, row.version, row.sha256, int(row.size_bytes), row.stored_name,
        row.download_token, row.signing_certificate, row.signature, utc(row.uploaded_at),
        row.uploaded_by)


def _update(row: Row[Any]) -> FirmwareUpdate:
    return FirmwareUpdate(
        int(row.id), row.station_id, row.file_id, row.rollout_id, row.wave, row.location,
        TargetState(row.state), row.answer, row.last_status, row.detail,
        utc(row.requested_at), row.requested_by, _at(row.sent_at), _at(row.status_at),
        _at(row.finished_at))
