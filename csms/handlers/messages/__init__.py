"""Charger-initiated OCPP messages: translate, delegate to the services, translate back."""
