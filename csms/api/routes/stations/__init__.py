"""Sites and charge points, with their load settings (orderly charging)."""
