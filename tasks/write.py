"""Phase 1, writing: script, characters, environment, keyframe prompts. One writer call per task.

Each task stores what it wrote in the film's storage (so a person can read it) and returns it
(so Prefect persists it: a rerun with the same inputs does not call the writer again).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from prefect import task

from filmstitch.models import Character, Environment, FilmPlan, FilmRequest, Keyframe, Script
from filmstitch.writers import Writer, get_writer
from tasks.common import CACHED, RETRIES, FilmContext


@contextlib.contextmanager
def recording_usage(ctx: FilmContext, stage: str, writer: Writer) -> Iterator[None]:
    """Store the call's token usage and cost, also when it failed (failed attempts cost money too)."""
    try:
        yield
    finally:
        usage = writer.take_usage()
        if usage:
            ctx.store().put_json(f"usage/{stage}.json", [u.model_dump() for u in usage], stage=stage)


@task(name="write-script", **RETRIES, **CACHED)
def write_script(ctx: FilmContext, request: FilmRequest) -> Script:
    writer = get_writer(ctx.writer)
    with recording_usage(ctx, "script", writer):
        script = writer.write_script(request)
    ctx.store().put_json("plan/script.json", script, stage="script")
    return script


@task(name="describe-characters", **RETRIES, **CACHED)
def describe_characters(ctx: FilmContext, request: FilmRequest, script: Script) -> list[Character]:
    writer = get_writer(ctx.writer)
    with recording_usage(ctx, "characters", writer):
        characters = writer.describe_characters(request, script)
    ctx.store().put_json("plan/characters.json", [c.model_dump() for c in characters], stage="characters")
    return characters


@task(name="describe-environments", **RETRIES, **CACHED)
def describe_environments(ctx: FilmContext, request: FilmRequest, script: Script) -> list[Environment]:
    writer = get_writer(ctx.writer)
    with recording_usage(ctx, "environment", writer):
        environments = writer.describe_environments(request, script)
    ctx.store().put_json("plan/environments.json", [e.model_dump() for e in environments], stage="environment")
    return environments


@task(name="write-keyframe-prompts", **RETRIES, **CACHED)
def write_keyframe_prompts(
    ctx: FilmContext, request: FilmRequest, script: Script, characters: list[Character], environments: list[Environment]
) -> list[Keyframe]:
    writer = get_writer(ctx.writer)
    with recording_usage(ctx, "keyframes", writer):
        keyframes = writer.write_keyframes(request, script, characters, environments)
    ctx.store().put_json("plan/keyframes.json", [k.model_dump() for k in keyframes], stage="keyframes")
    return keyframes


@task(name="check-plan", **CACHED)
def assemble_plan(
    ctx: FilmContext,
    request: FilmRequest,
    script: Script,
    characters: list[Character],
    environments: list[Environment],
    keyframes: list[Keyframe],
) -> FilmPlan:
    """Cross-check everything the writer produced and store the plan every later stage reads."""
    plan = FilmPlan(
        request=request,
        # The instance's label: the Claude writer's names its model, so it exists only on instances.
        writer=get_writer(ctx.writer).label,
        script=script,
        characters=characters,
        environments=environments,
        keyframes=keyframes,
    )
    ctx.store().put_json("plan/plan.json", plan, stage="plan")
    return plan
