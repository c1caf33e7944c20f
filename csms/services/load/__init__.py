"""Orderly charging in the running CSMS: the service, one site's pass, cluster ownership."""
