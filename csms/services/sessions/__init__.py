"""Sessions asked about at the charger: remote starts, reservations, transaction checks."""
