"""Reuse: a rerun reuses exactly the parts whose inputs are unchanged and whose bytes are intact, and redoes
the rest (filmstitch.reuse). Killed runs resume; damaged, missing and stale parts are made again."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from filmstitch import checkpoints, script_checkpoint
from filmstitch.flows.make_film import FilmResult, make_film
from filmstitch.models import FilmPlan, FilmRequest
from filmstitch.renderers.animatic import AnimaticRenderer
from filmstitch.settings import StorageConfig
from filmstitch.storage import FilmStore
from filmstitch.writers.offline import OfflineWriter
from tests.support.calls import Calls, count_calls

IDEA = "a lighthouse keeper on a stormy island finds a message in a bottle"
FILM = {"segments": 6, "seconds_per_segment": 4.0, "width": 384, "height": 256, "fps": 12}
SMALL = FilmRequest(idea=IDEA, segments=2, seconds_per_segment=2.0, width=256, height=160, fps=8, sound=False,
                    writer="offline", renderer="animatic")


def command() -> list[str]:
    return [
        sys.executable, "-m", "filmstitch.app.cli", "make", IDEA, "--auto", "--no-sound",
        "--segments", str(FILM["segments"]), "--seconds", str(FILM["seconds_per_segment"]),
        "--width", str(FILM["width"]), "--height", str(FILM["height"]), "--fps", str(FILM["fps"]),
    ]


def clip_entries(store: FilmStore) -> dict[str, dict]:
    return {k: v for k, v in store.manifest().get("artifacts", {}).items() if k.startswith("clips/")}


def test_kill_during_clips_then_rerun_reuses_finished_clips(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env |= {
        "FILMSTITCH_STORAGE_DIR": str(tmp_path / "films"),
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    film_id = FilmRequest(idea=IDEA, sound=False, **FILM).resolved("offline", "animatic").film_id()
    store = FilmStore.open(StorageConfig(root=str(tmp_path / "films")), film_id)

    first = subprocess.Popen(command(), env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    deadline = time.monotonic() + 240
    while len(clip_entries(store)) < 2:
        assert first.poll() is None, "the first run ended before it could be killed"
        assert time.monotonic() < deadline, "no clip was rendered in time"
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    before = clip_entries(store)
    assert 2 <= len(before) < FILM["segments"], f"kill came too late: {len(before)} clips"
    assert not store.exists("film.mp4")

    second = subprocess.run(command(), env=env, capture_output=True, text=True, timeout=300, check=False)
    assert second.returncode == 0, second.stderr[-2000:]
    film = Path(second.stdout.strip().splitlines()[-1])
    assert film.is_file() and film.name == "film.mp4"

    after = clip_entries(store)
    assert len(after) == FILM["segments"]
    for key, entry in before.items():
        assert after[key]["written_at"] == entry["written_at"], f"{key} was rendered again"
        assert after[key]["sha256"] == entry["sha256"]
    assert store.verify().problems == []
    assert store.manifest()["status"] == "finished"


# --------------------------------------------------------------------------- what a rerun redoes


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    return count_calls(monkeypatch, sound=False)


@pytest.fixture
def films(prefect_client_settings: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FILMSTITCH_STORAGE_DIR", str(tmp_path / "films"))
    return tmp_path / "films"


def make() -> FilmResult:
    return make_film(request=SMALL, auto_pick=True)


RENDER_CALLS = ("reference_variants", "keyframe_variants", "clip")
WRITES = {"write_script": 1, "describe_characters": 1, "describe_environments": 1, "write_keyframes": 1}


def renders(counts: dict[str, int]) -> dict[str, int]:
    return {name: count for name, count in counts.items() if name in RENDER_CALLS}


@pytest.mark.prefect_server
def test_nothing_changed_nothing_is_made_again(films: Path, calls: Calls) -> None:
    first = make()
    counts = calls.take()
    assert {k: counts[k] for k in WRITES} == WRITES and counts["clip"] == 2
    assert counts["keyframe_variants"] >= 3  # 3 boundaries (and a retry of any weak one: --auto)
    second = make()
    assert calls.take() == {}
    assert second.sha256 == first.sha256


@pytest.mark.prefect_server
def test_a_renderer_setting_or_code_change_redoes_the_renders_only(
    films: Path, calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make()
    made = renders(calls.take())
    monkeypatch.setattr(AnimaticRenderer, "settings_identity", lambda self: {"line_width": 3})
    make()
    assert calls.take() == made  # the renders again, and the writer is not called
    # An edit of the drawing code: another code version (here: one more module in its hash).
    monkeypatch.setattr(AnimaticRenderer, "code_modules", (*AnimaticRenderer.code_modules, "filmstitch.models"))
    third = make()
    assert calls.take() == made
    assert third.sha256 == first.sha256  # the same code draws the same film: the key changed, not the pixels
    store = FilmStore.open(StorageConfig(root=str(films)), third.film_id)
    assert len(store.manifest()["takes"]["clips/c00"]) == 3  # every take is kept


@pytest.mark.prefect_server
def test_a_writer_code_change_redoes_everything_downstream(
    films: Path, calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    make()
    calls.take()
    monkeypatch.setattr(OfflineWriter, "code_modules", (*OfflineWriter.code_modules, "filmstitch.images"))
    make()
    counts = calls.take()
    assert {k: counts.get(k) for k in WRITES} == WRITES
    # The same writer code writes the same plan, so the renders' inputs are unchanged: they are reused.
    assert renders(counts) == {}


@pytest.mark.prefect_server
def test_a_deleted_folder_is_made_again(films: Path, calls: Calls) -> None:
    first = make()
    made = calls.take()
    shutil.rmtree(films)
    second = make()
    assert calls.take() == made
    assert Path(second.location).is_file() and second.sha256 == first.sha256


@pytest.mark.prefect_server
def test_damaged_or_missing_parts_are_made_again_and_never_served(films: Path, calls: Calls) -> None:
    first = make()
    store = FilmStore.open(StorageConfig(root=str(films)), first.film_id)
    root = films / first.film_id
    clip = root / "clips" / "c01" / "take-1.mp4"
    for path in (root / "film.mp4", clip):
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    assert sorted(store.verify().problems) == ["clips/c01/take-1.mp4", "film.mp4"]
    calls.take()
    second = make()
    assert calls.take() == {"clip": 1}  # only the damaged clip; the film is joined again from the clips
    assert second.sha256 == first.sha256 and store.verify().problems == []

    (root / "film.mp4").unlink()
    (root / "keyframes" / "k01" / "take-1" / "v0.png").unlink()
    third = make()
    # The keyframe is drawn again (the same pixels), so the clips that use it are reused.
    assert calls.take() == {"keyframe_variants": 1}
    assert Path(third.location).is_file() and third.sha256 == first.sha256 and store.verify().problems == []


@pytest.mark.prefect_server
def test_a_plan_in_storage_is_reused_on_another_machine(
    films: Path, calls: Calls, tmp_path: Path
) -> None:
    """Another machine: a new Prefect home (no results, no history), the same film storage."""
    from prefect.settings import PREFECT_HOME, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    first = make()
    calls.take()
    with temporary_settings(updates={PREFECT_HOME: tmp_path / "other", PREFECT_LOCAL_STORAGE_PATH: tmp_path / "o"}):
        second = make()
    assert calls.take() == {}
    assert second.sha256 == first.sha256


@pytest.mark.prefect_server
def test_a_changed_script_redoes_exactly_what_it_touches(films: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A person's answer at the script checkpoint, saved with the film, is reused by the run that resumes it:
    one character's appearance redraws that character's references and only the keyframes and clips that
    show them; one segment's narration is spoken again and nothing is redrawn."""
    calls = count_calls(monkeypatch, sound=True)
    # A dog in the second half only: its keyframes and clips are some, not all.
    request = SMALL.model_copy(update={"idea": "a girl and her dog search the forest for a lost kite", "segments": 3,
                                       "sound": True})
    first = make_film(request=request, auto_pick=True)
    made = calls.take_parts()
    store = FilmStore.open(StorageConfig(root=str(films)), first.film_id)
    plan = FilmPlan.model_validate_json(store.get("plan/plan.json"))
    assert ("speak_segment", 1) in made and ("clip", 2) in made

    def answered(changes: dict[str, str]) -> FilmResult:
        """Save `changes` as a person's answer to the script as written (what `decide` saves), then run again."""
        [page] = script_checkpoint.script_pages(plan)
        question = script_checkpoint.script_checkpoint(store.film_id, plan, page, 0, 1, 600)
        checkpoints.save_decision(store, question, checkpoints.Decision(picks={}, picked_by="person",
                                                                        script=changes))
        return make_film(request=request, auto_pick=True)

    line = {"s1.narration": "She listens."}  # short: 2-second segments hold few words
    narrated = answered(line)
    assert calls.take_parts() == {("speak_segment", 1), ("mix_film", None)}
    assert narrated.sha256 != first.sha256  # the film carries the new line
    stored = FilmPlan.model_validate_json(store.get("plan/plan.json"))
    assert stored.script.segments[1].narration == line["s1.narration"]

    character = min(plan.characters, key=lambda c: sum(c.name in k.characters for k in plan.keyframes))
    shows = {k.index for k in plan.keyframes if character.name in k.characters}
    assert shows and len(shows) < len(plan.keyframes)
    tag = script_checkpoint.subject_tags(plan)[character.subject_id]
    answered({**line, f"{tag}.appearance": "a small brown dog with a bright red collar"})
    clips = {i for i, s in enumerate(plan.script.segments) if character.name in s.characters or {i, i + 1} & shows}
    redone = calls.take_parts()
    assert {part for part in redone if part[0] in RENDER_CALLS} == {
        ("reference_variants", character.subject_id), *(("keyframe_variants", i) for i in shows),
        *(("clip", i) for i in clips)}
    assert not {part for part in redone if part[0] == "speak_segment"}  # nothing said changed
