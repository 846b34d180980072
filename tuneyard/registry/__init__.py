"""Registry: the models Tuneyard knows (those its fine-tunes made; the active model and benchmarks come later)."""
