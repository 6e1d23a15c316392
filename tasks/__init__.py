"""Prefect tasks: one module per stage. Tasks stay thin; the work happens in filmstitch's backends."""
