"""Reads used by pages and the API, one module per area."""
