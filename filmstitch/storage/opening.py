"""open_store: the ObjectStore a StorageConfig names, shared within a process."""

from __future__ import annotations

import functools
import hashlib
import os

from filmstitch.settings import Settings, StorageConfig
from filmstitch.storage.base import ObjectStore
from filmstitch.storage.local import LocalStore
from filmstitch.storage.s3 import S3Store


def _credential_fingerprint(settings: Settings) -> str:
    """Tells credential sets apart without keeping them as plain text in a cache key."""
    parts = [secret.get_secret_value() if secret else ""
             for secret in (settings.s3_access_key_id, settings.s3_secret_access_key)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


@functools.lru_cache(maxsize=16)
def _cached_store(config: StorageConfig, pid: int, fingerprint: str) -> ObjectStore:
    if config.kind == "local":
        return LocalStore(config.root)
    return S3Store(config)


def open_store(config: StorageConfig, settings: Settings | None = None) -> ObjectStore:
    """The store for `config`, shared within a process (boto3 clients are thread-safe, not fork-safe).

    Sharing also means the write check (and, on S3, the conditional-write probe) runs once per
    process, and concurrent manifest edits of one film are batched (see group_commit).
    """
    if settings is not None:
        return LocalStore(config.root) if config.kind == "local" else S3Store(config, settings)
    fingerprint = _credential_fingerprint(Settings()) if config.kind == "s3" else ""
    return _cached_store(config, os.getpid(), fingerprint)
