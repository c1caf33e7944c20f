"""Local authorization lists and the authorization cache (family ``commands``).

The list a charger holds is derived from the id-token table (its community's residents'
tokens and the tokens of no resident, :mod:`csms.store.local_lists`); ``sync`` brings it
up to date with a differential update, or a full one when the charger is out of step.
Errors as for the other commands (:mod:`csms.api.routes.commands.live`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from csms.api import auth_models as am
from csms.api import commands as m
from csms.api.deps import CsmsDep
from csms.api.models import MAX_ID, ONE
from csms.api.routes.commands.common import (
    COMMANDS,
    ERRORS,
    Commander,
    CommandReader,
    audit_command,
    command_failure,
    send_command,
)
from csms.api.routes.safety.status import visible_charge_point
from csms.api.routes.sessions.records import StationPath
from csms.app import Csms
from csms.errors import CommandError
from csms.services.local_lists import LocalLists
from csms.store.access import audit
from csms.store.writer import WriteTx

router = APIRouter(tags=["local authorization lists"])
LIST = "/charge-points/{station_id}/local-list"


def _lists(csms: Csms) -> LocalLists:
    assert csms.local_lists is not None, "composed in csms.app.running"
    return csms.local_lists


@router.get(LIST, response_model=am.LocalListOut, responses=ONE)
async def local_list(station_id: StationPath, csms: CsmsDep,
                     principal: CommandReader) -> am.LocalListOut:
    """What the charger's local list holds as far as the CSMS knows (the entries last sent
    and their version), what the charger last reported, and how many entries it should hold
    now."""
    await visible_charge_point(csms, principal, station_id)
    sent, wanted = await _lists(csms).state(station_id)
    entries = [am.LocalEntryOut(
        id_token=e.id_token.value, kind=e.id_token.kind,
        status=e.authorization.status.value if e.authorization else "Invalid",
        expires_at=e.authorization.expires_at if e.authorization else None,
        group_id=e.authorization.group_id if e.authorization else None,
    ) for _, e in sorted(sent.entries.items())]
    return am.LocalListOut(
        station_id=station_id, version=sent.version, synced_at=sent.synced_at,
        reported_version=sent.reported_version, reported_at=sent.reported_at,
        last_outcome=sent.last_outcome, wanted_entries=wanted, entries=entries)


@router.post(f"{LIST}/sync", response_model=am.SyncOut, responses=ERRORS)
async def sync_local_list(station_id: StationPath, body: am.SyncIn, csms: CsmsDep,
                          principal: Commander) -> am.SyncOut | JSONResponse:
    """Bring the charger's local list up to date: GetLocalListVersion, then SendLocalList
    (differential with what changed since the charger's version; full when it is out of
    step or ``full``), split into messages of the charger's ``SendLocalListMaxLength`` /
    ``ItemsPerMessage``."""
    await visible_charge_point(csms, principal, station_id)
    await audit_command(csms, principal.actor, station_id, "local-list-sync", body)
    try:
        result = await _lists(csms).sync(station_id, full=body.full,
                                         requested_by=principal.actor)
    except CommandError as exc:
        return command_failure(exc)
    return am.SyncOut.model_validate(result)


@router.post("/communities/{community_id}/local-lists/sync",
             response_model=list[am.StationSyncOut], responses=ONE)
async def sync_community(community_id: Annotated[int, Path(ge=1, le=MAX_ID)],
                         body: am.CommunitySyncIn, csms: CsmsDep,
                         principal: Commander) -> list[am.StationSyncOut]:
    """Sync the local lists of a community's charge points (after its residents' cards
    changed), one after another: each one's outcome, or why it could not be synced (an
    offline charger catches up when it reconnects)."""
    await _audit_community(csms, principal.actor, community_id, body)
    results = await _lists(csms).sync_community(
        community_id, full=body.full, keeping_lists=not body.all,
        requested_by=principal.actor)
    return [am.StationSyncOut(
        station_id=station_id,
        result=None if isinstance(r, CommandError) else am.SyncOut.model_validate(r),
        error=str(r) if isinstance(r, CommandError) else None)
        for station_id, r in results.items()]


async def _audit_community(csms: Csms, actor: str, community_id: int,
                           body: am.CommunitySyncIn) -> None:
    details = {"command": "local-list-sync",
               "request": body.model_dump(mode="json", exclude={"timeout_s"})}

    async def unit(tx: WriteTx) -> None:
        audit(tx, actor, "command", "community", str(community_id), details)

    await csms.store.writer.submit(unit)


@router.post(f"{COMMANDS}/get-local-list-version", response_model=am.LocalListVersionOut,
             responses=ERRORS)
async def get_local_list_version(
    station_id: StationPath, body: am.GetLocalListVersionIn, csms: CsmsDep,
    principal: Commander,
) -> am.LocalListVersionOut | JSONResponse:
    """The charger's local-list version (GetLocalListVersion)."""
    return await send_command(csms, principal, station_id, "get-local-list-version", body,
                       am.LocalListVersionOut)


@router.post(f"{COMMANDS}/clear-cache", response_model=m.CommandStatusOut, responses=ERRORS)
async def clear_cache(station_id: StationPath, body: am.ClearCacheIn, csms: CsmsDep,
                      principal: Commander) -> m.CommandStatusOut | JSONResponse:
    """Empty the charger's authorization cache (ClearCache; the local list stays)."""
    return await send_command(csms, principal, station_id, "clear-cache", body, m.CommandStatusOut)
