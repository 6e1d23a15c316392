"""Shared fixtures. Each support module registers its fixtures here."""

pytest_plugins = [
    "tests.support.env",
    "tests.support.s3",
    "tests.support.rgw",
    "tests.support.s3rver",
    "tests.support.prefect",
    "tests.support.served",
    "tests.support.fake_anthropic",
]
