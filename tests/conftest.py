"""Shared fixtures. Each support module registers its fixtures here."""

pytest_plugins = [
    "tests.support.env",
]
