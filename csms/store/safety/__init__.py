"""Safety alarms in the database: their tables, the alarm store and the alarm queries."""
