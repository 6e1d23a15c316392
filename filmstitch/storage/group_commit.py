"""GroupCommit: concurrent edits of one JSON document in this process, stored in as few writes as possible.

A fan-out of N threads each recording an artifact would otherwise make N serial read-modify-write
round trips of the manifest. Here edits queue up while a write is in flight, and the next writer
applies all of them in one ``store.update`` (group commit, as databases do with their logs): the
document is decoded once, every queued edit applied, encoded once. Safety across processes still
comes from ``store.update`` itself (a file lock locally, compare-and-swap on S3).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from filmstitch.storage.base import ObjectStore

Edit = Callable[[dict[str, Any]], Any]  # changes the document in place


class GroupCommit:
    def __init__(
        self,
        store: ObjectStore,
        key: str,
        decode: Callable[[bytes | None], dict[str, Any]],
        encode: Callable[[dict[str, Any]], bytes],
        content_type: str = "application/json",
    ) -> None:
        self.store, self.key, self.content_type = store, key, content_type
        self._decode, self._encode = decode, encode
        self._queue_lock = threading.Lock()
        self._commit_lock = threading.Lock()
        self._pending: list[tuple[Edit, Future[None]]] = []

    def apply(self, edit: Edit) -> None:
        """Apply `edit` and return once it is stored; raises what the write raised."""
        done: Future[None] = Future()
        with self._queue_lock:
            self._pending.append((edit, done))
        with self._commit_lock:
            with self._queue_lock:
                batch, self._pending = self._pending, []
            if batch:  # else an earlier writer already committed our edit
                self._commit(batch)
        done.result()

    def _commit(self, batch: list[tuple[Edit, Future[None]]]) -> None:
        def change(current: bytes | None) -> bytes:  # pure: store.update may call it again after a lost race
            document = self._decode(current)
            for edit, _ in batch:
                edit(document)
            return self._encode(document)

        try:
            self.store.update(self.key, change, self.content_type)
        except BaseException as exc:
            for _, done in batch:
                done.set_exception(exc)
            if isinstance(exc, Exception):
                return
            raise
        for _, done in batch:
            done.set_result(None)


_committers_guard = threading.Lock()


def group_commit(store: ObjectStore, key: str, **options: Any) -> GroupCommit:
    """The committer for `key` on `store` (kept on the store, so it lives and dies with it)."""
    with _committers_guard:
        committers = store.__dict__.setdefault("_group_commits", {})
        if key not in committers:
            committers[key] = GroupCommit(store, key, **options)
        return committers[key]
