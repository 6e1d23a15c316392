"""A budget on a running film (tasks/estimate.py): the film is stopped before the stage that would pass it, by
what its records say it spent (render seconds x the price table), with one line; nothing made is lost, and a
rerun with a higher budget resumes from the stored parts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from filmstitch.estimate import CostSettings, estimate_film
from filmstitch.flows.make_film import make_film
from filmstitch.models import FilmPlan
from filmstitch.renderers.animatic import AnimaticRenderer
from filmstitch.settings import StorageConfig
from filmstitch.storage import FilmStore
from filmstitch.tasks.estimate import ESTIMATE, OverBudget, cost_line, render_records, spent_so_far
from tests.integration.test_resume import SMALL
from tests.support.calls import Calls, count_calls

ORIGINAL_REFERENCES = AnimaticRenderer.reference_variants
#: A CPU-second priced at a dollar: the animatic film then costs dollars, so a budget is a few of them.
CPU_PRICE = "1.0"


@pytest.fixture
def films(prefect_client_settings: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FILMSTITCH_STORAGE_DIR", str(tmp_path / "films"))
    monkeypatch.setenv("FILMSTITCH_COST_CPU_USD_PER_SECOND", CPU_PRICE)
    return tmp_path / "films"


def slower_references(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """The references take `seconds` more each, as on a machine slower than the one the estimate was measured
    on: the render is real, only slower, and its seconds are measured like any render's."""
    original = ORIGINAL_REFERENCES

    def slow(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        made = original(self, *args, **kwargs)
        time.sleep(seconds)
        return made

    monkeypatch.setattr(AnimaticRenderer, "reference_variants", slow)


@pytest.mark.prefect_server
def test_a_budget_stops_a_running_film_before_the_stage_that_would_pass_it_and_a_rerun_resumes(
    films: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = SMALL.resolved("offline", "animatic")
    estimate = estimate_film(request, cost_settings=CostSettings())
    references = estimate.lines[1]
    assert references.what.startswith("references") and references.usd_high > 0  # the CPU price is read
    budget = estimate.usd_low  # the estimate fits it: the film starts
    slower_references(monkeypatch, seconds=references.high)  # each subject's take alone passes the stage's high end
    calls: Calls = count_calls(monkeypatch)

    state = make_film(request=request.model_copy(update={"max_cost_usd": budget}), auto_pick=True,
                      return_state=True)

    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, OverBudget), error
    message = str(error)
    assert message.startswith("stopped before the keyframes: spent $") and "\n" not in message
    assert f"over the budget of ${budget:g}" in message and "run it again with a higher budget" in message
    store = FilmStore.open(StorageConfig(root=str(films)), request.film_id())
    storage = StorageConfig(root=str(films))
    # What was spent is what the render records say, at the price table: the references' measured seconds.
    records = render_records(store, storage)
    assert records and all(r["part"].startswith("references/") and r["unit"] == "CPU-s" for r in records)
    spent = spent_so_far(store, storage)
    measured = sum(r["seconds"] for r in records)
    assert spent.renders_usd == pytest.approx(measured * float(CPU_PRICE)) and spent.writer_usd == 0
    assert spent.describe() in message and measured > references.high
    # Nothing of the stopped stage was drawn; what was made is kept, intact.
    artifacts = store.manifest()["artifacts"]
    assert not any(key.startswith(("keyframes/", "clips/")) for key in artifacts)
    made = {k: v["sha256"] for k, v in artifacts.items() if k.startswith("references/")}
    assert made and store.verify().problems == []
    assert calls.take().get("keyframe_variants") is None

    # A rerun with a higher budget resumes: the references are reused, the rest is made, the card says it all.
    monkeypatch.setattr(AnimaticRenderer, "reference_variants", ORIGINAL_REFERENCES)
    calls = count_calls(monkeypatch)
    result = make_film(request=request.model_copy(update={"max_cost_usd": budget + 10 * spent.usd}), auto_pick=True)
    counts = calls.take()
    assert "reference_variants" not in counts and counts["clip"] == SMALL.segments
    artifacts = store.manifest()["artifacts"]
    assert {k: v["sha256"] for k, v in artifacts.items() if k.startswith("references/")} == made
    assert Path(result.location).is_file() and store.read_record(ESTIMATE) is not None
    # The card: the first estimate beside what was spent, by the records of both runs.
    total = spent_so_far(store, storage)
    assert total.renders_usd > spent.renders_usd and total.seconds["CPU-s"] > measured
    low, high = estimate.seconds("CPU-s")
    assert cost_line(store, storage) == (f"Estimated before it started: ${estimate.usd_low:.2f}-"
                                         f"${estimate.usd_high:.2f} ({low:,.0f}-{high:,.0f} CPU-s); "
                                         f"spent: {total.describe()}")


@pytest.mark.prefect_server
def test_a_film_with_sound_records_what_its_voices_and_ambience_spent(films: Path) -> None:
    request = SMALL.model_copy(update={"sound": True}).resolved("offline", "animatic")
    make_film(request=request, auto_pick=True)
    storage = StorageConfig(root=str(films))
    store = FilmStore.open(storage, request.film_id())
    plan = FilmPlan.model_validate_json(store.get("plan/plan.json"))
    sound = {r["part"]: r for r in render_records(store, storage) if r.get("kind") == "sound"}
    assert set(sound) == {*(f"sound/speech/s{k:02d}/take-1" for k in range(SMALL.segments)),
                          *(f"sound/ambience/{location}/take-1" for location in plan.script.locations)}
    assert all(r["unit"] == "CPU-s" and r["backend"] == "offline" and r["seconds"] > 0 for r in sound.values())
    spent = spent_so_far(store, storage)
    assert spent.sound_usd == pytest.approx(sum(r["seconds"] for r in sound.values()) * float(CPU_PRICE), abs=1e-5)
    assert f"sound ${spent.sound_usd:.4f}" in cost_line(store, storage)  # type: ignore[operator]

    make_film(request=request, auto_pick=True)  # everything reused: nothing spent again
    assert spent_so_far(store, storage) == spent
