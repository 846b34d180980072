"""Tuneyard: curate an orchestrator's execution records into fine-tuning datasets."""
