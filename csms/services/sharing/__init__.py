"""Safety sharing: notices for the live feed and webhooks, and security audit."""
