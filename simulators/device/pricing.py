"""Prices and costs the CSMS sends for the charger's display, shown as a display would.

OCPP 1.6 (the OCA "California Pricing Requirements" whitepaper): DataTransfer with vendorId
``org.openchargealliance.costmsg`` and messageId ``SetUserPrice`` (idToken, priceText),
``RunningCost`` or ``FinalCost`` (transactionId, cost, priceText, qrCodeText); ``data`` is
a JSON string. OCPP 2.0.1: CostUpdated (totalCost, transactionId).

Rules:
1. A message that is understood is answered Accepted and its text goes to
   :meth:`simulators.station.SimStation.show` (kept in ``station.display``, logged as
   ``sim.display``, counted). The text is ``priceText`` when given, else the cost.
2. A 1.6 DataTransfer for another vendor is UnknownVendorId, another messageId of this
   vendor UnknownMessageId, data that is not a JSON object Rejected.
3. Costs are shown as given, as decimals (never through a float).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Final

COSTMSG_VENDOR: Final = "org.openchargealliance.costmsg"
COSTMSG_MESSAGES: Final = frozenset({"SetUserPrice", "RunningCost", "FinalCost"})


def _amount(value: Any) -> str:
    return str(Decimal(str(value)))


def v16_cost_text(vendor_id: str, message_id: str | None, data: str | None) -> tuple[str, str]:
    """The DataTransfer answer status and the display text ("" unless Accepted)."""
    if vendor_id != COSTMSG_VENDOR:
        return "UnknownVendorId", ""
    if message_id not in COSTMSG_MESSAGES:
        return "UnknownMessageId", ""
    try:
        body = json.loads(data or "", parse_float=Decimal)
    except json.JSONDecodeError:
        return "Rejected", ""
    if not isinstance(body, dict):
        return "Rejected", ""
    text = body.get("priceText")
    if not isinstance(text, str) or not text:
        text = f"{message_id}: {_amount(body['cost'])}" if "cost" in body else message_id
    if message_id == "FinalCost" and isinstance(body.get("qrCodeText"), str):
        text = f"{text} [{body['qrCodeText']}]"
    return "Accepted", text


def v201_cost_text(total_cost: Any, transaction_id: str) -> str:
    """The display text of a CostUpdated."""
    return f"Transaction {transaction_id}: total cost {_amount(total_cost)}"
