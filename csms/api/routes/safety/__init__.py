"""Connector status, station events, alarms and the daily safety summary."""
