"""Many stations at once: the fleet runner behind ``csms-sim``, scenario files, live progress."""
