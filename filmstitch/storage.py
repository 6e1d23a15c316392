"""Artifact storage: a local directory or any S3-compatible bucket, behind one small interface.

Layout: ``films/<film_id>/<key>`` (the local root defaults to ``./films``, the S3 prefix to
``films``), plus ``films/<film_id>/manifest.json`` listing every artifact
with its sha256 and size. The guarantees, and how each is kept:

* **No half-written object is ever visible.** Local: write a hidden temp file, fsync, rename over
  the final name. S3: a single PUT is all-or-nothing, and every PUT carries an
  ``x-amz-checksum-sha256`` header, so a body damaged in transit is refused by the server (and
  retried here) instead of being stored.
* **No manifest entry is ever lost**, even with many threads and processes writing one film.
  Local: an ``flock`` around read-modify-write. S3: a conditional PUT (``If-Match`` the ETag we read,
  or ``If-None-Match: *`` for a new manifest) in a retry loop: a writer that lost the race reads again.
* **No key leaves the film's prefix.** Keys and film ids are validated before any I/O.
* **Flaky networks are survived.** boto3's standard retry mode for transport faults (500s, 503
  SlowDown, resets, timeouts), plus a short loop here for what boto3 does not retry: bodies
  damaged in transit (``BadDigest``) and downloads cut short or failing their checksum.
* **Problems surface early and safely.** ``check_writable()`` runs before a film's first write and
  turns a full disk, a missing bucket or wrong credentials into one clear ``StorageError`` that
  names the problem and the setting to fix, never a secret.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import functools
import hashlib
import json
import logging
import os
import random
import re
import shutil
import tempfile
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

from filmstitch.settings import Settings, StorageConfig

log = logging.getLogger(__name__)

KEY_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
FILM_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,79}")
MAX_KEY_CHARS = 512  # well inside S3's 1024-byte key limit, with room for prefix and film id
MAX_KEY_PARTS = 16
MANIFEST = "manifest.json"
TEMP_PREFIX = ".tmp-"  # hidden local temp files; keys can never start with "."
WRITE_CHECK_DIR = ".filmstitch-write-check"
MIN_FREE_BYTES = 16 * 1024 * 1024
WRITE_CHUNK = 1024 * 1024

# S3 error codes meaning "the body was damaged on the way": resending the same bytes is right.
S3_TRANSIT_CODES = frozenset({"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "IncompleteBody"})
# A conditional PUT lost the race to another writer (or the object went away under If-Match).
S3_CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey", "412", "409"})
TRANSIT_ATTEMPTS = 6
CAS_ATTEMPTS = 60


class StorageError(RuntimeError):
    """A storage problem, with a message that is safe to show (no credentials)."""


class ArtifactMissing(StorageError):
    """The artifact (or manifest) is not in the store."""


def _shorten(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def validate_key(key: str) -> str:
    """A relative key of safe parts: ASCII letters, digits, '.', '_', '-'; no part starts with '.'.

    That rules out '..', '.', absolute paths, backslashes, empty parts, control characters,
    unicode look-alikes (full-width dots and slashes) and hidden names (our temp and lock files).
    """
    if not isinstance(key, str) or not key:
        raise ValueError("invalid artifact key: it must be a non-empty string")
    parts = key.split("/")
    if len(key) > MAX_KEY_CHARS or len(parts) > MAX_KEY_PARTS:
        raise ValueError(f"invalid artifact key {_shorten(key)}: longer than {MAX_KEY_CHARS} characters or {MAX_KEY_PARTS} parts")
    if not all(KEY_PART.fullmatch(part) for part in parts):
        raise ValueError(
            f"invalid artifact key {_shorten(key)}: use '/'-separated parts of letters, digits, '.', '_' and '-'"
            " (each starting with a letter or digit)"
        )
    return key


def validate_film_id(film_id: str) -> str:
    if not isinstance(film_id, str) or not FILM_ID.fullmatch(film_id):
        shown = _shorten(film_id) if isinstance(film_id, str) else type(film_id).__name__
        raise ValueError(f"invalid film id {shown}: lower-case letters, digits, '-' and '_', at most 80")
    return film_id


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _backoff(attempt: int, base_s: float = 0.05, cap_s: float = 1.0) -> float:
    """Full-jitter exponential backoff: spreads competing writers apart."""
    return random.random() * min(cap_s, base_s * 2**attempt)


class ArtifactRef(BaseModel):
    """A stored artifact as tasks pass it around: small, hashable, verifiable."""

    model_config = ConfigDict(frozen=True)

    key: str
    sha256: str
    size: int
    content_type: str = "application/octet-stream"
    meta: dict[str, Any] = Field(default_factory=dict)
    reuse_key: str | None = None


class ObjectStore(ABC):
    """Bytes by key. Implementations: local directory, S3."""

    _write_checked = False

    @abstractmethod
    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Write atomically: readers see the old object or the whole new one, never a mix."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The object's bytes; ArtifactMissing if there is none."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def url(self, key: str, expires_s: int = 3600) -> str: ...

    @abstractmethod
    def list(self, prefix: str) -> list[str]: ...

    @abstractmethod
    def update(self, key: str, change: Callable[[bytes | None], bytes], content_type: str) -> bytes:
        """Atomic read-modify-write of one key across threads and processes.

        ``change`` gets the current bytes (None if absent) and returns the new bytes. It may be
        called more than once (when another writer got in first), so it must be a pure function
        of its input. Returns what was written.
        """

    @abstractmethod
    def check_writable(self) -> None:
        """Raise one clear StorageError if writing cannot work (full disk, no bucket, bad credentials)."""

    @abstractmethod
    def describe(self) -> str: ...

    def ensure_writable(self) -> None:
        """check_writable() once per store object (stores are shared, so once per process)."""
        if not self._write_checked:
            self.check_writable()
            self._write_checked = True


# --------------------------------------------------------------------------- local directory


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


class LocalStore(ObjectStore):
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / validate_key(key)).resolve()
        if self.root not in path.parents:  # e.g. a symlinked directory pointing elsewhere
            raise ValueError(f"key {_shorten(key)} escapes the storage root")
        return path

    def _os_error(self, what: str, exc: OSError) -> StorageError:
        return StorageError(f"cannot {what} under {self.root}: {exc.strerror or exc}")

    def _write_file(self, path: Path, data: bytes) -> None:
        """Temp file in the same directory, fsync, rename: the final name only ever holds whole files."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
        try:
            try:
                os.fchmod(fd, 0o644)
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:  # also KeyboardInterrupt / SystemExit: never leave the temp file behind
            with suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        _fsync_dir(path.parent)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        try:
            self._write_file(path, data)
        except OSError as exc:
            raise self._os_error(f"write {key}", exc) from exc

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ArtifactMissing(f"artifact {key} is missing under {self.root}") from None
        except OSError as exc:
            raise self._os_error(f"read {key}", exc) from exc

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

    @contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        """An exclusive flock on a hidden lock file beside the key: across threads and processes."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(f".{path.name}.lock"), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def update(self, key: str, change: Callable[[bytes | None], bytes], content_type: str) -> bytes:
        try:
            with self._locked(key):
                try:
                    current: bytes | None = self.get(key)
                except ArtifactMissing:
                    current = None
                new = change(current)
                self.put(key, new, content_type)
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


# --------------------------------------------------------------------------- S3


def _redact_url(url: str | None) -> str:
    """An endpoint URL without any user:password@ part, safe for messages."""
    if not url:
        return "AWS S3"
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _s3_code(exc: Exception) -> str | None:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) or None
    return None


class S3Store(ObjectStore):
    """Any S3-compatible store through boto3. Credentials come from settings or boto3's usual chain.

    The credentials live only inside the boto3 client: never in attributes, messages or logs.
    """

    def __init__(
        self,
        config: StorageConfig,
        settings: Settings | None = None,
        *,
        max_attempts: int = 10,
        connect_timeout: float = 5,
        read_timeout: float = 30,
    ) -> None:
        import boto3
        from botocore.config import Config

        if not config.bucket:
            raise StorageError("S3 storage needs a bucket: set FILMSTITCH_S3_BUCKET")
        prefix = config.prefix.strip("/")
        if prefix:
            try:
                validate_key(prefix)
            except ValueError:
                raise StorageError(f"invalid S3 prefix {_shorten(prefix)} (FILMSTITCH_S3_PREFIX)") from None
        settings = settings or Settings()
        key_id, secret = settings.s3_access_key_id, settings.s3_secret_access_key
        if bool(key_id) != bool(secret):
            missing = "FILMSTITCH_S3_SECRET_ACCESS_KEY" if key_id else "FILMSTITCH_S3_ACCESS_KEY_ID"
            raise StorageError(f"S3 credentials are incomplete: {missing} is not set")
        credentials = {}
        if key_id and secret:
            credentials = {
                "aws_access_key_id": key_id.get_secret_value(),
                "aws_secret_access_key": secret.get_secret_value(),
            }
        self.bucket = config.bucket
        self.prefix = prefix
        self.endpoint = _redact_url(config.endpoint_url)
        self.client = boto3.client(
            "s3",
            endpoint_url=config.endpoint_url,
            region_name=config.region or "us-east-1",
            config=Config(
                signature_version="s3v4",
                # "standard" retries 500/502/503/504, throttling (SlowDown), resets and timeouts with
                # jittered exponential backoff; "adaptive" would also rate-limit the client, which
                # only slows a fan-out down when a proxy or endpoint fails at random.
                retries={"mode": "standard", "max_attempts": max_attempts},
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                max_pool_connections=32,
                tcp_keepalive=True,
            ),
            **credentials,
        )

    def _key(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _error(self, action: str, key: str, exc: Exception) -> StorageError:
        """A safe, specific message: what failed, why, and which setting to check. Never a secret."""
        from botocore.exceptions import EndpointConnectionError, NoCredentialsError

        where = f"bucket {self.bucket!r} at {self.endpoint}"
        code = _s3_code(exc)
        if isinstance(exc, NoCredentialsError):
            reason = "no S3 credentials found: set FILMSTITCH_S3_ACCESS_KEY_ID and FILMSTITCH_S3_SECRET_ACCESS_KEY"
        elif isinstance(exc, EndpointConnectionError):
            reason = "cannot reach the S3 endpoint (FILMSTITCH_S3_ENDPOINT_URL)"
        elif code == "NoSuchBucket":
            reason = "the bucket does not exist: create it or fix FILMSTITCH_S3_BUCKET"
        elif code in ("InvalidAccessKeyId", "InvalidClientTokenId"):
            reason = "the access key id is not known to the endpoint: check FILMSTITCH_S3_ACCESS_KEY_ID"
        elif code == "SignatureDoesNotMatch":
            reason = "the secret access key is wrong: check FILMSTITCH_S3_SECRET_ACCESS_KEY"
        elif code in ("AccessDenied", "403"):
            reason = "access denied: the credentials may not read and write this bucket"
        elif code == "NotImplemented":
            reason = "the endpoint does not support this request (conditional writes need a recent S3 API)"
        elif code:
            reason = code
        else:
            reason = type(exc).__name__
        return StorageError(f"S3 {action} of {key} in {where} failed: {reason}")

    def _with_transit_retries(self, action: str, key: str, call: Callable[[], Any]) -> Any:
        """Run `call`, retrying what boto3 does not: bodies damaged in transit, downloads cut short.

        Everything else (conflicts, missing objects, auth) goes straight back to the caller.
        """
        from botocore.exceptions import FlexibleChecksumError, IncompleteReadError, ReadTimeoutError
        from botocore.exceptions import ResponseStreamingError
        from urllib3.exceptions import ProtocolError  # an error reply cut short escapes botocore unwrapped

        cut_short = (IncompleteReadError, ResponseStreamingError, FlexibleChecksumError, ReadTimeoutError, ProtocolError)
        for attempt in range(TRANSIT_ATTEMPTS):
            try:
                return call()
            except cut_short as exc:
                reason = type(exc).__name__
            except Exception as exc:
                if _s3_code(exc) not in S3_TRANSIT_CODES:
                    raise
                reason = _s3_code(exc)
            if attempt + 1 < TRANSIT_ATTEMPTS:
                log.warning("S3 %s of %s damaged in transit (%s); retrying", action, key, reason)
                time.sleep(_backoff(attempt, base_s=0.1))
        raise StorageError(f"S3 {action} of {key} in bucket {self.bucket!r} kept failing in transit: {reason}")

    def _put(self, key: str, data: bytes, content_type: str, **conditions: str) -> None:
        full_key = self._key(key)
        self._with_transit_retries(
            "write",
            key,
            lambda: self.client.put_object(
                Bucket=self.bucket,
                Key=full_key,
                Body=data,
                ContentType=content_type,
                ChecksumAlgorithm="SHA256",  # the server refuses a body that does not match
                **conditions,
            ),
        )

    def put(self, key: str, data: bytes, content_type: str) -> None:
        validate_key(key)  # a bad key is the caller's ValueError, not a storage failure
        try:
            self._put(key, data, content_type)
        except StorageError:
            raise
        except Exception as exc:
            raise self._error("write", key, exc) from None

    def _get(self, key: str) -> tuple[bytes, str]:
        """Bytes and ETag; the download's checksum is verified by boto3 where the object has one."""

        full_key = self._key(key)

        def call() -> tuple[bytes, str]:
            response = self.client.get_object(Bucket=self.bucket, Key=full_key, ChecksumMode="ENABLED")
            return response["Body"].read(), response["ETag"]

        return self._with_transit_retries("read", key, call)

    def _get_or_none(self, key: str) -> tuple[bytes | None, str | None]:
        validate_key(key)
        try:
            return self._get(key)
        except StorageError:
            raise
        except Exception as exc:
            if _s3_code(exc) in ("NoSuchKey", "404"):
                return None, None
            raise self._error("read", key, exc) from None

    def get(self, key: str) -> bytes:
        data, _ = self._get_or_none(key)
        if data is None:
            raise ArtifactMissing(f"artifact {key} is missing in bucket {self.bucket!r}")
        return data

    def exists(self, key: str) -> bool:
        full_key = self._key(key)
        try:
            self.client.head_object(Bucket=self.bucket, Key=full_key)
            return True
        except Exception as exc:
            if _s3_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._error("lookup", key, exc) from None

    def url(self, key: str, expires_s: int = 3600) -> str:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=expires_s
        )

    def list(self, prefix: str) -> list[str]:
        full = self._key(prefix.rstrip("/")) + "/" if prefix else (self.prefix + "/" if self.prefix else "")
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
                keys += [obj["Key"] for obj in page.get("Contents", [])]
        except Exception as exc:
            raise self._error("list", prefix or "/", exc) from None
        strip = len(self.prefix) + 1 if self.prefix else 0
        return sorted(key[strip:] for key in keys if not key[strip:].startswith(WRITE_CHECK_DIR + "/"))

    def update(self, key: str, change: Callable[[bytes | None], bytes], content_type: str) -> bytes:
        """Compare-and-swap on the ETag: write only if nobody wrote since we read, else read again.

        A refused write is not always someone else's: when the reply to our PUT was lost, boto3
        retries it and the retry is refused because our own first attempt changed the ETag. So
        after a refusal, if the stored bytes are exactly what we wrote, we are done.
        """
        validate_key(key)
        current, etag = self._get_or_none(key)
        for attempt in range(CAS_ATTEMPTS):
            new = change(current)
            condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
            try:
                self._put(key, new, content_type, **condition)
                return new
            except StorageError:
                raise
            except Exception as exc:
                if _s3_code(exc) not in S3_CONFLICT_CODES:
                    raise self._error("update", key, exc) from None
            current, etag = self._get_or_none(key)
            if current == new:
                return new
            log.debug("S3 update of %s lost a race (attempt %d); trying again", key, attempt + 1)
            time.sleep(_backoff(attempt))
        raise StorageError(f"S3 update of {key} in bucket {self.bucket!r} failed: {CAS_ATTEMPTS} conflicting writers in a row")

    def check_writable(self) -> None:
        """Write and delete a tiny probe object: proves bucket, credentials and permissions in one go."""
        probe = f"{self.prefix}/{WRITE_CHECK_DIR}/{uuid.uuid4().hex}" if self.prefix else f"{WRITE_CHECK_DIR}/{uuid.uuid4().hex}"
        try:
            self._with_transit_retries(
                "write check",
                probe,
                lambda: self.client.put_object(Bucket=self.bucket, Key=probe, Body=b"ok", ChecksumAlgorithm="SHA256"),
            )
        except StorageError:
            raise
        except Exception as exc:
            raise self._error("write check", probe, exc) from None
        with suppress(Exception):  # a leftover probe is harmless; delete permission is not required
            self.client.delete_object(Bucket=self.bucket, Key=probe)

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


# --------------------------------------------------------------------------- opening stores


def _credential_fingerprint(settings: Settings) -> str:
    """Tells credential sets apart without keeping them as plain text in a cache key."""
    parts = [secret.get_secret_value() if secret else "" for secret in (settings.s3_access_key_id, settings.s3_secret_access_key)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


@functools.lru_cache(maxsize=16)
def _cached_store(config: StorageConfig, pid: int, fingerprint: str) -> ObjectStore:
    if config.kind == "local":
        return LocalStore(config.root)
    return S3Store(config)


def open_store(config: StorageConfig, settings: Settings | None = None) -> ObjectStore:
    """The store for `config`, shared within a process (boto3 clients are thread-safe, not fork-safe)."""
    if settings is not None:
        return LocalStore(config.root) if config.kind == "local" else S3Store(config, settings)
    fingerprint = _credential_fingerprint(Settings()) if config.kind == "s3" else ""
    return _cached_store(config, os.getpid(), fingerprint)


# --------------------------------------------------------------------------- one film

class _GroupCommit:
    """Batches concurrent edits of one manifest in this process into as few writes as possible.

    A fan-out of N threads each recording an artifact would otherwise make N serial
    read-modify-write round trips. Here, edits queue up while a write is in flight and the next
    writer applies all of them in one ``store.update`` (group commit, as databases do with logs).
    Safety across processes still comes from ``store.update`` itself.
    """

    def __init__(self, store: ObjectStore, key: str) -> None:
        self.store, self.key = store, key
        self._queue_lock = threading.Lock()
        self._commit_lock = threading.Lock()
        self._pending: list[tuple[Callable[[bytes | None], bytes | None], Future[None]]] = []

    def apply(self, edit: Callable[[bytes | None], bytes | None], content_type: str) -> None:
        """Apply `edit` (old bytes -> new bytes) and return once it is stored; raises what the write raised."""
        done: Future[None] = Future()
        with self._queue_lock:
            self._pending.append((edit, done))
        with self._commit_lock:
            with self._queue_lock:
                batch, self._pending = self._pending, []
            if batch:  # else an earlier writer already committed our edit
                self._commit(batch, content_type)
        done.result()

    def _commit(self, batch: list[tuple[Callable[[bytes | None], bytes | None], Future[None]]], content_type: str) -> None:
        def change(current: bytes | None) -> bytes:
            for edit, _ in batch:
                current = edit(current)
            assert current is not None
            return current

        try:
            self.store.update(self.key, change, content_type)
        except BaseException as exc:
            for _, done in batch:
                done.set_exception(exc)
            if isinstance(exc, Exception):
                return
            raise
        for _, done in batch:
            done.set_result(None)


_committers_guard = threading.Lock()


def _group_commit(store: ObjectStore, key: str) -> _GroupCommit:
    """The committer for `key` on `store` (kept on the store, so it lives and dies with it)."""
    with _committers_guard:
        committers = store.__dict__.setdefault("_group_commits", {})
        return committers.setdefault(key, _GroupCommit(store, key))


class FilmStore:
    """One film's artifacts under ``<film_id>/`` of the store, plus its manifest."""

    def __init__(self, store: ObjectStore, film_id: str) -> None:
        self.store = store
        self.film_id = validate_film_id(film_id)
        # The store is rooted at the films folder: ./films locally, the "films" prefix on S3.
        self.base = film_id

    @classmethod
    def open(cls, config: StorageConfig, film_id: str) -> FilmStore:
        return cls(open_store(config), film_id)

    def full_key(self, key: str) -> str:
        return f"{self.base}/{validate_key(key)}"

    def put(
        self, key: str, data: bytes, content_type: str, *, reuse_key: str | None = None, **meta: Any
    ) -> ArtifactRef:
        """Write atomically, then record it in the manifest (a crash in between only means redoing it).
        `reuse_key` says what the artifact was made from (filmstitch.reuse); `reuse` checks it."""
        if key == MANIFEST:
            raise ValueError(f"{MANIFEST!r} is reserved for the film's manifest")
        full_key = self.full_key(key)
        ref = ArtifactRef(key=key, sha256=sha256_hex(data), size=len(data), content_type=content_type, meta=meta,
                          reuse_key=reuse_key)
        self.store.ensure_writable()
        self.store.put(full_key, data, content_type)
        entry = ref.model_dump() | {"written_at": now_iso()}

        def record(manifest: dict[str, Any]) -> None:
            manifest["artifacts"][key] = entry

        self._change_manifest(record)
        return ref

    def put_json(self, key: str, model: BaseModel | dict | list, **meta: Any) -> ArtifactRef:
        if isinstance(model, BaseModel):
            text = model.model_dump_json(indent=2)
        else:
            text = json.dumps(model, indent=2, ensure_ascii=False)
        return self.put(key, text.encode(), "application/json", **meta)

    def get(self, key: str) -> bytes:
        return self.store.get(self.full_key(key))

    def get_verified(self, ref: ArtifactRef) -> bytes:
        data = self.get(ref.key)
        if len(data) != ref.size or sha256_hex(data) != ref.sha256:
            raise StorageError(f"artifact {ref.key} of film {self.film_id} does not match its checksum")
        return data

    def get_json(self, key: str) -> Any:
        return json.loads(self.get(key))

    def exists(self, key: str) -> bool:
        return self.store.exists(self.full_key(key))

    def url(self, key: str, expires_s: int = 3600) -> str:
        return self.store.url(self.full_key(key), expires_s)

    def reuse(self, key: str, reuse_key: str | None = None) -> ArtifactRef | None:
        """The recorded artifact at `key`, if it was made from `reuse_key` (when given) and its bytes are
        there and match their checksum; else None, and the caller makes it again. Never a damaged artifact."""
        entry = self.manifest().get("artifacts", {}).get(key)
        if not entry:
            return None
        if reuse_key is not None and entry.get("reuse_key") != reuse_key:
            log.info("not reusing %s of film %s: it was made from other inputs", key, self.film_id)
            return None
        ref = ArtifactRef(**{k: entry[k] for k in ("key", "sha256", "size", "content_type", "meta")},
                          reuse_key=entry.get("reuse_key"))
        try:
            self.get_verified(ref)
        except StorageError as exc:  # missing or damaged: make it again
            log.info("not reusing %s of film %s: %s", key, self.film_id, exc)
            return None
        return ref

    def take(self, part: str, reuse_key: str) -> int:
        """The take number of `part` (e.g. "keyframes/k04") made from `reuse_key`: the existing take with that
        key, else the next number, recorded atomically. Takes are never overwritten or deleted."""
        validate_key(part)
        for take in self.manifest().get("takes", {}).get(part, []):  # the common case: no write needed
            if take["reuse_key"] == reuse_key:
                return take["take"]
        chosen: list[int] = []

        def record(manifest: dict[str, Any]) -> None:
            takes = manifest.setdefault("takes", {}).setdefault(part, [])
            chosen.clear()
            for take in takes:
                if take["reuse_key"] == reuse_key:
                    chosen.append(take["take"])
                    return
            number = max((t["take"] for t in takes), default=0) + 1
            takes.append({"take": number, "reuse_key": reuse_key, "created_at": now_iso()})
            chosen.append(number)

        self.store.ensure_writable()
        self._change_manifest(record)
        return chosen[0]

    def manifest(self) -> dict[str, Any]:
        try:
            data = self.store.get(self.full_key(MANIFEST))
        except ArtifactMissing:
            return {"film_id": self.film_id, "artifacts": {}}
        return self._parse_manifest(data)

    def _parse_manifest(self, data: bytes) -> dict[str, Any]:
        try:
            manifest = json.loads(data)
        except ValueError:
            raise StorageError(f"the manifest of film {self.film_id} is not valid JSON") from None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("artifacts", {}), dict):
            raise StorageError(f"the manifest of film {self.film_id} is malformed")
        return manifest

    def update_manifest(self, **fields: Any) -> None:
        """Merge top-level fields (status, plan summary, usage, ...) into the manifest."""
        if "artifacts" in fields or "film_id" in fields:
            raise ValueError("'artifacts' and 'film_id' are maintained by the store")
        self.store.ensure_writable()
        self._change_manifest(lambda manifest: manifest.update(fields))

    def _change_manifest(self, edit: Callable[[dict[str, Any]], Any]) -> None:
        """Apply `edit` to the newest manifest atomically (the store retries it if another writer won)."""

        def change(current: bytes | None) -> bytes:
            manifest = self._parse_manifest(current) if current is not None else {}
            manifest.setdefault("artifacts", {})
            edit(manifest)
            manifest["film_id"] = self.film_id
            manifest["updated_at"] = now_iso()
            manifest["artifacts"] = dict(sorted(manifest["artifacts"].items()))
            return json.dumps(manifest, indent=2, ensure_ascii=False).encode()

        _group_commit(self.store, self.full_key(MANIFEST)).apply(change, "application/json")

    def verify(self) -> list[str]:
        """Keys whose stored bytes do not match the manifest (empty list: all good)."""
        bad = []
        for key, entry in self.manifest().get("artifacts", {}).items():
            try:
                data = self.get(key)
            except (StorageError, ValueError):
                bad.append(key)
                continue
            if sha256_hex(data) != entry["sha256"] or len(data) != entry["size"]:
                bad.append(key)
        return bad
