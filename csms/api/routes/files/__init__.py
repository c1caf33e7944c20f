"""Firmware, diagnostics and logs, and the HTTP(S) transfers chargers make for them."""
