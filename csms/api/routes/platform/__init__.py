"""The municipal platform: the push outbox, and what the platform pulls (``/evcs/v1``)."""
