"""OCPP payloads to domain types and back, per version. Pure: no I/O, no clock."""
