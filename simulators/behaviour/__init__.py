"""What the simulated charger and its cars do: EV sessions, the EV model, faults, offline."""
