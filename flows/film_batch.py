"""The `film-batch` flow: many ideas in, one film per idea out, and a report of how each went.

    ideas (a list, a text file, or an S3 prefix of text files)
      -> one `make-film` deployment run per idea, auto-picked, at most `parallel_films` at a time
      -> a batch report table artifact: idea -> film location, status, duration, cost

Run as a deployment (the UI, a schedule, `FilmStitchClient.create_batch_run`), every film is a top-level run of
the `make-film` deployment (`run_deployment(..., as_subflow=False)`): it goes to whichever worker of the pool is
free, and has its own Cancel and Retry. It is not linked as a subflow on purpose: Prefect cancels a parent's
subflows with it and refuses to suspend a subflow. The link to the batch is the run's tag `film-batch:<batch run
name>` and its name `<batch run name>-<idea>`; the batch waits for its films by polling the server and reads
each film's persisted `FilmResult` (`state.result()`). A film whose run ends Crashed (its worker or the server
died: Prefect 3.8 never retries a crash by itself) is started again, up to `FILM_ATTEMPTS` times; it resumes
from its stored parts.

Called in-process (a test, a script: no deployment), the batch makes its films as subflows in threads of its
own process, as before, at most `MAX_LOCAL_PARALLEL` at a time.

A film that fails (a bad idea, a renderer error) is reported and the others go on. GPU and CPU renders of every
film on a machine share that machine's render slots, lock files (`FILMSTITCH_GPU_SLOTS`, `FILMSTITCH_CPU_RENDERS`;
docs/concurrency.md), so a batch never books more of a machine than it has, however many films run at once.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun
from prefect.context import FlowRunContext
from prefect.deployments import run_deployment
from prefect.events.filters import EventFilter, EventNameFilter, EventOrder, EventResourceFilter
from prefect.exceptions import MissingResult
from prefect.futures import PrefectFuture, as_completed
from prefect.settings import get_current_settings
from prefect.states import Crashed, State
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel, ValidationError

from filmstitch.models import FilmRequest, FilmSettings, slugify
from filmstitch.settings import Settings, StorageConfig
from filmstitch.storage import FilmStore, S3Store, StorageError
from filmstitch.tasks.estimate import check_batch_budget, spent_so_far

REPORT_KEY = "film-batch-report"
MAX_IDEAS = 500
#: Films in flight at once, each a make-film deployment run (the work pool's workers and limits share them out).
MAX_PARALLEL_FILMS = 100
#: Films in flight at once when the batch runs in-process (subflows in threads of one process).
MAX_LOCAL_PARALLEL = 8
#: The deployment each film runs on, as `filmstitch server` and `prefect deploy --all` name it.
MAKE_FILM_DEPLOYMENT = "make-film/make-film"
#: Runs of one film (the first and its reruns after a crash).
FILM_ATTEMPTS = 3
#: Seconds between looks at the films' states.
POLL_S = 2.0
#: Seconds between looks at whether the films in flight still have a process (their heartbeats).
ORPHAN_CHECK_S = 10.0
#: Heartbeat periods a Running film may miss before the batch takes it for dead (Prefect's own guidance).
ORPHANED_AFTER_HEARTBEATS = 3


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
    """What the film spent by its records (`spent_so_far`): the writer's usage, and the measured seconds of its
    renders and its sound at today's price table; None when nothing was recorded."""
    spent = spent_so_far(FilmStore.open(storage, film_id), storage)
    return spent.usd if spent.recorded else None


@task(name="film", cache_policy=NO_CACHE, task_run_name="film: {idea:.60}")
def make_one_film(idea: str, film: FilmSettings) -> FilmOutcome:
    """Run `make-film` as a subflow for one idea (in-process batches); a failure becomes a report row."""
    from filmstitch.flows.make_film import make_film

    started = time.monotonic()
    request = film_request(idea, film)
    if isinstance(request, str):
        return refused(idea, request, started)
    subflow = make_film.with_options(flow_run_name=f"batch-{slugify(idea, 40)}")
    state: State = subflow(request=request, auto_pick=True, return_state=True)
    return outcome_of(idea, state, round(time.monotonic() - started, 2))


def film_request(idea: str, film: FilmSettings) -> FilmRequest | str:
    """The film's request, or why it is refused (before any run is made)."""
    try:
        return FilmRequest(idea=idea, **film.model_dump())
    except ValidationError as exc:
        return failure_reason(exc)


def refused(idea: str, reason: str, started: float) -> FilmOutcome:
    duration = max(0.01, round(time.monotonic() - started, 2))
    return FilmOutcome(idea=idea, status="failed", duration_s=duration, error=reason)


def outcome_of(idea: str, state: State, duration: float) -> FilmOutcome:
    """A report row from a film run's final state; a finished film's row comes from its persisted FilmResult."""
    from filmstitch.flows.make_film import FilmResult
    if not state.is_completed():
        error = failure_of(state)
        reason = failure_reason(error) if isinstance(error, BaseException) else (state.message or state.name)
        get_run_logger().error("The film for %r failed: %s", idea, reason)
        return FilmOutcome(idea=idea, status="failed", duration_s=duration, error=reason)
    # The persisted result is JSON: Prefect gives it back as the FilmResult's fields.
    result = FilmResult.model_validate(state.result())
    try:
        cost = film_cost(Settings().storage_config(), result.film_id)
    except StorageError as exc:  # the film is made; a missing cost record must not turn it into a failure
        get_run_logger().warning("No cost for %s: %s", result.film_id, exc)
        cost = None
    return FilmOutcome(
        idea=idea, status="finished", film_id=result.film_id, title=result.title, location=result.location,
        duration_s=duration, film_seconds=result.duration_s, cost_usd=cost,
    )


def failure_of(state: State) -> object:
    """The exception a failed run stored, or None (a crash or a cancellation stores none)."""
    try:
        return state.result(raise_on_failure=False)
    except (MissingResult, OSError, ValueError):  # nothing stored, or not readable here: the message says why
        return None


def run_bounded(ideas: list[str], film: FilmSettings, parallel: int) -> list[FilmOutcome]:
    """In-process: submit films keeping at most `parallel` in flight; outcomes in the order of `ideas`."""
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


# --------------------------------------------------------------------------- films as deployment runs


class FilmRun(BaseModel):
    """A film of the batch that is being made by a `make-film` deployment run."""

    index: int
    idea: str
    request: FilmRequest
    started: float
    attempt: int = 1
    run_id: UUID | None = None


def batch_link(batch: FlowRun) -> tuple[str, list[str]]:
    """How a film run names its batch: the run-name prefix and the tag (the UI filters runs by tag)."""
    return batch.name, [f"film-batch:{batch.name}", "film-batch"]


def start_film(film: FilmRun, batch: FlowRun) -> None:
    """Create the film's top-level make-film run. The idempotency key makes a batch that is itself run again
    (after a crash of its own worker) find the run it made before instead of making a second one."""
    prefix, tags = batch_link(batch)
    run = run_deployment(
        MAKE_FILM_DEPLOYMENT, parameters={"request": film.request.model_dump(mode="json"), "auto_pick": True},
        flow_run_name=f"{prefix}-{slugify(film.idea, 40)}", tags=tags, timeout=0, as_subflow=False,
        idempotency_key=f"{batch.id}:{film.index}:{film.attempt}",
    )
    film.run_id = run.id


def run_deployments(ideas: list[str], film: FilmSettings, parallel: int, batch: FlowRun) -> list[FilmOutcome]:
    """Start a make-film deployment run per idea, at most `parallel` unfinished at once, and wait for them."""
    logger = get_run_logger()
    outcomes: dict[int, FilmOutcome] = {}
    pending: list[FilmRun] = []
    for index, idea in enumerate(ideas):
        request = film_request(idea, film)
        if isinstance(request, str):  # refused before a run is made, like a failed film
            outcomes[index] = refused(idea, request, time.monotonic())
        else:
            pending.append(FilmRun(index=index, idea=idea, request=request, started=time.monotonic()))
    running: dict[UUID, FilmRun] = {}
    orphans_checked = time.monotonic()
    with get_client(sync_client=True) as client:
        while pending or running:
            while pending and len(running) < parallel:
                started = pending.pop(0)
                if started.attempt == 1:  # a film run again after a crash is timed from its first start
                    started.started = time.monotonic()
                start_film(started, batch)
                running[started.run_id] = started
            time.sleep(POLL_S)
            runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=list(running))))
            if time.monotonic() - orphans_checked > ORPHAN_CHECK_S:
                orphans_checked = time.monotonic()
                runs = [crash_if_orphaned(client, run) for run in runs]
            for run in runs:
                state = run.state
                if state is None or not state.is_final():
                    continue
                one = running.pop(run.id)
                if state.is_crashed() and one.attempt < FILM_ATTEMPTS:
                    logger.warning("The film for %r crashed (%s): running it again, from its stored parts",
                                   one.idea, state.message)
                    one.attempt += 1
                    pending.insert(0, one)
                    continue
                outcomes[one.index] = outcome_of(one.idea, state, round(time.monotonic() - one.started, 2))
    return [outcomes[i] for i in range(len(ideas))]


def crash_if_orphaned(client: SyncPrefectClient, run: FlowRun) -> FlowRun:
    """Mark a film run Crashed when nothing has run it for a while, so the batch runs the film again.

    When a worker's process dies (SIGKILL, its machine lost), the flow runs it started die with it, and Prefect
    3.8.8 does not always learn of it: of two films on a SIGKILLed process worker, one ended Crashed, the other
    stayed Running for ever with no process, and a batch waiting for it never ended. A flow run's process sends a
    `prefect.flow-run.heartbeat` event every `PREFECT_FLOWS_HEARTBEAT_FREQUENCY` seconds (180 by default, at
    least 30) while it runs; a Running film with no heartbeat in three of those periods (counted from its Running
    state) has nobody running it (Prefect's documented test for a "zombie" run). The workers that run the films
    are expected to share the batch's heartbeat setting (the pool's environment).
    """
    state = run.state
    frequency = get_current_settings().flows.heartbeat_frequency
    # Only Running: a Pending run's process is still starting (over 90 s on a loaded machine) and sends no
    # heartbeat yet; taking it for dead would run the film twice at once.
    if state is None or not state.is_running() or frequency is None:
        return run
    page = client.read_events(EventFilter(
        event=EventNameFilter(name=["prefect.flow-run.heartbeat"]),
        resource=EventResourceFilter(id=[f"prefect.flow-run.{run.id}"]), order=EventOrder.DESC), limit=1)
    last_sign = max([state.timestamp, *(event.occurred for event in page.events)])
    silent_s = (datetime.now(UTC) - last_sign).total_seconds()
    if silent_s < ORPHANED_AFTER_HEARTBEATS * max(frequency, 30):
        return run
    message = (f"No heartbeat from its process for {silent_s:.0f} s: its worker or machine died, nobody is "
               "running this film any more")
    get_run_logger().warning("The film run %s: %s", run.name, message)
    # Not forced: the film may have ended (or been cancelled) since it was read, and the server's rules then
    # refuse a Crashed over it; forced, a finished film would be overwritten and made again.
    client.set_flow_run_state(run.id, Crashed(message=message))
    return client.read_flow_run(run.id)


# --------------------------------------------------------------------------- the batch


@flow(
    name="film-batch", log_prints=True, persist_result=True,
    task_runner=ThreadPoolTaskRunner(max_workers=MAX_LOCAL_PARALLEL),
)
def film_batch(
    ideas: list[str] | None = None,
    ideas_file: str | None = None,
    ideas_s3_prefix: str | None = None,
    film: FilmSettings = FilmSettings(),  # noqa: B008 - a flow parameter's default, shown in its schema
    parallel_films: int = 2,
    max_batch_cost_usd: float | None = None,
) -> list[FilmOutcome]:
    """Make one film per idea, picked automatically, and report how each went.

    Args:
        ideas: Film ideas, one per entry.
        ideas_file: A text file of ideas, one per line ('#' starts a comment), on the machine that runs the batch.
        ideas_s3_prefix: s3://bucket/prefix: every object under it is a text file of ideas (FILMSTITCH_S3_* settings).
        film: How every film is made (the same fields as make-film's request, without the idea).
        parallel_films: Films made at the same time (1-100), each a make-film run on any worker of the pool.
        max_batch_cost_usd: Budget of the whole batch in USD: refused before any film starts when the sum of the
            films' estimates is over it (each film's own budget is film.max_cost_usd).
    """
    logger = get_run_logger()
    if not 1 <= parallel_films <= MAX_PARALLEL_FILMS:
        raise ValueError(f"parallel_films must be 1-{MAX_PARALLEL_FILMS}, got {parallel_films}")
    batch = FlowRunContext.get().flow_run
    in_process = batch is None or batch.deployment_id is None
    if in_process and parallel_films > MAX_LOCAL_PARALLEL:
        raise ValueError(f"parallel_films above {MAX_LOCAL_PARALLEL} needs film-batch to run as a deployment "
                         f"(its films are then runs of the make-film deployment); got {parallel_films}")
    # Settings shared by every film are checked once, before any work: a bad one would fail them all.
    FilmRequest(idea="a check of the shared film settings", **film.model_dump())
    all_ideas = collect_ideas(ideas, ideas_file, ideas_s3_prefix)
    logger.info("Batch of %d films, %d at a time", len(all_ideas), parallel_films)
    if max_batch_cost_usd is not None and max_batch_cost_usd <= 0:
        raise ValueError(f"max_batch_cost_usd must be above 0, got {max_batch_cost_usd}")
    requests = [(idea, r) for idea in all_ideas if isinstance(r := film_request(idea, film), FilmRequest)]
    check_batch_budget([i for i, _ in requests], [r for _, r in requests], Settings().storage_config(),
                       max_batch_cost_usd)  # each film's estimate and the total logged; over budget: refused

    if in_process:  # no deployment: the films are subflows of this process (docs/deployments.md)
        outcomes = run_bounded(all_ideas, film, parallel_films)
    else:
        outcomes = run_deployments(all_ideas, film, parallel_films, batch)
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
