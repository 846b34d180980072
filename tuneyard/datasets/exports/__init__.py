"""Exports of a dataset version in every fine-tuning format, as background jobs."""
