"""The `make-film` flow: a one-sentence idea in, a short film out, with two human checkpoints.

    Phase 1  script -> characters -> environment -> keyframe prompts -> reference variants
             checkpoint 1: a person picks one reference per character and for the environment
    Phase 2  keyframe variants for every boundary (N+1 of them, fanned out)
             checkpoint 2: a person picks one variant per boundary
    Phase 3  one clip per segment between its two chosen keyframes (fanned out) -> assembly

Every stage is a cached, retried task, and every artifact is stored with a checksum in the film's
manifest, so a run that crashed and is started again with the same inputs picks up where it
stopped. Picks are stored too: a resumed run does not ask the same question twice.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator, Sequence

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.futures import PrefectFuture, as_completed
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel

from filmstitch import checkpoints
from filmstitch.models import FilmPlan, FilmRequest, Picks, stable_hash
from filmstitch.settings import RendererName, Settings, WriterName
from filmstitch.storage import ArtifactRef, FilmStore, validate_film_id
from tasks.assemble import assemble_film
from tasks.clips import render_clip
from tasks.common import FilmContext, VariantRef
from tasks.keyframes import render_keyframe_variants
from tasks.references import render_reference_variants
from tasks.write import assemble_plan, describe_characters, describe_environments, write_keyframe_prompts, write_script


class FilmResult(BaseModel):
    film_id: str
    title: str
    location: str
    key: str
    sha256: str
    duration_s: float
    picks: Picks
    writer: str
    renderer: str


class StageFailed(RuntimeError):
    """A stage failed for good (its task's retries are spent). Work finished before it is kept."""


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Name the stage in any failure that escapes it, so the message says where the film stopped."""
    try:
        yield
    except StageFailed:
        raise
    except Exception as exc:  # pauses and cancellations are BaseExceptions: they pass through untouched
        raise StageFailed(
            f"the {name} stage failed: {type(exc).__name__}: {exc}. Finished work is kept: "
            "run the film again with the same inputs to resume here"
        ) from exc


class FilmIdTaken(ValueError):
    """The film id already names a different film."""


#: What a film is (request, writer, renderer), written once by the film's first run, never changed.
FILM_IDENTITY = "film.json"


def claim_film(store: FilmStore, identity: dict) -> str:
    """Make sure this film id names this film, before anything is written; return its incarnation.

    The first run of a film id records what the film is, atomically (an atomic read-modify-write
    that keeps what is there), so of two runs started at once with different inputs under one id
    exactly one wins; the other, and any later run with other inputs, is refused here. Without this,
    both would write into one folder and each report a film.mp4 that may be the other's.

    The record also holds a random incarnation id. It is part of every task's cache key (through
    FilmContext), so a film whose folder was deleted starts a new incarnation and is rendered again,
    instead of Prefect's cache pointing at artifacts that are gone.
    """
    wanted = {"identity": identity, "incarnation": uuid.uuid4().hex}
    store.store.ensure_writable()
    stored = store.store.update(
        store.full_key(FILM_IDENTITY),
        lambda current: json.dumps(wanted, sort_keys=True, indent=2).encode() if current is None else current,
        "application/json",
    )
    try:
        record = json.loads(stored)
        same = record["identity"] == json.loads(json.dumps(identity))
    except (ValueError, KeyError, TypeError):
        same = False
    if not same:
        raise FilmIdTaken(
            f"film id {store.film_id!r} already holds a different film (another idea, settings, writer or renderer); "
            "give this film another id, or leave the id out to derive one from the request"
        )
    return record["incarnation"]


def artifact_key(film_id: str, what: str) -> str:
    """Prefect artifact keys allow lower-case letters, digits and dashes only."""
    return f"{what}-{film_id}".replace("_", "-")[:100]


@flow(
    name="make-film",
    log_prints=True,
    persist_result=True,
    task_runner=ThreadPoolTaskRunner(max_workers=16),
)
def make_film(
    idea: str,
    segments: int = 10,
    seconds_per_segment: float = 8.0,
    width: int = 768,
    height: int = 512,
    fps: int = 24,
    seed: int = 0,
    variants: int = 3,
    auto_pick: bool = False,
    writer: WriterName | None = None,
    renderer: RendererName | None = None,
    pause_timeout_s: int | None = None,
    film_id: str | None = None,
) -> FilmResult:
    """Make a short film from a one-sentence idea.

    Args:
        idea: The film idea, e.g. "a stranded astronaut on the moon walks around and discovers nature".
        segments: Number of clips; the film has segments + 1 boundary keyframes (1-30).
        seconds_per_segment: Length of each clip in seconds (1-20).
        width: Frame width in pixels, a multiple of 32.
        height: Frame height in pixels, a multiple of 32.
        fps: Frames per second.
        seed: Seed for every random choice; the same seed reproduces the same film.
        variants: Variants rendered per reference and per keyframe (1-4).
        auto_pick: Pick variants automatically instead of pausing for a person.
        writer: "offline", "claude" or "auto" (Claude when ANTHROPIC_API_KEY is set). Default from settings.
        renderer: "animatic" (CPU), "local-gpu" or "modal". Default from settings.
        pause_timeout_s: Seconds a checkpoint waits for a person before picking by itself.
        film_id: Reuse or name a film; by default derived from the request, so reruns resume.
    """
    logger = get_run_logger()
    settings = Settings()
    request = FilmRequest(
        idea=idea, segments=segments, seconds_per_segment=seconds_per_segment, width=width, height=height,
        fps=fps, seed=seed, variants=variants,
    )
    writer_name, renderer_name = settings.backends(writer, renderer)
    film_id = validate_film_id(film_id) if film_id else request.resolved(writer_name, renderer_name).film_id()
    store = FilmStore.open(settings.storage_config(), film_id)
    incarnation = claim_film(store, {"request": request.model_dump(), "writer": writer_name, "renderer": renderer_name})
    ctx = FilmContext(
        film_id=film_id,
        storage=settings.storage_config(),
        writer=writer_name,
        renderer=renderer_name,
        incarnation=incarnation,
    )
    timeout = pause_timeout_s or settings.pause_timeout_s
    store.update_manifest(status="running", request=request.model_dump(), writer=writer_name, renderer=renderer_name)
    logger.info("Film %s: writer=%s renderer=%s storage=%s", ctx.film_id, writer_name, renderer_name,
                settings.storage_config().describe())

    # Phase 1: writing. Each call depends on the previous ones.
    with stage("writing"):
        script = write_script(ctx, request)
        characters = describe_characters(ctx, request, script)
        environments = describe_environments(ctx, request, script)
        keyframes = write_keyframe_prompts(ctx, request, script, characters, environments)
        plan = assemble_plan(ctx, request, script, characters, environments, keyframes)
        publish_script(ctx, plan)

    # Phase 1: reference variants, fanned out over subjects.
    subject_ids = [s.id for s in plan.subjects]
    with stage("references"):
        futures = [render_reference_variants.submit(ctx, plan, sid) for sid in subject_ids]
        references = dict(zip(subject_ids, wait_with_progress(ctx, "references", futures)))

    reference_picks = choose_references(ctx, store, plan, references, auto_pick, timeout)
    chosen_refs = {sid: references[sid][v] for sid, v in reference_picks.items()}

    # Phase 2: keyframe variants, fanned out over boundaries.
    with stage("keyframes"):
        futures = [render_keyframe_variants.submit(ctx, plan, k.index, chosen_refs) for k in plan.keyframes]
        keyframe_variants = wait_with_progress(ctx, "keyframes", futures)

    keyframe_picks, auto = choose_keyframes(ctx, store, plan, keyframe_variants, auto_pick, timeout)
    chosen = [keyframe_variants[i][v] for i, v in enumerate(keyframe_picks)]
    who = "auto" if auto else "person"
    picks = Picks(references=reference_picks, keyframes=keyframe_picks, picked_by={"keyframes": who})
    publish_picks(ctx, plan, picks)

    # Phase 3: one clip per segment between its two chosen keyframes, then assembly.
    with stage("clips"):
        futures = [
            render_clip.submit(ctx, plan, i, chosen[i], chosen[i + 1], chosen_refs) for i in range(request.segments)
        ]
        clips = wait_with_progress(ctx, "clips", futures)
    with stage("assembly"):
        film = assemble_film(ctx, clips)

    location = film_location(store, film.key)
    store.update_manifest(status="finished", film=film.key, title=plan.script.title, picks=picks.model_dump())
    publish_film(ctx, plan, film, location)
    logger.info("Finished %r: %s", plan.script.title, location)
    return FilmResult(
        film_id=ctx.film_id,
        title=plan.script.title,
        location=location,
        key=film.key,
        sha256=film.sha256,
        duration_s=film.meta.get("duration_s", 0.0),
        picks=picks,
        writer=plan.writer,
        renderer=renderer_name,
    )


def film_location(store: FilmStore, key: str) -> str:
    """file:///... for local storage, s3://bucket/... for S3 (a presigned link would expire)."""
    url = store.url(key)
    return url if url.startswith("file://") else f"{store.store.describe()}/{store.full_key(key)}"


def wait_with_progress(ctx: FilmContext, stage: str, futures: Sequence[PrefectFuture]) -> list:
    """Wait for a fan-out, updating a progress artifact as tasks finish; results in submit order."""
    progress_id = create_progress_artifact(
        progress=0.0, key=artifact_key(ctx.film_id, f"progress-{stage}"),
        description=f"{stage}: 0 of {len(futures)} done",
    )
    for done, _ in enumerate(as_completed(list(futures)), start=1):
        update_progress_artifact(progress_id, 100.0 * done / len(futures), description=f"{stage}: {done} of {len(futures)} done")
    return [future.result() for future in futures]


def _saved_picks(store: FilmStore, key: str, fingerprint: str) -> dict | None:
    """Picks saved by an earlier run of this film for exactly these variants."""
    ref = store.reuse(key)
    if ref is None:
        return None
    saved = store.get_json(key)
    return saved if saved.get("fingerprint") == fingerprint else None


def _ask(
    form: type, description: str, timeout: int, key: str, fields: list[str], variants: int
) -> dict[str, int] | None:
    """Pause for a person; None when nobody answered in time. Answers are checked again here: one
    that slips past the form's schema is refused and the question asked again, so nothing is lost."""
    note = ""
    for attempt in range(3):
        try:
            answer = pause_flow_run(
                wait_for_input=form.with_initial_data(description=note + description),
                timeout=timeout,
                poll_interval=2,  # the film goes on within ~2 s of an answer (Prefect's default is 10 s)
                key=f"{key}-{attempt}",
            )
        except FlowPauseTimeout:
            return None
        try:
            return checkpoints.check_picks(answer.model_dump(), fields, variants)
        except ValueError as exc:
            get_run_logger().warning("Refused an answer: %s", exc)
            note = f"**Your last answer was refused:** {exc}. Please pick again.\n\n"
    raise ValueError("three answers in a row were refused; start the run again to continue")


def _announce(store: FilmStore, name: str, form: type, variants: dict[str, list[VariantRef]]) -> None:
    """Record what the open checkpoint asks, with the variants' keys, for terminal and API clients."""
    fields = {
        field: {"title": info.title, "description": info.description, "images": [v.image.key for v in variants[field]]}
        for field, info in form.model_fields.items()
    }
    store.put_json(f"checkpoints/{name}.json", {"checkpoint": name, "fields": fields})


def choose_references(
    ctx: FilmContext, store: FilmStore, plan: FilmPlan, references: dict[str, list[VariantRef]], auto: bool, timeout: int
) -> dict[str, int]:
    """Checkpoint 1. Returns subject id -> chosen variant."""
    fingerprint = stable_hash({sid: [v.image.sha256 for v in vs] for sid, vs in references.items()})
    saved = _saved_picks(store, "picks/references.json", fingerprint)
    if saved:
        get_run_logger().info("Reusing the reference picks made earlier for this film")
        return saved["picks"]
    answer = None
    if not auto:
        variants = {sid: _variants_for_form(store, vs) for sid, vs in references.items()}
        form, description = checkpoints.reference_form(plan, variants, timeout)
        _announce(store, "references", form, {sid: vs for sid, vs in references.items()})
        answer = _ask(form, description, timeout, f"references-{fingerprint}", list(references), plan.request.variants)
    if answer is None:
        picks = checkpoints.auto_pick_references(
            {sid: [store.get_verified(v.thumb) for v in vs] for sid, vs in references.items()}
        )
        picked_by = "auto"
    else:
        picks, picked_by = answer, "person"
    store.put_json("picks/references.json", {"fingerprint": fingerprint, "picks": picks, "picked_by": picked_by})
    return picks


def choose_keyframes(
    ctx: FilmContext, store: FilmStore, plan: FilmPlan, variants: list[list[VariantRef]], auto: bool, timeout: int
) -> tuple[list[int], bool]:
    """Checkpoint 2. Returns the chosen variant per boundary, and whether they were picked automatically."""
    fingerprint = stable_hash([[v.image.sha256 for v in vs] for vs in variants])
    saved = _saved_picks(store, "picks/keyframes.json", fingerprint)
    if saved:
        get_run_logger().info("Reusing the keyframe picks made earlier for this film")
        return saved["picks"], saved["picked_by"] == "auto"
    answer = None
    fields = [checkpoints.keyframe_field(k.index) for k in plan.keyframes]
    if not auto:
        form, description = checkpoints.keyframe_form(plan, [_variants_for_form(store, vs) for vs in variants], timeout)
        _announce(store, "keyframes", form, dict(zip(fields, variants)))
        answer = _ask(form, description, timeout, f"keyframes-{fingerprint}", fields, plan.request.variants)
    if answer is None:
        picks = checkpoints.auto_pick_keyframes([[store.get_verified(v.thumb) for v in vs] for vs in variants])
        picked_by = "auto"
    else:
        picks, picked_by = [answer[field] for field in fields], "person"
    store.put_json("picks/keyframes.json", {"fingerprint": fingerprint, "picks": picks, "picked_by": picked_by})
    return picks, picked_by == "auto"


def _variants_for_form(store: FilmStore, variants: list[VariantRef]) -> list[checkpoints.Variant]:
    """Thumbnails as data: URIs for local storage (the UI cannot read file://), presigned URLs for S3."""
    from filmstitch.images import data_uri

    def url(ref: ArtifactRef) -> str:
        location = store.url(ref.key, expires_s=7 * 24 * 3600)
        return location if location.startswith("http") else data_uri(store.get_verified(ref))

    return [checkpoints.Variant(variant=v.variant, thumb_url=url(v.thumb)) for v in variants]


@task(name="publish-script")
def publish_script(ctx: FilmContext, plan: FilmPlan) -> None:
    lines = [f"# {plan.script.title}", f"*{plan.script.logline}*", f"Written by: {plan.writer}", ""]
    for segment in plan.script.segments:
        lines.append(f"### {segment.index + 1}. {segment.title} ({segment.setting})")
        lines.append(segment.narration)
        lines.append(f"*{segment.action}*")
        lines += [f"> **{d.speaker}:** {d.line}" for d in segment.dialogue]
    lines.append("## Characters")
    lines += [f"- **{c.name}** ({c.role}): {c.description}" for c in plan.characters]
    lines.append("## Locations")
    lines += [f"- **{e.name}**: {e.description}" for e in plan.environments]
    create_markdown_artifact("\n\n".join(lines), key=artifact_key(ctx.film_id, "script"), description="The script")


@task(name="publish-picks")
def publish_picks(ctx: FilmContext, plan: FilmPlan, picks: Picks) -> None:
    rows = [{"checkpoint": "reference", "subject": s.name, "variant": picks.references[s.id]} for s in plan.subjects]
    rows += [{"checkpoint": "keyframe", "subject": f"boundary {i}", "variant": v} for i, v in enumerate(picks.keyframes)]
    by = "picked automatically" if picks.auto else "picked by a person"
    create_table_artifact(rows, key=artifact_key(ctx.film_id, "picks"), description=f"Variant picks ({by})")


@task(name="publish-film")
def publish_film(ctx: FilmContext, plan: FilmPlan, film: ArtifactRef, location: str) -> None:
    link = location if location.startswith("file://") else ctx.store().url(film.key, expires_s=7 * 24 * 3600)
    create_link_artifact(link, link_text=plan.script.title, key=artifact_key(ctx.film_id, "film"),
                         description="The finished film")
    meta = film.meta
    create_markdown_artifact(
        f"# {plan.script.title}\n\n{location}\n\n[Download]({link})\n\n"
        f"{meta.get('duration_s')} s, {meta.get('width')}x{meta.get('height')} at {meta.get('fps')} fps, "
        f"{len(plan.script.segments)} segments, sha256 `{film.sha256}`\n\nWritten by: {plan.writer}",
        key=artifact_key(ctx.film_id, "film-summary"),
        description="Where the film is",
    )
