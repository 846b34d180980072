"""SQL in, domain objects out."""
