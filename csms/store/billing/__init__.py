"""Billing in the database: tariffs, packages, wallets and ledgers (tables), pricing and posting
a session as it ends (store), the operator's writes (admin), reads and row mapping."""
