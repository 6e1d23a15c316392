"""Phase 1, writing: script, characters, locations, keyframe prompts. One writer call per task.

Each answer is stored in the film's storage under plan/ with its reuse key, so a person can read it and a
rerun anywhere — on another machine too, the storage being S3 — reuses it instead of calling the writer
again (a Claude writer would write a different script, and every picture would have to be redone).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from prefect import task
from pydantic import TypeAdapter

from filmstitch import concurrency
from filmstitch.models import Character, Environment, FilmPlan, FilmRequest, Keyframe, Script
from filmstitch.reuse import cast_inputs, key_of, keyframe_prompt_inputs, plan_key, script_inputs
from filmstitch.script_checkpoint import check_plan
from filmstitch.settings import Settings
from filmstitch.storage import FilmStore
from filmstitch.tasks.common import STAGE, FilmContext
from filmstitch.writers import Writer, get_writer

T = TypeVar("T")


@contextlib.contextmanager
def recording_usage(store: FilmStore, stage: str, writer: Writer) -> Iterator[None]:
    """Store the call's token usage and cost, also when it failed (failed attempts cost money too)."""
    try:
        yield
    finally:
        usage = writer.take_usage()
        if usage:
            store.put_json(f"usage/{stage}.json", [u.model_dump() for u in usage], stage=stage)


def writer_gate() -> contextlib.AbstractContextManager[None]:
    """One slot of the server-wide limit on writer calls (Prefect global concurrency limit, sized by
    FILMSTITCH_WRITER_CALLS), held for each model request: a message, a token count, a Models API lookup."""
    return concurrency.writer_call(Settings().writer_calls)


def pause_ahead() -> bool:
    """Whether a person answers this film's checkpoints (its flow run was not started with auto_pick): the
    writer then caches the prefixes read again after a pause for an hour instead of five minutes."""
    from prefect.runtime import flow_run

    return not bool((flow_run.parameters or {}).get("auto_pick", False))


def film_writer(ctx: FilmContext) -> Writer:
    """The film's writer, its model requests gated by the writer-call limit."""
    writer = get_writer(ctx.writer, gate=writer_gate)
    writer.pause_ahead = pause_ahead()
    return writer


def written(ctx: FilmContext, stage: str, answer_type: Any, inputs: dict[str, Any], write: Callable[[Writer], T]) -> T:
    """The writer's answer for `stage`: reused from plan/<stage>.json when it was written from the same inputs
    by the same writer (code and settings), else written now and stored."""
    writer = film_writer(ctx)
    store = ctx.store()
    reuse_key = key_of(stage, writer.identity(), **inputs)
    adapter = TypeAdapter(answer_type)
    stored = store.reuse(f"plan/{stage}.json", reuse_key)
    if stored is not None:
        return adapter.validate_json(store.get_verified(stored))
    with recording_usage(store, stage, writer):
        answer = write(writer)
    store.put(f"plan/{stage}.json", adapter.dump_json(answer, indent=2), "application/json",
              reuse_key=reuse_key, stage=stage)
    return answer


@task(name="write-script", **STAGE)
def write_script(ctx: FilmContext, request: FilmRequest) -> Script:
    return written(ctx, "script", Script, script_inputs(request),
                   lambda writer: writer.write_script(request))


@task(name="describe-characters", **STAGE)
def describe_characters(ctx: FilmContext, request: FilmRequest, script: Script) -> list[Character]:
    return written(ctx, "characters", list[Character], cast_inputs(request, script),
                   lambda writer: writer.describe_characters(request, script))


@task(name="describe-locations", **STAGE)
def describe_environments(ctx: FilmContext, request: FilmRequest, script: Script) -> list[Environment]:
    return written(ctx, "locations", list[Environment], cast_inputs(request, script),
                   lambda writer: writer.describe_environments(request, script))


@task(name="write-keyframe-prompts", **STAGE)
def write_keyframe_prompts(
    ctx: FilmContext, request: FilmRequest, script: Script, characters: list[Character], environments: list[Environment]
) -> list[Keyframe]:
    inputs = keyframe_prompt_inputs(request, script, characters, environments)
    return written(ctx, "keyframes", list[Keyframe], inputs,
                   lambda writer: writer.write_keyframes(request, script, characters, environments))


@task(name="check-plan", **STAGE)
def assemble_plan(
    ctx: FilmContext,
    request: FilmRequest,
    script: Script,
    characters: list[Character],
    environments: list[Environment],
    keyframes: list[Keyframe],
) -> FilmPlan:
    """Cross-check everything the writer produced and store the plan every later stage reads. A plan whose
    keyframe prompts miss or contradict their scene's continuity ledger (filmstitch.continuity), or whose
    speech cannot fit the film (filmstitch.pace), is refused here, before any picture."""
    plan = FilmPlan(
        request=request,
        # The instance's label: the Claude writer's names its model, so it exists only on instances.
        writer=film_writer(ctx).label,
        script=script,
        characters=characters,
        environments=environments,
        keyframes=keyframes,
    )
    check_plan(plan)
    store = ctx.store()
    reuse_key = plan_key(plan)
    if store.reuse("plan/plan.json", reuse_key) is None:  # written once per plan, not on every rerun
        store.put("plan/plan.json", plan.model_dump_json(indent=2).encode(), "application/json",
                  reuse_key=reuse_key, stage="plan")
    return plan
