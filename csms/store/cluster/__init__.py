"""What the nodes of a cluster share beyond the OCPP data: claims on once-only jobs."""
