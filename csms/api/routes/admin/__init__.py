"""API tokens and the audit log (family ``admin``)."""
