"""What an OCPP version must provide to the version-neutral station.

A dialect builds every payload the station sends from neutral state, reads the few fields
the station needs from the answers, names its default settings, and builds the handlers
for the commands the CSMS sends. BootNotification, Heartbeat, StatusNotification and
Authorize keep their action names in both versions; the transaction messages do not, so
the builders for those return ``(action, payload)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from csms.handlers.ocppj import OcppVersion

if TYPE_CHECKING:
    from csms.handlers.rpc import Handler
    from simulators.model import Hardware, Identity, Status, Transaction
    from simulators.protocol.reactions import Reactions
    from simulators.sampling import MeterSample
    from simulators.settings import SettingsStore

Payload = dict[str, Any]


class Dialect(Protocol):
    """One OCPP version's spelling of the station's messages."""

    version: OcppVersion

    def default_settings(self, connectors: int, hardware: Hardware) -> SettingsStore[Any]:
        """The configuration keys / device-model variables of a fresh station."""
        ...

    def boot_notification(self, identity: Identity, reason: str) -> Payload:
        """A BootNotification payload; ``reason`` is a 2.0.1 BootReason (1.6 ignores it)."""
        ...

    def status_notification(
        self, connector_id: int, status: Status, *, error_code: str | None, charging: bool,
        timestamp: str, vendor_error_code: str | None = None,
    ) -> Payload:
        """A StatusNotification payload; ``charging`` resolves Occupied in 1.6; the error
        codes are 1.6 only."""
        ...

    def authorize(self, id_tag: str, token_type: str) -> Payload:
        """An Authorize payload."""
        ...

    def id_status(self, response: Payload) -> str | None:
        """The authorization status in an Authorize / start / stop answer, if any."""
        ...

    def start_transaction(self, tx: Transaction, sample: MeterSample) -> tuple[str, Payload]:
        """The message that starts ``tx`` (StartTransaction or TransactionEvent Started)."""
        ...

    def transaction_started(self, tx: Transaction, response: Payload) -> None:
        """Take what the start answer says: the CSMS's transaction id (1.6), auth status."""
        ...

    def meter_values(
        self, connector_id: int, tx: Transaction | None, sample: MeterSample, *,
        standalone: bool,
    ) -> tuple[str, Payload]:
        """MeterValues, or (2.0.1, during ``tx``, unless ``standalone``) TransactionEvent."""
        ...

    def stop_transaction(
        self, tx: Transaction, sample: MeterSample, reason: str, id_tag: str | None
    ) -> tuple[str, Payload]:
        """The message that ends ``tx``; ``reason`` in either version's spelling."""
        ...

    def handlers(self, reactions: Reactions, settings: SettingsStore[Any]) -> dict[str, Handler]:
        """Handlers for every CSMS-initiated command this version has."""
        ...


def dialect_for(version: OcppVersion) -> Dialect:
    """The dialect of ``version``."""
    if version is OcppVersion.V16:
        from simulators.protocol.v16 import V16Dialect

        return V16Dialect()
    from simulators.protocol.v201 import V201Dialect

    return V201Dialect()
