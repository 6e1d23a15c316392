"""A checkpoint nobody answers: the run takes the recommended picks and finishes the film, Completed, with no
Failed or Crashed state anywhere in its history: a suspended deployment run (`filmstitch server`, answered by
the answer-checkpoint run the server keeps scheduled) and a paused run in-process alike (flows/asking.py)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest

from filmstitch.app.client import FilmStitchClient
from filmstitch.flows.make_film import make_film
from filmstitch.models import FilmRequest
from filmstitch.testing.prefect_api import find_run, state_history
from tests.support.prefect import FlowThread, past_the_script
from tests.support.served import Served

pytestmark = pytest.mark.prefect_server

SMALL = {"segments": 2, "seconds_per_segment": 2.0, "width": 256, "height": 160, "fps": 8, "sound": False}


def picked_by(film: Path, checkpoint: str) -> str:
    return json.loads((film.parent / "picks" / f"{checkpoint}.json").read_text())["picked_by"]


def no_failure(history: list[tuple[str, str]]) -> bool:
    return not {"FAILED", "CRASHED"} & {kind for kind, _ in history}


@pytest.mark.parametrize("unanswered", [("references",), ("references", "keyframes")])
def test_an_unanswered_checkpoint_finishes_the_film(served_deployments: Served, unanswered: tuple[str, ...]) -> None:
    api = served_deployments.api_url
    with FilmStitchClient(api) as films:
        run = films.create_film_run(f"an owl keeps the night shift {'/'.join(unanswered)}", pause_timeout_s=10,
                                    run_name=f"timeout-{uuid.uuid4().hex[:6]}", **SMALL)
        seen = past_the_script(films, run.id, timeout_s=240)  # the script checkpoint, kept as written
        assert seen.name == "references"
        if "keyframes" not in unanswered:
            seen = films.wait_for_checkpoint(run.id, after=seen, timeout_s=240)
            assert seen.name == "keyframes" and films.resume(run.id, {}).accepted
        assert films.wait(run.id, timeout_s=300).state_type == "COMPLETED"
        film = Path(films.film(run.id).location)
    assert film.is_file()
    for checkpoint in ("references", "keyframes"):
        expected = "auto (nobody answered)" if checkpoint in unanswered else "person (accepted recommendation)"
        assert picked_by(film, checkpoint) == expected, checkpoint
    history = state_history(api, run.id)
    print(f"suspended, unanswered {unanswered}:", " -> ".join(name for _, name in history))
    assert no_failure(history) and history[-1][0] == "COMPLETED", history
    assert [name for _, name in history].count("Suspended") == 3, history  # the script, references, keyframes
    # The server kept the time: an answer-checkpoint run per checkpoint (one that finds the checkpoint answered,
    # its film already going on, does nothing), each Completed.
    timers = httpx.post(f"{api}/flow_runs/filter", timeout=10, json={
        "flow_runs": {"tags": {"all_": ["checkpoint"]}}, "deployments": {"name": {"any_": ["answer-checkpoint"]}},
    }).json()
    mine = [t for t in timers if t["parameters"]["flow_run_id"] == run.id]
    assert len(mine) >= len(unanswered) and {t["state"]["type"] for t in mine} == {"COMPLETED"}, mine
    assert all(no_failure(state_history(api, t["id"])) for t in mine)


def test_a_paused_run_that_nobody_answers_never_fails(
    prefect_client_settings: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process (like `filmstitch make`: no deployment) the run pauses; its own timer answers at the deadline
    with an ordinary resume, long before Prefect's pause timeout would mark it Failed."""
    monkeypatch.setenv("FILMSTITCH_STORAGE_DIR", str(tmp_path / "films"))
    request = FilmRequest(idea="a moth guards a lamp", writer="offline", renderer="animatic", **SMALL)
    name = f"paused-{uuid.uuid4().hex[:6]}"
    flow = FlowThread(lambda: make_film.with_options(flow_run_name=name)(request=request, pause_timeout_s=10))
    result = flow.result(timeout=300)
    film = Path(result.location)
    assert picked_by(film, "script") == picked_by(film, "references") == picked_by(film, "keyframes") == \
        "auto (nobody answered)"
    history = state_history(prefect_client_settings, find_run(prefect_client_settings, name)["id"])
    print("paused in-process, unanswered:", " -> ".join(name for _, name in history))
    assert [name for _, name in history].count("Paused") == 3, history  # the script, references, keyframes
    assert no_failure(history) and history[-1][0] == "COMPLETED", history
