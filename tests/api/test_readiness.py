"""/readyz says not ready when the CSMS cannot do its work (issue 14, defect 8): the writer
cannot commit, the OCPP listener is closed (the bus: tests/integration/test_cluster_reconnect)."""

from __future__ import annotations

import httpx

from csms.app import Csms
from csms.store.writer import WriteTx


async def make_writer_read_only(csms: Csms) -> None:
    """From now on the writer's own connection refuses writes, as a full disk would."""

    async def unit(tx: WriteTx) -> None:
        if tx.conn.dialect.name == "sqlite":
            await tx.conn.exec_driver_sql("PRAGMA query_only = 1")
        else:
            await tx.conn.exec_driver_sql("SET default_transaction_read_only = on")

    await csms.store.writer.submit(unit)


class TestReadiness:
    async def test_ready_checks_every_part(self, http: httpx.AsyncClient) -> None:
        """Ready: the database reads, the writer commits, the OCPP server listens."""
        ready = await http.get("/readyz")
        assert 200 == ready.status_code
        assert {"database": "ok", "writer": "ok", "ocpp": "ok"} == ready.json()["checks"]

    async def test_a_writer_that_cannot_commit_is_not_ready(
        self, csms: Csms, http: httpx.AsyncClient
    ) -> None:
        """Reads still work, but a commit fails: 503 naming the writer."""
        await make_writer_read_only(csms)
        ready = await http.get("/readyz")
        assert 503 == ready.status_code
        checks = ready.json()["checks"]
        assert "ok" == checks["database"]
        assert checks["writer"].startswith("error: ")

    async def test_a_closed_ocpp_listener_is_not_ready(
        self, csms: Csms, http: httpx.AsyncClient
    ) -> None:
        """The OCPP server stopped listening: 503 naming it."""
        assert csms.ocpp.server is not None
        csms.ocpp.server.close()
        ready = await http.get("/readyz")
        assert 503 == ready.status_code
        assert "not listening" == ready.json()["checks"]["ocpp"]
