"""A municipal platform (T/CEC 102.4) to point a CSMS at: ``python -m simulators.platform``."""
