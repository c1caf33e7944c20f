"""Districts, communities and residents, service-radius coverage, the monthly report."""
