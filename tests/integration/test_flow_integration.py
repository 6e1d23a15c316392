"""make-film end to end against a real Prefect server: the script checkpoint and both picture checkpoints answered
over REST, film checked with ffprobe."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from filmstitch.checkpoints import escape_markdown
from filmstitch.flows.make_film import make_film
from filmstitch.models import FilmPlan, FilmRequest
from filmstitch.settings import StorageConfig
from filmstitch.storage import FilmStore
from tests.support.prefect import FlowThread, read_input, resume, wait_for_pause

SMALL = {"segments": 3, "seconds_per_segment": 2.0, "width": 256, "height": 160, "fps": 8, "seed": 7}


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
    request = FilmRequest(idea="a stranded astronaut on the moon walks around and discovers nature", sound=False,
                          **SMALL)
    flow = FlowThread(lambda: make_film.with_options(flow_run_name=run_name)(request=request))
    seen: set[str] = set()

    # The script checkpoint, before any picture: one text field; every text in the schema and the description.
    run = wait_for_pause(api, run_name, seen, flow)
    keyset = run["state"]["state_details"]["run_input_keyset"]
    schema = read_input(api, run["id"], keyset["schema"])
    assert list(schema["properties"]) == ["changes"]
    texts = {f["label"]: f["text"] for section in schema["filmstitch"]["script"] for f in section["fields"]}
    assert {"title", "logline", "s0.narration", "s2.action", "k3.prompt"} <= set(texts)
    description = read_input(api, run["id"], keyset["description"])
    assert all(escape_markdown(text) in description for text in texts.values())
    films = tmp_path / "films"
    assert not list(films.glob("*/references")), "a picture was drawn before the script was read"
    # A JSON change that does not make a valid film is refused whole, with the reason, and asked again.
    character = next(label for label in texts if label.endswith(".appearance"))
    refused = {"s1.narration": "A changed line.", character: "tall " * 40}
    assert resume(api, run["id"], {"changes": json.dumps(refused)})["status"] == "ACCEPT"
    run = wait_for_pause(api, run_name, seen, flow)
    keyset = run["state"]["state_details"]["run_input_keyset"]
    assert f"{character}: appearance has 40 words; at most 30" in read_input(api, run["id"], keyset["description"])
    new_script = {"s1.narration": "Far from home, she kneels and listens to the ground."}
    assert resume(api, run["id"], {"changes": json.dumps(new_script)})["status"] == "ACCEPT"

    # Checkpoint 1: references. One text field; the rows are in the schema; a bad answer is refused.
    run = wait_for_pause(api, run_name, seen, flow)
    keyset = run["state"]["state_details"]["run_input_keyset"]
    schema = read_input(api, run["id"], keyset["schema"])
    assert list(schema["properties"]) == ["changes"]
    rows = schema["filmstitch"]["rows"]
    assert rows[-1]["detail"] == "location" and len(rows) >= 2
    description = read_input(api, run["id"], keyset["description"])
    assert description.count("](http://127.0.0.1") + description.count("](data:image/jpeg;base64,") == 3 * len(rows)
    rejected = resume(api, run["id"], {"changes": 7, "colour": "red"})
    assert rejected["status"] == "REJECT"
    assert wait_for_state(api, run_name) == "PAUSED"
    # Valid for the form but not for the film: the flow refuses it and asks again, saying why in words.
    for answer, reason in ((f"{rows[0]['tag']}:7", "has variants 0-2, not 7"), ("<script>", "cannot read")):
        assert resume(api, run["id"], {"changes": answer})["status"] == "ACCEPT"
        run = wait_for_pause(api, run_name, seen, flow)
        keyset = run["state"]["state_details"]["run_input_keyset"]
        assert reason in read_input(api, run["id"], keyset["description"])
    picks = " ".join(f"{row['tag']}:1" for row in rows)
    assert resume(api, run["id"], {"changes": picks})["status"] == "ACCEPT"

    # Checkpoint 2: keyframes, a row per boundary; {} takes the recommendations but for one change.
    run = wait_for_pause(api, run_name, seen, flow)
    keyset = run["state"]["state_details"]["run_input_keyset"]
    schema = read_input(api, run["id"], keyset["schema"])
    rows = schema["filmstitch"]["rows"]
    assert [row["tag"] for row in rows] == ["0", "1", "2", "3"]
    assert [row["title"] for row in rows] == ["Keyframe 0", "Keyframe 1", "Keyframe 2", "Keyframe 3"]
    changed = (rows[1]["recommended"] + 1) % 3
    assert resume(api, run["id"], {"changes": f"1:{changed}"})["status"] == "ACCEPT"

    result = flow.result()
    assert result.picks.picked_by == {"references": "person", "keyframes": "person"}
    expected = [row["recommended"] for row in rows]
    expected[1] = changed
    assert result.picks.keyframes == expected
    assert set(result.picks.references.values()) == {1}

    film = Path(result.location)
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
    # The film was made from the changed script: stored as its plan, with the person's answer saved.
    plan = FilmPlan.model_validate_json(store.get("plan/plan.json"))
    assert plan.script.segments[1].narration == new_script["s1.narration"]
    assert plan.script.segments[0].narration == texts["s0.narration"]
    assert json.loads(store.get("picks/script.json"))["script"] == new_script


def wait_for_state(api: str, run_name: str) -> str:
    from filmstitch.testing.prefect_api import find_run

    return find_run(api, run_name)["state"]["type"]
