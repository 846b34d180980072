"""Jobs: rows, the checkpointed runner, live progress and recovery."""
