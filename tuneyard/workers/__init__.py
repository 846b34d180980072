"""The worker process: Dramatiq workers on the job queues they are given, and their supervision."""
