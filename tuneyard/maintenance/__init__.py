"""Maintenance jobs over the examples."""
