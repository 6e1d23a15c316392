"""The film's estimate before work starts (filmstitch.estimate), with what its storage says was spent already.

Plain functions: `filmstitch make` prints the estimate before it starts a server; the make-film flow calls
`check_budget` first thing, which logs it, keeps the film's first estimate as a record beside it
(`estimate.json`, out of the manifest like `film.json`) and refuses a film over its budget with one line; the
film card shows that estimate beside what the writer spent (`cost_line`).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from filmstitch.estimate import FilmEstimate, count_writer_base, estimate_film
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


#: The film's first estimate, a record beside the film (kept out of the manifest, like film.json).
ESTIMATE = "estimate.json"


def cost_line(store: FilmStore, storage: StorageConfig) -> str | None:
    """The film card's line: the first estimate beside what the writer spent (renders are not metered)."""
    record = store.read_record(ESTIMATE)
    if record is None:
        return None
    estimate = FilmEstimate.model_validate({k: v for k, v in record.items() if k not in ("usd_low", "usd_high")})
    spent = spent_usage(store, storage)
    spent_usd = sum(float(call.get("cost_usd", 0.0)) for call in spent)
    seconds = [f"{low:,.0f}-{high:,.0f} {unit}" for unit in ("GPU-s", "CPU-s")
               for low, high in [estimate.seconds(unit)] if high]  # type: ignore[arg-type]
    return (f"Estimated before it started: ${estimate.usd_low:.2f}-${estimate.usd_high:.2f}"
            + (f" ({', '.join(seconds)})" if seconds else "") + f"; spent by the writer: ${spent_usd:.4f}")


def _logger() -> logging.Logger | logging.LoggerAdapter:
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return log
