"""The `film-batch` flow: many ideas in, one film per idea out, and a report of how each went.

    ideas (a list, a text file, or an S3 prefix of text files)
      -> one `make-film` subflow per idea, auto-picked, at most `parallel_films` at a time
      -> a batch report table artifact: idea -> film location, status, duration, cost

A film that fails (a bad idea, a renderer error) is reported and the others go on. GPU work across
every film of every batch (and every other run) is capped by the Prefect global concurrency limit
that `filmstitch.tasks.common.render_slot` takes for the GPU renderers, so a batch can never book more GPUs than
the limit allows, however many films it runs at once.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, as_completed
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel, ValidationError

from filmstitch.models import FilmRequest, FilmSettings, slugify
from filmstitch.settings import Settings, StorageConfig
from filmstitch.storage import FilmStore, S3Store, StorageError, open_store

REPORT_KEY = "film-batch-report"
MAX_IDEAS = 500
MAX_PARALLEL_FILMS = 8


class BatchFailures(RuntimeError):
    """Raised at the end of a batch in which some films failed; `outcomes` holds every film's row."""

    def __init__(self, message: str, outcomes: list[FilmOutcome]) -> None:
        super().__init__(message)
        self.outcomes = outcomes

    def __reduce__(self) -> tuple:  # Prefect pickles a failed run's exception: keep both arguments
        return (type(self), (str(self), self.outcomes))


class FilmOutcome(BaseModel):
    """One row of the batch report."""

    idea: str
    status: Literal["finished", "failed"]
    film_id: str | None = None
    title: str | None = None
    location: str | None = None
    duration_s: float
    film_seconds: float | None = None
    cost_usd: float | None = None
    error: str | None = None


# --------------------------------------------------------------------------- where ideas come from


def read_ideas_text(text: str) -> list[str]:
    """One idea per line; blank lines and lines starting with '#' are skipped (a file's byte-order mark too)."""
    text = text.removeprefix("\ufeff")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def ideas_from_s3(url: str, settings: Settings | None = None) -> list[str]:
    """Every object under an `s3://bucket/prefix` URL is a text file of ideas, read in key order.

    Endpoint, region and credentials come from the same FILMSTITCH_S3_* settings as film storage.
    """
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"ideas_s3_prefix must look like s3://bucket/prefix, got {url!r}")
    settings = settings or Settings()
    config = StorageConfig(
        kind="s3", bucket=parts.netloc, prefix=parts.path.strip("/"),
        endpoint_url=settings.s3_endpoint_url, region=settings.s3_region,
    )
    store = S3Store(config, settings)
    keys = store.list("")
    if not keys:
        raise ValueError(f"no idea files under {store.describe()}")
    ideas: list[str] = []
    for key in keys:
        ideas += read_ideas_text(store.get(key).decode("utf-8"))
    return ideas


def collect_ideas(ideas: list[str] | None, ideas_file: str | None, ideas_s3_prefix: str | None) -> list[str]:
    """Ideas from all the sources given, in that order. An empty batch is an error, not a silent no-op."""
    collected = list(ideas or [])
    if ideas_file:
        path = Path(ideas_file).expanduser()
        if not path.is_file():
            raise ValueError(f"ideas_file {str(path)!r} does not exist (relative paths start at {Path.cwd()})")
        collected += read_ideas_text(path.read_text(encoding="utf-8"))
    if ideas_s3_prefix:
        collected += ideas_from_s3(ideas_s3_prefix)
    if not collected:
        raise ValueError("no ideas: give `ideas`, `ideas_file` or `ideas_s3_prefix`")
    if len(collected) > MAX_IDEAS:
        raise ValueError(f"{len(collected)} ideas in one batch; the limit is {MAX_IDEAS}")
    return collected


# --------------------------------------------------------------------------- one film


def failure_reason(error: BaseException) -> str:
    """One readable line: pydantic's field errors without its URLs, anything else as `Type: message`."""
    if isinstance(error, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in error.errors())
    return f"{type(error).__name__}: {error}"


def film_cost(storage: StorageConfig, film_id: str) -> float | None:
    """The writer's cost: the sum of `usage/*.json` in the film's storage; None when none was recorded."""
    film = FilmStore.open(storage, film_id)
    keys = [key for key in open_store(storage).list(film.full_key("usage")) if key.endswith(".json")]
    if not keys:
        return None
    calls = [call for key in keys for call in film.get_json(key.removeprefix(film.base + "/"))]
    return round(sum(float(call.get("cost_usd", 0.0)) for call in calls), 6)


@task(name="film", cache_policy=NO_CACHE, task_run_name="film: {idea:.60}")
def make_one_film(idea: str, film: FilmSettings) -> FilmOutcome:
    """Run `make-film` as a subflow for one idea; a failure becomes a report row, never an exception."""
    from filmstitch.flows.make_film import make_film

    started = time.monotonic()
    try:
        request = FilmRequest(idea=idea, **film.model_dump())
    except ValidationError as exc:  # refused before any work, and reported like any failed film
        duration = max(0.01, round(time.monotonic() - started, 2))
        return FilmOutcome(idea=idea, status="failed", duration_s=duration, error=failure_reason(exc))
    subflow = make_film.with_options(flow_run_name=f"batch-{slugify(idea, 40)}")
    state: State = subflow(request=request, auto_pick=True, return_state=True)
    duration = round(time.monotonic() - started, 2)
    if not state.is_completed():
        error = state.result(raise_on_failure=False)
        reason = failure_reason(error) if isinstance(error, BaseException) else (state.message or state.name)
        get_run_logger().error("The film for %r failed: %s", idea, reason)
        return FilmOutcome(idea=idea, status="failed", duration_s=duration, error=reason)
    result = state.result()
    try:
        cost = film_cost(Settings().storage_config(), result.film_id)
    except StorageError as exc:  # the film is made; a missing cost record must not turn it into a failure
        get_run_logger().warning("No cost for %s: %s", result.film_id, exc)
        cost = None
    return FilmOutcome(
        idea=idea, status="finished", film_id=result.film_id, title=result.title, location=result.location,
        duration_s=duration, film_seconds=result.duration_s, cost_usd=cost,
    )


def run_bounded(ideas: list[str], film: FilmSettings, parallel: int) -> list[FilmOutcome]:
    """Submit films keeping at most `parallel` in flight; outcomes in the order of `ideas`."""
    pending = list(enumerate(ideas))
    running: dict[PrefectFuture, int] = {}
    outcomes: dict[int, FilmOutcome] = {}
    while pending or running:
        while pending and len(running) < parallel:
            index, idea = pending.pop(0)
            running[make_one_film.submit(idea, film)] = index
        done = next(iter(as_completed(list(running))))
        outcomes[running.pop(done)] = done.result()
    return [outcomes[i] for i in range(len(ideas))]


# --------------------------------------------------------------------------- the batch


@flow(
    name="film-batch", log_prints=True, persist_result=True,
    task_runner=ThreadPoolTaskRunner(max_workers=MAX_PARALLEL_FILMS),
)
def film_batch(
    ideas: list[str] | None = None,
    ideas_file: str | None = None,
    ideas_s3_prefix: str | None = None,
    film: FilmSettings = FilmSettings(),  # noqa: B008 - a flow parameter's default, shown in its schema
    parallel_films: int = 2,
) -> list[FilmOutcome]:
    """Make one film per idea, picked automatically, and report how each went.

    Args:
        ideas: Film ideas, one per entry.
        ideas_file: A text file of ideas, one per line ('#' starts a comment), on the machine that runs the batch.
        ideas_s3_prefix: s3://bucket/prefix: every object under it is a text file of ideas (FILMSTITCH_S3_* settings).
        film: How every film is made (the same fields as make-film's request, without the idea).
        parallel_films: Films made at the same time (1-8). GPU renders of all films share the machine's GPU slots.
    """
    logger = get_run_logger()
    if not 1 <= parallel_films <= MAX_PARALLEL_FILMS:
        raise ValueError(f"parallel_films must be 1-{MAX_PARALLEL_FILMS}, got {parallel_films}")
    # Settings shared by every film are checked once, before any work: a bad one would fail them all.
    FilmRequest(idea="a check of the shared film settings", **film.model_dump())
    all_ideas = collect_ideas(ideas, ideas_file, ideas_s3_prefix)
    logger.info("Batch of %d films, %d at a time", len(all_ideas), parallel_films)

    outcomes = run_bounded(all_ideas, film, parallel_films)
    publish_report(outcomes)
    failed = sum(o.status == "failed" for o in outcomes)
    if failed:
        # A nightly batch with a failure must be noticed (notifications fire on Failed); the report and
        # the films that were made are all there.
        raise BatchFailures(
            f"{len(outcomes) - failed} of {len(outcomes)} films made, {failed} failed (see the {REPORT_KEY} artifact)",
            outcomes,
        )
    logger.info("All %d films made", len(outcomes))
    return outcomes


def publish_report(outcomes: list[FilmOutcome]) -> None:
    rows = [
        {
            "idea": o.idea if len(o.idea) <= 120 else o.idea[:117] + "...",
            "status": o.status,
            "film": o.location or "",
            "title": o.title or "",
            "duration_s": o.duration_s,
            "film_seconds": o.film_seconds if o.film_seconds is not None else "",
            "cost_usd": o.cost_usd if o.cost_usd is not None else "",
            "error": o.error or "",
        }
        for o in outcomes
    ]
    made = sum(o.status == "finished" for o in outcomes)
    create_table_artifact(rows, key=REPORT_KEY, description=f"Film batch: {made} of {len(outcomes)} films made")
