"""Worker processes: one per task queue, each with its own concurrency settings."""
