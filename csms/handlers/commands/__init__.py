"""CSMS-initiated OCPP: version-neutral commands as 1.6 and 2.0.1 CALLs, answers as results."""
