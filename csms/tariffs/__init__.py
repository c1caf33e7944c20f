"""Tariffs: time-of-use pricing, packages and the wallet ledger, in Decimal."""
