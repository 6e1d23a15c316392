"""prefect.yaml and the ways it is put to work: `filmstitch server` (one command), and registration on
the process work pool with a Prefect worker executing a run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx
import pytest

from filmstitch.deployments.serve import deployment_specs, import_flow, register, schedules
from filmstitch.app.client import FilmStitchClient
from filmstitch.app.prefect_server import free_port, is_healthy
from tests.support.served import serve_env, stop_process_group

SMALL = dict(segments=2, seconds_per_segment=2.0, width=256, height=160, fps=8)


def test_prefect_yaml_declares_both_deployments() -> None:
    specs = {spec["name"]: spec for spec in deployment_specs()}
    assert set(specs) == {"make-film", "film-batch"}
    for name, spec in specs.items():
        assert import_flow(spec["entrypoint"]).name == name
        assert spec["work_pool"]["name"] == "filmstitch" and spec["description"]
    assert specs["make-film"].get("schedules") is None
    [nightly] = schedules(specs["film-batch"])
    assert nightly.cron == "0 2 * * *" and nightly.active is False  # off until someone turns it on
    [switched_on] = schedules(specs["film-batch"], {"nightly": True})  # ... and then it stays on
    assert switched_on.active is True and switched_on.parameters == {"ideas_file": "ideas.txt"}


@pytest.mark.prefect_server
def test_registered_on_the_work_pool_and_run_by_a_worker(prefect_client_settings: str, tmp_path: Path) -> None:
    """`--register-only` + `prefect worker start --pool filmstitch`: the worker runs the flow by module path,
    from any directory. (The `-pool` suffix keeps these apart from the session's served deployments.)"""
    assert len(register(suffix="-pool")) == 2
    api = prefect_client_settings
    pool = httpx.get(f"{api}/work_pools/filmstitch", timeout=10).json()
    assert pool["type"] == "process"
    with FilmStitchClient(api) as films:
        run = films.create_film_run("a snail races a train", deployment="make-film/make-film-pool", auto_pick=True,
                                    **SMALL)
        env = serve_env(api, tmp_path)
        worker = subprocess.run(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", "filmstitch", "--run-once"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240,
        )
        assert worker.returncode == 0, worker.stdout[-3000:] + worker.stderr[-3000:]
        assert films.wait(run.id, timeout_s=60).state_type == "COMPLETED"
        film = Path(unquote(urlparse(films.film(run.id).url).path))
    assert film.is_relative_to(tmp_path / "films") and film.stat().st_size > 1000


@pytest.mark.prefect_server
def test_filmstitch_server_starts_everything_and_stops_it(tmp_path: Path) -> None:
    """The one documented command: a Prefect server whose UI talks to the right port, both deployments
    registered, the GPU limit created; SIGTERM stops all of it."""
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = serve_env(api, tmp_path)
    env.pop("PREFECT_API_URL")  # the command starts its own server
    with open(tmp_path / "server.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "filmstitch.app.cli", "server", "--port", str(port)],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 150
        while not _registered(api):
            assert process.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()[-3000:]
            time.sleep(1)
        assert httpx.get(f"http://127.0.0.1:{port}/ui-settings", timeout=10).json()["api_url"] == api
        limit = httpx.get(f"{api}/v2/concurrency_limits/filmstitch-gpu", timeout=10).json()
        assert limit["limit"] == 2
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=40) is not None
        deadline = time.monotonic() + 20
        while is_healthy(api):
            assert time.monotonic() < deadline, "the Prefect server outlived `filmstitch server`"
            time.sleep(0.5)
    finally:
        stop_process_group(process)


def _registered(api: str) -> bool:
    try:
        return all(
            httpx.get(f"{api}/deployments/name/{name}", timeout=5).status_code == 200
            for name in ("make-film/make-film", "film-batch/film-batch")
        )
    except httpx.HTTPError:
        return False
