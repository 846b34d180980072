"""Datasets: immutable versions of a curated selection, their splits and diffs."""
