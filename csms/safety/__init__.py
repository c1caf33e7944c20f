"""Safety monitoring: alarm rules and the tamper-evident audit log (see the safety issue)."""
