"""The `retake-film` flow: one keyframe or one clip of a finished film made again, and nothing lost.

    keyframe   new variants of that boundary (a new seed, an edited prompt, or an edit of the picture), a
               one-row checkpoint to pick one (or --auto), then the two clips that touch it made again
    clip       that clip made again (a new seed, an edited motion prompt)
    use_take   a part switched back to a take made before: nothing is drawn (a keyframe brings back the clips
               made from it, where they are stored)

Then the film is joined again (stream copy) and its sound made as make-film makes it, which reuses every part
whose inputs are unchanged: a retake changes no line anyone says, so nothing is spoken or mixed again.

A retake is an ordinary run of make-film's tasks, not a second pipeline: its inputs (the seed, the edited
prompt, the edit) change the part's reuse key, so the part becomes a new take, and everything else is reused
by its key. Why a flow of its own rather than a parameter of make-film: a retake starts from a finished
film (its id, not an idea) and asks different questions, so its form names the film and the part, and the
make-film form stays the film's request.

Bad input is refused before any work (`prepare_retake`); the cost is the first line of the run's log and a
markdown artifact; a retake that fails leaves the film as it was: its new takes are kept, and film.mp4 and
the record of what it uses are replaced together, atomically, at the very end.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel

from filmstitch import checkpoints
from filmstitch.checkpoints import escape_markdown as md
from filmstitch.flows.artifacts import publish_film
from filmstitch.flows.asking import ask_in_prefect
from filmstitch.flows.edits import edit_picture, edit_record, restaged_plan
from filmstitch.flows.fan_out import fan_out
from filmstitch.flows.make_film import finish_sound, stage, start_sound
from filmstitch.lifecycle import end_with_parent
from filmstitch.models import FilmPlan, RetakeRequest
from filmstitch.renderers import get_renderer
from filmstitch.settings import Settings, check_pause_timeout
from filmstitch.storage import ArtifactRef, FilmStore
from filmstitch.storage.keys import now_iso
from filmstitch.storage.parts import clip_part, keyframe_part
from filmstitch.tasks.assemble import assemble_film
from filmstitch.tasks.clips import clip_seed, clip_sound, render_clip
from filmstitch.tasks.common import FilmContext, VariantRef, artifact_key
from filmstitch.tasks.keyframes import (
    KeyframeTake,
    edit_keyframe,
    edit_seeds,
    keyframe_seeds,
    render_keyframe_variants,
)
from filmstitch.tasks.retake import (
    PreparedRetake,
    clip_seed_in_use,
    prepare_retake,
    switched_plan,
    switched_variant,
)
from filmstitch.tasks.takes import (
    Cut,
    FilmState,
    PartUse,
    load_clip,
    load_variant,
    take_variants,
    use_of,
    with_keyframe,
    with_segment,
)


class RetakeResult(BaseModel):
    film_id: str
    part: str
    take: int
    variant: int | None
    location: str
    sha256: str
    rendered: list[str]
    estimate: str


@flow(name="retake-film", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=8))
def retake_film(retake: RetakeRequest, auto_pick: bool = False, pause_timeout_s: int | None = None) -> RetakeResult:
    """Retake one keyframe or one clip of a finished film, or switch a part back to an earlier take.

    Args:
        retake: The film and the part (a keyframe boundary or a clip), and what to change: a seed, an edited
            prompt, an edit of the keyframe's picture (instruction, region), or a take to switch back to.
        auto_pick: Take the recommended variant of a retaken keyframe instead of pausing for a person.
        pause_timeout_s: Seconds the keyframe checkpoint waits before taking the recommended variant
            (default: FILMSTITCH_PAUSE_TIMEOUT_S, 3600).
    """
    end_with_parent()
    settings = Settings()
    timeout = pause_timeout_s if pause_timeout_s is not None else settings.pause_timeout_s
    check_pause_timeout(timeout)
    started = now_iso()  # takes made from now on are this retake's (filmstitch takes tells them apart)
    prepared = prepare_retake(retake, settings)  # bad input is refused here, before any work
    logger = get_run_logger()
    logger.info("%s of film %s. %s", retake.label.capitalize(), retake.film_id, prepared.estimate.summary())
    create_markdown_artifact(cost_markdown(prepared), key=artifact_key(retake.film_id, "retake-cost"),
                             description="What the retake renders and what that costs")
    film, state = prepared.film, prepared.state
    if retake.keyframe is not None:
        plan, keyframes, clips, take, variant = retake_keyframe(film, state, retake, timeout, auto_pick, started)
    else:
        plan, keyframes, clips, take = retake_clip(film, state, retake, started)
        variant = None
    with stage("sound"):
        clip_sounds = [clip_sound(clip) for clip in clips]  # LTX-2's clips carry their own sound
        mix = finish_sound(film, *start_sound(film, plan), clip_sounds=clip_sounds if all(clip_sounds) else None) \
            if plan.request.sound else None
    cut = Cut(uses=dict(sorted(({**state.cut.uses, **dict(use_of(ref) for ref in [*keyframes, *clips])}).items())),
              made_by="retake-film", writer_plan=state.cut.writer_plan)
    with stage("assembly"):
        made = assemble_film(film, plan, clips, mix, cut)
    location = publish_film(film, plan, made, poster=keyframes[0])
    film.store().update_manifest(status="finished", film=made.key, title=plan.script.title)
    rendered = [p.what for p in prepared.estimate.parts]
    logger.info("Retook %s of %r (take %d): %s", retake.label, plan.script.title, take, location)
    return RetakeResult(film_id=film.film_id, part=retake.part, take=take, variant=variant, location=location,
                        sha256=made.sha256, rendered=rendered, estimate=prepared.estimate.summary())


def cost_markdown(prepared: PreparedRetake) -> str:
    estimate, retake = prepared.estimate, prepared.retake
    lines = [f"## Retake of {md(retake.label)}, film {md(retake.film_id)}", md(estimate.summary()), ""]
    if estimate.parts:
        lines += ["| renders | estimated seconds | on |", "|---|---|---|"]
        lines += [f"| {md(p.what)} | {p.seconds:.1f} | {p.on} |" for p in estimate.parts]
    lines += ["", f"*{md(estimate.basis)}.*"]
    return "\n".join(lines)


# --------------------------------------------------------------------------- a keyframe


def retake_keyframe(
    film: FilmContext, state: FilmState, retake: RetakeRequest, timeout: int, auto: bool, started: str
) -> tuple[FilmPlan, list[VariantRef], list[ArtifactRef], int, int]:
    """The new picture of the boundary (a new take, or a take switched back to), then the clips touching it.
    Returns the plan, the keyframes and clips the film now uses, and the take and variant used."""
    index = retake.keyframe
    assert index is not None
    store = film.store()
    part = keyframe_part(index)
    previous_use = state.cut.uses[part]
    if retake.use_take is not None:
        plan = switched_plan(store, state, retake)
        picture = load_variant(store, part, PartUse(take=retake.use_take, variant=switched_variant(store, retake)))
        take_number = retake.use_take
    else:
        plan, take, same_seeds = new_keyframe_take(film, state, retake, started)
        # Drawn again with the same seeds (re-staged, or a new prompt): the picture the film had is recommended.
        recommended = (state.keyframes[index].variant, "the film's picture, changed") if same_seeds else None
        picture, plan, take = pick_keyframe(film, state, plan, take, index, timeout, auto, started, recommended)
        take_number = take.take
    store.describe_take(part, previous_use.take, picked=previous_use.variant)  # switching back finds it
    store.describe_take(part, take_number, picked=picture.variant)
    keyframes = [picture if i == index else ref for i, ref in enumerate(state.keyframes)]
    segments = [s for s in (index - 1, index) if 0 <= s < len(plan.script.segments)]
    with stage("clips"):
        made = fan_out(film, "retake-clips", [
            render_clip.submit(film, plan, s, keyframes[s], keyframes[s + 1], state.references,
                               clip_seed_in_use(state, s))
            for s in segments
        ])
    clips = list(state.clips)
    for segment, clip in zip(segments, made):
        clips[segment] = clip
        describe_clip_take(film, state, plan, segment, clip, why=f"keyframe {index} retaken", started=started)
    return plan, keyframes, clips, take_number, picture.variant


def new_keyframe_take(
    film: FilmContext, state: FilmState, retake: RetakeRequest, started: str
) -> tuple[FilmPlan, KeyframeTake, bool]:
    """Draw the boundary again as the retake says: re-staged, with an edited prompt or new seeds, and/or with
    its picture edited (one candidate per variant). Returns the plan, the take, and whether it was drawn with
    the seeds of the take the film uses (so its variants are the film's own, changed)."""
    index = retake.keyframe
    assert index is not None
    store = film.store()
    renderer = get_renderer(film.renderer)
    plan, edit, logger = state.plan, retake.edit, get_run_logger()
    current = state.keyframes[index]
    current_seeds = [v.seed for v in take_in_use(film, state, index)]
    take_seed = retake.seed
    plan_changed, note = False, None
    if edit is not None and renderer.edit_mode == "restage":
        plan, note = restaged_plan(film, plan, index, edit)
        logger.info(note)  # what was re-staged, and plainly what could not be
        plan_changed = True
    if retake.prompt is not None:
        plan = with_keyframe(plan, plan.keyframes[index].model_copy(update={"prompt": retake.prompt}))
        plan_changed = True
    redraw = edit is None or plan_changed or retake.seed is not None or retake.variants is not None
    variants = retake.variants or len(current_seeds) or plan.request.variants
    if take_seed is None and not plan_changed:  # a plain "retake this": new seeds
        take_seed = fresh_take_seed(store, keyframe_part(index))
    same_seeds = redraw and take_seed is None and variants == len(current_seeds)
    with stage("keyframes"):
        if redraw:
            seeds = current_seeds if same_seeds else keyframe_seeds(plan, index, take_seed, variants)
            take = render_keyframe_variants.submit(film, plan, index, state.references, seeds).result()
        if edit is not None and renderer.edit_mode == "pixels":
            sources = take.variants if redraw else [current]
            seeds = edit_seeds(plan, index, len(sources) if redraw else variants, take_seed)
            take = edit_keyframe.submit(film, plan, index, sources, state.references, edit, seeds).result()
    about = {"made_by": "retake", "seed": take_seed, "prompt": retake.prompt,
             "edit": edit_record(edit) if edit else None, "note": note, **changed_keyframe(state, plan, index)}
    store.describe_take(keyframe_part(index), take.take, made_since=started,
                        **{k: v for k, v in about.items() if v is not None})
    return plan, take, same_seeds and not (edit is not None and renderer.edit_mode == "pixels")


def pick_keyframe(
    film: FilmContext, state: FilmState, plan: FilmPlan, take: KeyframeTake, index: int, timeout: int, auto: bool,
    started: str, recommended: tuple[int, str] | None = None,
) -> tuple[VariantRef, FilmPlan, KeyframeTake]:
    """The one-row checkpoint of the new take (a single candidate is taken as it is); an edit asked for in the
    answer is made on the pick, as at checkpoint 2."""
    if len(take.variants) == 1:
        return take.variants[0], plan, take
    store = film.store()
    renderer = get_renderer(film.renderer)
    previous = store.get_verified(state.keyframes[index - 1].thumb) if index > 0 else None
    checkpoint = checkpoints.retake_checkpoint(store, plan, index, take.take, take.variants, take.qc, previous,
                                               timeout, edits=True, recommended=recommended)
    # A retake pauses (its process waits) rather than suspends: run again from the top, it would draw the take
    # again (every retake run adds a take). Nobody answering still takes the recommendation, with no Failed state.
    decision = checkpoints.decide(store, checkpoint, auto=auto, ask=ask_in_prefect(store, may_suspend=False),
                                  check_edit=lambda tag, edit: renderer.check_edit(plan, int(tag), edit))
    picture = take.variants[decision.picks[str(index)]]
    edit = decision.edits.get(str(index))
    if edit is None:
        return picture, plan, take
    edited = edit_picture(film, plan, index, picture, take, state.references, edit, made_since=started)
    return edited.picture, edited.plan, edited.take


def take_in_use(film: FilmContext, state: FilmState, index: int) -> list[VariantRef]:
    """Every variant of the take the film uses at boundary `index` (a re-staging draws them again, same seeds)."""
    store = film.store()
    part, use = use_of(state.keyframes[index])
    return [load_variant(store, part, PartUse(take=use.take, variant=n)) for n in take_variants(store, part, use.take)]


# --------------------------------------------------------------------------- a clip


def retake_clip(
    film: FilmContext, state: FilmState, retake: RetakeRequest, started: str
) -> tuple[FilmPlan, list[VariantRef], list[ArtifactRef], int]:
    segment = retake.clip
    assert segment is not None
    store = film.store()
    part = clip_part(segment)
    clips = list(state.clips)
    if retake.use_take is not None:
        plan = switched_plan(store, state, retake)
        clips[segment] = load_clip(store, part, PartUse(take=retake.use_take))
        return plan, list(state.keyframes), clips, retake.use_take
    plan = state.plan
    if retake.prompt is not None:
        scene = plan.script.segments[segment]
        plan = with_segment(plan, scene.model_copy(update={"motion": retake.prompt}))
    if retake.seed is not None:
        seed = clip_seed(plan, segment, retake.seed)
    elif retake.prompt is not None:
        seed = clip_seed_in_use(state, segment)  # the same seed, the new prompt
    else:
        seed = clip_seed(plan, segment, fresh_take_seed(store, part))
    keyframes = state.keyframes
    with stage("clips"):
        clip = render_clip.submit(film, plan, segment, keyframes[segment], keyframes[segment + 1], state.references,
                                  seed).result()
    clips[segment] = clip
    describe_clip_take(film, state, plan, segment, clip, why="retaken", started=started, prompt=retake.prompt)
    return plan, list(keyframes), clips, use_of(clip)[1].take


def describe_clip_take(film: FilmContext, state: FilmState, plan: FilmPlan, segment: int, clip: ArtifactRef,
                       why: str, started: str, prompt: str | None = None) -> None:
    """Record how a clip take made by this retake (since `started`) was made."""
    about = {"made_by": "retake", "why": why, "seed": clip.meta.get("seed")}
    if prompt is not None:
        about["prompt"] = prompt
    if plan.script.segments[segment] != state.writer_plan.script.segments[segment]:  # switching back needs it
        about["segment"] = plan.script.segments[segment].model_dump(mode="json")
    film.store().describe_take(clip_part(segment), use_of(clip)[1].take, made_since=started, **about)


def changed_keyframe(state: FilmState, plan: FilmPlan, index: int) -> dict[str, object]:
    """The keyframe a take was drawn from, where it is not the writer's (switching back to the take needs it)."""
    if plan.keyframes[index] == state.writer_plan.keyframes[index]:
        return {}
    return {"keyframe": plan.keyframes[index].model_dump(mode="json")}


def fresh_take_seed(store: FilmStore, part: str) -> int:
    """A take seed for a plain "retake this": one more than the part's takes so far."""
    return len(store.takes().get(part, [])) + 1


__all__ = ["RetakeResult", "retake_film"]
