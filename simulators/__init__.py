"""Charge-point simulators for testers and for our own tests."""
