"""How a film asks a person at a checkpoint through Prefect: the `ask` function `filmstitch.checkpoints` is given.

    a top-level run of a deployment   -> suspend_flow_run: the run's process exits and its worker slot is free;
                                         resuming reschedules the run, which executes the flow again from the
                                         top, reusing every stored part and stored pick, and gets the answer
                                         from the same suspend (Prefect returns the input of a key that fired)
    anything else (`filmstitch make`,  -> pause_flow_run: the process waits for the answer
    a subflow, a test in-process)

Nobody answering is never a Prefect timeout (Prefect's pause-expiration service marks an expired pause Failed,
which fires every "on failure" notification for a film that then completes). Instead the checkpoint is
answered with the recommended picks when its time is up, by an ordinary resume with the empty answer `{}`,
after leaving a flow-run input `<pause key>-timed-out` that tells the film nobody answered (the form itself is
unchanged: it forbids extra fields):

    suspended: an `answer-checkpoint` deployment run, scheduled by the server for the deadline when the run
               suspends (no process waits for it); a person answering first makes it a no-op
    paused:    a timer thread of the paused process itself (which is alive anyway, waiting); the pause's own
               Prefect timeout is set `PAUSE_GRACE_S` later, so the server never expires it first

So a run's history holds Running, Paused/Suspended, Scheduled ("Resuming"), Pending, Running... and Completed,
and no Failed or Crashed state. docs/checkpoints.md lists the states measured.
"""

from __future__ import annotations

import contextvars
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.exceptions import ObjectNotFound

from filmstitch import checkpoints
from filmstitch.settings import Settings
from filmstitch.storage import FilmStore

#: The suffix of the flow-run input key that marks an answer as given by the deadline, not by a person.
TIMED_OUT = "timed-out"
#: The deployment that answers an unanswered suspended checkpoint (prefect.yaml).
ANSWER_DEPLOYMENT = "answer-checkpoint/answer-checkpoint"
#: A paused run's Prefect pause timeout comes this much after FilmStitch's own deadline.
PAUSE_GRACE_S = 600
#: Seconds between a paused run's looks at its state (Prefect's default is 10 s).
PAUSE_POLL_S = 2


def ask_in_prefect(store: FilmStore, *, may_suspend: bool = True) -> checkpoints.Asker:
    """The `ask` for a film's checkpoints: suspend where Prefect can reschedule the run (and `may_suspend`),
    else pause."""

    def ask(checkpoint: checkpoints.Checkpoint, note: str, attempt: int) -> dict[str, Any] | None:
        run = FlowRunContext.get().flow_run
        key = f"{checkpoint.name}-{checkpoint.fingerprint()[:8]}-{attempt}"
        answer_by = (datetime.now(UTC) + timedelta(seconds=checkpoint.timeout_s)).isoformat()
        form = checkpoint_form(store, checkpoint, note, str(run.id), answer_by)
        if may_suspend and run.deployment_id is not None and run.parent_task_run_id is None:
            answer = suspend_for_answer(run.id, checkpoint, form, key)
        else:
            answer = pause_for_answer(run.id, checkpoint, form, key)
        return None if timed_out(run.id, key) else answer

    return ask


def checkpoint_form(
    store: FilmStore, checkpoint: checkpoints.Checkpoint, note: str, run_id: str, answer_by: str
) -> type:
    """The Resume form: the checkpoint's RunInput with its markdown (tiles, the review link, why an earlier
    answer was refused) as the description."""
    from filmstitch.checkpoints import build_form, form_markdown, store_pictures, tile_urls

    tiles = store_pictures(store, checkpoint)
    settings = Settings()
    review = f"{settings.films_url}/review/{run_id}" if settings.films_url else None
    description = form_markdown(checkpoint, tile_urls(store, checkpoint, tiles, settings.films_url), review)
    if note:
        description = note + "\n\n" + description
    return build_form(checkpoint, answer_by).with_initial_data(description=description)


# --------------------------------------------------------------------------- suspended runs


def suspend_for_answer(run_id: UUID, checkpoint: checkpoints.Checkpoint, form: type, key: str) -> dict[str, Any]:
    """Suspend the run until answered (this process exits here, by Prefect's Pause signal); the rerun after the
    resume comes back here and gets the answer of this key at once."""
    from prefect.flow_runs import suspend_flow_run

    timer = schedule_answer(run_id, key, checkpoint.timeout_s)
    answer = suspend_flow_run(wait_for_input=form, key=key)  # no Prefect timeout: `timer` keeps the time
    cancel_timer(timer)
    return answer.model_dump()


def schedule_answer(run_id: UUID, key: str, timeout_s: int) -> UUID | None:
    """An answer-checkpoint run at the deadline. The idempotency key makes the rerun after the resume find this
    same run rather than schedule another."""
    from prefect.deployments import run_deployment

    try:
        timer = run_deployment(
            ANSWER_DEPLOYMENT, parameters={"flow_run_id": str(run_id), "key": key},
            scheduled_time=datetime.now(UTC) + timedelta(seconds=timeout_s), timeout=0, as_subflow=False,
            idempotency_key=f"{run_id}:{key}", flow_run_name=f"answer-{key}", tags=["filmstitch", "checkpoint"],
        )
    except ObjectNotFound:
        get_run_logger().warning("No %s deployment: this checkpoint waits until someone answers", ANSWER_DEPLOYMENT)
        return None
    return timer.id


def cancel_timer(timer: UUID | None) -> None:
    """Delete the answer-checkpoint run when a person answered first (it would only find nothing to do)."""
    if timer is None:
        return
    with get_client(sync_client=True) as client:
        try:
            run = client.read_flow_run(timer)
            if run.state and run.state.is_scheduled():
                client.delete_flow_run(timer)
        except ObjectNotFound:
            pass


@flow(name="answer-checkpoint", log_prints=True)
def answer_checkpoint(flow_run_id: str, key: str) -> str:
    """Answer a film's checkpoint with the recommended picks if it is still waiting at it (nobody answered in
    time). Scheduled by the film itself when it suspends; does nothing when a person answered first.

    Args:
        flow_run_id: The film's flow run.
        key: The checkpoint's pause key (the film waits at it).
    """
    done = answer_if_waiting(UUID(flow_run_id), key)
    get_run_logger().info("Checkpoint %s of run %s: %s", key, flow_run_id, done)
    return done


def answer_if_waiting(run_id: UUID, key: str) -> str:
    """Resume the run with `{}` (the recommended picks) if it still waits at pause `key`; what was done."""
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run_id).state
        if state is None or not state.is_paused() or state.state_details.pause_key != key:
            return "answered already"
        # The mark first: the film reads it as soon as it goes on. `{}` is the form's answer for "recommended".
        client.create_flow_run_input(run_id, timeout_mark(key), "true")
        reply = client.resume_flow_run(run_id, run_input={})
        if reply.status.value != "ACCEPT":  # a person answered in between: theirs stands
            client.delete_flow_run_input(run_id, timeout_mark(key))
            return f"answered already ({reply.status.value})"
    return "nobody answered in time: resumed with the recommended picks"


# --------------------------------------------------------------------------- paused runs


def pause_for_answer(run_id: UUID, checkpoint: checkpoints.Checkpoint, form: type, key: str) -> dict[str, Any]:
    """Pause the run (the process waits) until answered, or until a timer answers for nobody at the deadline."""
    from prefect.flow_runs import pause_flow_run

    # The timer thread runs in a copy of this context: the Prefect settings (the API's URL) may be set only here.
    timer = threading.Timer(checkpoint.timeout_s, contextvars.copy_context().run, args=(answer_if_waiting, run_id, key))
    timer.daemon = True
    timer.start()
    try:
        answer = pause_flow_run(wait_for_input=form, timeout=checkpoint.timeout_s + PAUSE_GRACE_S,
                                poll_interval=PAUSE_POLL_S, key=key)
    finally:
        timer.cancel()
    return answer.model_dump()


def timed_out(run_id: UUID, key: str) -> bool:
    """Whether the answer to `key` came from its deadline (the timer leaves a mark before it resumes the run)."""
    mark = timeout_mark(key)
    with get_client(sync_client=True) as client:
        found = client.filter_flow_run_input(run_id, key_prefix=mark, limit=10, exclude_keys=set())
    return any(entry.key == mark for entry in found)


def timeout_mark(key: str) -> str:
    return f"{key}-{TIMED_OUT}"
