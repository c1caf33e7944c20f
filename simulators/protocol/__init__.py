"""The charger's two OCPP sides (1.6J and 2.0.1), its OCPP-J link, and a loopback CSMS."""
