"""Shared fixtures: each tests/support module with fixtures is registered here."""

pytest_plugins = [
    "tests.support.env",
    "tests.support.servers",
    "tests.support.prefect",
    "tests.support.served",
]
