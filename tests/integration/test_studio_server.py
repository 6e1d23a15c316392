"""`filmstitch server` as a studio runs it: on a real PostgreSQL with several process workers on one pool, with
notices through a webhook, with the writer limit a real Prefect global concurrency limit, and with every key
of prefect.yaml meaning the same to `prefect deploy --all` and to FilmStitch.

Each test starts its own Prefect server where it must (its deployments or database may not meet the session's);
the numbers they print (`-s`) are the ones docs/deployments.md quotes.
"""

from __future__ import annotations

import contextvars
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml

from filmstitch.app.client import FilmStitchClient, FilmStitchError
from filmstitch.app.prefect_server import free_port, stop_process_group
from filmstitch.testing.postgres import PostgresServer
from filmstitch.testing.webhook import WebhookReceiver
from tests.support.prefect import past_the_script
from tests.support.served import REPO, serve_env

SMALL = {"segments": 2, "seconds_per_segment": 2.0, "width": 256, "height": 160, "fps": 8, "sound": False}
DEPLOYMENTS = ("make-film/make-film", "film-batch/film-batch", "film-notice/film-notice")


@contextmanager
def studio_server(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, str, float]]:
    """`filmstitch server ARGS` with its own Prefect server; yields (API URL, films URL, seconds until every
    deployment was registered)."""
    port, films_port = free_port(), free_port()
    api = f"http://127.0.0.1:{port}/api"
    environment = serve_env(api, tmp_path) | (env or {})
    environment.pop("PREFECT_API_URL")  # the command starts its own server
    log_path = tmp_path / "server.log"
    started = time.monotonic()
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "filmstitch.app.cli", "server", "--port", str(port), "--films-port",
             str(films_port), *args], cwd=tmp_path, env=environment, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        while not _registered(api):
            assert process.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() - started < 240, log_path.read_text()[-3000:]
            time.sleep(0.5)
        yield api, f"http://127.0.0.1:{films_port}", time.monotonic() - started
    finally:
        stop_process_group(process)


def _registered(api: str) -> bool:
    try:
        return all(httpx.get(f"{api}/deployments/name/{name}", timeout=5).status_code == 200 for name in DEPLOYMENTS)
    except httpx.HTTPError:
        return False


# --------------------------------------------------------------------------- PostgreSQL, workers on one pool


@pytest.mark.prefect_server
def test_studio_on_postgresql_spreads_films_over_process_workers(postgres: PostgresServer, tmp_path: Path) -> None:
    """`filmstitch server --database-url ... --pool` and three `prefect worker start --pool filmstitch` (one film
    at a time each): three small films all finish, made by more than one worker (read from each run's log)."""
    database = postgres.create_database("studio")
    password_free = database  # the test database trusts local users: nothing secret to leak in this URL
    with studio_server(tmp_path, "--pool", env={"FILMSTITCH_DATABASE_URL": password_free}) as (api, _, start_s):
        print(f"\nfilmstitch server on PostgreSQL: deployments registered {start_s:.1f} s after the command")
        log = (tmp_path / "server.log").read_text()
        assert "PostgreSQL at 127.0.0.1" in log  # it said which database, and it was not SQLite
        workers = [_worker(api, tmp_path, f"worker-{i}") for i in range(3)]
        try:
            with FilmStitchClient(api) as films:
                started = time.monotonic()
                runs = [films.create_film_run(idea, auto_pick=True, **SMALL) for idea in
                        ("a kite befriends a lighthouse", "a mole opens a tiny cinema", "an owl learns to skate")]
                states = [films.wait(run.id, timeout_s=420) for run in runs]
                wall_s = time.monotonic() - started
        finally:
            for worker in workers:
                stop_process_group(worker)
        assert [state.state_type for state in states] == ["COMPLETED"] * 3
        made_by = {run.id: _worker_of(api, run.id) for run in runs}
        print(f"3 films in {wall_s:.0f} s; worker per film: {sorted(made_by.values())}")
        assert all(made_by.values()) and len(set(made_by.values())) >= 2, made_by
        # The runs are in PostgreSQL, not in a SQLite file under the Prefect home.
        assert not list((tmp_path / "home").glob("*.db"))


def _worker(api: str, root: Path, name: str) -> subprocess.Popen:
    env = serve_env(api, root) | {"PREFECT_WORKER_QUERY_SECONDS": "1", "FILMSTITCH_STORAGE_DIR": str(root / "films"),
                                  "PREFECT_HOME": str(root / name)}
    log = open(root / f"{name}.log", "ab")  # noqa: SIM115 - the worker keeps it
    return subprocess.Popen(
        [sys.executable, "-m", "prefect", "worker", "start", "--pool", "filmstitch", "--name", name, "--limit", "1"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )


def _worker_of(api: str, run_id: str) -> str | None:
    """The worker that ran the flow run, as its log in the Prefect UI says ("Worker 'x' submitting flow run")."""
    logs = httpx.post(f"{api}/logs/filter", json={"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200},
                      timeout=30).json()
    found = [m.group(1) for log in logs if (m := re.search(r"Worker '([^']+)' submitting", log["message"]))]
    return found[0] if found else None


# --------------------------------------------------------------------------- notices through a webhook


@pytest.mark.prefect_server
def test_notices_one_per_wait_and_per_failure_none_for_a_finished_film(tmp_path: Path) -> None:
    """The automations of prefect.yaml's film-notice deployment, made by `filmstitch server` (SQLite): a film
    waiting at its two checkpoints sends two messages with its review page; a batch whose film fails sends one
    for the film and one for the batch; a film that completes sends none."""
    with WebhookReceiver() as hook, studio_server(
        tmp_path, env={"FILMSTITCH_NOTIFY_WEBHOOK_URL": hook.url}
    ) as (api, films_url, start_s), FilmStitchClient(api) as films:
        print(f"\nfilmstitch server on SQLite: deployments registered {start_s:.1f} s after the command")
        automations = httpx.post(f"{api}/automations/filter", json={}, timeout=30).json()
        assert {a["name"] for a in automations} >= {"filmstitch: a film waits for a person",
                                                    "filmstitch: a film or a batch failed"}
        finished = films.create_film_run("a crab paints the tide", auto_pick=True, **SMALL)
        waiting = films.create_film_run("a robot waters a desert rose", pause_timeout_s=3600, **SMALL)
        batch = films.create_batch_run(["a broken clock keeps time"], film={**SMALL, "writer": "claude"})

        films.wait_for_checkpoint(waiting.id, timeout_s=300)  # the script checkpoint
        assert len(hook.wait_for(waiting.id, 1, timeout_s=120)) == 1  # told while it waits, before anyone answers
        references = past_the_script(films, waiting.id, timeout_s=300)
        films.resume(waiting.id).raise_for_reject()
        films.wait_for_checkpoint(waiting.id, after=references, timeout_s=300)
        films.resume(waiting.id).raise_for_reject()
        assert films.wait(waiting.id, timeout_s=300).state_type == "COMPLETED"
        assert films.wait(finished.id, timeout_s=300).state_type == "COMPLETED"
        with pytest.raises(FilmStitchError):  # the client's wait raises for a failed run
            films.wait(batch.id, timeout_s=300)
        assert films.run(batch.id).state_type == "FAILED"

        failed_films = [run["id"] for run in _runs(api, "make-film") if run["state_type"] in ("FAILED", "CRASHED")]
        hook.wait_for(batch.id, 1, timeout_s=120)
        for run_id in failed_films:
            hook.wait_for(run_id, 1, timeout_s=120)
        time.sleep(15)  # a notice that should not come would have come by now (they take a few seconds each)

        waits = hook.about(waiting.id)
        assert len(waits) == 3 and all(  # the script, references, keyframes
            f"{films_url}/review/{waiting.id}" in m["text"] for m in waits), waits
        assert all("waits for you" in m["subject"] for m in waits)
        assert len(hook.about(batch.id)) == 1 and "batch failed" in hook.about(batch.id)[0]["subject"]
        for run_id in failed_films:
            [notice] = hook.about(run_id)
            assert "film failed" in notice["subject"]
        assert hook.about(finished.id) == []
        assert len(hook.messages) == 3 + 1 + len(failed_films), hook.messages


def _runs(api: str, flow_name: str) -> list[dict]:
    runs = httpx.post(f"{api}/flow_runs/filter", json={"flows": {"name": {"any_": [flow_name]}}}, timeout=30).json()
    return [{"id": run["id"], "state_type": run["state_type"]} for run in runs]


# --------------------------------------------------------------------------- the writer limit


@pytest.mark.prefect_server
def test_writer_calls_take_a_prefect_global_concurrency_limit(prefect_client_settings: str) -> None:
    """`concurrency.writer_call`: the limit `filmstitch-writer` exists on the server after the first call (the
    UI's Concurrency page shows it), with the setting's size; a third caller waits while two hold it."""
    from filmstitch.concurrency import WRITER_LIMIT, writer_call

    api = prefect_client_settings
    httpx.delete(f"{api}/v2/concurrency_limits/{WRITER_LIMIT}", timeout=10)  # a fresh limit for this test
    inside, release, done = [], threading.Event(), []

    def call(number: int) -> None:
        with writer_call(2):
            inside.append(number)
            release.wait(60)
        done.append(number)

    # Each thread with this test's Prefect settings (they live in a context variable).
    threads = [threading.Thread(target=contextvars.copy_context().run, args=(call, n)) for n in range(3)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while (limit := _limit(api, WRITER_LIMIT)) is None or limit["active_slots"] < 2:
        assert time.monotonic() < deadline, f"two writer calls never held the limit: {limit}"
        time.sleep(0.2)
    assert limit["limit"] == 2 and limit["active"] is True
    time.sleep(2)  # the third caller keeps asking the server for a slot meanwhile, and is refused
    assert len(inside) == 2
    release.set()
    for thread in threads:
        thread.join(60)
    assert sorted(done) == [0, 1, 2] and _limit(api, WRITER_LIMIT)["active_slots"] == 0


def _limit(api: str, name: str) -> dict | None:
    response = httpx.get(f"{api}/v2/concurrency_limits/{name}", timeout=10)
    return response.json() if response.status_code == 200 else None


# --------------------------------------------------------------------------- prefect.yaml means the same


STUDIO_YAML = {
    "name": "filmstitch-keys",
    "prefect-version": "3.8.8",
    "build": None,
    "push": None,
    "deployments": [{
        "name": "notice-{way}",
        "entrypoint": "flows/notices.py:film_notice",
        "description": "every key",
        "tags": ["filmstitch", "keys"],
        "version": "7.1",
        "parameters": {"event": "prefect.flow-run.Failed"},
        "enforce_parameter_schema": False,
        "paused": True,
        "concurrency_limit": {"limit": 3, "collision_strategy": "CANCEL_NEW"},
        "schedules": [{"interval": 3600, "active": False, "slug": "hourly"}],
        "work_pool": {"name": "keys-pool", "work_queue_name": "slow", "job_variables": {"env": {"KEYS": "1"}}},
        "pull": [{"prefect.deployments.steps.set_working_directory": {"directory": "/srv/films"}}],
        "triggers": [{"name": "keys-{way}", "match": {"prefect.resource.id": "prefect.flow-run.*"},
                      "expect": ["prefect.flow-run.Failed"], "posture": "Reactive", "threshold": 1,
                      "parameters": {"flow_run": "{{ event.resource.id }}", "event": "{{ event.event }}"}}],
    }],
}
COMPARED = ("description", "tags", "version", "parameters", "enforce_parameter_schema", "paused", "concurrency_options",
            "work_pool_name", "work_queue_name", "job_variables", "pull_steps")


@pytest.mark.prefect_server
def test_every_prefect_yaml_key_means_the_same_to_prefect_deploy_and_filmstitch(
    prefect_client_settings: str, tmp_path: Path
) -> None:
    """The same deployment, every key set, registered by `prefect deploy --all` and by FilmStitch (`--register-only`,
    what `filmstitch server --pool` does): the two deployments and their automations agree field by field."""
    from filmstitch.deployments.serve import register

    api = prefect_client_settings
    for way in ("deploy", "filmstitch"):
        text = yaml.safe_dump(STUDIO_YAML).replace("{way}", way)
        (tmp_path / f"{way}.yaml").write_text(text)
    httpx.post(f"{api}/work_pools/", json={"name": "keys-pool", "type": "process"}, timeout=10)
    deployed = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all", "--prefect-file",
         str(tmp_path / "deploy.yaml")], cwd=REPO, env=serve_env(api, tmp_path), capture_output=True, text=True,
        timeout=240, check=False,
    )
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
    register(tmp_path / "filmstitch.yaml")
    ours, theirs = (httpx.get(f"{api}/deployments/name/film-notice/notice-{way}", timeout=10).json()
                    for way in ("filmstitch", "deploy"))
    for key in COMPARED:
        assert ours[key] == theirs[key], f"{key}: filmstitch {ours[key]!r}, prefect deploy {theirs[key]!r}"
    # The deployment's limit is a global concurrency limit of its own (Prefect 3.8 answers concurrency_limit: None).
    assert ours["global_concurrency_limit"]["limit"] == theirs["global_concurrency_limit"]["limit"] == 3
    assert ours["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
    assert ours["pull_steps"][0] == STUDIO_YAML["deployments"][0]["pull"][0]
    assert [(s["schedule"]["interval"], s["active"], s["slug"]) for s in ours["schedules"]] == \
        [(s["schedule"]["interval"], s["active"], s["slug"]) for s in theirs["schedules"]] == \
        [(3600.0, False, "hourly")]
    automations = {a["name"]: a for a in httpx.post(f"{api}/automations/filter", json={}, timeout=10).json()}
    mine, deploys = automations["keys-filmstitch"], automations["keys-deploy"]
    assert {**mine["trigger"], "id": None} == {**deploys["trigger"], "id": None}  # each trigger has its own id
    assert [a["parameters"] for a in mine["actions"]] == [a["parameters"] for a in deploys["actions"]]
    assert mine["actions"][0]["deployment_id"] == ours["id"] and deploys["actions"][0]["deployment_id"] == theirs["id"]
