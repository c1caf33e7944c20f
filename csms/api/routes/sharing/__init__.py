"""Sharing safety data: the live feed (Server-Sent Events) and webhooks."""
