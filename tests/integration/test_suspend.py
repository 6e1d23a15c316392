"""A deployment run suspends at each checkpoint: no process waits for the person; resuming reschedules the run,
which reuses every stored part and pick and renders nothing twice (flows/asking.py)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from filmstitch.app.client import FilmStitchClient
from filmstitch.settings import StorageConfig
from filmstitch.storage import FilmStore
from filmstitch.testing.prefect_api import state_history
from tests.support.prefect import past_the_script
from tests.support.processes import wait_until_gone
from tests.support.served import Served

pytestmark = pytest.mark.prefect_server

SMALL = {"segments": 2, "seconds_per_segment": 2.0, "width": 256, "height": 160, "fps": 8, "seed": 5, "sound": False}


def written(store: FilmStore) -> dict[str, str]:
    """Every stored part and when it was written."""
    return {key: entry["written_at"] for key, entry in store.manifest().get("artifacts", {}).items()}


def test_a_suspended_film_holds_no_process_and_renders_nothing_twice(served_deployments: Served) -> None:
    api = served_deployments.api_url
    with FilmStitchClient(api) as films:
        run = films.create_film_run("a beekeeper teaches a bear to dance", run_name=f"suspend-{uuid.uuid4().hex[:6]}",
                                    **SMALL)
        references = past_the_script(films, run.id, timeout_s=180)  # the script kept as written: suspended again
        assert films.run(run.id).state_name == "Suspended" and references.timeout_at
        wait_until_gone(run.id)  # the process exits: no worker slot is held while the person looks
        store = FilmStore.open(StorageConfig(root=str(served_deployments.storage_dir)), references.film_id)
        before_references = written(store)
        chosen = {row["tag"]: (i + 1) % 3 for i, row in enumerate(references.rows)}
        assert films.resume(run.id, films.changes(chosen)).raise_for_reject().accepted

        keyframes = films.wait_for_checkpoint(run.id, after=references, timeout_s=180)
        assert keyframes.name == "keyframes" and films.run(run.id).state_name == "Suspended"
        wait_until_gone(run.id)
        before_keyframes = written(store)
        assert films.resume(run.id, {"changes": "1:2"}).raise_for_reject().accepted
        assert films.wait(run.id, timeout_s=240).state_type == "COMPLETED"
        film = films.film(run.id)  # read from the run's persisted FilmResult
    wait_until_gone(run.id, timeout_s=30)  # the last process ends with the run

    # Every part stored before a suspension is the same write afterwards: the reruns rendered nothing again.
    after = written(store)
    for before in (before_references, before_keyframes):
        assert {key: after[key] for key in before} == before
    assert all(len(takes) == 1 for takes in store.manifest()["takes"].values())
    path = Path(film.location)
    assert path.is_file() and film.title and film.url and film.url.startswith(served_deployments.films_url)
    assert json.loads((path.parent / "picks" / "references.json").read_text())["picks"] == chosen
    picks = json.loads((path.parent / "picks" / "keyframes.json").read_text())
    assert picks["picks"]["1"] == 2 and picks["picked_by"] == "person"

    history = state_history(api, run.id)
    print("suspended twice, answered twice:", " -> ".join(name for _, name in history))
    names = [name for _, name in history]
    assert names.count("Suspended") == 3 and names.count("Resuming") == 3, names
    assert not {"FAILED", "CRASHED"} & {kind for kind, _ in history}, history
    assert history[-1] == ("COMPLETED", "Completed")
    # Each suspension ends the run's process; each resume starts it again: Resuming -> Pending ("Pending",
    # "Submitting") -> Running.
    kinds = [kind for kind, _ in history]
    for i, name in enumerate(names):
        if name == "Resuming":
            running = kinds.index("RUNNING", i)
            assert set(kinds[i + 1:running]) == {"PENDING"}, names
