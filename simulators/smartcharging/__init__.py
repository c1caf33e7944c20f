"""The charging-profile engine of the simulated charger (pure) and the installed profiles."""
