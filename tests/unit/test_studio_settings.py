"""prefect.yaml's keys as FilmStitch reads them (no server), the database URL `filmstitch server` takes, and the
notices' text. The same against a real server: tests/integration/test_studio_server.py."""

from __future__ import annotations

import datetime
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from filmstitch.app.prefect_server import database_url, describe_database
from filmstitch.deployments.serve import PREFECT_YAML, PrefectYamlError, deployment_specs, runner_deployments
from filmstitch.flows.notices import message


def write(tmp_path: Path, deployment: dict[str, Any], **top: Any) -> Path:
    spec = {"name": "notice", "entrypoint": "flows/notices.py:film_notice",
            "work_pool": {"name": "pool"}} | deployment
    path = tmp_path / "prefect.yaml"
    path.write_text(yaml.safe_dump({"name": "t", "deployments": [spec], **top}))
    return path


def test_every_key_reaches_the_deployment(tmp_path: Path) -> None:
    path = write(tmp_path, {
        "version": "2", "tags": ["a"], "description": "d", "parameters": {"event": "x"},
        "enforce_parameter_schema": False, "paused": True,
        "concurrency_limit": {"limit": 2, "collision_strategy": "CANCEL_NEW", "grace_period_seconds": 120},
        "schedules": [{"rrule": "FREQ=DAILY", "slug": "daily"},
                      {"interval": 600, "anchor_date": "2026-01-01T00:00:00+00:00", "active": False}],
        "work_pool": {"name": "pool", "work_queue_name": "q", "job_variables": {"env": {"A": "1"}}},
        "pull": [{"prefect.deployments.steps.set_working_directory": {"directory": "/srv"}}],
        "triggers": [{"expect": ["prefect.flow-run.Failed"], "parameters": {"event": "{{ event.event }}"}}],
    })
    [served_on_pool] = runner_deployments(path, work_pool=True, read_switches=False)
    assert (served_on_pool.version, served_on_pool.tags, served_on_pool.description) == ("2", ["a"], "d")
    assert served_on_pool.enforce_parameter_schema is False and served_on_pool.paused is True
    assert served_on_pool.concurrency_limit == 2
    assert served_on_pool.concurrency_options.collision_strategy == "CANCEL_NEW"
    assert served_on_pool.concurrency_options.grace_period_seconds == 120
    intervals = [s.schedule.interval for s in served_on_pool.schedules if hasattr(s.schedule, "interval")]
    assert intervals == [datetime.timedelta(seconds=600)] and len(served_on_pool.schedules) == 2
    assert served_on_pool.work_pool_name == "pool" and served_on_pool.work_queue_name == "q"
    assert served_on_pool.job_variables == {"env": {"A": "1"}}  # pull steps given: no working_dir added
    assert served_on_pool.storage.to_pull_step()[0]["prefect.deployments.steps.set_working_directory"]
    [trigger] = served_on_pool.triggers
    assert trigger.name == "notice__automation_1" and trigger.expect == {"prefect.flow-run.Failed"}
    assert trigger.parameters == {"event": "{{ event.event }}"}


def test_a_pool_deployment_without_pull_steps_runs_where_it_was_registered(tmp_path: Path) -> None:
    [deployment] = runner_deployments(write(tmp_path, {}), work_pool=True, read_switches=False)
    assert deployment.job_variables == {"working_dir": str(Path.cwd())} and deployment.storage is None


@pytest.mark.parametrize(("deployment", "top", "words"), [
    ({"build": [{"prefect_docker.deployments.steps.build_docker_image": {}}]}, {}, "`build` steps"),
    ({}, {"push": [{"prefect_aws.deployments.steps.push_to_s3": {}}]}, "top-level `push`"),
    ({"sla": [{"name": "x", "duration": 10}]}, {}, "Prefect Cloud"),
    ({"concurency_limit": 2}, {}, "unknown key(s) ['concurency_limit']"),
    ({"work_pool": {"name": "pool", "image": "x"}}, {}, "work_pool.image"),
    ({"flow_name": "other"}, {}, "flow_name 'other'"),
    ({"schedules": [{"cron": "0 * * * *", "every": 3}]}, {}, "a schedule needs"),
    ({"schedule": {"cron": "0 * * * *"}}, {}, "`schedule:` is ignored by prefect deploy"),
])
def test_what_cannot_be_honoured_is_refused_in_one_line(
    tmp_path: Path, deployment: dict, top: dict, words: str
) -> None:
    with pytest.raises(PrefectYamlError) as refused:
        runner_deployments(write(tmp_path, deployment, **top), work_pool=True, read_switches=False)
    assert words in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize("key", ["pull", "job_variables"])
def test_worker_keys_are_refused_when_filmstitch_server_runs_the_flows_itself(tmp_path: Path, key: str) -> None:
    spec = ({"pull": [{"prefect.deployments.steps.git_clone": {"repository": "x"}}]} if key == "pull"
            else {"work_pool": {"name": "pool", "job_variables": {"env": {"A": "1"}}}})
    path = write(tmp_path, spec)
    with pytest.raises(PrefectYamlError, match="filmstitch server --pool"):
        runner_deployments(path, read_switches=False)
    assert runner_deployments(path, work_pool=True, read_switches=False)  # on a pool they are honoured


def test_the_projects_prefect_yaml_is_accepted_both_ways() -> None:
    names = {spec["name"] for spec in deployment_specs(PREFECT_YAML)}
    assert names == {"make-film", "retake-film", "answer-checkpoint", "film-batch", "film-notice"}
    for pool in (False, True):
        deployments = {d.name: d for d in runner_deployments(work_pool=pool, read_switches=False)}
        notice = deployments["film-notice"]
        assert {t.name for t in notice.triggers} == {"filmstitch: a film waits for a person",
                                                     "filmstitch: a film or a batch failed"}
        waits = next(t for t in notice.triggers if "waits" in t.name)
        assert waits.expect == {"prefect.flow-run.Paused", "prefect.flow-run.Suspended"}


def test_the_database_url_is_prefects_and_never_shows_its_password() -> None:
    assert database_url("postgresql://u:s3cret@db:5432/prefect") == "postgresql+asyncpg://u:s3cret@db:5432/prefect"
    assert database_url("postgresql+asyncpg://u@127.0.0.1/p") == "postgresql+asyncpg://u@127.0.0.1/p"
    assert describe_database("postgresql+asyncpg://u:s3cret@db:5432/prefect") == "PostgreSQL at db:5432/prefect"
    for bad in ("mysql://u:s3cret@db/p", "u:s3cret@db/p", "postgresql:///nohost"):
        with pytest.raises(ValueError) as refused:
            database_url(bad)
        assert "s3cret" not in str(refused.value) and "postgresql://USER:PASSWORD@HOST" in str(refused.value)


def run(parameters: dict, message_text: str = "boom") -> SimpleNamespace:
    return SimpleNamespace(id=uuid.uuid4(), name="brave-otter", parameters=parameters,
                           state=SimpleNamespace(message=message_text), start_time=datetime.datetime.now())


def test_a_waiting_film_is_told_with_its_review_page() -> None:
    film = run({"request": {"idea": "a fox <b>flies</b>"}})
    subject, body = message(film, "make-film", "Suspended", "http://h:4200/api", "http://h:4201")
    assert "waits for you" in subject and f"http://h:4201/review/{film.id}" in body
    assert "a fox <b>flies</b>" in body and f"http://h:4200/runs/flow-run/{film.id}" in body
    _, without_film_server = message(film, "make-film", "Paused", "http://h:4200/api", None)
    assert f"http://h:4200/runs/flow-run/{film.id}" in without_film_server and "/review/" not in without_film_server


def test_a_failed_batch_is_told_as_a_batch_with_its_reason() -> None:
    subject, body = message(run({"ideas": ["x"]}, "1 of 2 films failed"), "film-batch", "Failed",
                            "http://h:4200/api", None)
    assert subject == "FilmStitch: a batch failed (brave-otter)" and "1 of 2 films failed" in body
