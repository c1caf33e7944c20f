"""Sharing records with other parties: the hash-chained audit log, the webhook outbox, and
their tables."""
