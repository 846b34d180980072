"""Fine-tunes: estimate one before it starts, start it as a FINE_TUNE job, follow the provider's job to a model."""
