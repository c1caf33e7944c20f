"""Operations: liveness, readiness and Prometheus metrics (no authentication)."""

from __future__ import annotations

import asyncio
import hmac

from fastapi import APIRouter, Request, Response, status
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import func, select, text

from csms.api.deps import CsmsDep
from csms.store import tables as t
from csms.store.health.probe import probe_write

PROBE_TIMEOUT_S = 2.0

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "not ready"}})
async def readyz(csms: CsmsDep, response: Response) -> dict[str, object]:
    """Ready when the database answers a read, the group-commit writer commits a write
    (a probe row), the OCPP server listens and, with several nodes, the command bus is up."""
    checks: dict[str, object] = {}
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            async with csms.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready; say which
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            await probe_write(csms.store.writer, csms.stations.now())
        checks["writer"] = "ok"
    except Exception as exc:  # noqa: BLE001 - a commit that fails or hangs: not ready
        checks["writer"] = f"error: {type(exc).__name__}"
    listening = csms.ocpp.server is not None and csms.ocpp.server.is_serving()
    checks["ocpp"] = "ok" if listening else "not listening"
    if csms.cluster is not None:
        checks["command_bus"] = "ok" if csms.cluster.ready else "reconnecting"
    ready = all(value == "ok" for value in checks.values())
    if not ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return {"status": "ready" if ready else "not ready", "checks": checks}


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}},
                       401: {"description": "api.metrics_token is set and not given"}})
async def metrics(csms: CsmsDep, request: Request) -> Response:
    """Prometheus exposition format; with ``api.metrics_token`` set, only for a request
    carrying ``Authorization: Bearer <that token>``."""
    expected = csms.settings.api.metrics_token
    if expected is not None and not _bearer_is(request.headers.get("authorization"), expected):
        return Response("metrics token required\n", status.HTTP_401_UNAUTHORIZED,
                        headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    async with csms.engine.connect() as conn:
        active = (await conn.execute(select(func.count()).select_from(t.sessions).where(
            t.sessions.c.status == "active"))).scalar_one()
    csms.metrics.active_sessions.set(active)
    return Response(await csms.metrics.render(), media_type=CONTENT_TYPE_LATEST)


def _bearer_is(header: str | None, expected: str) -> bool:
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), expected.encode())
