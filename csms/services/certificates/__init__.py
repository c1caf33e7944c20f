"""Certificates in the running CSMS: the CA at work, the chargers' trust stores, revocation."""
