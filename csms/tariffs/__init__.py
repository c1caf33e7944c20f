"""Tariffs: time-of-use pricing, packages and the wallet ledger, in Decimal.

Pure: no I/O, no clock of its own (time is an argument). Modules:
1. ``model``: time-of-use schedules and tariff versions (``tariff_at``, ``versions_during``).
2. ``examples``: the Yunnan residential tariff as data.
3. ``pricing``: a session's energy split at every boundary into unrounded charge details.
4. ``rounding``: half-up to the fen at posting; largest remainder so details sum to totals.
5. ``packages``: prepaid kWh consumed first (``apply_packages``).
6. ``ledger``: double-entry wallet records, derived balances, session charges with a floor.
7. ``settlement``: one ended session from priced details to order, packages and entries.
"""
