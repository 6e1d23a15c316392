"""make-film end to end against a real Prefect server: pauses answered over REST, film checked with ffprobe."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from filmstitch.storage import FilmStore
from filmstitch.settings import StorageConfig
from flows.make_film import make_film
from tests.support.prefect import FlowThread, read_input, resume, wait_for_pause

SMALL = dict(segments=3, seconds_per_segment=2.0, width=256, height=160, fps=8, seed=7)


def ffprobe(path: Path) -> dict:
    exe = shutil.which("ffprobe")
    assert exe, "ffprobe is missing: .ci/run installs Debian's ffmpeg package"
    out = subprocess.run(
        [exe, "-v", "error", "-print_format", "json", "-show_streams", "-show_format", str(path)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout)


@pytest.mark.prefect_server
def test_film_with_both_checkpoints_answered_over_rest(
    prefect_client_settings: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = prefect_client_settings
    monkeypatch.setenv("FILMSTITCH_STORAGE_DIR", str(tmp_path / "films"))
    run_name = f"test-{uuid.uuid4().hex[:8]}"
    flow = FlowThread(
        lambda: make_film.with_options(flow_run_name=run_name)(
            idea="a stranded astronaut on the moon walks around and discovers nature", **SMALL
        )
    )
    seen: set[str] = set()

    # Checkpoint 1: references. The form's schema is constrained; invalid input is rejected.
    run = wait_for_pause(api, run_name, seen, flow)
    keyset = run["state"]["state_details"]["run_input_keyset"]
    schema = read_input(api, run["id"], keyset["schema"])
    subjects = list(schema["properties"])
    assert subjects[-1].startswith("env_") and len(subjects) >= 2
    description = read_input(api, run["id"], keyset["description"])
    assert description.count("](data:image/jpeg;base64,") == 3 * len(subjects)
    rejected = resume(api, run["id"], {s: 7 for s in subjects})
    assert rejected["status"] == "REJECT" and "7 is greater than the maximum of 2" in rejected["details"]["reason"]
    assert wait_for_state(api, run_name) == "PAUSED"
    accepted = resume(api, run["id"], {s: 1 for s in subjects})
    assert accepted["status"] == "ACCEPT"

    # Checkpoint 2: keyframes, one field per boundary.
    run = wait_for_pause(api, run_name, seen, flow)
    keyset = run["state"]["state_details"]["run_input_keyset"]
    schema = read_input(api, run["id"], keyset["schema"])
    assert list(schema["properties"]) == ["k00", "k01", "k02", "k03"]
    assert resume(api, run["id"], {"k00": -1})["status"] == "REJECT"
    assert wait_for_state(api, run_name) == "PAUSED"
    picks = {"k00": 0, "k01": 2, "k02": 1, "k03": 0}
    assert resume(api, run["id"], picks)["status"] == "ACCEPT"

    result = flow.result()
    assert result.picks.auto is False
    assert result.picks.keyframes == [0, 2, 1, 0]
    assert set(result.picks.references.values()) == {1}

    film = Path(result.location.removeprefix("file://"))
    probe = ffprobe(film)
    video = probe["streams"][0]
    assert (video["codec_name"], video["width"], video["height"], video["r_frame_rate"]) == ("h264", 256, 160, "8/1")
    assert abs(float(probe["format"]["duration"]) - 6.0) < 0.2

    store = FilmStore.open(StorageConfig(root=str(tmp_path / "films")), result.film_id)
    manifest = store.manifest()
    assert manifest["status"] == "finished"
    clips = [k for k in manifest["artifacts"] if k.startswith("clips/")]
    assert len(clips) == 3
    assert manifest["artifacts"]["film.mp4"]["meta"]["clips"] == sorted(clips)
    assert store.verify().problems == []
    assert json.loads(store.get("picks/keyframes.json"))["picked_by"] == "person"


def wait_for_state(api: str, run_name: str) -> str:
    from tests.support.prefect import find_run

    return find_run(api, run_name)["state"]["type"]
