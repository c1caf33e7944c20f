"""Tariffs, packages, session charges, wallets, subscriptions and statements."""
