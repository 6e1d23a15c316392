"""Writers turn an idea into a film plan. ``get_writer`` picks one by name."""

from __future__ import annotations

from filmstitch.writers.base import CallUsage, TransientWriterError, Writer, WriterError


def get_writer(name: str) -> Writer:
    if name == "offline":
        from filmstitch.writers.offline import OfflineWriter

        return OfflineWriter()
    if name == "claude":
        from filmstitch.writers.claude import ClaudeWriter

        return ClaudeWriter()
    raise ValueError(f"unknown writer {name!r}: choose 'offline' or 'claude'")


__all__ = ["CallUsage", "TransientWriterError", "Writer", "WriterError", "get_writer"]
