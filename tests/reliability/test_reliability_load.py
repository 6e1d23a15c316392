"""Concurrency: many films against one Prefect server and one S3 bucket.

Every film runs in its own process through the real CLI, all at once, sharing the Prefect server,
the Prefect result folder and the bucket. Each process logs every storage key it touches
(``--record-storage``), so "no film reads or writes another's artifacts" is observed, not assumed.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import psutil
import pytest

from filmstitch.storage import FilmStore, open_store
from filmstitch.testing.backend_faults import CallLog
from filmstitch.testing.frames import stored_frames, uninterrupted_frames
from filmstitch.testing.prefect_api import drain_prefect_services
from filmstitch.testing.s3 import S3Bucket
from filmstitch.testing.small_film import SmallFilm, Workspace, film_prefix

pytestmark = pytest.mark.prefect_server

IDEAS = [
    "a fox finds a lantern in the snow",
    "two robots learn to dance in a junkyard",
    "a whale sings to a lonely lighthouse",
    "a child builds a kite from old maps",
    "an old clock stops at midnight in a bakery",
]


@pytest.fixture(autouse=True, scope="module")
def _drained() -> Iterator[None]:
    yield
    drain_prefect_services()


def s3_workspace(root: Path, api: str, bucket: S3Bucket) -> Workspace:
    """A workspace whose films go to `bucket`, with the fixture's (fake) credentials passed on."""
    credentials = {k: os.environ[k] for k in ("FILMSTITCH_S3_ACCESS_KEY_ID", "FILMSTITCH_S3_SECRET_ACCESS_KEY")}
    return Workspace(root, api, env_extra=credentials, storage=bucket.config)


def bucket_keys(bucket: S3Bucket) -> list[str]:
    pages = bucket.client.get_paginator("list_objects_v2").paginate(Bucket=bucket.name)
    return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


def touched(log: CallLog, *ops: str) -> set[str]:
    """Storage keys (relative to the store's prefix) the process read, wrote, listed or looked up."""
    return {row["key"] for row in log.events("storage") if not ops or row["op"] in ops}


def test_five_films_at_once_each_stay_in_their_own_prefix(
    prefect_api: str, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    ws = s3_workspace(tmp_path, prefect_api, s3_bucket)
    films = [SmallFilm(idea=idea, seed=n) for n, idea in enumerate(IDEAS)]
    logs = [CallLog(tmp_path / f"film{n}.jsonl") for n in range(len(films))]

    runs = [ws.start(film, log, record=True, name=f"film{n}") for n, (film, log) in enumerate(zip(films, logs))]
    for run in runs:
        run.wait(timeout=420)

    assert [run.returncode for run in runs] == [0] * 5, "\n\n".join(run.tail(1500) for run in runs if run.returncode)
    ids = [film.id() for film in films]
    assert len(set(ids)) == 5
    for film, log, run in zip(films, logs, runs):
        store = ws.store(film)
        prefix = film_prefix(film.id())
        assert run.stdout.strip().endswith(f"/{prefix}film.mp4")
        outside = sorted(key for key in touched(log) if not key.startswith(prefix))
        assert outside == [], f"{film.idea!r} touched another prefix: {outside[:5]}"
        assert touched(log, "put", "update") >= {f"{prefix}film.mp4", f"{prefix}manifest.json"}
        manifest = store.manifest()
        assert manifest["film_id"] == film.id() and manifest["status"] == "finished"
        assert store.get_json("plan/plan.json")["request"]["idea"] == film.idea
        assert store.verify().problems == []

    # The bucket holds exactly the five films: each object is in its own film's manifest.
    expected = {
        f"{s3_bucket.config.prefix}/{film_prefix(i)}{key}"
        for i in ids
        for key in [*ws.store(SmallFilm(film_id=i)).manifest()["artifacts"], "manifest.json", "film.json",
                    "estimate.json"]
    }
    assert sorted(bucket_keys(s3_bucket)) == sorted(expected)

    # And all five ran on the one Prefect server, to completion.
    runs_on_server = httpx.post(
        f"{prefect_api}/flow_runs/filter",
        json={"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}, "sort": "START_TIME_DESC", "limit": 50},
    ).json()
    assert set(IDEAS) <= {(r["parameters"].get("request") or {}).get("idea") for r in runs_on_server}


def test_the_same_film_twice_at_once_gives_one_intact_film(
    prefect_api: str, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    ws = s3_workspace(tmp_path, prefect_api, s3_bucket)
    film = SmallFilm()
    logs = [CallLog(tmp_path / f"twin{n}.jsonl") for n in range(2)]

    runs = [ws.start(film, log, record=True, name=f"twin{n}") for n, log in enumerate(logs)]
    for run in runs:
        run.wait(timeout=300)

    # Identical inputs, identical work: both may finish, and they name the same film.
    assert [run.returncode for run in runs] == [0, 0], "\n\n".join(run.tail(1500) for run in runs)
    assert runs[0].stdout.strip().splitlines()[-1] == runs[1].stdout.strip().splitlines()[-1]
    store = ws.store(film)
    assert store.verify().problems == [] and store.manifest()["status"] == "finished"
    assert np.array_equal(stored_frames(store, tmp_path), uninterrupted_frames(film, prefect_api))
    prefix = f"{s3_bucket.config.prefix}/{film_prefix(film.id())}"
    assert sorted(bucket_keys(s3_bucket)) == sorted(
        [prefix + key for key in [*store.manifest()["artifacts"], "manifest.json", "film.json", "estimate.json"]]
    )


def test_two_different_films_under_one_id_at_once_one_wins_cleanly(
    prefect_api: str, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    ws = s3_workspace(tmp_path, prefect_api, s3_bucket)
    films = [SmallFilm(film_id="one-id-two-films", seed=7), SmallFilm(film_id="one-id-two-films", seed=8)]
    logs = [CallLog(tmp_path / f"rival{n}.jsonl") for n in range(2)]

    runs = [ws.start(film, log, record=True, name=f"rival{n}") for n, (film, log) in enumerate(zip(films, logs))]
    for run in runs:
        run.wait(timeout=300)

    codes = [run.returncode for run in runs]
    assert sorted(codes) == [0, 1], "\n\n".join(run.tail(1500) for run in runs)
    winner, loser = (0, 1) if codes[0] == 0 else (1, 0)
    refusal = " ".join(runs[loser].stderr.split())
    assert "film id 'one-id-two-films' already holds a different film" in refusal, refusal[-1500:]
    # The loser wrote nothing but its attempt to claim the id; it rendered nothing.
    prefix = film_prefix("one-id-two-films")
    assert touched(logs[loser], "put", "update") == {f"{prefix}film.json"}
    assert not any(row["event"] == "start" for row in logs[loser].events())

    store = FilmStore(open_store(s3_bucket.config), "one-id-two-films")
    assert store.verify().problems == [] and store.manifest()["request"]["seed"] == films[winner].seed
    alone = uninterrupted_frames(dataclasses.replace(films[winner], film_id=None), prefect_api)
    assert np.array_equal(stored_frames(store, tmp_path), alone)


def prefect_servers_of(home: Path) -> list[psutil.Process]:
    """Prefect server processes still running with `home` as their PREFECT_HOME."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            cmdline = " ".join(process.info["cmdline"] or [])
            if "prefect" in cmdline and "server" in cmdline and process.environ().get("PREFECT_HOME") == str(home):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def test_three_cli_films_at_once_each_with_its_own_prefect_server_all_finish(tmp_path: Path) -> None:
    """Three `filmstitch make --auto` started together with no PREFECT_API_URL, as a person starts them in three
    terminals: each starts a temporary Prefect server of its own (all on the one Prefect home and its SQLite
    database) on this busy machine. All three finish, their films verify, and no server is left running."""
    ws = Workspace(tmp_path, api_url=None)
    films = [SmallFilm(idea=idea, seed=n, seconds=1.0) for n, idea in enumerate(IDEAS[:3])]
    logs = [CallLog(tmp_path / f"cli{n}.jsonl") for n in range(len(films))]

    runs = [ws.start(film, log, name=f"cli{n}") for n, (film, log) in enumerate(zip(films, logs))]
    for run in runs:
        run.wait(timeout=900)

    assert [run.returncode for run in runs] == [0, 0, 0], "\n\n".join(run.tail(2000) for run in runs if run.returncode)
    for film, run in zip(films, runs):
        assert "Starting a local Prefect server" in run.stderr
        path = run.film_path()
        store = ws.store(film)
        assert path == Path(ws.config.root) / film.id() / "film.mp4" and path.is_file()
        report = store.verify()
        assert report.healthy and report.problems == [], report
        assert store.manifest()["status"] == "finished"
        assert store.get_json("plan/plan.json")["request"]["idea"] == film.idea
    assert prefect_servers_of(tmp_path / "prefect-home") == []
