"""A checkpoint nobody answers: the run takes the recommended picks and finishes the film, Completed, from a
deployment run (`filmstitch server`); the server never marks it Failed on the way."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest

from filmstitch.app.client import FilmStitchClient
from tests.support.served import Served

pytestmark = pytest.mark.prefect_server

SMALL = {"segments": 2, "seconds_per_segment": 2.0, "width": 256, "height": 160, "fps": 8, "sound": False}


@pytest.mark.parametrize("unanswered", [("references",), ("keyframes",), ("references", "keyframes")])
def test_an_unanswered_checkpoint_finishes_the_film(served_deployments: Served, unanswered: tuple[str, ...]) -> None:
    api = served_deployments.api_url
    with FilmStitchClient(api) as films:
        run = films.create_film_run(f"an owl keeps the night shift {'/'.join(unanswered)}", pause_timeout_s=10,
                                    run_name=f"timeout-{uuid.uuid4().hex[:6]}", **SMALL)
        seen = None
        for checkpoint in ("references", "keyframes"):
            if checkpoint in unanswered:
                continue  # wait it out: the next checkpoint (or the end) comes after the timeout
            seen = films.wait_for_checkpoint(run.id, after=seen, timeout_s=240)
            while seen.name != checkpoint:  # an earlier, unanswered one is still open
                seen = films.wait_for_checkpoint(run.id, after=seen, timeout_s=240)
            assert films.resume(run.id, {}).accepted
        finished = films.wait(run.id, timeout_s=300)
        assert finished.state_type == "COMPLETED"
        film = Path(films.film(run.id).location)
    assert film.is_file()
    for checkpoint in ("references", "keyframes"):
        who = json.loads((film.parent / "picks" / f"{checkpoint}.json").read_text())["picked_by"]
        expected = "auto (nobody answered)" if checkpoint in unanswered else "person (accepted recommendation)"
        assert who == expected, checkpoint
    states = httpx.get(f"{api}/flow_run_states/", params={"flow_run_id": run.id}, timeout=10).json()
    kinds = [state["type"] for state in states]
    assert "FAILED" not in kinds and "CRASHED" not in kinds and kinds[-1] == "COMPLETED"
    assert kinds.count("PAUSED") >= 2
