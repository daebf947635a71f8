"""The HTTP API and the dashboard (``rareflow serve``)."""
