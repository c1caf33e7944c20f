"""The operator console: server-rendered pages (Jinja2 + htmx) at ``/console/`` on the API's
own server, over the API's route functions and access rules (docs/decisions.md)."""
