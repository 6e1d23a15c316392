"""A studio on one machine, for the load-and-fault test and benchmark: `filmstitch server
--pool` on a real PostgreSQL, and `prefect worker start --pool filmstitch --type process` workers, each its own
process (its own session, so a SIGKILL of one takes nothing else with it).

Everything is read back from the Prefect server over REST: which worker ran each flow run (the worker's
"Worker 'NAME' submitting flow run" log line, stored with the run), every run's state history, the films of a
batch (the tag `film-batch:<batch run name>`). What was rendered comes from the films' manifests: a part made
again has a later `written_at` than a snapshot of it, or a second take.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from filmstitch.app.prefect_server import free_port, stop_process_group
from filmstitch.settings import StorageConfig
from filmstitch.storage import FilmStore
from filmstitch.testing.prefect_api import state_history
from filmstitch.testing.processes import flow_run_processes

REPO = Path(__file__).resolve().parents[2]
POOL = "filmstitch"
DEPLOYMENTS = ("make-film/make-film", "film-batch/film-batch")
#: The small film of these measurements: 2 segments of 2 s at 256x160, 8 fps, offline writer, animatic renderer.
SMALL: dict[str, Any] = {"segments": 2, "seconds_per_segment": 2.0, "width": 256, "height": 160, "fps": 8,
                         "sound": False, "writer": "offline", "renderer": "animatic"}
FAILURES = {"FAILED", "CRASHED"}
T = TypeVar("T")


@dataclass
class Studio:
    """`filmstitch server --pool` on `database_url` and its workers, every file under `root`."""

    root: Path
    database_url: str
    #: Seconds between a flow run's heartbeats (None: Prefect's 180; at least 30); a batch takes a film that misses
    #: three for dead and runs it again (flows/film_batch.py, crash_if_orphaned).
    heartbeat_s: int | None = None
    port: int = field(default_factory=free_port)
    films_port: int = field(default_factory=free_port)
    server: subprocess.Popen | None = None
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)
    all_workers: set[str] = field(default_factory=set)  # every worker started, killed ones too

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def films_dir(self) -> Path:
        return self.root / "films"

    def env(self, home: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("FILMSTITCH_", "PREFECT_", "ANTHROPIC_"))}
        return base | {
            "PREFECT_API_URL": self.api, "PREFECT_HOME": str(self.root / home),
            # Results (the persisted FilmResults) must be readable by every worker and by the batch.
            "PREFECT_LOCAL_STORAGE_PATH": str(self.root / "results"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_RUNNER_POLL_FREQUENCY": "1",
            "PREFECT_WORKER_QUERY_SECONDS": "1", "PYTHONPATH": str(REPO),
            "FILMSTITCH_STORAGE_DIR": str(self.films_dir), "FILMSTITCH_WRITER": "offline",
            "FILMSTITCH_RENDERER": "animatic", "FILMSTITCH_DATABASE_URL": self.database_url,
        } | ({"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(self.heartbeat_s)} if self.heartbeat_s else {})

    def start_server(self, timeout_s: float = 300) -> float:
        """Start `filmstitch server --pool` (it starts Prefect's server on PostgreSQL and registers the
        deployments); returns the seconds until both deployments answered."""
        started = time.monotonic()
        env = self.env("server-home")
        env.pop("PREFECT_API_URL")  # the command starts its own server on --port
        with open(self.root / "server.log", "ab") as log:
            self.server = subprocess.Popen(
                [sys.executable, "-m", "filmstitch.app.cli", "server", "--pool", "--port", str(self.port),
                 "--films-port", str(self.films_port)],
                cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        while not self.registered():
            if self.server.poll() is not None:
                raise RuntimeError(f"filmstitch server exited: {self.log_tail('server.log')}")
            if time.monotonic() - started > timeout_s:
                raise RuntimeError(f"deployments not registered in {timeout_s:.0f} s: {self.log_tail('server.log')}")
            time.sleep(0.5)
        return time.monotonic() - started

    def registered(self) -> bool:
        try:
            return all(httpx.get(f"{self.api}/deployments/name/{name}", timeout=5).status_code == 200
                       for name in DEPLOYMENTS)
        except httpx.HTTPError:
            return False

    def stop_process_group(self) -> None:
        if self.server is not None:
            stop_process_group(self.server)
            self.server = None

    def restart_server(self, timeout_s: float = 300) -> float:
        """Stop `filmstitch server` (and the Prefect server it runs) and start it again on the same port and
        database; returns the seconds the API was away."""
        started = time.monotonic()
        self.stop_process_group()
        self.start_server(timeout_s)
        return time.monotonic() - started

    def start_worker(self, name: str, limit: int = 2) -> subprocess.Popen:
        """`prefect worker start --pool filmstitch --type process --name NAME --limit N` in its own session."""
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - the worker keeps it
        worker = subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--type", "process", "--name", name,
             "--limit", str(limit)],
            cwd=self.root, env=self.env(f"{name}-home"), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.workers[name] = worker
        self.all_workers.add(name)
        return worker

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker's own process (not the flow-run processes it started: they run in sessions of
        their own, as Prefect's process worker starts them)."""
        worker = self.workers.pop(name)
        worker.kill()
        worker.wait(30)

    def stop(self) -> None:
        for worker in self.workers.values():
            stop_process_group(worker)
        self.workers.clear()
        self.stop_process_group()

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.root / name
        return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"

    # ------------------------------------------------------------------ read from the server

    def run(self, run_id: str) -> dict:
        return httpx.get(f"{self.api}/flow_runs/{run_id}", timeout=30).json()

    def batch_films(self, batch_run_id: str) -> list[dict]:
        """Every make-film run the batch started (reruns after a crash included)."""
        name = self.run(batch_run_id)["name"]
        body = {"flow_runs": {"tags": {"all_": [f"film-batch:{name}"]}}, "limit": 200}
        return httpx.post(f"{self.api}/flow_runs/filter", json=body, timeout=30).json()

    def worker_of(self, run_id: str) -> str | None:
        """The worker that ran the flow run. Several workers may try to take a run at once: each logs "Worker
        'NAME' submitting flow run 'ID'" (those lines reach the server too, so the server's logs of the run
        name them all), and the losers "Aborted submission of flow run 'ID'" (a line that names no worker on
        the server). So this reads each worker's own log: the one that submitted the run and did not abort."""
        for name in sorted(self.all_workers):
            log = self.log_tail(f"{name}.log", chars=10**8)
            if f"submitting flow run '{run_id}'" in log and f"Aborted submission of flow run '{run_id}'" not in log:
                return name
        return None

    def worker_running(self, run_id: str) -> str | None:
        """The live worker whose process started the flow run's live process (its parent), or None. Read from
        the process tree, not the logs: right after a run starts, the worker that will abort its submission has
        not written so yet."""
        workers = {worker.pid: name for name, worker in self.workers.items()}
        for pid in flow_run_processes(run_id):
            for _ in range(4):  # up the tree: the worker, or a process between it and the run
                with contextlib.suppress(OSError, IndexError, ValueError):
                    pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
                if pid in workers:
                    return workers[pid]
        return None

    def history(self, run_id: str) -> list[tuple[str, str]]:
        return state_history(self.api, run_id)


def wait_for(condition: Callable[[], T | None], timeout_s: float, what: str, poll_s: float = 0.5) -> T:
    """Poll `condition()` until it returns something truthy; raise naming `what` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout_s:.0f} s")
        time.sleep(poll_s)
    return value


def written(store: FilmStore) -> dict[str, str]:
    """Every stored part of a film and when it was written."""
    return {key: entry["written_at"] for key, entry in store.manifest().get("artifacts", {}).items()}


def made_twice(store: FilmStore, before: dict[str, str] | None = None) -> int:
    """Parts of the film made more than once: a part of the snapshot `before` written again later, and every
    take beyond the first of a part (a rerun that did not find its stored part makes a second one)."""
    after = written(store)
    rewritten = sum(1 for key, at in (before or {}).items() if after.get(key) != at)
    extra_takes = sum(len(takes) - 1 for takes in store.manifest().get("takes", {}).values())
    return rewritten + extra_takes


def film_store(studio: Studio, film_id: str) -> FilmStore:
    return FilmStore.open(StorageConfig(root=str(studio.films_dir)), film_id)


def film_id_of(run: dict) -> str:
    """The film id a make-film run works on (its `film_id` parameter, else the one its request names)."""
    from filmstitch.models import FilmRequest

    return run["parameters"].get("film_id") or FilmRequest.model_validate(run["parameters"]["request"]).film_id()


@dataclass
class Figures:
    """What a batch under faults came to, read from the server and the films' stores."""

    films: int = 0
    finished: int = 0
    lost: int = 0
    stuck: int = 0
    made_twice: int = 0
    failure_states: int = 0
    crash_rows: int = 0
    per_worker: Counter[str] = field(default_factory=Counter)
    wall_s: float = 0.0
    problems: list[str] = field(default_factory=list)

    def row(self) -> str:
        workers = ", ".join(f"{name}: {count}" for name, count in sorted(self.per_worker.items()))
        return (f"films {self.films}, finished {self.finished}, lost {self.lost}, stuck {self.stuck}, "
                f"rendered twice {self.made_twice}, failure states {self.failure_states} "
                f"(crash rows {self.crash_rows}), per worker {{{workers}}}, wall {self.wall_s:.0f} s")


def batch_figures(studio: Studio, batch_run_id: str, ideas: list[str], snapshots: dict[str, dict[str, str]],
                  wall_s: float) -> Figures:
    """Count a finished (or timed-out) batch: one film per idea, however many runs it took.

    finished: an idea with a COMPLETED make-film run whose film file exists; lost: an idea with no run at all
    or whose runs all ended without a film; stuck: an idea whose last run is not final; failure states:
    FAILED/CRASHED states in the history of a COMPLETED run (a run that crashed and was replaced by another run
    of the same film is a crash row, allowed only when the film finished)."""
    figures = Figures(films=len(ideas), wall_s=wall_s)
    runs = studio.batch_films(batch_run_id)
    batch_name = studio.run(batch_run_id)["name"]
    from filmstitch.models import slugify

    for idea in ideas:
        mine = [r for r in runs if r["name"] == f"{batch_name}-{slugify(idea, 40)}"]
        completed = [r for r in mine if r["state_type"] == "COMPLETED"]
        if any(r["state_type"] not in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for r in mine):
            figures.stuck += 1
            figures.problems.append(f"{idea!r}: a run is still {[r['state_name'] for r in mine]}")
        elif not completed:
            figures.lost += 1
            figures.problems.append(f"{idea!r}: no completed run ({[r['state_name'] for r in mine]})")
        for run in mine:
            kinds = {kind for kind, _ in studio.history(run["id"])}
            if run["state_type"] == "COMPLETED":
                figures.failure_states += len(kinds & FAILURES)
                if kinds & FAILURES:
                    figures.problems.append(f"{idea!r}: {' -> '.join(n for _, n in studio.history(run['id']))}")
                figures.per_worker[studio.worker_of(run["id"]) or "?"] += 1
            elif run["state_type"] == "CRASHED":
                figures.crash_rows += 1
        if completed:
            figures.finished += 1
    for film_id, before in snapshots.items():
        figures.made_twice += made_twice(film_store(studio, film_id), before)
    for film_id in stored_films(studio):
        if film_id not in snapshots:
            figures.made_twice += made_twice(film_store(studio, film_id))
    return figures


def stored_films(studio: Studio) -> list[str]:
    """The ids of the films under the studio's film folder (one folder with a manifest each)."""
    return sorted(path.parent.name for path in studio.films_dir.glob("*/manifest.json"))


def rendering_film(studio: Studio, runs: list[dict], not_on: set[str]) -> tuple[dict, str, str] | None:
    """A make-film run that is rendering now (Running, its process alive, some parts stored) on a live worker
    not in `not_on`: (run, worker, film id), or None."""
    for run in runs:
        if run["state_type"] != "RUNNING":
            continue
        worker = studio.worker_running(run["id"])
        if worker is None or worker in not_on:
            continue
        film_id = film_id_of(run)
        if film_store(studio, film_id).manifest().get("artifacts"):
            return run, worker, film_id
    return None
