"""What readiness and retention need of the store beyond the core tables (issue 14)."""
