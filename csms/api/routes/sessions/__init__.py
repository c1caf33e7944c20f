"""Charging sessions, their meter values, and reservations."""
