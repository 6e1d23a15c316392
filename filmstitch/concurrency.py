"""How much runs at once: one setting per resource, the same under `filmstitch make` and `filmstitch server`.

| resource                        | setting                             | default                  | held by           |
|---------------------------------|-------------------------------------|--------------------------|-------------------|
| CPU renders on this machine     | FILMSTITCH_CPU_RENDERS              | the machine's CPU count  | animatic renders  |
| GPU slots on this machine       | FILMSTITCH_GPU_SLOTS                | GPUs x GPU_CLIPS_PER_GPU | local-gpu renders |
| Modal containers                | FILMSTITCH_GPU_MODAL_MAX_CONTAINERS | 10                       | Modal itself      |
| Claude writer calls, per server | FILMSTITCH_WRITER_CALLS             | 4                        | Claude calls      |
| sound lines synthesised at once | FILMSTITCH_CPU_RENDERS (shared)     | CPU count                | offline voice     |

Machine resources (CPU, GPU) are counted per machine across every process on it — several flow runs served by
`filmstitch server` run in separate processes — with lock files (`filelock`): a slot is one lock file, held for
the duration of one render. Modal scales out by itself (`max_containers` x `@modal.concurrent` inputs), so
Modal renders hold no local slot. Writer calls are an API's rate limit, shared by every machine that talks to
one Prefect server, so they take a Prefect global concurrency limit (created with the setting's size when it
does not exist; change it in the UI's Concurrency page).

docs/concurrency.md shows the same table.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

WRITER_LIMIT = "filmstitch-writer"

_local_guard = threading.Lock()
_local_semaphores: dict[tuple[str, int], threading.BoundedSemaphore] = {}


def lock_dir() -> Path:
    """Where the slot lock files live: per machine and user (FILMSTITCH_LOCK_DIR overrides)."""
    configured = os.environ.get("FILMSTITCH_LOCK_DIR")
    path = Path(configured) if configured else Path.home() / ".cache" / "filmstitch" / "locks"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _semaphore(resource: str, slots: int) -> threading.BoundedSemaphore:
    with _local_guard:
        key = (resource, slots)
        if key not in _local_semaphores:
            _local_semaphores[key] = threading.BoundedSemaphore(slots)
        return _local_semaphores[key]


@contextlib.contextmanager
def machine_slot(resource: str, slots: int, poll_s: float = 0.2) -> Iterator[int]:
    """Hold one of `slots` slots of `resource` on this machine; yields the slot's number (0..slots-1).

    Threads of this process queue on a semaphore first (so they do not spin on lock files), then take the
    first free lock file: other processes on the machine that use the same resource see it as taken.
    """
    if slots < 1:
        raise ValueError(f"{resource}: at least one slot is needed, got {slots}")
    with _semaphore(resource, slots):
        directory = lock_dir()
        start = random.randrange(slots)  # spread processes over the slots instead of all trying slot 0 first
        for attempt in itertools.count():
            for offset in range(slots):
                number = (start + offset) % slots
                lock = FileLock(directory / f"{resource}-{number}.lock", timeout=0, thread_local=False)
                try:
                    lock.acquire()
                except Timeout:
                    continue
                try:
                    yield number
                finally:
                    lock.release()
                return
            time.sleep(min(2.0, poll_s * (1 + attempt / 10)))


@contextlib.contextmanager
def writer_call(slots: int) -> Iterator[None]:
    """One slot of the server-wide writer limit (Prefect global concurrency limit `filmstitch-writer`)."""
    from prefect.client.orchestration import get_client
    from prefect.concurrency.sync import concurrency

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(WRITER_LIMIT)
        except Exception:  # noqa: BLE001 - missing (ObjectNotFound), or an older server: create it with the configured size
            with contextlib.suppress(Exception):
                client.upsert_global_concurrency_limit_by_name(WRITER_LIMIT, slots)
    with concurrency(WRITER_LIMIT, occupy=1, strict=False):
        yield
