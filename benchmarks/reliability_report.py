"""Reliability report: run each fault scenario a few times and print one table.

    python benchmarks/reliability_report.py [--runs 3] [--only crash,flaky-s3,...]

It starts its own Prefect server (SQLite) and S3 server (moto, behind a fault-injecting proxy where
a scenario asks for one) and makes small films (3 segments, 256x160, 8 fps) with the offline writer
and the animatic renderer (the Claude writer against a local fake of its API where named). Faults
come from filmstitch/testing/backend_faults.py (backends that fail or hang at a chosen call, SIGKILL) and
filmstitch/testing/flaky_proxy.py (S3 requests that fail, reset, stall or arrive damaged).

Columns, per scenario, summed over its runs:
  runs tried       how many times the scenario ran
  faults injected  SIGKILLs, failed backend calls, S3 faults, refused ids or credentials
  films completed  films that finished and verified (a film refused on purpose does not count)
  artifacts lost   artifacts stored before a fault that were gone, changed or corrupt after it (must be 0)
  stages redone    backend calls (renders, writer calls, assembly) beyond what the film needed plus one
                   retry per injected failure: work done twice after a crash or failure (must be 0)
  outcome          ok, or what went wrong
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # the table is the output; runs' logs stay quiet

from filmstitch.storage import FilmStore, open_store
from filmstitch.testing.crash_resume import PHASE_GATES, kill_and_resume, units_expected
from filmstitch.testing.backend_faults import CallLog, Fault
from filmstitch.testing.small_film import SmallFilm, Workspace, film_prefix, run_in_process
from filmstitch.testing.frames import film_frames, stored_frames, uninterrupted_frames

FILM = SmallFilm()
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
    redone: int = 0
    problems: list[str] = field(default_factory=list)

    def check(self, ok: bool, problem: str) -> None:
        if not ok:
            self.problems.append(problem)


@dataclass
class Lab:
    """The servers every scenario shares, and a fresh folder per run."""

    api: str
    moto: object
    root: Path

    def folder(self, name: str) -> Path:
        path = self.root / f"{name}-{uuid.uuid4().hex[:6]}"
        path.mkdir(parents=True)
        return path

    def bucket(self) -> object:
        from filmstitch.settings import StorageConfig
        from filmstitch.testing.s3 import REGION

        name = self.moto.create_bucket()
        return StorageConfig(kind="s3", bucket=name, prefix="films", endpoint_url=self.moto.endpoint_url, region=REGION)


def extra_calls(calls: dict[str, int], retries: int = 0) -> int:
    return max(0, sum(calls.values()) - sum(NEEDED.values()) - retries)


@contextlib.contextmanager
def in_process(lab: Lab, folder: Path, **env: str) -> Iterator[None]:
    """Prefect settings and FilmStitch environment for a flow run in this process."""
    from prefect.settings import PREFECT_API_URL, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    env = {"FILMSTITCH_STORAGE_DIR": str(folder / "films")} | env
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with temporary_settings(updates={PREFECT_API_URL: lab.api, PREFECT_LOCAL_STORAGE_PATH: folder / "results"}):
            yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# --------------------------------------------------------------------------- scenarios


def crash(phase: str) -> Callable[[Lab, Tally], None]:
    def scenario(lab: Lab, tally: Tally) -> None:
        outcome = kill_and_resume(Workspace(lab.folder(f"crash-{phase}"), lab.api), FILM, phase)
        tally.faults += 1
        same = outcome.film is not None and np.array_equal(
            film_frames(outcome.film), uninterrupted_frames(FILM, lab.api)
        )
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
    ideas = [
        "a fox finds a lantern",
        "two robots learn to dance",
        "a whale sings to a lighthouse",
        "a child builds a kite from maps",
        "an old clock stops at midnight",
    ]
    films = [SmallFilm(idea=idea, seed=n) for n, idea in enumerate(ideas)]
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


SCENARIOS: dict[str, Callable[[Lab, Tally], None]] = {
    **{f"crash in {phase} (SIGKILL), rerun": crash(phase) for phase in PHASE_GATES},
    "renders fail transiently (x3)": flaky_renderer,
    "a clip fails for good, rerun": renderer_fails_for_good,
    "writer overloaded (529, 503)": flaky_writer,
    "S3 through a flaky proxy (20%)": flaky_s3,
    "5 films at once, one bucket": five_at_once,
    "same film twice at once": same_film_twice,
    "2 films, one film id, at once": one_id_two_films,
    "missing bucket": broken_bucket("missing-bucket"),
    "wrong S3 credentials": broken_bucket("wrong-credentials"),
}


def outcome(tally: Tally) -> str:
    if tally.problems:
        return "FAIL: " + tally.problems[0][:60]
    return "FAIL: work lost or redone" if tally.lost or tally.redone else "ok"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="Runs per scenario.")
    parser.add_argument("--only", default="", help="Comma-separated words; run scenarios whose name has one.")
    args = parser.parse_args()
    chosen = {
        name: fn
        for name, fn in SCENARIOS.items()
        if not args.only or any(word.strip() in name for word in args.only.split(","))
    }

    from filmstitch.app.prefect_server import start_server, stop_server
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
    rows = []
    try:
        for name, scenario in chosen.items():
            tally = Tally()
            for _ in range(args.runs):
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
        moto.server.stop()
        stop_server(server)
        shutil.rmtree(root, ignore_errors=True)

    header = (
        "scenario",
        "runs tried",
        "faults injected",
        "films completed",
        "artifacts lost",
        "stages redone",
        "outcome",
    )
    table = [header] + [
        (name, str(t.runs), str(t.faults), str(t.completed), str(t.lost), str(t.redone), outcome(t)) for name, t in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    print("| " + " | ".join(cell.ljust(width) for cell, width in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    for row in table[1:]:
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " |")
    print(
        f"\n{sum(t.runs for _, t in rows)} runs in {time.perf_counter() - started:.0f} s "
        f"(python benchmarks/reliability_report.py --runs {args.runs})"
    )
    sys.exit(1 if any(t.problems or t.lost or t.redone for _, t in rows) else 0)


if __name__ == "__main__":
    main()
