"""Writers turn an idea into a film plan. ``get_writer`` makes one by name (filmstitch.backends)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from filmstitch import backends
from filmstitch.writers.base import CallUsage, TransientWriterError, Writer, WriterError


def writer_class(name: str) -> type[Writer]:
    cls: type[Writer] = backends.writer(name).load()
    return cls


def get_writer(name: str, *, gate: Callable[[], AbstractContextManager[Any]] | None = None) -> Writer:
    """The writer `name`; `gate` wraps each of its model requests (Writer.__init__)."""
    return writer_class(name)(gate=gate)


__all__ = ["CallUsage", "TransientWriterError", "Writer", "WriterError", "get_writer", "writer_class"]
