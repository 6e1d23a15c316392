"""Reliability report: run each fault scenario a few times and print one table.

    python benchmarks/reliability_report.py [--runs 3] [--slow-runs 1] [--only crash,RGW,...]

It starts its own Prefect server (SQLite) and S3 servers (moto, behind a fault-injecting proxy where
a scenario asks for one; Ceph's RADOS Gateway and s3rver for the scenarios that name them) and makes
small films (3 segments, 256x160, 8 fps) with the offline writer and the animatic renderer (the Claude
writer against a local fake of its API where named). Faults come from filmstitch/testing/backend_faults.py
(backends that fail or hang at a chosen call, SIGKILL), filmstitch/testing/flaky_proxy.py (S3 requests
that fail, reset, stall or arrive damaged) and the scenarios themselves (bytes flipped in or files deleted
from a finished film, behind FilmStitch's back).

Columns, per scenario, summed over its runs:
  runs tried       how many times the scenario ran
  faults injected  SIGKILLs, failed backend calls, S3 faults, damaged or deleted artifacts, refused ids,
                   credentials or stores
  films completed  films that finished and verified (a film refused on purpose does not count)
  artifacts lost   artifacts stored before a fault that were gone, changed or corrupt after it (must be 0)
  stale served     an artifact whose bytes did not match the manifest taken as finished work (the film made
                   from it, or it left in place), or a film path returned that does not exist or does not
                   verify (must be 0)
  stuck            films that a rerun (and one more) could not finish (must be 0)
  stages redone    backend calls (renders, writer calls, assembly) beyond what the film needed plus one
                   retry per injected failure: work done twice after a crash or failure (must be 0)
  outcome          ok, or what went wrong
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # the table is the output; runs' logs stay quiet

from filmstitch.settings import StorageConfig
from filmstitch.storage import FilmStore, open_store, sha256_hex
from filmstitch.testing.backend_faults import CallLog, Fault
from filmstitch.testing.crash_resume import PHASE_GATES, kill_and_resume, units_expected
from filmstitch.testing.frames import film_frames, stored_frames, uninterrupted_frames
from filmstitch.testing.postgres import PostgresServer
from filmstitch.testing.postgres import missing_binaries as missing_postgres
from filmstitch.testing.processes import flow_run_processes
from filmstitch.testing.rgw import RadosGateway, missing_binaries
from filmstitch.testing.s3rver import BINARY as S3RVER_BINARY
from filmstitch.testing.s3rver import S3rver, start_s3rver
from filmstitch.testing.small_film import REPO, SmallFilm, Workspace, film_folder, film_prefix, run_in_process
from filmstitch.testing.studio import (
    FAILURES,
    SMALL,
    Figures,
    Studio,
    batch_figures,
    film_id_of,
    film_store,
    made_twice,
    rendering_film,
    wait_for,
    written,
)

FILM = SmallFilm()
IDEAS = [
    "a fox finds a lantern",
    "two robots learn to dance",
    "a whale sings to a lighthouse",
    "a child builds a kite from maps",
    "an old clock stops at midnight",
]
#: Backend calls a whole FILM needs (2 characters + the environment; 4 boundaries; 3 clips).
NEEDED = {
    "write_script": 1,
    "describe_characters": 1,
    "describe_environments": 1,
    "write_keyframes": 1,
    "reference_variants": 3,
    "keyframe_variants": 4,
    "clip": 3,
    "concat": 1,
}


@dataclass
class Tally:
    runs: int = 0
    faults: int = 0
    completed: int = 0
    lost: int = 0
    stale: int = 0
    stuck: int = 0
    redone: int = 0
    problems: list[str] = field(default_factory=list)

    def check(self, ok: bool, problem: str) -> None:
        if not ok:
            self.problems.append(problem)


@dataclass
class Lab:
    """The servers every scenario shares (RGW and s3rver started by the first scenario that needs them),
    and a fresh folder per run."""

    api: str
    moto: object
    root: Path
    rgw: RadosGateway | None = None
    s3rver: S3rver | None = None

    def gateway(self) -> RadosGateway:
        if self.rgw is None:
            self.rgw = RadosGateway(self.folder("rgw")).start()
        return self.rgw

    def s3rver_server(self) -> S3rver:
        if self.s3rver is None:
            self.s3rver = start_s3rver(self.folder("s3rver"))
        return self.s3rver

    def stop(self) -> None:
        for server in (self.rgw, self.s3rver):
            if server is not None:
                server.stop()

    def folder(self, name: str) -> Path:
        path = self.root / f"{name}-{uuid.uuid4().hex[:6]}"
        path.mkdir(parents=True)
        return path

    def bucket(self) -> object:
        from filmstitch.testing.s3 import REGION

        name = self.moto.create_bucket()
        return StorageConfig(kind="s3", bucket=name, prefix="films", endpoint_url=self.moto.endpoint_url, region=REGION)


def extra_calls(calls: dict[str, int], retries: int = 0) -> int:
    return max(0, sum(calls.values()) - sum(NEEDED.values()) - retries)


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """`values` in os.environ for the block (this process's own store reads need the film's S3 keys)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def in_process(lab: Lab, folder: Path, **env: str) -> Iterator[None]:
    """Prefect settings and FilmStitch environment for a flow run in this process."""
    from prefect.settings import PREFECT_API_URL, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    env = {"FILMSTITCH_STORAGE_DIR": str(folder / "films")} | env
    with environment(env), temporary_settings(
        updates={PREFECT_API_URL: lab.api, PREFECT_LOCAL_STORAGE_PATH: folder / "results"}
    ):
        yield


# --------------------------------------------------------------------------- scenarios


def crash(phase: str, on_rgw: bool = False) -> Callable[[Lab, Tally], None]:
    def scenario(lab: Lab, tally: Tally) -> None:
        storage, keys = rgw_bucket(lab) if on_rgw else (None, {})
        ws = Workspace(lab.folder(f"crash-{phase}"), lab.api, env_extra=keys, storage=storage)
        with environment(keys):  # this process reads the film's store too
            outcome = kill_and_resume(ws, FILM, phase)
            tally.faults += 1
            film = outcome.film
            if film is None:  # the rerun failed: does one more finish it, or is the film stuck?
                film = finish_or_stuck(ws, tally, "second-rerun")
            same = film is not None and np.array_equal(film_frames_of(ws, film), uninterrupted_frames(FILM, lab.api))
            tally.stale += stale_film(ws, film)
        tally.completed += int(outcome.completed and same)
        tally.lost += outcome.artifacts_lost
        tally.redone += outcome.stages_redone + len(outcome.rewritten)
        tally.check(outcome.completed, f"rerun failed: {outcome.rerun_error[-200:]}")
        tally.check(same, "frames differ from the uninterrupted film")

    return scenario


def flaky_renderer(lab: Lab, tally: Tally) -> None:
    folder = lab.folder("flaky-renderer")
    log = CallLog(folder / "calls.jsonl")
    faults = [Fault("reference_variants", 1), Fault("keyframe_variants", 2), Fault("clip", 3)]
    with in_process(lab, folder):
        result, run = run_in_process(lab.api, FILM, log, faults)
    store = FilmStore(open_store(Workspace(folder, lab.api).config), FILM.id())
    tally.faults += log.faults()
    ok = run["state"]["type"] == "COMPLETED" and store.verify().problems == []
    tally.completed += int(ok)
    tally.redone += extra_calls(log.calls(), retries=log.faults())
    tally.check(ok, f"film failed: {result}")


def renderer_fails_for_good(lab: Lab, tally: Tally) -> None:
    folder = lab.folder("broken-renderer")
    failed, rerun = CallLog(folder / "failed.jsonl"), CallLog(folder / "rerun.jsonl")
    store = FilmStore(open_store(Workspace(folder, lab.api).config), FILM.id())
    with in_process(lab, folder):
        error, run = run_in_process(lab.api, FILM, failed, [Fault("clip", 2, "permanent")])
        tally.faults += failed.faults()
        tally.check(
            run["state"]["type"] == "FAILED" and "the clips stage failed" in str(error), f"no clear failure: {error}"
        )
        before = store.manifest()["artifacts"]
        result, run = run_in_process(lab.api, FILM, rerun)
    after = store.manifest()["artifacts"]
    ok = run["state"]["type"] == "COMPLETED" and store.verify().problems == []
    tally.completed += int(ok)
    tally.lost += sum(1 for k, e in before.items() if after.get(k, {}).get("sha256") != e["sha256"])
    # The rerun needs: the failed clip, and assembly.
    tally.redone += max(0, sum(rerun.calls().values()) - 2)
    tally.redone += sum(1 for k, e in before.items() if after.get(k, {}).get("written_at") != e["written_at"])
    tally.check(ok, f"rerun failed: {result}")


def flaky_writer(lab: Lab, tally: Tally) -> None:
    from filmstitch.testing.fake_anthropic import FakeAnthropic
    from filmstitch.testing.film_author import FilmAuthor

    folder = lab.folder("flaky-writer")
    fake = FakeAnthropic().start()
    try:
        fake.reply_error(529, "overloaded_error", "Overloaded")
        fake.reply_error(503, "api_error", "Service unavailable")
        fake.author = FilmAuthor()  # answers the writer's five questions after the two faults
        env = {
            "ANTHROPIC_API_KEY": "sk-ant-report-fake",
            "FILMSTITCH_CLAUDE_BASE_URL": fake.base_url,
            "FILMSTITCH_CLAUDE_MAX_RETRIES": "0",
        }
        with in_process(lab, folder, **env):
            result, run = run_in_process(lab.api, FILM, CallLog(folder / "calls.jsonl"), writer="claude")
    finally:
        fake.stop()
    tally.faults += 2
    ok = run["state"]["type"] == "COMPLETED"
    tally.completed += int(ok)
    tally.redone += max(0, len(fake.requests) - 5 - 2)
    tally.check(ok, f"film failed: {result}")


def flaky_s3(lab: Lab, tally: Tally) -> None:
    from filmstitch.testing.flaky_proxy import FaultPlan, FlakyProxy
    from filmstitch.testing.s3 import FAKE_ACCESS_KEY_ID, FAKE_SECRET_ACCESS_KEY

    folder = lab.folder("flaky-s3")
    config = lab.bucket()
    credentials = {
        "FILMSTITCH_S3_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
        "FILMSTITCH_S3_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
    }
    log = CallLog(folder / "calls.jsonl")
    with FlakyProxy(lab.moto.endpoint_url, FaultPlan(rate=0.2, seed=tally.runs, stall_s=0.5)) as proxy:
        ws = Workspace(
            folder, lab.api, env_extra=credentials, storage=config.model_copy(update={"endpoint_url": proxy.url})
        )
        run = ws.run(FILM, log, timeout=600)
    store = FilmStore(open_store(config), FILM.id())
    tally.faults += proxy.faults
    bad = store.verify().problems if run.returncode == 0 else []
    same = run.returncode == 0 and np.array_equal(stored_frames(store, folder), uninterrupted_frames(FILM, lab.api))
    tally.completed += int(run.returncode == 0 and not bad and same)
    tally.lost += len(bad)
    tally.redone += extra_calls(log.calls())
    tally.check(run.returncode == 0, f"film failed: {run.tail(300)}")
    tally.check(same, "frames differ from the uninterrupted film")


def five_at_once(lab: Lab, tally: Tally) -> None:
    from filmstitch.testing.s3 import FAKE_ACCESS_KEY_ID, FAKE_SECRET_ACCESS_KEY

    folder = lab.folder("five-at-once")
    credentials = {
        "FILMSTITCH_S3_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
        "FILMSTITCH_S3_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
    }
    ws = Workspace(folder, lab.api, env_extra=credentials, storage=lab.bucket())
    films = [SmallFilm(idea=idea, seed=n) for n, idea in enumerate(IDEAS)]
    logs = [CallLog(folder / f"film{n}.jsonl") for n in range(5)]
    runs = [ws.start(film, log, record=True, name=f"film{n}") for n, (film, log) in enumerate(zip(films, logs))]
    for film, log, run in zip(films, logs, runs):
        run.wait(600)
        store = ws.store(film)
        bad = store.verify().problems if run.returncode == 0 else []
        outside = [r["key"] for r in log.events("storage") if not r["key"].startswith(film_prefix(film.id()))]
        tally.completed += int(run.returncode == 0 and not bad and not outside)
        tally.lost += len(bad) + len(outside)
        needed = units_expected(film, store.manifest()["artifacts"], store) if run.returncode == 0 else {}
        tally.redone += max(0, sum(log.calls().values()) - sum(needed.values()))
        tally.check(run.returncode == 0, f"{film.idea!r} failed: {run.tail(200)}")
        tally.check(not outside, f"{film.idea!r} touched {outside[:2]}")


def same_film_twice(lab: Lab, tally: Tally) -> None:
    folder = lab.folder("twice")
    ws = Workspace(folder, lab.api)
    logs = [CallLog(folder / f"twin{n}.jsonl") for n in range(2)]
    runs = [ws.start(FILM, log, name=f"twin{n}") for n, log in enumerate(logs)]
    for run in runs:
        run.wait(600)
    store = ws.store(FILM)
    ok = [run.returncode for run in runs] == [0, 0] and store.verify().problems == []
    same = ok and np.array_equal(stored_frames(store, folder), uninterrupted_frames(FILM, lab.api))
    tally.completed += 2 if ok and same else 0
    tally.check(ok and same, "a twin failed, or the film is not the one made alone")


def one_id_two_films(lab: Lab, tally: Tally) -> None:
    folder = lab.folder("one-id")
    ws = Workspace(folder, lab.api)
    films = [replace(FILM, film_id="shared-id"), replace(FILM, film_id="shared-id", seed=FILM.seed + 1)]
    logs = [CallLog(folder / f"rival{n}.jsonl") for n in range(2)]
    runs = [ws.start(film, log, record=True, name=f"rival{n}") for n, (film, log) in enumerate(zip(films, logs))]
    for run in runs:
        run.wait(600)
    codes = [run.returncode for run in runs]
    tally.faults += 1  # the rival run
    if sorted(codes) != [0, 1]:
        tally.check(False, f"expected one winner and one refusal, got exit codes {codes}")
        return
    winner = codes.index(0)
    refused = "already holds a different film" in " ".join(runs[1 - winner].stderr.split())
    store = ws.store(films[winner])
    same = np.array_equal(
        stored_frames(store, folder), uninterrupted_frames(replace(films[winner], film_id=None), lab.api)
    )
    tally.completed += int(same and store.verify().problems == [])
    tally.check(refused and same, "the loser was not refused clearly, or the film is a mix")


def broken_bucket(kind: str) -> Callable[[Lab, Tally], None]:
    def scenario(lab: Lab, tally: Tally) -> None:
        from filmstitch.testing.s3 import FAKE_ACCESS_KEY_ID, FAKE_SECRET_ACCESS_KEY

        folder = lab.folder(kind)
        config = lab.bucket()
        credentials = {
            "FILMSTITCH_S3_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
            "FILMSTITCH_S3_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
        }
        if kind == "missing-bucket":
            config = config.model_copy(update={"bucket": f"missing-{uuid.uuid4().hex[:8]}"})
            expected = "the bucket does not exist"
        else:
            credentials["FILMSTITCH_S3_ACCESS_KEY_ID"] = "AKIAUNKNOWN" + uuid.uuid4().hex[:9].upper()
            expected = "the access key id is not known"
        log = CallLog(folder / "calls.jsonl")
        with auth_checks(lab, on=kind != "missing-bucket"):
            run = Workspace(folder, lab.api, env_extra=credentials, storage=config).run(FILM, log)
        tally.faults += 1
        clear = run.returncode == 1 and expected in " ".join(run.stderr.split())
        tally.check(clear, f"no clear error: {run.tail(300)}")
        tally.check(log.events() == [], "work started before the storage check")

    return scenario


@contextlib.contextmanager
def auth_checks(lab: Lab, on: bool) -> Iterator[None]:
    """moto checks credentials only when told to (as filmstitch/testing/s3.py's enable_auth does)."""
    import moto.settings

    saved = moto.settings.INITIAL_NO_AUTH_ACTION_COUNT
    if on:
        moto.settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    try:
        yield
    finally:
        moto.settings.INITIAL_NO_AUTH_ACTION_COUNT = saved


# --------------------------------------------------------------------------- checks every film gets


def rgw_bucket(lab: Lab) -> tuple[StorageConfig, dict[str, str]]:
    """A fresh bucket on the lab's Ceph RGW (started on first use), and the FILMSTITCH_S3_* keys for it."""
    gateway = lab.gateway()
    config = StorageConfig(kind="s3", bucket=gateway.create_bucket(), prefix="films", endpoint_url=gateway.endpoint_url,
                           region="us-east-1")
    keys = {"FILMSTITCH_S3_ACCESS_KEY_ID": gateway.access_key_id,
            "FILMSTITCH_S3_SECRET_ACCESS_KEY": gateway.secret_access_key}
    return config, keys


def film_frames_of(ws: Workspace, film: Path) -> np.ndarray:
    """Decoded frames of a finished film: the printed path on local storage, the verified object on S3."""
    if ws.config.kind == "s3":
        return stored_frames(ws.store(FILM), ws.root)
    return film_frames(film)


def stale_film(ws: Workspace, film: Path | None, small: SmallFilm = FILM) -> int:
    """1 if a film path was returned that does not exist or whose bytes do not match the manifest, else 0."""
    if film is None:
        return 0
    entry = ws.store(small).manifest().get("artifacts", {}).get("film.mp4")
    if entry is None:
        return 1
    if ws.config.kind == "s3":
        return int("film.mp4" in ws.store(small).verify().problems)
    return int(not film.is_file() or sha256_hex(film.read_bytes()) != entry["sha256"])


def finish_or_stuck(ws: Workspace, tally: Tally, name: str, small: SmallFilm = FILM) -> Path | None:
    """Run the film once more; a film this cannot finish either is stuck."""
    again = ws.run(small, CallLog(ws.root / f"{name}.jsonl"), name=name, timeout=600)
    if again.returncode == 0:
        return again.film_path()
    tally.stuck += 1
    tally.check(False, f"stuck: {again.tail(200)}")
    return None


# --------------------------------------------------------------------------- damage behind FilmStitch's back


def flip_bytes(path: Path, count: int = 16) -> None:
    """Invert `count` bytes in the middle of the file (its size stays; only a checksum can tell)."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    for i in range(middle, min(middle + count, len(data))):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def damaged_rerun(how: str) -> Callable[[Lab, Tally], None]:
    """Make the film, then damage (`corrupt`: flip bytes) or delete (`delete`) one clip and film.mp4, and
    run the same command again: the rerun must remake exactly that clip and the assembly, and return a
    film that exists, verifies and equals the uninterrupted one."""

    def scenario(lab: Lab, tally: Tally) -> None:
        ws = Workspace(lab.folder(f"{how}-artifact"), lab.api)
        first = ws.run(FILM, CallLog(ws.root / "first.jsonl"), name="first", timeout=600)
        first.film_path()  # fails the scenario clearly if the first film did not finish
        store = ws.store(FILM)
        before = dict(store.manifest()["artifacts"])
        clips = sorted(key for key in before if key.startswith("clips/"))
        damaged = [clips[len(clips) // 2], "film.mp4"]
        folder = film_folder(ws.config.root, FILM.id())
        for key in damaged:
            flip_bytes(folder / key) if how == "corrupt" else (folder / key).unlink()
        tally.faults += len(damaged)

        log = CallLog(ws.root / "rerun.jsonl")
        rerun = ws.run(FILM, log, name="rerun", timeout=600)
        film = rerun.film_path() if rerun.returncode == 0 else finish_or_stuck(ws, tally, "second-rerun")
        after = dict(store.manifest()["artifacts"])
        problems = store.verify().problems
        same = film is not None and np.array_equal(film_frames(film), uninterrupted_frames(FILM, lab.api))
        tally.completed += int(film is not None and not problems and same)
        tally.lost += len({k for k, e in before.items() if after.get(k, {}).get("sha256") != e["sha256"]}
                          | set(problems))
        # Stale: a damaged artifact still in place after a rerun that said it finished, or the film made from it.
        left_damaged = [key for key in damaged if key in problems]
        tally.stale += stale_film(ws, film) + (len(left_damaged) if film is not None else 0)
        tally.stale += int(film is not None and not same)
        calls = log.calls()
        tally.redone += max(0, sum(calls.values()) - 2)  # one clip and the assembly
        tally.check(calls["clip"] >= 1 and calls["concat"] >= 1, f"the rerun did not remake them: {dict(calls)}")
        tally.check(film is not None, f"rerun failed: {rerun.tail(200)}")
        tally.check(same, "frames differ from the uninterrupted film")
        tally.check(not left_damaged, f"still damaged after the rerun: {left_damaged}")

    return scenario


# --------------------------------------------------------------------------- stores nobody here wrote


def film_on_rgw(lab: Lab, tally: Tally) -> None:
    """A whole film through the CLI on Ceph's RADOS Gateway: finishes, verifies, equals the local film."""
    storage, keys = rgw_bucket(lab)
    with environment(keys):  # this process reads the film's store too
        film_on_store(lab, tally, Workspace(lab.folder("rgw-film"), lab.api, env_extra=keys, storage=storage))


def film_on_store(lab: Lab, tally: Tally, ws: Workspace) -> None:
    """FILM through the CLI on `ws`'s store: it finishes, verifies and equals the film made in one go."""
    log = CallLog(ws.root / "calls.jsonl")
    run = ws.run(FILM, log, timeout=600)
    film = run.film_path() if run.returncode == 0 else None
    store = ws.store(FILM)
    problems = store.verify().problems if film else []
    same = film is not None and np.array_equal(stored_frames(store, ws.root), uninterrupted_frames(FILM, lab.api))
    tally.completed += int(film is not None and not problems and same)
    tally.lost += len(problems)
    tally.stale += stale_film(ws, film)
    tally.redone += extra_calls(log.calls())
    tally.check(film is not None, f"film failed: {run.tail(300)}")
    tally.check(same, "frames differ from the uninterrupted film")


def s3rver_refused(lab: Lab, tally: Tally) -> None:
    """s3rver ignores If-None-Match / If-Match: the run must stop at its storage check, before any work."""
    server = lab.s3rver_server()
    config = server.config().model_copy(update={"prefix": f"films-{uuid.uuid4().hex[:8]}"})
    keys = {"FILMSTITCH_S3_ACCESS_KEY_ID": "S3RVER", "FILMSTITCH_S3_SECRET_ACCESS_KEY": "S3RVER"}
    log = CallLog(lab.folder("s3rver") / "calls.jsonl")
    run = Workspace(log.path.parent, lab.api, env_extra=keys, storage=config).run(FILM, log)
    tally.faults += 1
    message = " ".join(run.stderr.split())
    written = server.client().list_objects_v2(Bucket=server.bucket, Prefix=f"{config.prefix}/").get("KeyCount", 0)
    tally.check(run.returncode == 1 and "does not honour conditional writes" in message,
                f"not refused: {message[-200:]}")
    tally.check(log.events() == [], "work started before the storage check")
    tally.check(written == 0, f"{written} objects written to a store that was refused")


# --------------------------------------------------------------------------- Prefect as people run it


def prefect_servers_of(home: Path) -> list[psutil.Process]:
    """Prefect server processes still running with `home` as their PREFECT_HOME."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            cmdline = " ".join(process.info["cmdline"] or [])
            if "prefect" in cmdline and "server" in cmdline and process.environ().get("PREFECT_HOME") == str(home):
                found.append(process)
    return found


def three_cli_films(lab: Lab, tally: Tally) -> None:
    """Three `filmstitch make --auto` at once with no PREFECT_API_URL: each starts a temporary Prefect server of
    its own (one Prefect home), as a person does in three terminals. All finish; no server is left running."""
    ws = Workspace(lab.folder("three-cli"), api_url=None)
    films = [SmallFilm(idea=idea, seed=n, seconds=1.0) for n, idea in enumerate(IDEAS[:3])]
    logs = [CallLog(ws.root / f"cli{n}.jsonl") for n in range(3)]
    runs = [ws.start(film, log, name=f"cli{n}") for n, (film, log) in enumerate(zip(films, logs))]
    for film, log, run in zip(films, logs, runs):
        run.wait(900)
        store = ws.store(film)
        film_path = run.film_path() if run.returncode == 0 else finish_or_stuck(ws, tally, f"again-{film.seed}", film)
        problems = store.verify().problems if film_path else []
        tally.completed += int(film_path is not None and not problems)
        tally.lost += len(problems)
        tally.stale += stale_film(ws, film_path, film)
        needed = units_expected(film, store.manifest()["artifacts"], store) if film_path else {}
        tally.redone += max(0, sum(log.calls().values()) - sum(needed.values())) if run.returncode == 0 else 0
        tally.check(run.returncode == 0, f"{film.idea!r} failed: {run.tail(200)}")
    left = prefect_servers_of(ws.root / "prefect-home")
    tally.check(left == [], f"{len(left)} temporary Prefect servers left running")


def work_pool_film(lab: Lab, tally: Tally) -> None:
    """Prefect's own tools as the docs tell a user: a process work pool, `prefect deploy --all` from the
    repository, `prefect worker start --run-once`; the film lands where the (relative) setting says."""
    from filmstitch.app.client import FilmStitchClient
    from filmstitch.app.prefect_server import start_server, stop_process_group

    folder = lab.folder("work-pool")
    films_dir = f"films-from-a-worker-{uuid.uuid4().hex[:6]}"  # relative: the worker runs in the repository
    server, api = start_server(home=folder / "prefect-home", log_path=folder / "prefect.log", timeout_s=180)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FILMSTITCH_", "PREFECT_", "ANTHROPIC_"))} | {
        "PREFECT_API_URL": api, "PREFECT_HOME": str(folder / "home"),
        "PREFECT_LOCAL_STORAGE_PATH": str(folder / "results"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_RUNNER_POLL_FREQUENCY": "1", "PYTHONPATH": str(REPO),
        "FILMSTITCH_STORAGE_DIR": films_dir, "FILMSTITCH_WRITER": "offline", "FILMSTITCH_RENDERER": "animatic",
        "COLUMNS": "200",
    }

    def prefect(*args: str, cwd: Path = REPO, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "prefect", *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=timeout, check=False)

    try:
        steps = [prefect("work-pool", "create", "filmstitch", "--type", "process"),
                 prefect("--no-prompt", "deploy", "--all")]
        failed = [step for step in steps if step.returncode != 0]
        tally.check(not failed, f"{failed[0].args[3:5]} failed: {(failed[0].stdout + failed[0].stderr)[-200:]}"
                    if failed else "")
        if failed:
            return
        with FilmStitchClient(api) as client:
            run = client.create_film_run(FILM.idea, auto_pick=True, segments=FILM.segments,
                                         seconds_per_segment=FILM.seconds,
                                         width=FILM.width, height=FILM.height, fps=FILM.fps, seed=FILM.seed,
                                         variants=FILM.variants, sound=False, writer="offline", renderer="animatic")
            worker = prefect("worker", "start", "--pool", "filmstitch", "--run-once", cwd=folder, timeout=600)
            state = client.wait(run.id, timeout_s=120).state_type
            location = Path(client.film(run.id).location) if state == "COMPLETED" else None
        where = REPO / films_dir
        ok = worker.returncode == 0 and location is not None and location.is_relative_to(where) and location.is_file()
        store = FilmStore(open_store(StorageConfig(root=str(where))), FILM.id())
        problems = store.verify().problems if ok else []
        same = ok and np.array_equal(film_frames(location), uninterrupted_frames(FILM, lab.api))
        tally.completed += int(ok and not problems and same)
        tally.lost += len(problems)
        tally.stale += int(location is not None and not location.is_file())
        tally.check(ok, f"worker rc {worker.returncode}, film at {location}: {worker.stderr[-200:]}")
        tally.check(same, "frames differ from the uninterrupted film")
    finally:
        stop_process_group(server)
        shutil.rmtree(REPO / films_dir, ignore_errors=True)


# --------------------------------------------------------------------------- --part studio

STUDIO_IDEAS = [f"{who} {what}" for who in ("a fox", "a robot", "a whale", "a child", "an old clock", "a heron",
                                             "a tram driver", "a moth", "a snowman", "a crab")
                for what in ("finds a lantern", "learns to dance", "sings to a lighthouse")]


#: A fault injected into a running batch: returns what it did and snapshots of films' parts (film id -> parts).
StudioFault = Callable[[Studio, str], tuple[str, dict[str, dict[str, str]]]]


@dataclass
class StudioRow:
    """One row of the studio table: a scenario's figures (filmstitch.testing.studio.Figures) and what else it
    measured."""

    name: str
    figures: Figures | None
    extra: str = ""


def studio_lab(postgres: PostgresServer, root: Path, name: str, workers: int) -> Studio:
    """A fresh `filmstitch server --pool` (its own database and film folder) with `workers` process workers; flow
    runs beat every 30 s (Prefect's least), so a batch finds a film whose process died in 90 s."""
    studio = Studio(root / name, postgres.create_database(name.replace("-", "_")), heartbeat_s=30)
    studio.root.mkdir(parents=True)
    studio.start_server()
    for n in range(workers):
        studio.start_worker(f"worker-{n}")
    return studio


def studio_batch(postgres: PostgresServer, root: Path, name: str, ideas: list[str], workers: int,
                 fault: StudioFault | None = None, timeout_s: float = 3600) -> StudioRow:
    """A batch of `ideas` (all in flight at once) on `workers` workers; `fault(studio, batch_run_id)` runs once the
    batch started and returns what it did."""
    from filmstitch.app.client import FilmStitchClient

    studio = studio_lab(postgres, root, name, workers)
    try:
        with FilmStitchClient(studio.api) as films:
            started = time.monotonic()
            batch = films.create_batch_run(ideas, parallel_films=len(ideas), film=SMALL)
            done, snapshots = fault(studio, batch.id) if fault else ("", {})
            with contextlib.suppress(Exception):  # a batch that fails or times out is counted below, not raised
                films.wait(batch.id, timeout_s=timeout_s, poll_s=2)
            figures = batch_figures(studio, batch.id, ideas, snapshots, time.monotonic() - started)
        return StudioRow(name, figures, done)
    finally:
        studio.stop()


def kill_a_worker(studio: Studio, batch_id: str) -> tuple[str, dict[str, dict[str, str]]]:
    """SIGKILL a worker while it renders a film (not the batch's own worker); snapshot that film's parts."""

    batch_worker = wait_for(lambda: studio.worker_running(batch_id), 300, "the batch never started")
    run, worker, film_id = wait_for(lambda: rendering_film(studio, studio.batch_films(batch_id), {batch_worker}),
                                    900, "no film rendering on another worker")
    studio.kill_worker(worker)
    before = written(film_store(studio, film_id))
    return f"SIGKILLed {worker} while {run['name']} had {len(before)} parts stored", {film_id: before}


def restart_the_server(studio: Studio, batch_id: str) -> tuple[str, dict[str, dict[str, str]]]:
    """Restart `filmstitch server` (Prefect's server with it) once a film finished and others are running."""

    def some_done_some_running() -> bool:
        states = [r["state_type"] for r in studio.batch_films(batch_id)]
        return "COMPLETED" in states and "RUNNING" in states

    wait_for(some_done_some_running, 1800, "no film finished while others ran", poll_s=1)
    running = sum(r["state_type"] == "RUNNING" for r in studio.batch_films(batch_id))
    away_s = studio.restart_server()
    return f"server restarted with {running} films running; API away {away_s:.0f} s", {}


def waiting_films(postgres: PostgresServer, root: Path, count: int, workers: int = 3,
                  timeout_s: float = 3600) -> StudioRow:
    """`count` films (not auto-picked) suspended at their first checkpoint at once: how many flow-run processes
    are alive while they all wait; then every checkpoint answered over REST (the recommendations) until all
    finish. Each film's state history is read from the server."""
    from filmstitch.app.client import FilmStitchClient

    studio = studio_lab(postgres, root, "waiting", workers)
    figures = Figures(films=count)
    try:
        with FilmStitchClient(studio.api) as films:
            started = time.monotonic()
            ideas = STUDIO_IDEAS[:count]
            runs = [films.create_film_run(idea, pause_timeout_s=3600, **SMALL) for idea in ideas]
            wait_for(lambda: all(films.checkpoint(r.id) for r in runs), timeout_s, f"{count} films at a checkpoint",
                     poll_s=2)
            waiting_s = time.monotonic() - started
            # A suspended run's process exits at its next orchestration call: give them a minute, then count.
            with contextlib.suppress(TimeoutError):
                wait_for(lambda: not any(flow_run_processes(r.id) for r in runs), 60, "processes gone", poll_s=1)
            alive = sum(len(flow_run_processes(r.id)) for r in runs)
            states = {films.run(r.id).state_name for r in runs}
            resumes, deadline = 0, time.monotonic() + timeout_s
            open_runs = {r.id for r in runs}
            while open_runs and time.monotonic() < deadline:
                for run_id in sorted(open_runs):
                    state = films.run(run_id)
                    if state.is_final:
                        open_runs.discard(run_id)
                    elif (checkpoint := films.checkpoint(run_id)) is not None:
                        answer = {"accept_rest": True} if checkpoint.more_follow else {}
                        resumes += int(films.resume(run_id, answer).accepted)
                time.sleep(1)
            figures.wall_s = time.monotonic() - started
        for run in runs:
            final = studio.run(run.id)
            history = studio.history(run.id)
            kinds = {kind for kind, _ in history}
            if final["state_type"] == "COMPLETED":
                figures.finished += 1
                figures.failure_states += len(kinds & FAILURES)
                figures.per_worker[studio.worker_of(run.id) or "?"] += 1
            elif final["state_type"] in FAILURES | {"CANCELLED"}:
                figures.lost += 1
            else:
                figures.stuck += 1
            figures.made_twice += made_twice(film_store(studio, film_id_of(final)))
        example = " -> ".join(name for _, name in studio.history(runs[0].id))
        extra = (f"{count} at a checkpoint after {waiting_s:.0f} s (states {sorted(states)}), flow-run processes "
                 f"alive while they waited: {alive}; {resumes} answers over REST; one film's history: {example}")
        return StudioRow(f"{count} films waiting at a checkpoint", figures, extra)
    finally:
        studio.stop()


def studio_main(args: argparse.Namespace) -> None:
    """`--part studio`: the studio on PostgreSQL with three process workers, under load and faults."""
    if missing_postgres():
        sys.exit(f"PostgreSQL is not installed: {missing_postgres()} missing")
    root = Path(tempfile.mkdtemp(prefix="filmstitch-studio-"))
    os.chmod(root, 0o755)
    postgres = PostgresServer().start()
    chosen = set(args.only.split(",")) if args.only else {"batch", "one", "kill", "restart", "waiting"}
    ideas = STUDIO_IDEAS[:args.films]
    rows: list[StudioRow] = []
    started = time.perf_counter()
    # The one-worker batch (the slowest: one film at a time) last.
    plan = [
        ("batch", lambda: studio_batch(postgres, root, "batch-3-workers", ideas, 3)),
        ("kill", lambda: studio_batch(postgres, root, "worker-killed", ideas[:args.fault_films], 3, kill_a_worker)),
        ("restart", lambda: studio_batch(postgres, root, "server-restarted", ideas[:args.fault_films], 3,
                                         restart_the_server)),
        ("waiting", lambda: waiting_films(postgres, root, args.waiting)),
        ("one", lambda: studio_batch(postgres, root, "batch-1-worker", ideas, 1)),
    ]
    try:
        for key, make in plan:
            if key not in chosen:
                continue
            try:
                row = make()
            except Exception as exc:  # noqa: BLE001 - a scenario that blows up is a finding, not the end
                row = StudioRow(key, None, f"{type(exc).__name__}: {str(exc)[:300]}")
            rows.append(row)
            print(f"  {row.name}: {row.figures.row() if row.figures else ''} {row.extra}", file=sys.stderr)
    finally:
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)
    header = ("scenario", "films", "finished", "lost", "stuck", "rendered twice", "failure states", "crash rows",
              "films per worker", "wall s")
    table = [header]
    for row in rows:
        f = row.figures
        if f is None:
            table.append((row.name, "-", "-", "-", "-", "-", "-", "-", "-", "-"))
            continue
        per_worker = " ".join(f"{name}:{n}" for name, n in sorted(f.per_worker.items()))
        table.append((row.name, str(f.films), str(f.finished), str(f.lost), str(f.stuck), str(f.made_twice),
                      str(f.failure_states), str(f.crash_rows), per_worker, f"{f.wall_s:.0f}"))
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    print("| " + " | ".join(cell.ljust(width) for cell, width in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    for r in table[1:]:
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(r, widths)) + " |")
    for row in rows:
        if row.extra:
            print(f"* {row.name}: {row.extra}")
        if row.figures is not None and row.figures.problems:
            print(f"  problems: {row.figures.problems[:5]}")
    print(f"\n{len(rows)} scenarios in {time.perf_counter() - started:.0f} s "
          f"(python benchmarks/reliability_report.py {' '.join(sys.argv[1:])}; {time.strftime('%Y-%m-%d')})")
    bad = [r for r in rows if r.figures is None or r.figures.lost or r.figures.stuck or r.figures.made_twice
           or r.figures.failure_states or r.figures.finished != r.figures.films]
    sys.exit(1 if bad else 0)


SCENARIOS: dict[str, Callable[[Lab, Tally], None]] = {
    **{f"crash in {phase} (SIGKILL), rerun": crash(phase) for phase in PHASE_GATES},
    "renders fail transiently (x3)": flaky_renderer,
    "a clip fails for good, rerun": renderer_fails_for_good,
    "writer overloaded (529, 503)": flaky_writer,
    "clip + film.mp4 corrupted, rerun": damaged_rerun("corrupt"),
    "clip + film.mp4 deleted, rerun": damaged_rerun("delete"),
    "S3 through a flaky proxy (20%)": flaky_s3,
    "5 films at once, one bucket": five_at_once,
    "same film twice at once": same_film_twice,
    "2 films, one film id, at once": one_id_two_films,
    "missing bucket": broken_bucket("missing-bucket"),
    "wrong S3 credentials": broken_bucket("wrong-credentials"),
    "film on Ceph RGW": film_on_rgw,
    "crash in clips on Ceph RGW, rerun": crash("clips", on_rgw=True),
    "s3rver (ignores conditional writes) refused": s3rver_refused,
    "3 CLI films at once, own Prefect servers": three_cli_films,
    "work pool: prefect deploy --all + worker": work_pool_film,
}

#: Scenarios that take minutes a run (`--slow-runs`).
SLOW = {"film on Ceph RGW", "crash in clips on Ceph RGW, rerun", "3 CLI films at once, own Prefect servers",
        "work pool: prefect deploy --all + worker"}

#: Scenarios that need a server which may not be installed, and what is missing when it is not.
NEEDS = {
    "film on Ceph RGW": lambda: missing_binaries() and "radosgw missing",
    "crash in clips on Ceph RGW, rerun": lambda: missing_binaries() and "radosgw missing",
    "s3rver (ignores conditional writes) refused": lambda: not S3RVER_BINARY.exists() and "s3rver missing",
}


def outcome(tally: Tally) -> str:
    if tally.problems:
        return "FAIL: " + tally.problems[0][:60]
    if tally.stale or tally.stuck:
        return "FAIL: stale work served or a film stuck"
    return "FAIL: work lost or redone" if tally.lost or tally.redone else "ok"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="Runs per scenario.")
    parser.add_argument("--slow-runs", type=int, default=None,
                        help="Runs of the slow scenarios (RGW, three CLI films, work pool); default: --runs.")
    parser.add_argument("--only", default="", help="Comma-separated words; run scenarios whose name has one.")
    parser.add_argument("--part", choices=("faults", "studio"), default="faults",
                        help="faults: the fault scenarios (default); studio: PostgreSQL and three process workers "
                             "under load and faults (--only batch,one,kill,restart,waiting).")
    parser.add_argument("--films", type=int, default=12, help="--part studio: films in the batch.")
    parser.add_argument("--fault-films", type=int, default=6,
                        help="--part studio: films in the batches with a killed worker or a restarted server.")
    parser.add_argument("--waiting", type=int, default=20, help="--part studio: films waiting at a checkpoint.")
    args = parser.parse_args()
    if args.part == "studio":
        studio_main(args)
        return
    chosen = {
        name: fn
        for name, fn in SCENARIOS.items()
        if not args.only or any(word.strip() in name for word in args.only.split(","))
    }

    from filmstitch.app.prefect_server import start_server, stop_process_group
    from filmstitch.testing.s3 import FAKE_ACCESS_KEY_ID, FAKE_SECRET_ACCESS_KEY, start_moto_server

    root = Path(tempfile.mkdtemp(prefix="filmstitch-reliability-"))
    started = time.perf_counter()
    server, api = start_server(home=root / "prefect-server", log_path=root / "server.log", timeout_s=180)
    moto = start_moto_server()
    os.environ.update(
        {
            "FILMSTITCH_S3_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
            "FILMSTITCH_S3_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
        }
    )
    lab = Lab(api=api, moto=moto, root=root)
    rows: list[tuple[str, Tally | str]] = []
    try:
        for name, scenario in chosen.items():
            missing = NEEDS.get(name, lambda: "")()
            if missing:
                rows.append((name, f"not run: {missing}"))
                continue
            tally = Tally()
            for _ in range(args.runs if name not in SLOW or args.slow_runs is None else args.slow_runs):
                try:
                    scenario(lab, tally)
                except Exception as exc:  # noqa: BLE001 - a scenario that blows up is a finding, not the end
                    tally.problems.append(f"{type(exc).__name__}: {str(exc)[:200]}")
                tally.runs += 1
            rows.append((name, tally))
            print(f"  {name}: {tally.runs} runs, {'ok' if not tally.problems else tally.problems[0]}", file=sys.stderr)
    finally:
        from filmstitch.testing.prefect_api import drain_prefect_services

        drain_prefect_services()
        lab.stop()
        moto.server.stop()
        stop_process_group(server)
        shutil.rmtree(root, ignore_errors=True)

    header = ("scenario", "runs tried", "faults injected", "films completed", "artifacts lost", "stale served",
              "stuck", "stages redone", "outcome")
    table = [header]
    for name, t in rows:
        if isinstance(t, str):  # not run: the server it needs is not installed
            table.append((name, "0", "-", "-", "-", "-", "-", "-", t))
        else:
            table.append((name, str(t.runs), str(t.faults), str(t.completed), str(t.lost), str(t.stale), str(t.stuck),
                          str(t.redone), outcome(t)))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    print("| " + " | ".join(cell.ljust(width) for cell, width in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    for row in table[1:]:
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " |")
    print(
        f"\n{sum(t.runs for _, t in rows if isinstance(t, Tally))} runs in {time.perf_counter() - started:.0f} s "
        f"(python benchmarks/reliability_report.py {' '.join(sys.argv[1:])})"
    )
    tallies = [t for _, t in rows if isinstance(t, Tally)]
    sys.exit(1 if any(t.problems or t.lost or t.stale or t.stuck or t.redone for t in tallies) else 0)


if __name__ == "__main__":
    main()
