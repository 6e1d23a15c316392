"""film-batch: a served batch of three ideas (one invalid) made as top-level make-film runs, a film whose process
dies, where ideas come from, what a film cost."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import boto3
import httpx
import pytest
from moto import mock_aws

from filmstitch.app.client import FilmStitchClient, FilmStitchError
from filmstitch.deployments.serve import switched_schedules
from filmstitch.flows.film_batch import collect_ideas, film_cost, ideas_from_s3, read_ideas_text
from filmstitch.models import FilmRequest
from filmstitch.settings import StorageConfig
from filmstitch.storage import FilmStore
from filmstitch.testing.prefect_api import state_history
from tests.support.processes import flow_run_processes
from tests.support.served import Served

SMALL = {"segments": 2, "seconds_per_segment": 2.0, "width": 256, "height": 160, "fps": 8, "sound": False}
GOOD_IDEAS = ["a paper boat sails down a rainy street", "two robots share one umbrella"]
TOO_LONG = "a story " * 300  # 2400 characters: FilmRequest refuses more than 2000


@pytest.mark.prefect_server
def test_batch_of_three_ideas_one_invalid(served_deployments: Served, tmp_path: Path) -> None:
    api = served_deployments.api_url
    ideas_file = tmp_path / "ideas.txt"
    ideas_file.write_text(f"# tonight's films\n\n{GOOD_IDEAS[1]}\n")
    with FilmStitchClient(api) as films:
        run = films.create_batch_run([GOOD_IDEAS[0], TOO_LONG], ideas_file=str(ideas_file), parallel_films=2,
                                     film=SMALL)
        with pytest.raises(FilmStitchError, match="2 of 3 films made, 1 failed"):
            films.wait(run.id, timeout_s=300)
        # The report: idea -> film, status, duration, cost; the bad idea is a clear failure, in input order.
        rows = films.batch_report(run.id)
    assert [r["status"] for r in rows] == ["finished", "failed", "finished"]
    assert rows[0]["idea"] == GOOD_IDEAS[0] and rows[2]["idea"] == GOOD_IDEAS[1]
    assert rows[1]["idea"].endswith("...") and len(rows[1]["idea"]) <= 120
    assert "idea" in rows[1]["error"] and "the limit is 2000" in rows[1]["error"] and not rows[1]["film"]
    assert all(r["duration_s"] > 0 for r in rows)
    for row in (rows[0], rows[2]):
        film = Path(row["film"])
        assert film.is_relative_to(served_deployments.storage_dir) and film.stat().st_size > 1000
        # 2 clips of 16 frames and the closing keyframe (each boundary frame once): 33 frames at 8 fps.
        assert row["film_seconds"] == pytest.approx(33 / 8, abs=0.01) and row["title"] and row["error"] == ""
        assert row["cost_usd"] == 0.0  # the offline writer's calls and the animatic's CPU-seconds cost nothing
        assert json.loads((film.parent / "picks" / "keyframes.json").read_text())["picked_by"] == "auto"

    # One top-level make-film deployment run per valid idea (its own Cancel and Retry), tagged with the batch;
    # the invalid idea was refused before any run. No film is a subflow of the batch.
    batch = films_run_name(api, run.id)
    body = {"flow_runs": {"tags": {"all_": [f"film-batch:{batch}"]}}}
    children = httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10).json()
    assert sorted(c["state"]["type"] for c in children) == ["COMPLETED", "COMPLETED"]
    assert all(c["parameters"]["auto_pick"] is True and c["deployment_id"] for c in children)
    assert all(c["parent_task_run_id"] is None and c["name"].startswith(f"{batch}-") for c in children)
    subflows = httpx.post(f"{api}/flow_runs/filter", json={"flow_runs": {"parent_flow_run_id": {"any_": [run.id]}}},
                          timeout=10).json()
    assert subflows == []
    for child in children:
        assert not {"FAILED", "CRASHED"} & {kind for kind, _ in state_history(api, child["id"])}


def films_run_name(api: str, run_id: str) -> str:
    return httpx.get(f"{api}/flow_runs/{run_id}", timeout=10).json()["name"]


@pytest.mark.prefect_server
def test_a_film_whose_process_dies_is_run_again_and_finishes(served_deployments: Served) -> None:
    """SIGKILL of a film's process: the runner marks the run Crashed (Prefect does not retry a crash by itself);
    the batch starts the film again, which resumes from its stored parts and finishes."""
    api = served_deployments.api_url
    with FilmStitchClient(api) as films:
        run = films.create_batch_run(["a snail races a tortoise to the sea"], film=SMALL)
        batch = films_run_name(api, run.id)
        body = {"flow_runs": {"tags": {"all_": [f"film-batch:{batch}"]}}}
        deadline = time.monotonic() + 180
        while not (children := httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10).json()) or \
                not (pids := flow_run_processes(children[0]["id"])):
            assert time.monotonic() < deadline, "the film's run never started"
            time.sleep(0.2)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        films.wait(run.id, timeout_s=300)
        [row] = films.batch_report(run.id)
    assert row["status"] == "finished" and Path(row["film"]).is_file()
    children = httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10).json()
    assert sorted(c["state"]["type"] for c in children) == ["COMPLETED", "CRASHED"]


@pytest.mark.prefect_server
def test_the_batch_deployment_is_scheduled_but_off(served_deployments: Served, prefect_client_settings: str) -> None:
    deployment = httpx.get(f"{served_deployments.api_url}/deployments/name/film-batch/film-batch", timeout=10).json()
    [schedule] = deployment["schedules"]
    assert schedule["schedule"]["cron"] == "0 2 * * *" and schedule["active"] is False
    assert schedule["parameters"] == {"ideas_file": "ideas.txt"}
    # What the next start of `filmstitch server` keeps (a switch flipped in the UI would show here).
    assert switched_schedules("film-batch", "film-batch") == {"nightly": False}
    assert switched_schedules("film-batch", "not-registered") == {}
    make_film = httpx.get(f"{served_deployments.api_url}/deployments/name/make-film/make-film", timeout=10).json()
    schema = make_film["parameter_openapi_schema"]
    assert set(schema["properties"]) == {"request", "auto_pick", "pause_timeout_s", "film_id"}
    assert all(spec.get("description") for spec in schema["properties"].values()), "every parameter needs a description"
    # The Run form's film fields are FilmRequest's, each with its description (the one request model).
    request = schema["definitions"]["FilmRequest"]["properties"]
    assert set(request) == set(FilmRequest.model_fields)
    assert all(spec.get("description") for spec in request.values())
    batch = httpx.get(f"{served_deployments.api_url}/deployments/name/film-batch/film-batch", timeout=10).json()
    film = batch["parameter_openapi_schema"]["definitions"]["FilmSettings"]["properties"]
    assert set(film) == set(FilmRequest.model_fields) - {"idea"}


def test_ideas_from_a_list_a_file_and_their_errors(tmp_path: Path) -> None:
    assert read_ideas_text("# a comment\n\n  first idea  \n#another\nsecond idea\n") == ["first idea", "second idea"]
    path = tmp_path / "ideas.txt"
    path.write_text("from the file\n")
    assert collect_ideas(["from the list"], str(path), None) == ["from the list", "from the file"]
    with pytest.raises(ValueError, match="no ideas"):
        collect_ideas(None, None, None)
    with pytest.raises(ValueError, match="does not exist"):
        collect_ideas(None, str(tmp_path / "missing.txt"), None)
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        collect_ideas(None, None, "https://example.invalid/ideas")


def test_ideas_from_an_s3_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILMSTITCH_S3_ACCESS_KEY_ID", "testing-key-id")
    monkeypatch.setenv("FILMSTITCH_S3_SECRET_ACCESS_KEY", "testing-secret")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="film-ideas")
        s3.put_object(Bucket="film-ideas", Key="nightly/b.txt", Body=b"third idea\n")
        s3.put_object(Bucket="film-ideas", Key="nightly/a.txt", Body=b"# from marketing\nfirst idea\nsecond idea\n")
        s3.put_object(Bucket="film-ideas", Key="other/c.txt", Body=b"not this one\n")
        assert ideas_from_s3("s3://film-ideas/nightly") == ["first idea", "second idea", "third idea"]
        with pytest.raises(ValueError, match="no idea files under s3://film-ideas/empty"):
            ideas_from_s3("s3://film-ideas/empty/")


def test_film_cost_sums_the_usage_and_the_render_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = StorageConfig(root=str(tmp_path))
    film = FilmStore.open(storage, "film-1")
    film.put_json("plan/script.json", {"title": "t"})
    assert film_cost(storage, "film-1") is None
    film.put_json("usage/script.json", [{"stage": "script", "model": "m", "cost_usd": 0.0125}])
    film.put_json("usage/keyframes.json", [{"cost_usd": 0.01}, {"cost_usd": 0.0005}])
    assert film_cost(storage, "film-1") == pytest.approx(0.023)
    # and the renders and the sound: their measured seconds at the price table
    monkeypatch.setenv("FILMSTITCH_COST_CPU_USD_PER_SECOND", "0.5")
    film.put_json("renders/clips/c00/take-1.json", {"part": "clips/c00/take-1", "kind": "renderer",
                                                    "unit": "CPU-s", "seconds": 2.0, "gpu": None})
    film.put_json("renders/sound/speech/s00/take-1.json", {"part": "sound/speech/s00/take-1", "kind": "sound",
                                                           "unit": "CPU-s", "seconds": 0.5, "gpu": None})
    assert film_cost(storage, "film-1") == pytest.approx(0.023 + 1.0 + 0.25)
