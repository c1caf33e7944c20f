"""The municipal platform feed in the running CSMS: pushes, their delivery, pulls."""
