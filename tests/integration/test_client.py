"""filmstitch.app.client against `filmstitch server`: create, pause, resume, finish, watch the film."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx
import pytest

from filmstitch.app.client import FilmStitchClient, FilmStitchError
from tests.support.prefect import past_the_script
from tests.support.served import Served

pytestmark = pytest.mark.prefect_server

SMALL = {"segments": 2, "seconds_per_segment": 2.0, "width": 256, "height": 160, "fps": 8, "seed": 3, "sound": False}


def test_a_film_made_through_the_client(served_deployments: Served) -> None:
    with FilmStitchClient(served_deployments.api_url) as films:
        idea = "a clockmaker builds a mechanical bird"
        run = films.create_film_run(idea, run_name=f"client-{uuid.uuid4().hex[:6]}", **SMALL)
        assert run.state_type == "SCHEDULED"

        # Checkpoint 1: a row per character and per location, their pictures on the film server.
        references = past_the_script(films, run.id, timeout_s=180)
        assert films.run(run.id).state_type == "PAUSED"
        assert references.name == "references" and references.rows[-1]["detail"] == "location"
        assert references.description.count(f"]({served_deployments.films_url}/films/") == 3 * len(references.rows)
        assert "takes the recommended picks" in references.description and references.timeout_at

        rejected = films.resume(run.id, {"changes": 5})  # not text: the form's schema refuses it
        assert rejected.status == "REJECT" and not rejected.accepted and "changes" in rejected.reason
        with pytest.raises(FilmStitchError, match="REJECT"):
            rejected.raise_for_reject()
        assert films.checkpoint(run.id).key == references.key  # still waiting at the same question

        chosen = {row["tag"]: i % 3 for i, row in enumerate(references.rows)}
        assert films.resume(run.id, films.changes(chosen)).accepted

        # Checkpoint 2: a row per boundary keyframe (segments + 1); {} takes the recommendations.
        keyframes = films.wait_for_checkpoint(run.id, after=references, timeout_s=180)
        assert [row["title"] for row in keyframes.rows] == ["Keyframe 0", "Keyframe 1", "Keyframe 2"]
        assert films.resume(run.id, {}).raise_for_reject().accepted

        finished = films.wait(run.id, timeout_s=240)
        assert finished.state_type == "COMPLETED"
        film = films.film(run.id)

        async def read_where_a_loop_runs() -> object:  # a notebook, Playwright's sync API: the client stays sync
            return films.film(run.id)

        assert asyncio.run(read_where_a_loop_runs()) == film

    path = Path(film.location)
    assert path.name == "film.mp4" and path.is_relative_to(served_deployments.storage_dir)
    picks = json.loads((path.parent / "picks" / "keyframes.json").read_text())
    assert picks["picks"] == keyframes.recommended and picks["picked_by"] == "person (accepted recommendation)"
    assert json.loads((path.parent / "picks" / "references.json").read_text())["picks"] == chosen
    assert film.title == json.loads((path.parent / "plan" / "script.json").read_text())["title"]
    # The link plays in a browser: the film server answers with the MP4 and lets the player seek.
    assert film.url and film.url.startswith(served_deployments.films_url)
    whole = httpx.get(film.url)
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert whole.content == path.read_bytes()
    part = httpx.get(film.url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == path.read_bytes()[100:200]


def test_bad_requests_fail_before_anything_is_sent(served_deployments: Served) -> None:
    with FilmStitchClient(served_deployments.api_url) as films:
        with pytest.raises(ValueError, match="width 250 is not a multiple of 32"):
            films.create_film_run("a fine idea", width=250)
        with pytest.raises(ValueError, match="The idea is empty"):
            films.create_film_run("   ")
        with pytest.raises(ValueError, match="colour: Extra inputs are not permitted"):
            films.create_film_run("a fine idea", colour="red")
        with pytest.raises(FilmStitchError, match="404"):
            films.create_film_run("a fine idea", deployment="make-film/no-such-deployment")
        # A run parameter of the wrong type is refused by the server's parameter schema.
        with pytest.raises(FilmStitchError, match="409.*'sometimes' is not of type 'boolean'"):
            films.create_film_run("a fine idea", auto_pick="sometimes")


def test_unreachable_server_is_a_clear_error() -> None:
    with (FilmStitchClient("http://127.0.0.1:9/api", timeout_s=2) as films,
          pytest.raises(FilmStitchError, match="cannot reach the Prefect API at http://127.0.0.1:9/api")):
        films.run(str(uuid.uuid4()))
