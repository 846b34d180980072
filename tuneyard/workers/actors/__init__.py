"""Job actors: every module in this package registers its work with `job_actor` and is imported by workers."""
