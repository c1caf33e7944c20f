"""Device features: certificates, firmware and logs, local list, reservations, monitors, display."""
