"""The pure parts of the 2.0.1 device model and monitoring: report reassembly, flattening,
splitting into messages, monitor derivation, translation (schema-valid CALLs, 1.6 refusals)
and the safety rule for a monitor's NotifyEvent."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from csms.domain.commands import (
    Command,
    CommandResult,
    GetSettings,
    SettingKey,
    SettingsReport,
    SettingValue,
)
from csms.domain.commands_device import (
    ClearVariableMonitoring,
    GetBaseReport,
    GetMonitoringReport,
    GetReport,
    Monitor,
    MonitoringBase,
    MonitorKind,
    MonitorResult,
    MonitorsSetReport,
    NetworkProfile,
    ReportBase,
    SetMonitoringBase,
    SetMonitoringLevel,
    SetNetworkProfile,
    SetSettings,
    SettingChange,
    SettingSetResult,
    SettingsSetReport,
    SetVariableMonitoring,
)
from csms.domain.device_model import (
    DEFAULT_ITEMS_PER_MESSAGE,
    ReportProgress,
    VariableRow,
    batches,
    items_limit,
    report_rows,
)
from csms.domain.model import StationEventReported
from csms.errors import CommandNotSupported
from csms.handlers.commands import v16 as commands_v16
from csms.handlers.commands import v201 as commands_v201
from csms.handlers.ocppj import OcppVersion, Schemas
from csms.safety.alarms import AlarmCode, Raise
from csms.safety.faults import notify_event
from csms.safety.monitors import safety_monitors
from csms.safety.settings import SafetySettings
from csms.services.device_model import Batcher, join_reports

SCHEMAS = Schemas(OcppVersion.V201)
TEMP = SettingKey("Temperature", component="TemperatureSensor")
HEARTBEAT = SettingKey("HeartbeatInterval", component="OCPPCommCtrlr")


class TestReportProgress:
    def test_in_order(self) -> None:
        p = ReportProgress().add(0, True).add(1, True)
        assert not p.complete
        assert p.add(2, False).complete

    def test_out_of_order_and_repeated(self) -> None:
        """The last part first, a part twice: complete once every seqNo up to it arrived."""
        p = ReportProgress().add(2, False).add(0, True).add(0, True)
        assert (False, 2) == (p.complete, p.parts)
        assert p.add(1, True).complete

    def test_a_missing_part_keeps_it_open(self) -> None:
        assert not ReportProgress().add(0, True).add(2, False).complete

    def test_a_single_part(self) -> None:
        assert ReportProgress().add(0, False).complete


def test_report_rows_one_per_attribute_with_characteristics() -> None:
    rows = report_rows([
        {"component": {"name": "EVSE", "evse": {"id": 2}}, "variable": {"name": "Current"},
         "variableAttribute": [{"type": "Actual", "value": "0", "mutability": "ReadOnly"},
                               {"type": "MaxSet", "value": "32"}],
         "variableCharacteristics": {"dataType": "decimal", "unit": "A", "maxLimit": 32,
                                     "supportsMonitoring": True}},
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
         "variableAttribute": [{"value": "300"}]},
    ])
    assert [("EVSE", "", 2, 0, "Current", "Actual", "0", "ReadOnly", 32, True),
            ("EVSE", "", 2, 0, "Current", "MaxSet", "32", "ReadWrite", 32, True),
            ("OCPPCommCtrlr", "", 0, 0, "HeartbeatInterval", "Actual", "300", "ReadWrite",
             None, None)] == [
        (r.component, r.component_instance, r.evse_id, r.connector_id, r.variable,
         r.attribute_type, r.value, r.mutability, r.max_limit, r.supports_monitoring)
        for r in rows]


class TestSplitting:
    def test_five_in_fours(self) -> None:
        assert [(1, 2, 3, 4), (5,)] == list(batches([1, 2, 3, 4, 5], 4))

    def test_within_the_limit_one_message(self) -> None:
        assert [(1, 2, 3, 4)] == list(batches([1, 2, 3, 4], 4))

    @pytest.mark.parametrize(("value", "limit"), [
        ("4", 4), (" 12 ", 12), (None, DEFAULT_ITEMS_PER_MESSAGE), ("many", 1), ("0", 1),
        ("-3", 1)])
    def test_items_limit(self, value: str | None, limit: int) -> None:
        assert limit == items_limit(value)

    def test_join_keeps_request_order(self) -> None:
        a = SettingsReport((SettingValue(HEARTBEAT, "Accepted", "1"),), ())
        b = SettingsReport((SettingValue(TEMP, "UnknownComponent"),), ("TemperatureSensor.T",))
        assert SettingsReport(a.values + b.values, b.unknown) == join_reports([a, b])


class _Store:
    def __init__(self, limits: dict[str, str]) -> None:
        self.limits = limits

    async def actual(self, station_id: str, component: str, variable: str) -> str | None:
        return self.limits.get(variable)


def _batcher(version: str, limits: dict[str, str]) -> Batcher:
    async def version_of(station_id: str) -> str | None:
        return version

    return Batcher(_Store(limits), version_of)  # type: ignore[arg-type]


FIVE = tuple(SettingKey(f"V{n}", component="C") for n in range(5))


class TestBatcherPlan:
    async def test_five_keys_limit_four(self) -> None:
        plan = await _batcher("ocpp2.0.1", {"ItemsPerMessageGetVariables": "4"}).plan(
            "CP", GetSettings(FIVE))
        assert plan is not None
        assert [GetSettings(FIVE[:4]), GetSettings(FIVE[4:])] == list(plan.parts)

    async def test_within_the_limit_as_it_is(self) -> None:
        batcher = _batcher("ocpp2.0.1", {"ItemsPerMessageGetVariables": "5"})
        assert await batcher.plan("CP", GetSettings(FIVE)) is None

    async def test_unknown_limit_one_per_message(self) -> None:
        plan = await _batcher("ocpp2.0.1", {}).plan("CP", GetSettings(FIVE[:2]))
        assert plan is not None
        assert 2 == len(plan.parts)

    async def test_monitors_split_by_the_monitoring_limits(self) -> None:
        batcher = _batcher("ocpp2.0.1", {"ItemsPerMessageSetVariableMonitoring": "2",
                                         "ItemsPerMessageClearVariableMonitoring": "3"})
        monitors = tuple(Monitor(TEMP, MonitorKind.UPPER, float(n), 0) for n in range(5))
        plan = await batcher.plan("CP", SetVariableMonitoring(monitors))
        assert plan is not None
        assert [2, 2, 1] == [len(p.monitors) for p in plan.parts]  # type: ignore[union-attr]
        results: list[CommandResult] = [
            MonitorsSetReport(tuple(MonitorResult(m, "Accepted", i) for i, m in
                                    enumerate(p.monitors)))  # type: ignore[union-attr]
            for p in plan.parts]
        joined = plan.join(results)
        assert isinstance(joined, MonitorsSetReport)
        assert list(monitors) == [r.monitor for r in joined.results]
        cleared = await batcher.plan("CP", ClearVariableMonitoring((1, 2, 3, 4)))
        assert cleared is not None
        assert [ClearVariableMonitoring((1, 2, 3)), ClearVariableMonitoring((4,))] == list(
            cleared.parts)

    async def test_1_6_get_as_it_is_set_one_per_key(self) -> None:
        batcher = _batcher("ocpp1.6", {})
        assert await batcher.plan("CP", GetSettings(FIVE)) is None
        changes = tuple(SettingChange(SettingKey(f"K{n}"), "1") for n in range(3))
        plan = await batcher.plan("CP", SetSettings(changes))
        assert plan is not None
        assert [SetSettings((c,)) for c in changes] == list(plan.parts)
        joined = plan.join([SettingsSetReport((SettingSetResult(c.key, "Accepted"),))
                            for c in changes])
        assert [c.key for c in changes] == [r.key for r in joined.results]  # type: ignore[union-attr]


class TestMonitorDerivation:
    def test_defaults(self) -> None:
        """80 °C (Danger), 220 V +7 % / -10 % per EVSE (Critical); no rating: no current."""
        monitors = safety_monitors(SafetySettings(), [2, 1, 1])
        assert [("TemperatureSensor", None, "UpperThreshold", 80.0, 0),
                ("EVSE", 1, "UpperThreshold", 235.4, 3), ("EVSE", 1, "LowerThreshold", 198.0, 3),
                ("EVSE", 2, "UpperThreshold", 235.4, 3), ("EVSE", 2, "LowerThreshold", 198.0, 3)
                ] == [(m.key.component, m.key.evse_id, m.kind.value, m.value, m.severity)
                      for m in monitors]

    def test_over_current_from_the_rating(self) -> None:
        settings = SafetySettings(over_current_tolerance_ratio=0.25, max_temperature_c=70)
        monitors = safety_monitors(settings, [1], {1: 16.0})
        current = [m for m in monitors if m.key.variable == "Current"]
        assert [(1, 20.0)] == [(m.key.evse_id, m.value) for m in current]
        assert 70.0 == monitors[0].value


MONITOR = Monitor(TEMP, MonitorKind.UPPER, 80.0, 0)
DEVICE_CALLS: list[tuple[Command, str, dict[str, Any]]] = [
    (GetBaseReport(7, ReportBase.CONFIGURATION), "GetBaseReport",
     {"requestId": 7, "reportBase": "ConfigurationInventory"}),
    (GetReport(8, (SettingKey("", component="EVSE", evse_id=1), HEARTBEAT), ("Problem",)),
     "GetReport", {"requestId": 8, "componentCriteria": ["Problem"], "componentVariable": [
         {"component": {"name": "EVSE", "evse": {"id": 1}}},
         {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]}),
    (SetSettings((SettingChange(HEARTBEAT, "60"),)), "SetVariables", {"setVariableData": [
        {"attributeValue": "60", "component": {"name": "OCPPCommCtrlr"},
         "variable": {"name": "HeartbeatInterval"}}]}),
    (SetVariableMonitoring((MONITOR, Monitor(SettingKey("Voltage", "EVSE", evse_id=1),
                                             MonitorKind.LOWER, 198.5, 3, monitor_id=4))),
     "SetVariableMonitoring", {"setMonitoringData": [
         {"value": 80, "type": "UpperThreshold", "severity": 0, "transaction": False,
          "component": {"name": "TemperatureSensor"}, "variable": {"name": "Temperature"}},
         {"value": 198.5, "type": "LowerThreshold", "severity": 3, "transaction": False,
          "id": 4, "component": {"name": "EVSE", "evse": {"id": 1}},
          "variable": {"name": "Voltage"}}]}),
    (ClearVariableMonitoring((3, 4)), "ClearVariableMonitoring", {"id": [3, 4]}),
    (SetMonitoringBase(MonitoringBase.FACTORY_DEFAULT), "SetMonitoringBase",
     {"monitoringBase": "FactoryDefault"}),
    (SetMonitoringLevel(4), "SetMonitoringLevel", {"severity": 4}),
    (GetMonitoringReport(9, (), ("ThresholdMonitoring",)), "GetMonitoringReport",
     {"requestId": 9, "monitoringCriteria": ["ThresholdMonitoring"]}),
    (SetNetworkProfile(1, NetworkProfile("wss://c.example/ocpp/", 2, "Wireless0",
                                         apn="cmnet")), "SetNetworkProfile",
     {"configurationSlot": 1, "connectionData": {
         "ocppVersion": "OCPP20", "ocppTransport": "JSON",
         "ocppCsmsUrl": "wss://c.example/ocpp/", "messageTimeout": 30, "securityProfile": 2,
         "ocppInterface": "Wireless0", "apn": {"apn": "cmnet", "apnAuthentication": "AUTO"}}}),
]


class TestTranslation:
    @pytest.mark.parametrize(("command", "action", "payload"), DEVICE_CALLS)
    def test_exact_schema_valid_call(self, command: Command, action: str,
                                     payload: dict[str, Any]) -> None:
        """Each command is exactly this CALL, valid against the official 2.0.1 schema."""
        sent = commands_v201.to_call("CS", command)
        assert (action, payload) == sent
        SCHEMAS.check_request(action, dict(payload), "m1")

    @pytest.mark.parametrize(("command", "reason"), [
        (SetVariableMonitoring(()), "at least one"),
        (SetMonitoringLevel(10), r"0\.\.9"),
        (GetReport(1, (), ("Broken",)), "unknown criteria"),
        (SetNetworkProfile(1, NetworkProfile("ws://" + "x" * 600)), "512"),
    ])
    def test_refused_before_sending(self, command: Command, reason: str) -> None:
        with pytest.raises(CommandNotSupported, match=reason):
            commands_v201.to_call("CS", command)

    @pytest.mark.parametrize(("command", "_a", "_p"), DEVICE_CALLS[:2] + DEVICE_CALLS[3:])
    def test_2_0_1_only_on_1_6(self, command: Command, _a: str, _p: Any) -> None:
        with pytest.raises(CommandNotSupported, match=r"2\.0\.1 only"):
            commands_v16.to_call("CP", command)

    def test_1_6_sets_one_key_per_change_configuration(self) -> None:
        one = SetSettings((SettingChange(SettingKey("HeartbeatInterval"), "60"),))
        assert ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}) == (
            commands_v16.to_call("CP", one))
        assert SettingsSetReport((SettingSetResult(SettingKey("HeartbeatInterval"),
                                                   "RebootRequired"),)) == (
            commands_v16.from_answer(one, {"status": "RebootRequired"}))

    def test_monitor_results_match_by_position(self) -> None:
        command = SetVariableMonitoring((MONITOR,))
        answer = {"setMonitoringResult": [{
            "id": 12, "status": "Accepted", "type": "UpperThreshold", "severity": 0,
            "component": {"name": "TemperatureSensor"}, "variable": {"name": "Temperature"}}]}
        SCHEMAS.check_response("SetVariableMonitoring", answer, "m1")
        assert MonitorsSetReport((MonitorResult(MONITOR, "Accepted", 12),)) == (
            commands_v201.from_answer(command, answer))


def _event(variable: str, value: str) -> StationEventReported:
    details = {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": variable},
               "trigger": "Alerting", "actualValue": value, "variableMonitoringId": 3}
    return StationEventReported("CP", "notify_event", datetime(2027, 1, 1, tzinfo=UTC),
                                f"EVSE.{variable}", 1, None, details)


@pytest.mark.parametrize(("variable", "value", "code"), [
    ("Voltage", "250.1", AlarmCode.OVER_VOLTAGE), ("Voltage", "180", AlarmCode.UNDER_VOLTAGE),
    ("Current", "40", AlarmCode.OVER_CURRENT)])
def test_a_monitors_notify_event_names_the_excursion(variable: str, value: str,
                                                     code: AlarmCode) -> None:
    decision = notify_event(_event(variable, value), None, SafetySettings())
    assert isinstance(decision, Raise)
    assert code == decision.alarm.key.code


def test_variable_row_key_has_no_nulls() -> None:
    assert ("C", "", 0, 0, "V", "", "Actual") == VariableRow("C", "V").key()
