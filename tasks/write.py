"""Phase 1, writing: script, characters, environment, keyframe prompts. One writer call per task.

Each task stores what it wrote in the film's storage (so a person can read it) and returns it
(so Prefect persists it: a rerun with the same inputs does not call the writer again).
"""

from __future__ import annotations

from prefect import task

from filmstitch.models import Character, Environment, FilmPlan, FilmRequest, Keyframe, Script
from filmstitch.writers import Writer, get_writer
from tasks.common import CACHED, RETRIES, FilmContext


def _record_usage(ctx: FilmContext, stage: str, writer: Writer) -> None:
    usage = writer.take_usage()
    if usage:
        ctx.store().put_json(f"usage/{stage}.json", [u.model_dump() for u in usage], stage=stage)


@task(name="write-script", **RETRIES, **CACHED)
def write_script(ctx: FilmContext, request: FilmRequest) -> Script:
    writer = get_writer(ctx.writer)
    script = writer.write_script(request)
    _record_usage(ctx, "script", writer)
    ctx.store().put_json("plan/script.json", script, stage="script")
    return script


@task(name="describe-characters", **RETRIES, **CACHED)
def describe_characters(ctx: FilmContext, request: FilmRequest, script: Script) -> list[Character]:
    writer = get_writer(ctx.writer)
    characters = writer.describe_characters(request, script)
    _record_usage(ctx, "characters", writer)
    ctx.store().put_json("plan/characters.json", [c.model_dump() for c in characters], stage="characters")
    return characters


@task(name="describe-environment", **RETRIES, **CACHED)
def describe_environment(ctx: FilmContext, request: FilmRequest, script: Script) -> Environment:
    writer = get_writer(ctx.writer)
    environment = writer.describe_environment(request, script)
    _record_usage(ctx, "environment", writer)
    ctx.store().put_json("plan/environment.json", environment, stage="environment")
    return environment


@task(name="write-keyframe-prompts", **RETRIES, **CACHED)
def write_keyframe_prompts(
    ctx: FilmContext, request: FilmRequest, script: Script, characters: list[Character], environment: Environment
) -> list[Keyframe]:
    writer = get_writer(ctx.writer)
    keyframes = writer.write_keyframes(request, script, characters, environment)
    _record_usage(ctx, "keyframes", writer)
    ctx.store().put_json("plan/keyframes.json", [k.model_dump() for k in keyframes], stage="keyframes")
    return keyframes


@task(name="check-plan", **CACHED)
def assemble_plan(
    ctx: FilmContext,
    request: FilmRequest,
    script: Script,
    characters: list[Character],
    environment: Environment,
    keyframes: list[Keyframe],
) -> FilmPlan:
    """Cross-check everything the writer produced and store the plan every later stage reads."""
    plan = FilmPlan(
        request=request,
        writer=get_writer(ctx.writer).label,
        script=script,
        characters=characters,
        environment=environment,
        keyframes=keyframes,
    )
    ctx.store().put_json("plan/plan.json", plan, stage="plan")
    return plan
