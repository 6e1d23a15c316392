"""How much runs at once: one setting per resource, the same under `filmstitch make` and `filmstitch server`.

| resource                        | setting                             | default                  | held by           |
|---------------------------------|-------------------------------------|--------------------------|-------------------|
| CPU renders on this machine     | FILMSTITCH_CPU_RENDERS              | the machine's CPU count  | animatic renders  |
| GPU slots on this machine       | FILMSTITCH_GPU_SLOTS                | GPUs x GPU_CLIPS_PER_GPU | local-gpu renders |
| Modal containers                | FILMSTITCH_GPU_MODAL_MAX_CONTAINERS | 10                       | Modal itself      |
| Claude writer calls, per server | FILMSTITCH_WRITER_CALLS             | 4                        | Claude calls      |
| sound lines synthesised at once | FILMSTITCH_CPU_RENDERS (shared)     | CPU count                | offline voice     |

Machine resources (CPU, GPU) are counted per machine across every process on it — several flow runs served by
`filmstitch server` or run by `prefect worker start` run in separate processes — with lock files (`filelock`): a
slot is one lock file, held for the duration of one render. They are not Prefect limits on purpose: a Prefect
global limit is one number for every machine of a server, and a GPU belongs to one machine. Modal scales out by itself
(`max_containers` x `@modal.concurrent` inputs), so
Modal renders hold no local slot. Writer calls are an API's rate limit, shared by every machine that talks to
one Prefect server, so each Claude request holds a slot of the Prefect global concurrency limit
`filmstitch-writer` (`writer_call`; created with the setting's size on first use; change it in the UI's
Concurrency page).

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


_writer_limit_known: set[str] = set()  # API URLs whose server is known to have the limit: asked once per process


def ensure_writer_limit(slots: int) -> None:
    """Create the Prefect global concurrency limit `filmstitch-writer` with `slots` slots unless the server has it.
    A limit that exists is left as it is: a size changed on the UI's Concurrency page wins over the setting."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        url = str(client.api_url)
        if url in _writer_limit_known:
            return
        try:
            client.read_global_concurrency_limit_by_name(WRITER_LIMIT)
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):  # another process made it first: theirs is as good
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=WRITER_LIMIT, limit=slots))
        _writer_limit_known.add(url)


@contextlib.contextmanager
def writer_call(slots: int) -> Iterator[None]:
    """Hold one slot of the server-wide writer limit (Prefect global concurrency limit `filmstitch-writer`,
    created with `slots` slots on first use) for one writer request; waits while every slot is taken.
    `strict`: a limit deleted on the UI while films run is an error, never a silent "no limit"; a lease renewal
    that fails once (the server restarting) does not end a long request."""
    from prefect.concurrency.sync import concurrency

    ensure_writer_limit(slots)
    with concurrency(WRITER_LIMIT, occupy=1, strict=True, raise_on_lease_renewal_failure=False):
        yield
