"""ObjectStore: bytes by key, the one interface the local directory and S3 both implement."""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import NamedTuple

#: Object metadata travels as S3 user metadata (``x-amz-meta-<name>``, an HTTP header), so names
#: are lower-case and values printable ASCII on every store.
METADATA_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
METADATA_VALUE = re.compile(r"[\x20-\x7e]*")

Metadata = Mapping[str, str]


class StoredObject(NamedTuple):
    """An object's bytes and the metadata written with it (empty if it was written without)."""

    data: bytes
    metadata: dict[str, str]


def check_metadata(metadata: Metadata | None) -> dict[str, str]:
    """A plain dict of valid metadata; ValueError for a name or value no store could keep."""
    checked = dict(metadata or {})
    for name, value in checked.items():
        if not METADATA_NAME.fullmatch(name) or not isinstance(value, str) or not METADATA_VALUE.fullmatch(value):
            raise ValueError(f"invalid object metadata {name!r}: lower-case names, printable ASCII values")
    return checked


class ObjectStore(ABC):
    """Bytes by key, with a little metadata per object. Implementations: local directory, S3."""

    _write_checked = False
    _write_check_lock = threading.Lock()

    @abstractmethod
    def put(self, key: str, data: bytes, content_type: str, metadata: Metadata | None = None) -> None:
        """Write atomically: readers see the old object or the whole new one, never a mix.

        `metadata` replaces the object's metadata (none given: the object has none).
        """

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The object's bytes; ArtifactMissing if there is none."""

    @abstractmethod
    def read(self, key: str) -> StoredObject:
        """The object's bytes and metadata; ArtifactMissing if there is none."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def url(self, key: str, expires_s: int = 3600) -> str: ...

    @abstractmethod
    def list(self, prefix: str) -> list[str]: ...

    @abstractmethod
    def update(
        self,
        key: str,
        change: Callable[[bytes | None], bytes],
        content_type: str,
        metadata: Callable[[bytes], Metadata] | None = None,
    ) -> bytes:
        """Atomic read-modify-write of one key across threads and processes.

        ``change`` gets the current bytes (None if absent) and returns the new bytes. It may be
        called more than once (when another writer got in first), so it must be a pure function
        of its input. ``metadata``, if given, makes the new object's metadata from its bytes.
        Returns what was written.
        """

    @abstractmethod
    def check_writable(self) -> None:
        """Raise one clear StorageError if writing cannot work (full disk, no bucket, bad credentials...)."""

    @abstractmethod
    def describe(self) -> str: ...

    def ensure_writable(self) -> None:
        """check_writable() once per store object (stores are shared, so once per process)."""
        if self._write_checked:
            return
        with self._write_check_lock:
            if not self._write_checked:
                self.check_writable()
                self._write_checked = True
