"""The safety monitor in the running CSMS: events to alarms, protective actions."""
