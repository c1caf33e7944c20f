"""Community-charging CSMS: an OCPP 1.6J and 2.0.1 central system."""
