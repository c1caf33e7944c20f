"""Billing in the running CSMS: pricing, credit, cost display, statements and tariff input."""
