"""LocalStore: objects as files under one directory.

* Whole files only: each write goes to a hidden temp file in the same directory, is fsynced and
  renamed over the final name, and the directory is fsynced, so the final name only ever holds
  a complete file (even when the writer is killed mid-write).
* Metadata lives in a hidden sidecar file next to the object (``.<name>.meta``), written the same
  way just before the object. Hidden names are never keys, so a sidecar cannot be read as one.
* Read-modify-write of one key holds an exclusive ``filelock`` on a hidden lock file beside it,
  across threads and processes (``flock`` on POSIX, ``msvcrt`` locking on Windows).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from filelock import FileLock

from filmstitch.storage.base import Metadata, ObjectStore, StoredObject, check_metadata
from filmstitch.storage.errors import ArtifactMissing, StorageError
from filmstitch.storage.keys import TEMP_PREFIX, shorten, validate_key

MIN_FREE_BYTES = 16 * 1024 * 1024
WRITE_CHUNK = 1024 * 1024


def _write_all(fd: int, data: bytes) -> None:
    """os.write in chunks until everything is written (os.write may write less than asked)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view[:WRITE_CHUNK])
        view = view[written:]


def _fsync_dir(path: Path) -> None:
    """Make a rename durable: fsync the directory that holds it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sidecar(path: Path) -> Path:
    return path.with_name(f".{path.name}.meta")


def _read_sidecar(path: Path) -> dict[str, str]:
    """The metadata beside `path`; none if there is no sidecar or it is unreadable (then nothing is trusted)."""
    try:
        metadata = json.loads(_sidecar(path).read_bytes())
        return check_metadata(metadata) if isinstance(metadata, dict) else {}
    except (OSError, ValueError):
        return {}


class LocalStore(ObjectStore):
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / validate_key(key)).resolve()
        if self.root not in path.parents:  # e.g. a symlinked directory pointing elsewhere
            raise ValueError(f"key {shorten(key)} escapes the storage root")
        return path

    def _os_error(self, what: str, exc: OSError) -> StorageError:
        return StorageError(f"cannot {what} under {self.root}: {exc.strerror or exc}")

    def _write_file(self, path: Path, data: bytes, durable: bool = True) -> None:
        """Temp file in the same directory, fsync, rename: the final name only ever holds whole files.

        `durable=False` skips both fsyncs (the caller makes the directory durable later).
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
        try:
            try:
                os.fchmod(fd, 0o644)
                _write_all(fd, data)
                if durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:  # also KeyboardInterrupt / SystemExit: never leave the temp file behind
            with suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        if durable:
            _fsync_dir(path.parent)

    def _write_object(self, path: Path, data: bytes, metadata: dict[str, str]) -> None:
        """The sidecar first, then the object.

        A crash in between leaves a sidecar that does not match the object's bytes, which every
        reader treats as "no trustworthy metadata" (the manifest stays the record; a repair makes
        that artifact again). For the same reason the sidecar skips its own fsync: after a power
        loss it may be empty or old, never trusted wrongly, and the object's directory fsync makes
        its rename durable too. Two fsyncs per artifact instead of four.
        """
        sidecar = _sidecar(path)
        if metadata:
            self._write_file(sidecar, json.dumps(metadata, sort_keys=True).encode(), durable=False)
        try:
            self._write_file(path, data)
        except BaseException:
            if metadata:  # the new sidecar describes bytes that never landed
                with suppress(OSError):
                    sidecar.unlink()
            raise
        if not metadata:
            with suppress(FileNotFoundError):
                sidecar.unlink()

    def put(self, key: str, data: bytes, content_type: str, metadata: Metadata | None = None) -> None:
        path = self._path(key)
        checked = check_metadata(metadata)
        try:
            self._write_object(path, data, checked)
        except OSError as exc:
            raise self._os_error(f"write {key}", exc) from exc

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise ArtifactMissing(f"artifact {key} is missing under {self.root}") from None
        except OSError as exc:
            raise self._os_error(f"read {key}", exc) from exc

    def read(self, key: str) -> StoredObject:
        data = self.get(key)
        return StoredObject(data, _read_sidecar(self._path(key)))

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def url(self, key: str, expires_s: int = 3600) -> str:
        return self._path(key).as_uri()

    def list(self, prefix: str) -> list[str]:
        base = self.root / validate_key(prefix.rstrip("/")) if prefix else self.root
        if not base.is_dir():
            return []
        return sorted(
            str(path.relative_to(self.root))
            for path in base.rglob("*")
            if path.is_file() and not any(part.startswith(".") for part in path.relative_to(self.root).parts)
        )

    def update(
        self,
        key: str,
        change: Callable[[bytes | None], bytes],
        content_type: str,
        metadata: Callable[[bytes], Metadata] | None = None,
    ) -> bytes:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with FileLock(path.with_name(f".{path.name}.lock")):
                try:
                    current: bytes | None = path.read_bytes()
                except FileNotFoundError:
                    current = None
                new = change(current)
                self._write_object(path, new, check_metadata(metadata(new) if metadata else None))
                return new
        except OSError as exc:
            raise self._os_error(f"update {key}", exc) from exc

    def check_writable(self, min_free_bytes: int = MIN_FREE_BYTES) -> None:
        """The root exists (or can be made), has room, and a file can be written and fsynced there."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            free = shutil.disk_usage(self.root).free
            if free < min_free_bytes:
                raise StorageError(
                    f"storage directory {self.root} has only {free // 2**20} MiB free;"
                    f" at least {min_free_bytes // 2**20} MiB are needed (FILMSTITCH_STORAGE_DIR)"
                )
            fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=self.root)
            try:
                _write_all(fd, b"filmstitch write check\n" * 64)
                os.fsync(fd)
            finally:
                os.close(fd)
                os.unlink(tmp)
        except OSError as exc:
            raise StorageError(
                f"storage directory {self.root} is not writable: {exc.strerror or exc} (FILMSTITCH_STORAGE_DIR)"
            ) from exc
        self.sweep_temp_files()

    def sweep_temp_files(self, older_than_s: float = 3600) -> int:
        """Delete temp files left by writers that were killed mid-write (they are never visible as keys)."""
        cutoff = time.time() - older_than_s
        removed = 0
        for tmp in self.root.rglob(TEMP_PREFIX + "*"):
            with suppress(OSError):
                if tmp.is_file() and tmp.stat().st_mtime <= cutoff:
                    tmp.unlink()
                    removed += 1
        return removed

    def describe(self) -> str:
        return str(self.root)
