"""Dramatiq workers: the broker, job actors (thin, by name, taking a job id) and the worker process."""
