"""Auth: API tokens and checking them."""
