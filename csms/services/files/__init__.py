"""Files chargers exchange with the CSMS: firmware updates, logs, the file vault."""
