"""What makes two transaction messages the same, and what makes a reading suspect. Pure.

Chargers retransmit, reuse sequence numbers, restart their meters and lose their clocks;
these rules tell a retransmission from a new fact and a plausible reading from a broken
one, so the store can apply every new fact and record every anomaly (never drop one).

Rules:
1. A 1.6 StartTransaction is a retransmission of an earlier one exactly when every field the
   charger sent is equal (connector, id tag, meterStart, timestamp, reservationId):
   :func:`start_fingerprint` is equal for those and only those.
2. A 2.0.1 TransactionEvent is a retransmission when its seqNo, eventType, timestamp and
   triggerReason are all equal to an earlier event's (:func:`event_fingerprint`); an event
   that reuses a seqNo with any of the others different is a new event.
3. A register reading falls back only when it is below the previous one by more than the
   tolerance; a whole-number reading (1.6 meterStop is whole Wh) is compared with a tolerance
   of at least :data:`WHOLE_WH_TOLERANCE_WH`.
4. Energy is implausible when it exceeds what ``max_power_w`` delivers over the elapsed time
   (at least :data:`MIN_PLAUSIBLE_S`), plus a slack of one whole Wh.
5. A session carrying a flag of :data:`REVIEW_FLAGS` is not billed until an operator decides
   (the session is then flagged reviewed, or void and never billed).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from csms.domain.model import SessionEvent

WHOLE_WH_TOLERANCE_WH: Final = 1.0
MIN_PLAUSIBLE_S: Final = 60.0


class SessionFlag(StrEnum):
    """Why a session needs a second look; kept on the session, explained in station events."""

    IMPLAUSIBLE_BASELINE = "implausible_baseline"  # start register far below the next reading
    IMPLAUSIBLE_ENERGY = "implausible_energy"  # more energy than the charger can deliver
    STOP_CONFLICT = "stop_conflict"  # a second stop with other values
    ENDED_BEFORE_STARTED = "ended_before_started"  # the charger's clock ran backwards
    SUPERSEDED = "superseded"  # ended by the CSMS: a new transaction began on its EVSE
    UNKNOWN_START = "unknown_start"  # first seen in an Updated or Ended event
    REVIEWED = "reviewed"  # an operator decided: bill it (as it is, or corrected)
    VOID = "void"  # an operator decided: do not bill it


REVIEW_FLAGS: Final = frozenset({
    SessionFlag.IMPLAUSIBLE_BASELINE, SessionFlag.IMPLAUSIBLE_ENERGY,
    SessionFlag.ENDED_BEFORE_STARTED,
})


def _digest(*parts: object) -> str:
    text = "\x1f".join("" if part is None else str(part) for part in parts)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def start_fingerprint(event: SessionEvent) -> str:
    """Rule 1: equal for two 1.6 starts exactly when the charger sent the same fields."""
    token = event.id_token
    return _digest("start", event.evse_id, event.connector_id,
                   None if token is None else token.value, None if token is None else token.kind,
                   repr(event.meter_wh), _instant(event.at), event.reservation_id)


def event_fingerprint(event: SessionEvent) -> str:
    """Rule 2: equal for a 2.0.1 event and its retransmission."""
    return _digest("event", event.seq_no, event.kind.value, _instant(event.at),
                   event.trigger_reason)


def fell_back(previous_wh: float | None, reading_wh: float | None, tolerance_wh: float = 0.0
              ) -> bool:
    """Rule 3: did the register go from ``previous_wh`` down to ``reading_wh``?"""
    if previous_wh is None or reading_wh is None:
        return False
    if float(reading_wh).is_integer() or float(previous_wh).is_integer():
        tolerance_wh = max(tolerance_wh, WHOLE_WH_TOLERANCE_WH)
    return reading_wh < previous_wh - tolerance_wh


def plausible_energy(energy_wh: float, elapsed_s: float, max_power_w: float) -> bool:
    """Rule 4: can ``max_power_w`` deliver ``energy_wh`` in ``elapsed_s``?"""
    hours = max(elapsed_s, MIN_PLAUSIBLE_S) / 3600
    return energy_wh <= max_power_w * hours + WHOLE_WH_TOLERANCE_WH


def needs_review(flags: list[str] | tuple[str, ...] | frozenset[str]) -> bool:
    """Rule 5."""
    decided = SessionFlag.REVIEWED in flags or SessionFlag.VOID in flags
    return not decided and any(flag in REVIEW_FLAGS for flag in flags)
