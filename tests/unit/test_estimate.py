"""The film's cost before it is made (filmstitch/estimate.py): the default film on each renderer, its range
holding what the benchmarks measured, the writer's tokens against the fake Messages API, and the budget refusal
(from the CLI, before anything starts, and from the flow's first step)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from filmstitch.estimate import MODAL_USD_PER_SECOND, CostSettings, FilmEstimate, count_writer_base, estimate_film
from filmstitch.models import FilmRequest
from filmstitch.settings import StorageConfig
from filmstitch.tasks.estimate import OverBudget, check_budget
from filmstitch.testing.fake_anthropic import FakeAnthropic
from filmstitch.testing.film_author import FilmAuthor
from tests.unit.test_claude_writer import IDEA, KEY, make_writer, write_film

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"


def default_film(renderer: str, writer: str = "offline", **overrides: object) -> FilmRequest:
    return FilmRequest(idea=IDEA, writer=writer, renderer=renderer, **overrides)  # 10 segments of 8 s, 768x512


def renders(estimate: FilmEstimate, unit: str) -> tuple[float, float]:
    lines = [line for line in estimate.lines if line.unit == unit and not line.what.startswith("sound")]
    return sum(line.low for line in lines), sum(line.high for line in lines)


def test_the_animatic_film_costs_cpu_seconds_and_no_money() -> None:
    estimate = estimate_film(default_film("animatic"))
    low, high = renders(estimate, "CPU-s")
    # The offline film measured on the 2-core machine: references, keyframes and clips took this wall time
    # (first film of benchmarks/results/offline-film-10-ideas-2core.txt), so between 1x and 2x of it in CPU-s.
    text = (RESULTS / "offline-film-10-ideas-2core.txt").read_text()
    stages = dict(re.findall(r"^(references|keyframes|clips)\s+\d+\s+([\d.]+\s+[\d.]+)$", text, re.MULTILINE)[:3])
    wall = sum(float(b) - float(a) for a, b in (span.split() for span in stages.values()))
    assert set(stages) == {"references", "keyframes", "clips"} and 20 < wall < 60
    assert low <= 2 * wall and high >= wall, (low, high, wall)
    assert estimate.usd_low == estimate.usd_high == 0 and estimate.renderer == "animatic"
    assert "CPU-s" in estimate.summary() and "$0.00-$0.00" in estimate.summary()


@pytest.mark.parametrize(("mode", "env"), [("baseline_eager", {}), ("compiled", {"FILMSTITCH_GPU_COMPILE": "1"}),
                                           ("fast", {"FILMSTITCH_GPU_FAST": "1"})])
def test_the_gpu_films_range_holds_the_benchmarks_measured_film(
    monkeypatch: pytest.MonkeyPatch, mode: str, env: dict[str, str]
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    measured = json.loads((RESULTS / "h200-cost2-film.json").read_text())[mode]["film_s"]

    estimate = estimate_film(default_film("local-gpu"))

    low, high = renders(estimate, "GPU-s")
    assert low <= measured <= high, (mode, low, measured, high)
    assert estimate.usd_high == 0  # a local GPU is counted in GPU-seconds, not priced
    if mode == "compiled":  # the H100 whole-film run, compiled, first calls included (FACTS, 2026-12-07)
        assert low <= 261.2 <= high


def test_modal_is_priced_per_gpu_second_from_the_settings_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILMSTITCH_GPU_MODAL_GPU", "H100")
    estimate = estimate_film(default_film("modal", sound=False))
    low, high = renders(estimate, "GPU-s")
    assert estimate.gpu == "H100"
    assert estimate.usd_low == pytest.approx(low * MODAL_USD_PER_SECOND["H100"], abs=1e-3)
    assert estimate.usd_high == pytest.approx(high * MODAL_USD_PER_SECOND["H100"], abs=1e-3)

    monkeypatch.setenv("FILMSTITCH_COST_GPU_USD_PER_SECOND", json.dumps({"H100": 0.01}))
    assert CostSettings().gpu_usd_per_second == {"H100": 0.01}
    assert estimate_film(default_film("modal", sound=False)).usd_high == pytest.approx(high * 0.01, abs=1e-2)

    monkeypatch.setenv("FILMSTITCH_GPU_MODAL_GPU", "A100-40GB")  # not measured there: a wider high end, said so
    wide = estimate_film(default_film("modal", sound=False))
    assert renders(wide, "GPU-s")[1] > 2.5 * high and "not on A100-40GB" in wide.summary()


def test_the_claude_writers_range_holds_what_the_film_cost(fake_anthropic: FakeAnthropic,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("FILMSTITCH_CLAUDE_BASE_URL", fake_anthropic.base_url)
    fake_anthropic.author = FilmAuthor()
    for segments in (10, 30):
        request = default_film("animatic", writer="claude", segments=segments)
        base, counted = count_writer_base(request)
        assert counted and len(fake_anthropic.counts) >= 1 and fake_anthropic.requests == []
        line = estimate_film(request, writer_base=base, counted=True).lines[0]

        writer = make_writer(fake_anthropic)
        write_film(writer, request)
        usage = writer.take_usage()
        fake_anthropic.requests.clear()

        tokens = sum(u.input_tokens + u.output_tokens + u.cache_read_tokens + u.cache_write_tokens for u in usage)
        spent = sum(u.cost_usd for u in usage)
        assert line.low <= tokens <= line.high, (segments, line, tokens)
        assert line.usd_low <= spent <= line.usd_high, (segments, line, spent)
        assert "counted by the API" in line.note


def test_spent_usage_counts_and_a_written_plan_asks_nothing_more(tmp_path: Path) -> None:
    from filmstitch.storage import FilmStore

    storage = StorageConfig(root=str(tmp_path / "films"))
    request = default_film("animatic").resolved("offline", "animatic")
    store = FilmStore.open(storage, request.film_id())
    store.put_json("usage/script.json", [{"stage": "outline", "model": "m", "cost_usd": 0.25, "input_tokens": 100}])
    store.put_json("plan/plan.json", {"written": True})

    estimate = check_budget(request, storage, request.film_id())

    assert estimate.spent_usd == 0.25 and estimate.spent_tokens == 100 and estimate.usd_low == 0.25
    assert not any(line.what.startswith("writer") for line in estimate.lines)


def test_a_film_over_its_budget_is_refused_by_the_flows_first_step(
    tmp_path: Path, fake_anthropic: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("FILMSTITCH_CLAUDE_BASE_URL", fake_anthropic.base_url)
    storage = StorageConfig(root=str(tmp_path / "films"))
    request = default_film("animatic", writer="claude", max_cost_usd=0.001)
    assert "max_cost_usd" not in request.model_dump() and request.film_id() == default_film(
        "animatic", writer="claude").film_id()  # a budget changes neither the film nor its reuse keys

    with pytest.raises(OverBudget, match=r"over its budget of \$0\.001 \(--max-cost / max_cost_usd\)"):
        check_budget(request, storage, request.film_id())
    assert fake_anthropic.requests == []  # nothing was written
    check_budget(request.model_copy(update={"max_cost_usd": 5.0}), storage, request.film_id())


def test_the_cli_prints_the_estimate_and_refuses_over_max_cost_before_anything_starts(
    tmp_path: Path, fake_anthropic: FakeAnthropic
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ANTHROPIC_API_KEY": KEY,
           "FILMSTITCH_CLAUDE_BASE_URL": fake_anthropic.base_url, "PREFECT_API_URL": "http://127.0.0.1:9/api"}
    films = tmp_path / "films"
    done = subprocess.run(
        [sys.executable, "-m", "filmstitch.app.cli", "make", IDEA, "--writer", "claude", "--renderer", "animatic",
         "--no-sound", "--max-cost", "0.001", "--out", str(films)],
        env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Estimate for this film (animatic): $" in done.stderr and "writer (claude-sonnet-5-5)" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: this film's estimate is $")
    assert "over its budget of $0.001" in done.stderr and done.stdout == ""
    assert not films.exists() and fake_anthropic.requests == [] and len(fake_anthropic.counts) == 1


def test_the_film_card_line_shows_the_first_estimate_beside_what_was_spent(tmp_path: Path) -> None:
    from filmstitch.storage import FilmStore
    from filmstitch.tasks.estimate import ESTIMATE, cost_line

    storage = StorageConfig(root=str(tmp_path / "films"))
    request = default_film("animatic").resolved("offline", "animatic")
    store = FilmStore.open(storage, request.film_id())
    assert cost_line(store, storage) is None  # no estimate recorded: no line

    first = check_budget(request, storage, request.film_id())
    store.put_json("usage/script.json", [{"stage": "outline", "model": "m", "cost_usd": 0.0123}])
    check_budget(request, storage, request.film_id())  # a rerun keeps the first estimate

    low, high = first.seconds("CPU-s")
    assert store.read_record(ESTIMATE)["usd_high"] == first.usd_high
    assert cost_line(store, storage) == (f"Estimated before it started: $0.00-$0.00 ({low:,.0f}-{high:,.0f} CPU-s); "
                                         "spent: $0.0123 (writer $0.0123, renders $0.0000)")
    store.put_json("renders/clips/c00/take-1.json", {"part": "clips/c00/take-1", "renderer": "modal", "gpu": "H100",
                                                     "unit": "GPU-s", "seconds": 100.0})
    renders = round(100 * MODAL_USD_PER_SECOND["H100"], 4)
    assert cost_line(store, storage).endswith(  # type: ignore[union-attr]
        f"spent: ${0.0123 + renders:.4f} (writer $0.0123, renders ${renders:.4f} for 100.0 GPU-s)")
    assert store.verify().problems == []  # the record stays out of the manifest


def test_the_script_checkpoint_shows_the_estimate_for_the_written_plan(tmp_path: Path) -> None:
    from filmstitch import checkpoints
    from filmstitch import script_checkpoint as sc
    from filmstitch.storage import FilmStore
    from filmstitch.tasks.estimate import plan_estimate, script_cost
    from filmstitch.testing.plans import offline_plan

    storage = StorageConfig(root=str(tmp_path / "films"))
    request = default_film("modal").resolved("offline", "modal")
    plan = offline_plan(request)
    store = FilmStore.open(storage, request.film_id())
    store.put_json("usage/script.json", [{"stage": "outline", "model": "m", "cost_usd": 0.5, "input_tokens": 10}])
    before = estimate_film(request)
    estimate = plan_estimate(request, storage, request.film_id(), len(plan.subjects))

    # The plan is written: the writer's spending is what its records say, the references are the plan's subjects.
    assert estimate.spent_usd == 0.5 and not any(line.what.startswith("writer") for line in estimate.lines)
    references = estimate.lines[0]
    assert references.what == f"references ({len(plan.subjects)} subjects x 3)"
    assert before.lines[1].low <= references.low and references.high <= before.lines[1].high
    assert references.usd_low > 0  # Modal GPU-seconds are priced

    cost = script_cost(request, storage, request.film_id(), len(plan.subjects))
    assert cost == estimate.summary()
    [page] = sc.script_pages(plan)
    shown = sc.script_checkpoint(request.film_id(), plan, page, 0, 1, 600, cost)
    markdown = checkpoints.form_markdown(shown, lambda tag, v: "", None)
    first = cost.splitlines()[0]
    assert f"**{checkpoints.escape_markdown(first)}**" in markdown and f"${estimate.usd_low:.2f}" in first
    assert markdown.index(first.split("(")[0]) < markdown.index("### ")  # read before the script
    for line in cost.splitlines()[1:]:
        assert f"- {checkpoints.escape_markdown(line)}" in markdown
    assert checkpoints.form_schema_extra(shown)["cost"] == cost  # the review page, the terminal, REST clients
    assert shown.fingerprint() == sc.script_checkpoint(request.film_id(), plan, page, 0, 1, 600).fingerprint()


def test_a_batch_logs_each_films_estimate_and_is_refused_over_its_budget(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from filmstitch.tasks.estimate import check_batch_budget

    storage = StorageConfig(root=str(tmp_path / "films"))
    ideas = ["a kite escapes over the rooftops", "a lighthouse keeper befriends a storm"]
    requests = [FilmRequest(idea=idea, renderer="modal", segments=4).resolved("offline", "modal") for idea in ideas]
    one = estimate_film(requests[0])
    assert one.usd_low > 0
    with caplog.at_level("INFO"):
        check_batch_budget(ideas, requests, storage, None)
    logged = caplog.text
    assert all(f"for {idea!r}" in logged for idea in ideas) and "Estimate for the batch of 2 films: $" in logged

    total = sum(estimate_film(r).usd_low for r in requests)
    with pytest.raises(OverBudget, match=r"this batch's estimate is \$.* for 2 films, over its budget of \$"):
        check_batch_budget(ideas, requests, storage, total * 0.9)
    check_batch_budget(ideas, requests, storage, total * 1.1)


def test_a_retake_on_modal_is_priced_and_refused_over_its_budget() -> None:
    from filmstitch.models import RetakeRequest
    from filmstitch.renderers.cost import Estimate, PartCost

    estimate = Estimate(parts=[PartCost(what="clip 3", seconds=120.0, on="GPU")], basis="b", gpu="H100",
                        usd_per_second=MODAL_USD_PER_SECOND["H100"])
    assert estimate.usd == round(120 * MODAL_USD_PER_SECOND["H100"], 4)
    assert f"(${estimate.usd:.2f} on H100)" in estimate.summary()
    assert estimate.over_budget(1.0) is None
    refusal = estimate.over_budget(0.05)
    assert refusal is not None and "over its budget of $0.05 (--max-cost / max_cost_usd)" in refusal
    retake = RetakeRequest(film_id="film-1", clip=3, max_cost_usd=0.05)
    assert "max_cost_usd" not in retake.model_dump()  # never in a take's record or reuse key


def test_a_part_is_priced_on_the_gpu_it_ran_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from filmstitch import backends
    from filmstitch.tasks.estimate import modal_gpu_of

    monkeypatch.setenv("FILMSTITCH_GPU_MODAL_GPU", "A100-40GB")
    monkeypatch.setenv("FILMSTITCH_GPU_VIDEO_ENGINE", "ltx-2")
    monkeypatch.setenv("FILMSTITCH_SOUND_MODAL_GPU", "L4")
    modal, sound = backends.renderer("modal"), backends.sound_engine("modal")
    assert modal_gpu_of(modal, "keyframes/k01/take-1") == "A100-40GB"
    assert modal_gpu_of(modal, "clips/c01/take-1") == "H100"  # LTX-2's clip worker: an 80 GB card
    assert modal_gpu_of(sound, "sound/speech/s01/take-1") == "L4"
    assert modal_gpu_of(backends.renderer("local-gpu"), "clips/c01/take-1") is None  # our own GPU: GPU-s
    assert modal_gpu_of(backends.sound_engine("offline"), "sound/ambience/moon/take-1") is None


def test_the_sound_is_spent_by_its_records_and_a_running_budget_counts_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sound runs beside the pictures: before a render stage, what the sound's records spent replaces its low
    estimate (up to it), so a film whose sound is done is not charged for it twice."""
    from filmstitch.storage import FilmStore
    from filmstitch.tasks.estimate import STAGES, check_running_budget, spent_so_far

    monkeypatch.setenv("FILMSTITCH_COST_CPU_USD_PER_SECOND", "1.0")  # a CPU-second at a dollar
    storage = StorageConfig(root=str(tmp_path / "films"))
    request = default_film("animatic").resolved("offline", "animatic")
    assert request.sound
    store = FilmStore.open(storage, request.film_id())
    estimate = estimate_film(request, plan_written=True, subjects=2, cost_settings=CostSettings())
    (sound,) = [line for line in estimate.lines if line.what.startswith("sound")]
    pictures = sum(line.usd_low for line in estimate.lines if line.what.split(" ")[0] in STAGES)
    store.put_json("renders/sound/speech/s00/take-1.json", {
        "part": "sound/speech/s00/take-1", "kind": "sound", "backend": "offline", "gpu": None, "unit": "CPU-s",
        "seconds": sound.usd_low + 0.01})  # the whole of the sound's low estimate, and a cent

    spent = spent_so_far(store, storage)
    assert spent.sound_usd == pytest.approx(sound.usd_low + 0.01) and spent.renders_usd == 0
    assert spent.describe() == (f"${spent.usd:.4f} (writer $0.0000, renders $0.0000, sound ${spent.sound_usd:.4f} "
                                f"for {sound.usd_low + 0.01:,.1f} CPU-s)")
    just_enough = request.model_copy(update={"max_cost_usd": spent.usd + pictures + 0.001})
    check_running_budget(just_enough, storage, request.film_id(), 2, "references")
    short = request.model_copy(update={"max_cost_usd": spent.usd + pictures - 0.005})
    with pytest.raises(OverBudget, match="stopped before the references"):
        check_running_budget(short, storage, request.film_id(), 2, "references")
