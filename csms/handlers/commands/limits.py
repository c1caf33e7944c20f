"""Charging limits as chargers take them: rounded down, never up. Pure.

Rules:
1. A limit in A goes out with at most one decimal, a limit in W in whole watts, both
   rounded *down*: what a charger is told never exceeds what was allocated, so neither does
   the sum over a site's EVSEs. What is given up is under 0.1 A (or 1 W) per limit.
2. Rounding works on the shortest decimal that spells the float (its ``repr``), not on its
   binary value: 2.3 A goes out as 2.3 although the float 2.3 lies a hair below 2.3.
3. The same rule for both versions (1.6 ``multipleOf 0.1``; 2.0.1 "at most one digit
   fraction"), for period limits and ``minChargingRate`` alike.
"""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, Context, Decimal
from typing import Final

STEP: Final = {"A": Decimal("0.1"), "W": Decimal(1)}
_CONTEXT: Final = Context(prec=400, rounding=ROUND_FLOOR)  # any finite float fits


def wire_limit(value: float, rate_unit: str) -> float:
    """``value`` (in ``rate_unit``, "A" or "W"; another unit is taken as A) rounded down to
    the charger's precision (rules 1-2). A non-finite value is returned as it is."""
    if not math.isfinite(value):
        return value
    step = STEP.get(rate_unit, STEP["A"])
    return float(Decimal(repr(value)).quantize(step, context=_CONTEXT))
