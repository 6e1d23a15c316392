"""Prefect flows: the film process, orchestration only."""
