"""The film's estimate before work starts (filmstitch.estimate), with what its storage says was spent already.

Plain functions: `filmstitch make` prints the estimate before it starts a server; the make-film flow calls
`check_budget` first thing, which logs it, keeps the film's first estimate as a record beside it
(`estimate.json`, out of the manifest like `film.json`) and refuses a film over its budget with one line; the
film card shows that estimate beside what was spent (`cost_line`). A film with a budget is checked again before
each render stage against what its records say it spent (`check_running_budget`): every render and every
voice or ambience part stores its measured seconds (`metered`), priced with the table in
filmstitch.estimate.CostSettings.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from filmstitch import backends
from filmstitch.backends import Backend
from filmstitch.estimate import CostSettings, FilmEstimate, approximate_base, count_writer_base, estimate_film
from filmstitch.models import FilmRequest
from filmstitch.settings import StorageConfig
from filmstitch.storage import FilmStore, open_store

log = logging.getLogger(__name__)


class OverBudget(ValueError):
    """The film's estimate is over its budget (max_cost_usd); nothing was made."""


def spent_usage(store: FilmStore, storage: StorageConfig) -> list[dict[str, Any]]:
    """Every usage record the film's writer calls stored (`usage/*.json`); none for a new film."""
    with contextlib.suppress(Exception):  # no usage folder yet, or a store that cannot list: nothing spent
        keys = [key for key in open_store(storage).list(store.full_key("usage")) if key.endswith(".json")]
        return [call for key in keys for call in store.get_json(key.removeprefix(store.base + "/"))]
    return []


def film_estimate(request: FilmRequest, storage: StorageConfig, film_id: str, gate: Any = None, *,
                  read_blocks: bool = True) -> FilmEstimate:
    """The estimate of a resolved request: the writer's spending so far from the film's storage, its tokens to
    come (the first question counted by the API) unless the plan is written."""
    store = FilmStore.open(storage, film_id)
    plan_written = store.exists("plan/plan.json")
    base, counted = (None, False) if plan_written else count_writer_base(request, gate, read_blocks=read_blocks)
    return estimate_film(request, writer_base=base, counted=counted, spent=spent_usage(store, storage),
                         plan_written=plan_written)


def check_budget(request: FilmRequest, storage: StorageConfig, film_id: str, gate: Any = None) -> FilmEstimate:
    """Log and store the estimate; OverBudget (one line) when even its low end passes the request's budget."""
    estimate = film_estimate(request, storage, film_id, gate)
    logger = _logger()
    for line in estimate.summary().splitlines():
        logger.info(line)
    refusal = estimate.over_budget(request.max_cost_usd)
    if refusal is not None:
        raise OverBudget(refusal)
    record = {**estimate.model_dump(mode="json"), "usd_low": estimate.usd_low, "usd_high": estimate.usd_high}
    with contextlib.suppress(Exception):  # for the film card only: never the reason a film fails
        FilmStore.open(storage, film_id).update_record(ESTIMATE, lambda current: current or record)
    return estimate


def plan_estimate(request: FilmRequest, storage: StorageConfig, film_id: str, subjects: int) -> FilmEstimate:
    """The estimate at the script checkpoint: the writer's calls are spent (their usage records), the renders
    to come priced for the written plan's `subjects` (characters and locations)."""
    store = FilmStore.open(storage, film_id)
    return estimate_film(request, spent=spent_usage(store, storage), plan_written=True, subjects=subjects)


def script_cost(request: FilmRequest, storage: StorageConfig, film_id: str, subjects: int) -> str:
    """`plan_estimate`'s summary for the script checkpoint; empty (and a warning) when it cannot be made: the
    estimate is shown to the person, never the reason a film fails."""
    try:
        return plan_estimate(request, storage, film_id, subjects).summary()
    except Exception as exc:  # noqa: BLE001 - any failure of the estimate only loses the estimate
        _logger().warning("No estimate at the script checkpoint: %s: %s", type(exc).__name__, exc)
        return ""


def batch_estimates(requests: list[FilmRequest], storage: StorageConfig) -> list[FilmEstimate]:
    """Each film's estimate, for a batch: the writer's first question estimated from its text (one API call
    per idea would be slow for a large batch), what a film resumed from its storage already spent counted."""
    estimates = []
    for request in requests:
        store = FilmStore.open(storage, request.film_id())
        plan_written = store.exists("plan/plan.json")
        base = approximate_base(request) if request.writer == "claude" and not plan_written else None
        estimates.append(estimate_film(request, writer_base=base, spent=spent_usage(store, storage),
                                       plan_written=plan_written))
    return estimates


def check_batch_budget(ideas: list[str], requests: list[FilmRequest], storage: StorageConfig,
                       budget: float | None) -> None:
    """Log each idea's estimate and the batch's total; OverBudget (one line) when the total's low end passes the
    batch's budget, before any film starts."""
    logger = _logger()
    try:
        estimates = batch_estimates(requests, storage)
    except Exception as exc:  # noqa: BLE001 - without a budget, a missing estimate only loses the estimate
        if budget is not None:
            raise OverBudget(f"this batch's cost cannot be estimated ({type(exc).__name__}: {exc}), so its budget "
                             "(max_batch_cost_usd) cannot be kept: nothing was started") from None
        logger.warning("No estimate for the batch: %s: %s", type(exc).__name__, exc)
        return
    for idea, estimate in zip(ideas, estimates):
        logger.info("Estimate $%.2f-$%.2f for %r", estimate.usd_low, estimate.usd_high, idea[:80])
    low, high = sum(e.usd_low for e in estimates), sum(e.usd_high for e in estimates)
    seconds = [f"{sum(e.seconds(unit)[0] for e in estimates):,.0f}-{sum(e.seconds(unit)[1] for e in estimates):,.0f}"
               f" {unit}" for unit in ("GPU-s", "CPU-s") if any(e.seconds(unit)[1] for e in estimates)]  # type: ignore[arg-type]
    logger.info("Estimate for the batch of %d films: $%.2f-$%.2f%s", len(estimates), low, high,
                f" ({', '.join(seconds)})" if seconds else "")
    if budget is not None and low > budget:
        raise OverBudget(f"this batch's estimate is ${low:.2f}-${high:.2f} for {len(estimates)} films, over its budget "
                         f"of ${budget:g} (max_batch_cost_usd): fewer or shorter films, a cheaper renderer or model, "
                         "or a higher budget")


#: The film's first estimate, a record beside the film (kept out of the manifest, like film.json).
ESTIMATE = "estimate.json"


def cost_line(store: FilmStore, storage: StorageConfig) -> str | None:
    """The film card's line: the first estimate beside what was spent, by the records (the writer's usage, the
    renders' measured seconds at the price table)."""
    record = store.read_record(ESTIMATE)
    if record is None:
        return None
    estimate = FilmEstimate.model_validate({k: v for k, v in record.items() if k not in ("usd_low", "usd_high")})
    seconds = [f"{low:,.0f}-{high:,.0f} {unit}" for unit in ("GPU-s", "CPU-s")
               for low, high in [estimate.seconds(unit)] if high]  # type: ignore[arg-type]
    return (f"Estimated before it started: ${estimate.usd_low:.2f}-${estimate.usd_high:.2f}"
            + (f" ({', '.join(seconds)})" if seconds else "") + f"; spent: {spent_so_far(store, storage).describe()}")


def _logger() -> logging.Logger | logging.LoggerAdapter:
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return log


# --------------------------------------------------------------------------- what a running film has spent

#: Each render's measured seconds, one record per take of a part
#: (`renders/references/lena/take-1.json`, `renders/clips/c02/take-1.json`), in the manifest.
RENDERS = "renders"
#: The make-film stages a budget is checked before, in order, and the estimate lines each one spends.
STAGES = ("references", "keyframes", "clips")


@contextlib.contextmanager
def metered(ctx: Any, part: str, backend: Backend | None = None) -> Iterator[None]:
    """Time a render (inside its render slot: waiting for a slot costs nothing) and store its seconds, what they
    ran on and their unit: what a budget counts as spent. A render that fails stores nothing. `backend`: what
    renders it, when not the film's renderer (the sound stage's engines)."""
    backend = backend or backends.renderer(ctx.renderer)
    started = time.monotonic()
    yield
    seconds = round(time.monotonic() - started, 3)
    record = {"part": part, "kind": backend.kind, "backend": backend.name, "gpu": modal_gpu_of(backend, part),
              "seconds": seconds, "unit": "CPU-s" if backend.resource == "cpu" else "GPU-s"}
    ctx.store().put_json(f"{RENDERS}/{part}.json", record, stage="render-seconds")


def modal_gpu_of(backend: Backend, part: str) -> str | None:
    """The Modal GPU type a part renders on (priced per type), None off Modal: the sound workers have their own,
    and the clips theirs (LTX-2 needs an 80 GB card)."""
    if backend.resource is not None:  # a machine of ours: CPU or a local GPU
        return None
    if backend.kind == "sound":
        from filmstitch.sound.settings import SoundSettings

        return SoundSettings().modal_gpu
    from filmstitch.engines import GpuSettings

    settings = GpuSettings()
    return settings.effective_modal_video_gpu if part.startswith("clips/") else settings.modal_gpu


class Spent(BaseModel):
    """What a film has spent, from its records: the writer's usage (USD), and the measured seconds of its renders
    and of its sound (voices, ambience) at today's price table."""

    writer_usd: float
    renders_usd: float
    sound_usd: float = 0.0
    seconds: dict[str, float]
    #: Whether the film has any usage or seconds record at all (a film that recorded nothing vs one that cost $0).
    recorded: bool = False

    @property
    def usd(self) -> float:
        return round(self.writer_usd + self.renders_usd + self.sound_usd, 4)

    def describe(self) -> str:
        seconds = ", ".join(f"{value:,.1f} {unit}" for unit, value in self.seconds.items() if value)
        sound = f", sound ${self.sound_usd:.4f}" if self.sound_usd else ""
        return f"${self.usd:.4f} (writer ${self.writer_usd:.4f}, renders ${self.renders_usd:.4f}{sound}" + \
            (f" for {seconds})" if seconds else ")")


def spent_so_far(store: FilmStore, storage: StorageConfig, prices: CostSettings | None = None) -> Spent:
    """The film's spending from its stored records: writer usage records, and render and sound seconds x the price
    table."""
    prices = prices or CostSettings()
    usage, records = spent_usage(store, storage), render_records(store, storage)
    writer = sum(float(call.get("cost_usd", 0.0)) for call in usage)
    seconds: dict[str, float] = {"GPU-s": 0.0, "CPU-s": 0.0}
    usd = {"renders": 0.0, "sound": 0.0}
    for record in records:
        unit = "CPU-s" if record.get("unit") == "CPU-s" else "GPU-s"
        seconds[unit] += float(record.get("seconds", 0.0))
        what = "sound" if record.get("kind") == "sound" else "renders"
        usd[what] += float(record.get("seconds", 0.0)) * prices.usd_per_second(unit, record.get("gpu"))
    return Spent(writer_usd=round(writer, 6), renders_usd=round(usd["renders"], 6), sound_usd=round(usd["sound"], 6),
                 seconds={unit: round(value, 3) for unit, value in seconds.items()}, recorded=bool(usage or records))


def render_records(store: FilmStore, storage: StorageConfig) -> list[dict[str, Any]]:
    """Every render's seconds record (`renders/**.json`); none before the first render."""
    with contextlib.suppress(Exception):  # no renders folder yet: nothing rendered
        keys = [key for key in open_store(storage).list(store.full_key(RENDERS)) if key.endswith(".json")]
        return [store.get_json(key.removeprefix(store.base + "/")) for key in keys]
    return []


def check_running_budget(request: FilmRequest, storage: StorageConfig, film_id: str, subjects: int,
                         stage: str) -> None:
    """Before `stage` (one of STAGES) of a film with a budget: OverBudget (one line) when what it has spent, by its
    records, plus the low estimate of this stage and those after it (and what the sound's low estimate has not spent
    yet) passes the budget. Everything made so far stays stored: a rerun with a higher budget resumes from it."""
    budget = request.max_cost_usd
    if budget is None:
        return
    store = FilmStore.open(storage, film_id)
    prices = CostSettings()
    spent = spent_so_far(store, storage, prices)
    estimate = estimate_film(request, plan_written=True, subjects=subjects, cost_settings=prices)
    to_come = STAGES[STAGES.index(stage):]
    coming = [line for line in estimate.lines if line.what.split(" ")[0] in to_come]
    # The sound runs beside the pictures: what of its low estimate its own records have not spent yet.
    sound_low = sum(line.usd_low for line in estimate.lines if line.what.startswith("sound"))
    low = sum(line.usd_low for line in coming) + max(0.0, sound_low - spent.sound_usd)
    _logger().info("Budget before the %s: spent %s; at least $%.4f to come, of $%g", stage, spent.describe(), low,
                   budget)
    if spent.usd + low > budget:
        raise OverBudget(f"stopped before the {stage}: spent {spent.describe()} and the rest costs at least "
                         f"${low:.4f}, over the budget of ${budget:g} (--max-cost / max_cost_usd); everything made is "
                         "kept: run it again with a higher budget to resume")
