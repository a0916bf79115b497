"""The operators' dashboard (HTML)."""
