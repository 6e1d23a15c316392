"""Artifact storage: a local directory or any S3-compatible bucket, behind one small interface.

Layout: ``films/<film_id>/<key>``. Every write is atomic (local: temp file + rename;
S3: a single PUT is all-or-nothing) and is recorded in ``films/<film_id>/manifest.json`` with
its sha256 and size. Keys are validated, so no key can leave the film's prefix.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from filmstitch.settings import Settings, StorageConfig

KEY_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
FILM_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
MANIFEST = "manifest.json"


class StorageError(RuntimeError):
    """A storage problem, with a message that is safe to show (no credentials)."""


def validate_key(key: str) -> str:
    """A relative key of safe parts: no '..', no absolute paths, no odd characters."""
    parts = key.split("/")
    if not key or any(not KEY_PART.match(part) or part in (".", "..") for part in parts):
        raise ValueError(f"invalid artifact key {key!r}: use parts of letters, digits, '.', '_' and '-'")
    return key


def validate_film_id(film_id: str) -> str:
    if not FILM_ID.match(film_id):
        raise ValueError(f"invalid film id {film_id!r}: lower-case letters, digits, '-' and '_', at most 80")
    return film_id


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ArtifactRef(BaseModel):
    """A stored artifact as tasks pass it around: small, hashable, verifiable."""

    model_config = ConfigDict(frozen=True)

    key: str
    sha256: str
    size: int
    content_type: str = "application/octet-stream"
    meta: dict[str, Any] = Field(default_factory=dict)


class ObjectStore(ABC):
    """Bytes by key. Implementations: local directory, S3."""

    @abstractmethod
    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    @abstractmethod
    def get(self, key: str) -> bytes: ...

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def url(self, key: str, expires_s: int = 3600) -> str: ...

    @abstractmethod
    def list(self, prefix: str) -> list[str]: ...

    @contextlib.contextmanager
    def locked(self, key: str) -> Iterator[None]:
        """Serialise read-modify-write of one key (the manifest) within this process."""
        with _process_lock(self.describe() + "/" + key):
            yield

    @abstractmethod
    def describe(self) -> str: ...


_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _process_lock(name: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(name, threading.Lock())


class LocalStore(ObjectStore):
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / validate_key(key)).resolve()
        if self.root not in path.parents:
            raise ValueError(f"key {key!r} escapes the storage root")
        return path

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            raise StorageError(f"cannot write {key} under {self.root}: {exc.strerror or exc}") from exc

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise StorageError(f"artifact {key} is missing under {self.root}") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def url(self, key: str, expires_s: int = 3600) -> str:
        return self._path(key).as_uri()

    def list(self, prefix: str) -> list[str]:
        base = self.root / prefix if prefix else self.root
        if not base.is_dir():
            return []
        return sorted(
            str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file() and not p.name.startswith(".tmp-")
        )

    @contextlib.contextmanager
    def locked(self, key: str) -> Iterator[None]:
        """Across threads and processes: an flock on a lock file beside the key."""
        lock_path = self._path(key).with_name("." + Path(key).name + ".lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with super().locked(key), open(lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def describe(self) -> str:
        return str(self.root)


class S3Store(ObjectStore):
    """Any S3-compatible store through boto3. Credentials come from settings or boto3's usual chain."""

    def __init__(self, config: StorageConfig, settings: Settings | None = None) -> None:
        import boto3
        from botocore.config import Config

        if not config.bucket:
            raise StorageError("S3 storage needs a bucket: set FILMSTITCH_S3_BUCKET")
        settings = settings or Settings()
        credentials = {}
        if settings.s3_access_key_id and settings.s3_secret_access_key:
            credentials = {
                "aws_access_key_id": settings.s3_access_key_id.get_secret_value(),
                "aws_secret_access_key": settings.s3_secret_access_key.get_secret_value(),
            }
        self.bucket = config.bucket
        self.prefix = config.prefix.strip("/")
        self.client = boto3.client(
            "s3",
            endpoint_url=config.endpoint_url,
            region_name=config.region or "us-east-1",
            config=Config(retries={"max_attempts": 8, "mode": "adaptive"}, connect_timeout=10, read_timeout=60),
            **credentials,
        )

    def _key(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _error(self, action: str, key: str, exc: Exception) -> StorageError:
        from botocore.exceptions import ClientError

        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "error")
            return StorageError(f"S3 {action} of {key} in bucket {self.bucket!r} failed: {code}")
        return StorageError(f"S3 {action} of {key} in bucket {self.bucket!r} failed: {type(exc).__name__}")

    def put(self, key: str, data: bytes, content_type: str) -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self._key(key),
                Body=data,
                ContentType=content_type,
                ChecksumAlgorithm="SHA256",
            )
        except Exception as exc:
            raise self._error("write", key, exc) from None

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except Exception as exc:
            raise self._error("read", key, exc) from None

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
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
            raise self._error("list", prefix, exc) from None
        strip = len(self.prefix) + 1 if self.prefix else 0
        return sorted(key[strip:] for key in keys)

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


def open_store(config: StorageConfig, settings: Settings | None = None) -> ObjectStore:
    if config.kind == "local":
        return LocalStore(config.root)
    return S3Store(config, settings)


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


class FilmStore:
    """One film's artifacts under ``films/<film_id>/`` plus its manifest."""

    def __init__(self, store: ObjectStore, film_id: str) -> None:
        self.store = store
        self.film_id = validate_film_id(film_id)
        # The store itself is rooted at the films folder (local root, or the S3 prefix "films").
        self.base = film_id

    @classmethod
    def open(cls, config: StorageConfig, film_id: str) -> FilmStore:
        return cls(open_store(config), film_id)

    def full_key(self, key: str) -> str:
        return f"{self.base}/{validate_key(key)}"

    def put(self, key: str, data: bytes, content_type: str, **meta: Any) -> ArtifactRef:
        """Write atomically, then record it in the manifest."""
        ref = ArtifactRef(key=key, sha256=sha256_hex(data), size=len(data), content_type=content_type, meta=meta)
        self.store.put(self.full_key(key), data, content_type)
        self._record(ref)
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
        if sha256_hex(data) != ref.sha256:
            raise StorageError(f"artifact {ref.key} of film {self.film_id} does not match its checksum")
        return data

    def get_json(self, key: str) -> Any:
        return json.loads(self.get(key))

    def exists(self, key: str) -> bool:
        return self.store.exists(self.full_key(key))

    def url(self, key: str, expires_s: int = 3600) -> str:
        return self.store.url(self.full_key(key), expires_s)

    def reuse(self, key: str) -> ArtifactRef | None:
        """The recorded artifact at `key` if it is there and intact: finished work is never redone."""
        entry = self.manifest().get("artifacts", {}).get(key)
        if not entry or not self.exists(key):
            return None
        ref = ArtifactRef(**{k: entry[k] for k in ("key", "sha256", "size", "content_type", "meta")})
        try:
            self.get_verified(ref)
        except StorageError:
            return None
        return ref

    def manifest(self) -> dict[str, Any]:
        key = self.full_key(MANIFEST)
        if not self.store.exists(key):
            return {"film_id": self.film_id, "artifacts": {}}
        return json.loads(self.store.get(key))

    def update_manifest(self, **fields: Any) -> None:
        """Merge top-level fields (status, plan summary, usage, ...) into the manifest."""
        with self.store.locked(self.full_key(MANIFEST)):
            manifest = self.manifest()
            manifest.update(fields)
            self._write_manifest(manifest)

    def _record(self, ref: ArtifactRef) -> None:
        with self.store.locked(self.full_key(MANIFEST)):
            manifest = self.manifest()
            entry = ref.model_dump() | {"written_at": now_iso()}
            manifest.setdefault("artifacts", {})[ref.key] = entry
            self._write_manifest(manifest)

    def _write_manifest(self, manifest: dict[str, Any]) -> None:
        manifest["film_id"] = self.film_id
        manifest["updated_at"] = now_iso()
        manifest["artifacts"] = dict(sorted(manifest.get("artifacts", {}).items()))
        data = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
        self.store.put(self.full_key(MANIFEST), data, "application/json")

    def verify(self) -> list[str]:
        """Keys whose stored bytes do not match the manifest (empty list: all good)."""
        bad = []
        for key, entry in self.manifest().get("artifacts", {}).items():
            try:
                data = self.get(key)
            except StorageError:
                bad.append(key)
                continue
            if sha256_hex(data) != entry["sha256"] or len(data) != entry["size"]:
                bad.append(key)
        return bad
