"""filmstitch.app.client against a real Prefect server with make-film served: create, pause, resume, finish."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from filmstitch.app.client import FilmStitchClient, FilmStitchError
from tests.support.served import Served

pytestmark = pytest.mark.prefect_server

SMALL = dict(segments=2, seconds_per_segment=2.0, width=256, height=160, fps=8, seed=3)


def test_a_film_made_through_the_client(served_deployments: Served) -> None:
    with FilmStitchClient(served_deployments.api_url) as films:
        idea = "a clockmaker builds a mechanical bird"
        run = films.create_film_run(idea, run_name=f"client-{uuid.uuid4().hex[:6]}", **SMALL)
        assert run.state_type == "SCHEDULED"

        # Checkpoint 1: one field per character and one for the environment, with the variants' pictures.
        references = films.wait_for_checkpoint(run.id, timeout_s=180)
        assert films.run(run.id).state_type == "PAUSED"
        assert list(references.fields)[-1].startswith("env_") and len(references.fields) >= 2
        assert all((f.minimum, f.maximum) == (0, 2) for f in references.fields.values())
        assert references.description.count("](data:image/jpeg;base64,") == 3 * len(references.fields)
        assert "picks by itself" in references.description and references.timeout_at

        rejected = films.resume(run.id, {name: 5 for name in references.fields})
        assert rejected.status == "REJECT" and not rejected.accepted
        assert "5 is greater than the maximum of 2" in rejected.reason
        with pytest.raises(FilmStitchError, match="REJECT"):
            rejected.raise_for_reject()
        assert films.checkpoint(run.id).key == references.key  # still waiting at the same question

        chosen_references = {name: i % 3 for i, name in enumerate(references.fields)}
        assert films.resume(run.id, chosen_references).accepted

        # Checkpoint 2: one field per boundary keyframe (segments + 1).
        keyframes = films.wait_for_checkpoint(run.id, after=references, timeout_s=180)
        assert list(keyframes.fields) == ["k00", "k01", "k02"]
        assert [f.title for f in keyframes.fields.values()] == ["Keyframe 0", "Keyframe 1", "Keyframe 2"]
        assert films.resume(run.id, {"k00": 2, "k01": 0, "k02": 1}).raise_for_reject().accepted

        finished = films.wait(run.id, timeout_s=240)
        assert finished.state_type == "COMPLETED"
        film = films.film(run.id)

    path = Path(unquote(urlparse(film.url).path))
    assert film.url.startswith("file://") and path.name == "film.mp4"
    assert path.is_relative_to(served_deployments.storage_dir) and path.stat().st_size > 1000
    picks = json.loads((path.parent / "picks" / "keyframes.json").read_text())
    assert picks["picks"] == [2, 0, 1] and picks["picked_by"] == "person"
    assert json.loads((path.parent / "picks" / "references.json").read_text())["picks"] == chosen_references
    assert film.title == json.loads((path.parent / "plan" / "script.json").read_text())["title"]


def test_bad_requests_fail_before_anything_is_sent(served_deployments: Served) -> None:
    with FilmStitchClient(served_deployments.api_url) as films:
        with pytest.raises(ValueError, match="width 250 is not a multiple of 32"):
            films.create_film_run("a fine idea", width=250)
        with pytest.raises(ValueError, match="The idea is empty"):
            films.create_film_run("   ")
        with pytest.raises(FilmStitchError, match="404"):
            films.create_film_run("a fine idea", deployment="make-film/no-such-deployment")
        with pytest.raises(ValueError, match="make-film/make-film has no parameter colour; it has auto_pick, "):
            films.create_film_run("a fine idea", colour="red")
        # A parameter of the wrong type passes the local check (it is not a film field) and the server's
        # parameter schema refuses it.
        with pytest.raises(FilmStitchError, match="409.*'sometimes' is not of type 'boolean'"):
            films.create_film_run("a fine idea", auto_pick="sometimes")


def test_unreachable_server_is_a_clear_error() -> None:
    with FilmStitchClient("http://127.0.0.1:9/api", timeout_s=2) as films:
        with pytest.raises(FilmStitchError, match="cannot reach the Prefect API at http://127.0.0.1:9/api"):
            films.run(str(uuid.uuid4()))
