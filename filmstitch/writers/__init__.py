"""Writers turn an idea into a film plan. ``get_writer`` picks one by name."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from filmstitch.writers.base import CallUsage, TransientWriterError, Writer, WriterError

WRITERS = {"offline": "filmstitch.writers.offline:OfflineWriter", "claude": "filmstitch.writers.claude:ClaudeWriter"}


def writer_class(name: str) -> type[Writer]:
    if name not in WRITERS:
        raise ValueError(f"unknown writer {name!r}: choose one of {sorted(WRITERS)}")
    module, cls = WRITERS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def get_writer(name: str, *, gate: Callable[[], AbstractContextManager[Any]] | None = None) -> Writer:
    """The writer `name`; `gate` wraps each of its model requests (Writer.__init__)."""
    return writer_class(name)(gate=gate)


__all__ = ["CallUsage", "TransientWriterError", "Writer", "WriterError", "get_writer", "writer_class"]
