"""Examples: recording and reading the orchestrator's executions, and the ExampleFilter compiler."""
