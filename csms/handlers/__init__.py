"""OCPP adapters: the only package that knows OCPP."""
