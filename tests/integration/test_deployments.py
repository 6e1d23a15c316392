"""prefect.yaml and the ways it is put to work: `filmstitch server` (one command), Prefect's own CLI against
it, `prefect deploy --all` onto the process work pool with a Prefect worker making a film, and what happens
when `filmstitch server` is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from filmstitch.app.client import FilmStitchClient
from filmstitch.app.prefect_server import free_port, is_healthy, start_server, stop_process_group
from filmstitch.deployments.serve import deployment_specs, import_flow, schedules
from tests.support.served import REPO, serve_env

SMALL = {"segments": 2, "seconds_per_segment": 2.0, "width": 256, "height": 160, "fps": 8, "sound": False}


def test_prefect_yaml_declares_every_deployment() -> None:
    specs = {spec["name"]: spec for spec in deployment_specs()}
    assert set(specs) == {"make-film", "retake-film", "answer-checkpoint", "film-batch", "film-notice"}
    for name, spec in specs.items():
        assert import_flow(spec["entrypoint"]).name == name
        assert spec["work_pool"]["name"] == "filmstitch" and spec["description"]
    assert specs["make-film"].get("schedules") is None and specs["retake-film"].get("schedules") is None
    [nightly] = schedules(specs["film-batch"])
    assert nightly.cron == "0 2 * * *" and nightly.active is False  # off until someone turns it on
    [switched_on] = schedules(specs["film-batch"], {"nightly": True})  # ... and then it stays on
    assert switched_on.active is True and switched_on.parameters == {"ideas_file": "ideas.txt"}


def prefect(*args: str, api: str, cwd: Path = REPO, timeout: float = 180) -> subprocess.CompletedProcess:
    env = dict(os.environ, PREFECT_API_URL=api, COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "prefect", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


@contextmanager
def own_prefect_server(tmp_path: Path) -> Iterator[str]:
    """A Prefect server of this test's own (deployments registered here must not meet the session's)."""
    process, api = start_server(home=tmp_path / "prefect-home", log_path=tmp_path / "prefect.log", timeout_s=180)
    try:
        yield api
    finally:
        stop_process_group(process)


@pytest.mark.prefect_server
def test_prefect_deploy_all_and_a_worker_make_a_film(tmp_path: Path) -> None:
    """Prefect's own tools, as the docs tell a user: create the pool, `prefect deploy --all` from the repository,
    `prefect worker start`. The film lands where the (relative) settings say, seen from the repository."""
    with own_prefect_server(tmp_path) as api:
        assert prefect("work-pool", "create", "filmstitch", "--type", "process", api=api).returncode == 0
        deployed = prefect("--no-prompt", "deploy", "--all", api=api)
        assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
        listed = prefect("deployment", "ls", api=api)
        assert listed.returncode == 0
        assert all(name in listed.stdout for name in ("make-film/make-film", "retake-film/retake-film",
                                                        "film-batch/film-batch"))
        with FilmStitchClient(api) as films:
            run = films.create_film_run("a snail races a train", auto_pick=True, **SMALL)
            env = serve_env(api, tmp_path) | {"FILMSTITCH_STORAGE_DIR": "films-from-a-worker"}
            worker = subprocess.run(
                [sys.executable, "-m", "prefect", "worker", "start", "--pool", "filmstitch", "--run-once"],
                cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
            )
            assert worker.returncode == 0, worker.stdout[-3000:] + worker.stderr[-3000:]
            assert films.wait(run.id, timeout_s=60).state_type == "COMPLETED"
            film = Path(films.film(run.id).location)
    try:
        # The worker ran the flow in the repository (Prefect's default pull step), not in a temporary folder.
        assert film.is_relative_to(REPO / "films-from-a-worker") and film.stat().st_size > 1000
    finally:
        import shutil

        shutil.rmtree(REPO / "films-from-a-worker", ignore_errors=True)


@contextmanager
def filmstitch_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, str, str]]:
    """`filmstitch server` with its own Prefect server; yields (process, API URL, films URL)."""
    port, films_port = free_port(), free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = serve_env(api, tmp_path)
    env.pop("PREFECT_API_URL")  # the command starts its own server
    log = open(tmp_path / "server.log", "ab")  # noqa: SIM115 - open while the server runs
    process = subprocess.Popen(
        [sys.executable, "-m", "filmstitch.app.cli", "server", "--port", str(port), "--films-port", str(films_port)],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 150
        while not _registered(api):
            assert process.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()[-3000:]
            time.sleep(1)
        yield process, api, f"http://127.0.0.1:{films_port}"
    finally:
        stop_process_group(process)  # the whole group: also what a killed server's runner left behind
        log.close()


@pytest.mark.prefect_server
def test_filmstitch_server_serves_prefects_own_cli_and_stops_everything(tmp_path: Path) -> None:
    """The one documented command: a Prefect server whose UI talks to the right port, both deployments
    registered, the film server up; Prefect's CLI works against it; SIGTERM stops all of it."""
    with filmstitch_server(tmp_path) as (process, api, films_url):
        ui = api.removesuffix("/api")
        assert httpx.get(f"{ui}/ui-settings", timeout=10).json()["api_url"] == api
        assert httpx.get(f"{films_url}/films/nope/film.mp4", timeout=10).status_code == 404
        with FilmStitchClient(api) as films:
            run = films.create_film_run("a heron learns to read", auto_pick=True, **SMALL)
            assert films.wait(run.id, timeout_s=240).state_type == "COMPLETED"
        for command in (["deployment", "ls"], ["flow-run", "ls"], ["work-pool", "ls"], ["block", "ls"],
                        ["artifact", "ls"], ["flow-run", "logs", run.id], ["flow-run", "inspect", run.id]):
            result = prefect(*command, api=api, timeout=60)
            assert result.returncode == 0, f"prefect {' '.join(command)}: {result.stdout[-800:]}{result.stderr[-800:]}"
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=40) is not None
        _gone(api)


@pytest.mark.prefect_server
def test_a_killed_filmstitch_server_takes_its_prefect_server_along(tmp_path: Path) -> None:
    """SIGKILL leaves no Prefect server behind; the next `filmstitch server` on the same database marks the run it
    left running as Crashed instead of showing it running for ever, and leaves a suspended film (no process to
    lose) waiting: answered, it finishes."""
    with filmstitch_server(tmp_path) as (process, api, _):
        with FilmStitchClient(api) as films:
            waiting = films.create_film_run("a lantern looks for its flame", pause_timeout_s=3600, **SMALL)
            # A longer film, auto-picked: still running when the other one reaches its checkpoint.
            running = films.create_film_run("a kettle sings to the moon", auto_pick=True,
                                            **{**SMALL, "segments": 8, "width": 512, "height": 320})
            first = films.wait_for_checkpoint(waiting.id, timeout_s=180)  # suspended at the script checkpoint
            assert films.run(running.id).state_type == "RUNNING"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=20)
        _gone(api)
        # The flow run it was running ends too instead of going on alone.
        deadline = time.monotonic() + 20
        while _group_alive(process.pid):
            assert time.monotonic() < deadline, "a flow run outlived the killed filmstitch server"
            time.sleep(0.5)
    with filmstitch_server(tmp_path) as (_, api, _), FilmStitchClient(api) as films:
        deadline = time.monotonic() + 60  # the deployments are in the database already: the server may be starting
        while (state := films.run(running.id)).state_type == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.5)
        assert state.state_type == "CRASHED" and "Run the film again" in (state.message or "")
        assert films.run(waiting.id).state_name == "Suspended"
        asked = first
        for _ in ("references", "keyframes"):  # the script as written, then the recommended picks
            assert films.resume(waiting.id, {}).accepted
            asked = films.wait_for_checkpoint(waiting.id, after=asked, timeout_s=180)
        assert asked.name == "keyframes" and films.resume(waiting.id, {}).accepted
        assert films.wait(waiting.id, timeout_s=240).state_type == "COMPLETED"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def _gone(api: str) -> None:
    deadline = time.monotonic() + 20
    while is_healthy(api):
        assert time.monotonic() < deadline, "the Prefect server outlived `filmstitch server`"
        time.sleep(0.5)


def _registered(api: str) -> bool:
    try:
        return all(
            httpx.get(f"{api}/deployments/name/{name}", timeout=5).status_code == 200
            for name in ("make-film/make-film", "retake-film/retake-film", "film-batch/film-batch")
        )
    except httpx.HTTPError:
        return False
