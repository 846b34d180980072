"""Thin adapters: parse GraphQL input, call one service, map the result to schema types."""
