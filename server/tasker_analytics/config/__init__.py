"""Configuration: every environment variable declared once, and the Settings read from them."""
