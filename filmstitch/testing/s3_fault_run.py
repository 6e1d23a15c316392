"""A film's worth of object writes through a :class:`~filmstitch.testing.flaky_proxy.FlakyProxy`, audited.

:func:`run_film_through_faults` writes assorted payloads (and manifest updates) from several threads
through a proxy that fails, resets, stalls or damages S3 requests, watches the bucket directly while
it runs, and reports what was lost, damaged or ever visible half-written (:class:`FaultRunReport`).
Used by the storage tests and ``benchmarks/storage_faults.py``.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from filmstitch.settings import StorageConfig
from filmstitch.testing.s3 import REGION, MotoS3, S3Server


@dataclass
class FaultRunReport:
    """What happened when one film's artifacts were written through a FlakyProxy."""

    objects_written: int
    manifest_updates: int
    requests: int
    faults: dict[str, int]
    rejected_by_server: int | None  # counted by moto's fidelity layer; None on other servers
    artifacts_lost: int
    checksum_mismatches: int
    partial_objects_seen: int
    objects_watched: int  # how many objects the watcher read while the film was written
    seconds: float

    @property
    def faults_injected(self) -> int:
        return sum(self.faults.values())


PAYLOAD_SIZES = (0, 1, 517, 4096, 65_537, 300_000, 1_048_576, 2_500_000)


def film_payloads(objects: int, seed: int) -> dict[str, bytes]:
    """`objects` artifacts of assorted sizes (empty to 2.5 MB), reproducible from `seed`."""
    rng = random.Random(seed)
    return {f"clips/{i:03d}.bin": rng.randbytes(PAYLOAD_SIZES[i % len(PAYLOAD_SIZES)]) for i in range(objects)}


def run_film_through_faults(
    server: S3Server, plan: Any, *, objects: int = 60, workers: int = 6, read_timeout: float = 1.0,
    film_id: str = "flaky-film"
) -> FaultRunReport:
    """Write a film's artifacts (and manifest updates) through a FlakyProxy, then audit the bucket.

    While it runs, a watcher reads every object that becomes visible under its final key directly
    from the server and compares it with what was meant to be written: a partial or damaged object
    ever being visible counts in ``partial_objects_seen``. Afterwards the manifest is checked
    against the payloads: missing entries or objects are ``artifacts_lost``, wrong bytes
    ``checksum_mismatches``.
    """
    from filmstitch.settings import Settings
    from filmstitch.storage import FilmStore, S3Store, sha256_hex
    from filmstitch.testing.flaky_proxy import FlakyProxy

    settings = Settings(s3_access_key_id=server.access_key_id, s3_secret_access_key=server.secret_access_key)
    bucket = server.create_bucket()
    payloads = film_payloads(objects, plan.seed)
    expected = {key: sha256_hex(data) for key, data in payloads.items()}
    direct_config = StorageConfig(kind="s3", bucket=bucket, prefix="studio", endpoint_url=server.endpoint_url,
                                  region=REGION)
    direct = FilmStore(S3Store(direct_config, settings), film_id)
    fidelity = server.fidelity if isinstance(server, MotoS3) else None
    rejected_before = fidelity.counts["rejected"] if fidelity else 0

    partial_seen: list[str] = []
    checked: set[str] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for full_key in direct.store.list(direct.full_key("clips")):
                key = full_key.removeprefix(f"{film_id}/")
                if key not in checked:
                    checked.add(key)
                    if sha256_hex(direct.get(key)) != expected[key]:
                        partial_seen.append(key)
            done.wait(0.05)

    started = time.perf_counter()
    with FlakyProxy(server.endpoint_url, plan) as proxy:
        flaky_config = direct_config.model_copy(update={"endpoint_url": proxy.url})
        film = FilmStore(S3Store(flaky_config, settings, read_timeout=read_timeout), film_id)
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()

        def write(index_key: tuple[int, str]) -> None:
            index, key = index_key
            film.put(key, payloads[key], "application/octet-stream", stage="clip", index=index)
            if index % 10 == 9:
                film.update_manifest(progress=index + 1)

        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(write, enumerate(payloads)))
        seconds = time.perf_counter() - started
        done.set()
        watcher.join()
        faults, requests = dict(proxy.counts), proxy.requests

    manifest = direct.manifest()["artifacts"]
    lost = [key for key in payloads if key not in manifest or not direct.exists(key)]
    mismatched = set(direct.verify().problems) | {k for k, entry in manifest.items()
                                                  if entry["sha256"] != expected.get(k)}
    return FaultRunReport(
        objects_written=len(payloads),
        manifest_updates=len(payloads) + objects // 10,
        requests=requests,
        faults=faults,
        rejected_by_server=fidelity.counts["rejected"] - rejected_before if fidelity else None,
        artifacts_lost=len(lost),
        checksum_mismatches=len(mismatched),
        partial_objects_seen=len(partial_seen),
        objects_watched=len(checked),
        seconds=seconds,
    )
