"""Load management in the database: site limits and EVSEs (tables, config), what the
allocator reads and the site series it writes (store)."""
