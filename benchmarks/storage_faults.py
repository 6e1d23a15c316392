"""Reliability and speed figures for storage: faults, damaged artifacts, refused stores, manifest size.

    python benchmarks/storage_faults.py [--servers moto rgw] [--rates 0 0.1 0.2 0.3] [--seeds 1 2]
                                        [--objects 60] [--integrity-runs 3] [--segments 75 --variants 3]

Four parts, each printed as a table:

1. **Flaky network** (moto and Ceph RGW): a film's worth of writes (`objects` artifacts of 0 B to
   2.5 MB plus manifest updates, `workers` threads) through a fault-injecting proxy at each rate
   and seed, while a watcher reads every object straight from the server.
2. **Damaged storage** (local, moto, RGW): a film's artifacts are damaged between runs (a byte
   flipped, cut short, deleted, overwritten without metadata, or asked for with other inputs), then
   every artifact is asked for with ``reuse()``; then the manifest is truncated and ``repair()``ed.
3. **A store that ignores conditional writes** (s3rver): each run must be refused before it writes.
4. **Manifest update time** at `segments` x `variants` (75 x 3: about 700 artifacts) on local and
   RGW, one writer and eight: per-put time at full size, total time, manifest size.

Totals: runs, faults, artifacts lost, stale or damaged artifacts served, films stuck, refusals.
Artifacts lost, stale served, films stuck and unrefused stores must all be 0: else exit 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from filmstitch.settings import Settings, StorageConfig
from filmstitch.storage import FilmStore, LocalStore, ObjectStore, S3Store, StorageError
from filmstitch.testing.flaky_proxy import FAULT_KINDS, FaultPlan
from filmstitch.testing.rgw import INSTALL as RGW_INSTALL
from filmstitch.testing.rgw import RadosGateway, missing_binaries
from filmstitch.testing.s3 import start_moto_server
from filmstitch.testing.s3_fault_run import FaultRunReport, run_film_through_faults
from filmstitch.testing.s3rver import BINARY as S3RVER_BINARY
from filmstitch.testing.s3rver import INSTALL as S3RVER_INSTALL
from filmstitch.testing.s3rver import start_s3rver

SHORT = {
    "error_500": "500",
    "slowdown_503": "503",
    "reset_before": "rst<",
    "reset_after": "rst>",
    "slow": "slow",
    "stall": "stall",
    "truncate_body": "trunc",
    "cut_response": "cut",
}
DAMAGES = ("flip", "cut", "delete", "overwrite", "other-inputs")


@dataclass
class Totals:
    runs: int = 0
    faults: int = 0
    artifacts_lost: int = 0
    stale_served: int = 0
    films_stuck: int = 0
    refused: int = 0
    not_refused: int = 0

    @property
    def bad(self) -> int:
        return self.artifacts_lost + self.stale_served + self.films_stuck + self.not_refused


class Servers:
    """The S3 servers of this benchmark, started when first needed and stopped at the end."""

    def __init__(self, root: Path) -> None:
        self.root, self.moto, self.rgw = root, None, None

    def get(self, name: str) -> Any:
        if name == "moto":
            self.moto = self.moto or start_moto_server()
            return self.moto
        if self.rgw is None:
            if missing_binaries():
                sys.exit(f"Ceph RGW is not installed: run `{RGW_INSTALL}` (scripts/test.sh does it)")
            self.rgw = RadosGateway(self.root / "rgw").start()
            print(f"(Ceph RGW started in {self.rgw.start_seconds:.1f} s)", flush=True)
        return self.rgw

    def store(self, name: str, root: Path) -> ObjectStore:
        """A fresh, empty store: a local folder, or a new bucket on moto or RGW."""
        if name == "local":
            return LocalStore(root / f"local-{time.perf_counter_ns()}")
        server = self.get(name)
        config = StorageConfig(kind="s3", bucket=server.create_bucket(), prefix="films",
                               endpoint_url=server.endpoint_url)
        return S3Store(config,
                       Settings(s3_access_key_id=server.access_key_id, s3_secret_access_key=server.secret_access_key))

    def stop(self) -> None:
        if self.moto:
            self.moto.server.stop()
        if self.rgw:
            self.rgw.stop()


# --------------------------------------------------------------------------- 1. a flaky network


def flaky_network(servers: Servers, args: argparse.Namespace, totals: Totals) -> None:
    print("\n1. Flaky network: a film's writes through a fault-injecting proxy")
    print(
        f"{'server':>6} {'rate':>5} {'seed':>4} {'objects':>7} {'requests':>8} {'faults':>6} "
        + " ".join(f"{SHORT[k]:>5}" for k in FAULT_KINDS)
        + f" {'refused':>7} {'lost':>4} {'bad sum':>7} {'partial':>7} {'watched':>7} {'seconds':>7}"
    )
    faults: Counter[str] = Counter()
    for name in args.servers:
        for rate in args.rates:
            for seed in args.seeds:
                plan = FaultPlan(rate=rate, seed=seed, stall_s=2 * args.read_timeout)
                report: FaultRunReport = run_film_through_faults(
                    servers.get(name), plan, objects=args.objects, workers=args.workers, read_timeout=args.read_timeout
                )
                faults.update(report.faults)
                totals.runs += 1
                totals.faults += report.faults_injected
                totals.artifacts_lost += report.artifacts_lost
                totals.stale_served += report.checksum_mismatches + report.partial_objects_seen
                refused = "-" if report.rejected_by_server is None else str(report.rejected_by_server)
                print(
                    f"{name:>6} {rate:>5.2f} {seed:>4} {report.objects_written:>7} {report.requests:>8}"
                    f" {report.faults_injected:>6} "
                    + " ".join(f"{report.faults.get(k, 0):>5}" for k in FAULT_KINDS)
                    + f" {refused:>7} {report.artifacts_lost:>4} {report.checksum_mismatches:>7}"
                    f" {report.partial_objects_seen:>7} {report.objects_watched:>7} {report.seconds:>7.1f}",
                    flush=True,
                )
    print("faults injected: " + ", ".join(f"{k} {faults[k]}" for k in FAULT_KINDS))


# --------------------------------------------------------------------------- 2. damaged storage


def damage(film: FilmStore, key: str, how: str, rng: random.Random) -> None:
    """Damage one stored artifact behind FilmStore's back."""
    full_key = film.full_key(key)
    stored = film.store.read(full_key)
    if how == "flip":  # bit rot: the object keeps its metadata, one byte changes
        at = rng.randrange(len(stored.data))
        data = stored.data[:at] + bytes([stored.data[at] ^ 0x40]) + stored.data[at + 1 :]
        film.store.put(full_key, data, "application/octet-stream", stored.metadata)
    elif how == "cut":
        film.store.put(full_key, stored.data[: len(stored.data) // 2], "application/octet-stream", stored.metadata)
    elif how == "overwrite":  # another program wrote there
        film.store.put(full_key, b"written by something else", "application/octet-stream")
    elif how == "delete":
        if isinstance(film.store, LocalStore):
            (film.store.root / full_key).unlink()
        else:
            film.store.client.delete_object(Bucket=film.store.bucket, Key=film.store._key(full_key))


def damaged_storage(servers: Servers, args: argparse.Namespace, root: Path, totals: Totals) -> None:
    print("\n2. Damaged storage: reuse() after damage between runs, then repair() of a truncated manifest")
    print(
        f"{'store':>6} {'run':>3} {'artifacts':>9} {'damaged':>7} {'reused':>6} {'rebuilt':>7} {'stale served':>12}"
        f" {'intact lost':>11} {'after repair':>12} {'repair lost':>11} {'stuck':>5} {'seconds':>7}"
    )
    for name in ("local", *args.servers):
        for run in range(args.integrity_runs):
            started = time.perf_counter()
            rng = random.Random(run)
            film = FilmStore(servers.store(name, root), f"damaged-{run}")
            payloads = {f"clips/seg-{i:02d}.mp4": rng.randbytes(rng.choice([1, 700, 40_000]))
                        for i in range(args.artifacts)}
            reuse_keys = {key: f"inputs-{i}" for i, key in enumerate(payloads)}
            for key, data in payloads.items():
                film.put(key, data, "video/mp4", reuse_key=reuse_keys[key], segment=key)
            damaged = dict(zip(rng.sample(sorted(payloads), args.damaged),
                               [DAMAGES[i % len(DAMAGES)] for i in range(args.damaged)]))
            for key, how in damaged.items():
                if how == "other-inputs":
                    reuse_keys[key] = f"changed-{key}"  # the next run's inputs differ: stale, though intact
                else:
                    damage(film, key, how, rng)

            # The next run: it reuses what is valid and rebuilds the rest.
            reused, stale, lost = 0, 0, 0
            for key, data in payloads.items():
                ref = film.reuse(key, reuse_keys[key])
                if ref is None:
                    lost += key not in damaged  # an intact artifact of the same inputs was not reused
                    film.put(key, data, "video/mp4", reuse_key=reuse_keys[key], segment=key)
                    continue
                reused += 1
                stale += key in damaged or film.get(key) != data
            stuck = int(not film.verify().healthy or any(film.reuse(k, reuse_keys[k]) is None for k in payloads))

            # A truncated manifest, with one more artifact damaged: repair keeps every intact one.
            victim = rng.choice(sorted(payloads))
            damage(film, victim, "flip", rng)
            whole = film.store.get(film.full_key("manifest.json"))
            film.store.put(film.full_key("manifest.json"), whole[: len(whole) // 3], "application/json")
            report = film.repair()
            after = film.manifest()["artifacts"]
            repair_lost = sum(1 for key in payloads if key != victim and key not in after)
            # The run after the repair: nothing damaged is served, the rest is rebuilt, the film is whole again.
            for key, data in payloads.items():
                if film.reuse(key, reuse_keys[key]) is None:
                    film.put(key, data, "video/mp4", reuse_key=reuse_keys[key], segment=key)
                else:
                    stale += film.get(key) != data
            stuck += int(not report.manifest_ok or not film.verify().healthy)

            totals.runs += 1
            totals.faults += len(damaged) + 2
            totals.stale_served += stale
            totals.artifacts_lost += lost + repair_lost
            totals.films_stuck += stuck
            print(
                f"{name:>6} {run:>3} {len(payloads):>9} {len(damaged) + 1:>7} {reused:>6} {len(payloads) - reused:>7}"
                f" {stale:>12} {lost:>11} {len(after):>12} {repair_lost:>11} {stuck:>5}"
                f" {time.perf_counter() - started:>7.1f}",
                flush=True,
            )


# --------------------------------------------------------------------------- 3. s3rver


def refused_store(args: argparse.Namespace, root: Path, totals: Totals) -> None:
    print("\n3. A store that ignores conditional writes (s3rver): refused before the first write?")
    if not S3RVER_BINARY.exists():
        sys.exit(f"s3rver is not installed: run `{S3RVER_INSTALL}` (scripts/test.sh does it)")
    server = start_s3rver(root / "s3rver")
    try:
        settings = Settings(s3_access_key_id="S3RVER", s3_secret_access_key="S3RVER")
        for run in range(args.integrity_runs):
            film = FilmStore(S3Store(server.config(), settings), f"refused-{run}")
            try:
                film.put("plan/script.json", b"{}", "application/json")
                outcome = "NOT REFUSED"
                totals.not_refused += 1
            except StorageError as exc:
                outcome = "refused: " + str(exc).split(": ", 1)[1].split(".")[0]
                totals.refused += 1
            left = server.client().list_objects_v2(Bucket=server.bucket,
                                                   Prefix=f"studio/refused-{run}/").get("KeyCount", 0)
            totals.runs += 1
            totals.not_refused += int(left > 0)
            print(f"  run {run}: {outcome}; objects written: {left}", flush=True)
    finally:
        server.stop()


# --------------------------------------------------------------------------- 4. manifest update time


def film_keys(segments: int, variants: int) -> list[str]:
    """A long film's artifacts: plan, references, location references, keyframes (+ thumbnails), clips, sound."""
    keys = ["plan/script.json", "plan/plan.json", "picks/references.json", "picks/keyframes.json", "film.mp4"]
    for subject in [f"char-{i}" for i in range(8)] + [f"env-{i}" for i in range(10)]:
        keys += [f"references/{subject}/v{v}.{ext}" for v in range(variants) for ext in ("png", "jpg")]
    keys += [f"keyframes/k{i:03d}-v{v}.{ext}"
             for i in range(segments + 1) for v in range(variants) for ext in ("png", "jpg")]
    keys += [f"clips/seg-{i:03d}.mp4" for i in range(segments)] + [f"sound/seg-{i:03d}.wav" for i in range(segments)]
    return keys


def manifest_speed(servers: Servers, args: argparse.Namespace, root: Path) -> None:
    keys = film_keys(args.segments, args.variants)
    print(f"\n4. Manifest update time: {args.segments} segments x {args.variants} variants = {len(keys)} artifacts")
    print(f"{'store':>6} {'writers':>7} {'total s':>7} {'ms/put at full size':>19} {'manifest KiB':>12}")
    for name in ("local", *[s for s in args.servers if s == "rgw"]):
        for workers in (1, 8):
            film = FilmStore(servers.store(name, root), f"long-film-{workers}")
            seconds: dict[int, float] = {}

            def put(index: int) -> None:  # runs within this iteration (the pool is joined in it)
                started = time.perf_counter()
                film.put(keys[index], os.urandom(1024), "application/octet-stream",  # noqa: B023
                         reuse_key=f"sha256:{index:064x}", stage=keys[index].split("/")[0], variant=index % 3)
                seconds[index] = time.perf_counter() - started  # noqa: B023

            started = time.perf_counter()
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(put, range(len(keys))))
            total = time.perf_counter() - started
            last = statistics.median(seconds[i] for i in range(len(keys) - 100, len(keys)))
            size = len(film.store.get(film.full_key("manifest.json")))
            assert len(film.manifest()["artifacts"]) == len(keys)
            print(f"{name:>6} {workers:>7} {total:>7.1f} {1000 * last:>19.1f} {size / 1024:>12.0f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", nargs="+", choices=["moto", "rgw"], default=["moto", "rgw"])
    parser.add_argument("--objects", type=int, default=60)
    parser.add_argument("--workers", type=int, default=6)
    parser.add_argument("--rates", type=float, nargs="+", default=[0.0, 0.1, 0.2, 0.3])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--read-timeout", type=float, default=0.5, help="client read timeout; stalls last twice that")
    parser.add_argument("--integrity-runs", type=int, default=3)
    parser.add_argument("--artifacts", type=int, default=40, help="artifacts per damaged-storage run")
    parser.add_argument("--damaged", type=int, default=10, help="artifacts damaged per run")
    parser.add_argument("--segments", type=int, default=75)
    parser.add_argument("--variants", type=int, default=3)
    parser.add_argument("--parts", nargs="+", type=int, choices=[1, 2, 3, 4], default=[1, 2, 3, 4])
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the store's retry warnings and reuse notes would drown the tables

    totals = Totals()
    root = Path(tempfile.mkdtemp(prefix="storage-bench-"))
    servers = Servers(root)
    parts: dict[int, Callable[[], None]] = {
        1: lambda: flaky_network(servers, args, totals),
        2: lambda: damaged_storage(servers, args, root, totals),
        3: lambda: refused_store(args, root, totals),
        4: lambda: manifest_speed(servers, args, root),
    }
    try:
        for part in args.parts:
            parts[part]()
    finally:
        servers.stop()
    print(
        f"\ntotal: {totals.runs} runs, {totals.faults} faults injected; artifacts lost {totals.artifacts_lost},"
        f" stale or damaged artifacts served {totals.stale_served}, films stuck {totals.films_stuck},"
        f" stores ignoring conditional writes refused {totals.refused} of {totals.refused + totals.not_refused}"
    )
    return 1 if totals.bad else 0


if __name__ == "__main__":
    sys.exit(main())
