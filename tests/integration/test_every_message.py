"""Every charger-initiated message of both versions: handled, and any schema-valid payload is
answered with a CALLRESULT (never a CALLERROR), generated from the official schemas."""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st
import orjson
import pytest
from hypothesis import HealthCheck, given, settings

from csms.app import Csms
from csms.domain.model import RegistrationStatus
from csms.handlers.context import StationContext
from csms.handlers.messages import v16, v201
from tests.integration.test_server import raw
from tests.ocpp_payloads import payloads as schema_payloads
from tests.ocpp_payloads import request_schema

CHARGER_ACTIONS = {
    "ocpp1.6": {
        "Authorize", "BootNotification", "DataTransfer", "DiagnosticsStatusNotification",
        "FirmwareStatusNotification", "Heartbeat", "MeterValues", "StartTransaction",
        "StatusNotification", "StopTransaction",
        # security extension
        "SecurityEventNotification", "LogStatusNotification",
        "SignedFirmwareStatusNotification", "SignCertificate",
    },
    "ocpp2.0.1": {
        "Authorize", "BootNotification", "ClearedChargingLimit", "DataTransfer",
        "FirmwareStatusNotification", "Get15118EVCertificate", "GetCertificateStatus",
        "Heartbeat", "LogStatusNotification", "MeterValues", "NotifyChargingLimit",
        "NotifyCustomerInformation", "NotifyDisplayMessages", "NotifyEVChargingNeeds",
        "NotifyEVChargingSchedule", "NotifyEvent", "NotifyMonitoringReport", "NotifyReport",
        "PublishFirmwareStatusNotification", "ReportChargingProfiles",
        "ReservationStatusUpdate", "SecurityEventNotification", "SignCertificate",
        "StatusNotification", "TransactionEvent",
    },
}
class TestCoverage:
    @pytest.mark.parametrize("version", sorted(CHARGER_ACTIONS))
    def test_every_charger_initiated_action_has_a_handler(self, version: str) -> None:
        """The handler map is exactly the charger-initiated actions of the version."""
        ctx = StationContext("CP", None, RegistrationStatus.ACCEPTED)  # type: ignore[arg-type]
        handlers = v16.handlers(ctx) if version == "ocpp1.6" else v201.handlers(ctx)
        assert CHARGER_ACTIONS[version] == set(handlers)


def payloads(version: str) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    return st.sampled_from(sorted(CHARGER_ACTIONS[version])).flatmap(
        lambda action: st.tuples(st.just(action),
                                 schema_payloads(request_schema(version, action)))
    )


@pytest.mark.parametrize("version", sorted(CHARGER_ACTIONS))
@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
async def test_any_valid_message_gets_a_callresult(
    csms: Csms, version: str, data: st.DataObject
) -> None:
    """A schema-valid payload of any charger-initiated action is answered with a CALLRESULT."""
    action, payload = data.draw(payloads(version))
    async with raw(csms, "CP-FUZZ", version) as ws:
        await ws.send(orjson.dumps([2, "f", action, payload]).decode())
        answer = orjson.loads(await ws.recv())
        while answer[0] == 2:  # the CSMS's own CALLs (a protective action, a cost display)
            answer = orjson.loads(await ws.recv())
    assert [3, "f"] == answer[:2], (action, payload, answer)
