"""Crash and resume, flaky and broken backends.

Item 1: the film's process is SIGKILLed in each phase, at a known point (a backend call that hangs
until the kill, see ``filmstitch/testing/backend_faults.py``), then the same command runs again. A render counter
read from outside the process shows the rerun made only the calls that had not finished, the manifest
shows nothing stored before the kill was written again, and the film's decoded frames equal those of
a film made in one go.

Item 3: renderer and writer calls fail transiently (retried by the stage tasks, the film completes)
or permanently (the run fails naming the stage; the rerun starts where it stopped).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from filmstitch.flows.make_film import StageFailed
from filmstitch.models import FilmRequest
from filmstitch.settings import StorageConfig
from filmstitch.storage import FilmStore
from filmstitch.testing.backend_faults import CallLog, Fault
from filmstitch.testing.crash_resume import PHASE_GATES, kill_and_resume
from filmstitch.testing.fake_anthropic import FakeAnthropic
from filmstitch.testing.film_author import FilmAuthor
from filmstitch.testing.frames import film_frames, uninterrupted_frames
from filmstitch.testing.prefect_api import drain_prefect_services
from filmstitch.testing.small_film import SmallFilm, Workspace, run_in_process
from filmstitch.writers.claude import STAGES

pytestmark = pytest.mark.prefect_server


@pytest.fixture(autouse=True, scope="module")
def _drained() -> Iterator[None]:
    yield
    drain_prefect_services()


FILM = SmallFilm()
RENDER_CALLS = {"reference_variants": 3, "keyframe_variants": FILM.segments + 1, "clip": FILM.segments, "concat": 1}
WRITER_CALLS = dict.fromkeys(["write_script", "describe_characters", "describe_environments", "write_keyframes"], 1)


# --------------------------------------------------------------------------- item 1: SIGKILL in each phase


@pytest.mark.parametrize("phase", list(PHASE_GATES))
def test_killed_in_each_phase_the_rerun_redoes_nothing_finished(prefect_api: str, tmp_path: Path, phase: str) -> None:
    outcome = kill_and_resume(Workspace(tmp_path, prefect_api), FILM, phase)

    assert outcome.film is not None, f"the rerun failed:\n{outcome.rerun_error}"
    gate = PHASE_GATES[phase].method
    unfinished = outcome.expected[gate] - outcome.finished_before[gate]
    # The kill landed inside the phase: everything before it was stored, exactly one unit of it was not.
    assert unfinished == 1, f"{phase}: {outcome.finished_before} of {outcome.expected} at the kill"
    assert outcome.rerun_calls[gate] == 1, f"{phase}: the rerun made {dict(outcome.rerun_calls)}"
    assert outcome.stages_redone == 0, f"{phase}: the rerun redid finished work: {dict(outcome.rerun_calls)}"
    assert outcome.rewritten == [], f"{phase}: stored before the kill, written again: {outcome.rewritten}"
    assert outcome.artifacts_lost == 0 and outcome.bad_after == []
    assert len(outcome.before) >= 2 and set(outcome.before) <= set(outcome.after)
    assert np.array_equal(film_frames(outcome.film), uninterrupted_frames(FILM, prefect_api)), (
        f"{phase}: the resumed film's frames differ from the uninterrupted film's"
    )


# --------------------------------------------------------------------------- item 3: flaky and broken backends


@pytest.fixture
def local_films(prefect_client_settings: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FilmStore:
    """In-process flow runs against the test server, films under this test's folder."""
    monkeypatch.setenv("FILMSTITCH_STORAGE_DIR", str(tmp_path / "films"))
    return FilmStore.open(StorageConfig(root=str(tmp_path / "films")), FILM.id())


def run_film(api: str, log: CallLog, faults: list[Fault], **overrides: object) -> tuple[object, dict]:
    return run_in_process(api, FILM, log, faults, **overrides)


def test_transient_render_failures_are_retried_and_the_film_completes(
    prefect_client_settings: str, local_films: FilmStore, tmp_path: Path
) -> None:
    log = CallLog(tmp_path / "calls.jsonl")
    faults = [Fault("reference_variants", 1), Fault("keyframe_variants", 3), Fault("clip", 2)]

    result, run = run_film(prefect_client_settings, log, faults)

    assert not isinstance(result, Exception), f"the film failed: {result}"
    assert run["state"]["type"] == "COMPLETED"
    assert log.faults() == 3
    # Each failed call was made once more, nothing else was.
    retried = {f.method: RENDER_CALLS[f.method] + 1 for f in faults}
    assert log.calls() == RENDER_CALLS | WRITER_CALLS | retried
    assert local_films.verify().problems == []
    assert np.array_equal(
        film_frames(Path(result.location.removeprefix("file://"))), uninterrupted_frames(FILM, prefect_client_settings)
    )


@pytest.mark.parametrize(
    ("stage", "fault"),
    [
        ("references", Fault("reference_variants", 2, "permanent")),
        ("keyframes", Fault("keyframe_variants", 3, "permanent")),
        ("clips", Fault("clip", 2, "permanent")),
        ("assembly", Fault("concat", 1, "permanent")),
    ],
)
def test_a_permanent_failure_names_its_stage_and_the_rerun_resumes_there(
    prefect_client_settings: str, local_films: FilmStore, tmp_path: Path, stage: str, fault: Fault
) -> None:
    api = prefect_client_settings
    failed_log, rerun_log = CallLog(tmp_path / "failed.jsonl"), CallLog(tmp_path / "rerun.jsonl")

    error, run = run_film(api, failed_log, [fault])

    assert isinstance(error, StageFailed), f"expected the run to fail, got {error!r}"
    assert str(error).startswith(f"the {stage} stage failed: InjectedPermanentError: CUDA error")
    assert "run the film again with the same inputs to resume" in str(error)
    assert run["state"]["type"] == "FAILED" and f"the {stage} stage failed" in run["state"]["message"]
    assert failed_log.calls()[fault.method] == RENDER_CALLS[fault.method], "a permanent failure was retried"
    before = local_films.manifest()["artifacts"]

    result, run = run_film(api, rerun_log, [])

    assert run["state"]["type"] == "COMPLETED", f"the rerun failed: {result}"
    # The rerun makes the failed unit again and everything after it; nothing before it.
    later = list(RENDER_CALLS)[list(RENDER_CALLS).index(fault.method) + 1 :]
    assert rerun_log.calls() == {fault.method: 1} | {m: RENDER_CALLS[m] for m in later}
    after = local_films.manifest()["artifacts"]
    assert [k for k, e in before.items() if after[k]["written_at"] != e["written_at"]] == []
    assert local_films.verify().problems == []
    assert np.array_equal(film_frames(Path(result.location.removeprefix("file://"))), uninterrupted_frames(FILM, api))


# --------------------------------------------------------------------------- the Claude writer, over HTTP

ASKED = {key: stage.name for key, stage in STAGES.items()}
KEY = "sk-ant-reliability-" + "Qx7" * 10


@pytest.fixture
def claude(fake_anthropic: FakeAnthropic, monkeypatch: pytest.MonkeyPatch) -> FakeAnthropic:
    """The Claude writer pointed at the fake API, without SDK retries (so Prefect's retries are what is tested)."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("FILMSTITCH_CLAUDE_BASE_URL", fake_anthropic.base_url)
    monkeypatch.setenv("FILMSTITCH_CLAUDE_MAX_RETRIES", "0")
    return fake_anthropic


def test_an_overloaded_writer_is_retried_and_the_film_completes(
    prefect_client_settings: str, local_films: FilmStore, claude: FakeAnthropic, tmp_path: Path
) -> None:
    claude.reply_error(529, "overloaded_error", "Overloaded")
    claude.author = FilmAuthor()

    result, run = run_film(prefect_client_settings, CallLog(tmp_path / "calls.jsonl"), [], writer="claude")

    assert run["state"]["type"] == "COMPLETED", f"the film failed: {result}"
    assert claude.asked == [
        ASKED["outline"],
        ASKED["outline"],
        ASKED["segments"],
        ASKED["characters"],
        ASKED["environments"],
        ASKED["keyframes"],
    ]
    assert [r.headers["x-stainless-retry-count"] for r in claude.requests] == ["0"] * 6  # Prefect retried, not the SDK
    assert result.writer.startswith("Claude")


def test_a_refused_writer_call_names_the_stage_and_the_rerun_asks_only_what_is_missing(
    prefect_client_settings: str, claude: FakeAnthropic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = prefect_client_settings
    monkeypatch.setenv("FILMSTITCH_STORAGE_DIR", str(tmp_path / "films"))
    for _ in range(3):  # outline, segments, characters
        claude.reply_authored()
    claude.reply_error(400, "invalid_request_error", "prompt is too long")

    error, run = run_film(api, CallLog(tmp_path / "failed.jsonl"), [], writer="claude")

    assert isinstance(error, StageFailed) and str(error).startswith("the writing stage failed: WriterError:")
    assert "Claude environments call was refused (400 invalid_request_error: prompt is too long)" in str(error)
    assert run["state"]["type"] == "FAILED" and "the writing stage failed" in run["state"]["message"]
    assert len(claude.requests) == 4  # a refused request is not retried

    claude.author = FilmAuthor()
    result, run = run_film(api, CallLog(tmp_path / "rerun.jsonl"), [], writer="claude")

    assert run["state"]["type"] == "COMPLETED", f"the rerun failed: {result}"
    assert claude.asked[4:] == [ASKED["environments"], ASKED["keyframes"]]
    store = FilmStore.open(
        StorageConfig(root=str(tmp_path / "films")),
        FilmRequest.model_validate(FILM.request().model_dump()).resolved("claude", "animatic").film_id(),
    )
    assert store.verify().problems == [] and store.manifest()["status"] == "finished"
