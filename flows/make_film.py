"""The `make-film` flow: a one-sentence idea in, a short film out, with three human checkpoints.

    Phase 1  script -> characters -> locations -> keyframe prompts
             checkpoint 0: a person reads the script and may change any text of it (filmstitch/script_checkpoint.py)
             -> reference variants
             checkpoint 1: a person picks one reference per character and per location
    Phase 2  keyframe variants for every boundary (N+1 of them, fanned out)
             checkpoint 2: a person picks one variant per boundary, and may edit a pick
             (`3:1 edit "make her coat red"`: flows/edits.py)
    Phase 3  one clip per segment between its two chosen keyframes (fanned out) -> assembly

Every stage is a retried task whose result is stored in the film's storage with a reuse key (what it was
made from) and a checksum: a run that crashed, or is started again anywhere with the same request,
reuses exactly the parts whose inputs are unchanged and whose bytes are intact, and redoes the rest.
Picks are stored too: a resumed film never asks the same question twice. The film is stored with the record
of which take of every part it uses (filmstitch.tasks.takes), which the retake-film flow changes one part at
a time (flows/retake_film.py); a film run again after a retake keeps the retaken cut.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

from prefect import flow, get_run_logger
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel

from filmstitch import checkpoints
from filmstitch.flows.artifacts import film_link, publish_film, publish_picks, publish_script
from filmstitch.flows.asking import ask_in_prefect
from filmstitch.flows.edits import edit_picture
from filmstitch.flows.fan_out import fan_out
from filmstitch.flows.results import keep_result_beside
from filmstitch.lifecycle import end_with_parent
from filmstitch.models import FilmPlan, FilmRequest, Picks
from filmstitch.renderers import get_renderer
from filmstitch.script_checkpoint import decide_script
from filmstitch.settings import Settings
from filmstitch.storage import ArtifactRef
from filmstitch.tasks.assemble import assemble_film, store_cut_plan
from filmstitch.tasks.clips import clip_seed, clip_sound, render_clip
from filmstitch.tasks.common import FilmContext, VariantRef
from filmstitch.tasks.estimate import check_budget, check_running_budget, script_cost
from filmstitch.tasks.film import open_film
from filmstitch.tasks.keyframes import KeyframeTake, keyframe_seeds, render_keyframe_variants
from filmstitch.tasks.qc import check_seams
from filmstitch.tasks.references import render_reference_variants
from filmstitch.tasks.sound import SoundRef, cast_voices, make_ambience, mix_sound, speak_segment
from filmstitch.tasks.takes import cut_of, plan_checksum, retaken_film
from filmstitch.tasks.write import (
    assemble_plan,
    describe_characters,
    describe_environments,
    write_keyframe_prompts,
    write_script,
    writer_gate,
)


class FilmResult(BaseModel):
    """make-film's result, persisted: what the batch report and FilmStitchClient.film read."""

    film_id: str
    title: str
    location: str
    url: str | None = None  # plays it in a browser (the film server's, or presigned on S3); None when none
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


# The result is persisted (JSON, beside the films: flows/results.py) so the batch and the client read it as
# Prefect's run result; it also lets Prefect reschedule a suspended run (flows/asking.py).
@flow(name="make-film", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=16), persist_result=True,
      result_serializer="json")
def make_film(
    request: FilmRequest,
    auto_pick: bool = False,
    pause_timeout_s: int | None = None,
    film_id: str | None = None,
) -> FilmResult:
    """Make a short film from a one-sentence idea.

    Args:
        request: The film: its idea and how it is made (every field is explained in the form).
        auto_pick: Pick variants automatically instead of pausing for a person.
        pause_timeout_s: Seconds a checkpoint waits for a person before taking the recommended picks
            (default: FILMSTITCH_PAUSE_TIMEOUT_S, 3600).
        film_id: Name the film, or resume one by its id; by default derived from the request, so the same
            request resumes the same film.
    """
    end_with_parent()
    settings = Settings()
    timeout = pause_timeout_s if pause_timeout_s is not None else settings.pause_timeout_s
    # Bad input and missing backends are refused here with their own clear error (nothing is written yet).
    film, request = open_film(request, film_id, timeout)
    check_budget(request, film.storage, film.film_id, gate=writer_gate)  # logs the estimate; over budget: refused
    store = film.store()
    ask = ask_in_prefect(store)  # suspends a deployment run at a checkpoint, else pauses

    with stage("writing"):
        plan = write_plan(film, request)
    # The script checkpoint: a person reads and may change the plan before anything is drawn or spoken.
    cost = script_cost(request, film.storage, film.film_id, len(plan.subjects))  # shown with the script
    plan = decide_script(store, plan, timeout, auto=auto_pick, ask=ask, cost=cost)
    publish_script(film, plan)
    # A film with a budget stops before a stage that would pass it, by what its records say it spent (one line).
    budget = functools.partial(check_running_budget, request, film.storage, film.film_id, len(plan.subjects))
    budget("references")
    # The sound needs only the script: it is made while the pictures are drawn and chosen.
    with stage("sound"):
        sound = start_sound(film, plan) if request.sound else None

    with stage("references"):
        references = fan_out(film, "references", [
            render_reference_variants.submit(film, plan, subject.id) for subject in plan.subjects
        ])
    references = dict(zip([s.id for s in plan.subjects], references))
    reference_picks = checkpoints.decide(
        store, checkpoints.reference_checkpoint(store, plan, references, timeout), auto=auto_pick, ask=ask
    )
    chosen_references = {sid: references[sid][reference_picks.picks[tag]]
                         for sid, tag in checkpoints.reference_tags(plan).items()}

    budget("keyframes")
    with stage("keyframes"):
        takes = fan_out(film, "keyframes", [
            render_keyframe_variants.submit(film, plan, k.index, chosen_references, keyframe_seeds(plan, k.index))
            for k in plan.keyframes
        ])
        if auto_pick:  # nobody looks: a boundary whose variants all miss their references gets one more try
            takes = retry_weak_keyframes(film, plan, takes, chosen_references)
    renderer = get_renderer(film.renderer)
    keyframe_decisions = checkpoints.decide_keyframes(
        store, plan, [t.variants for t in takes], timeout, auto=auto_pick, ask=ask, scores=[t.qc for t in takes],
        check_edit=lambda tag, edit: renderer.check_edit(plan, int(tag), edit),
    )
    chosen = [takes[i].variants[keyframe_decisions.pick(i)] for i in range(len(plan.keyframes))]
    writer_plan = plan
    with stage("keyframe edits"):  # `3:1 edit "make her coat red"` at checkpoint 2: the edited picture is used
        for index, edit in keyframe_decisions.edits.items():
            edited = edit_picture(film, plan, index, chosen[index], takes[index], chosen_references, edit)
            plan, chosen[index] = edited.plan, edited.picture
    picks = Picks(
        references={sid: references[sid].index(ref) for sid, ref in chosen_references.items()},
        keyframes=[keyframe_decisions.pick(i) for i in range(len(plan.keyframes))],
        picked_by={"references": reference_picks.picked_by, **keyframe_decisions.picked_by},
    )
    publish_picks(film, plan, picks)

    budget("clips")
    with stage("clips"):
        clips = fan_out(film, "clips", [
            render_clip.submit(film, plan, i, chosen[i], chosen[i + 1], chosen_references, clip_seed(plan, i))
            for i in range(request.segments)
        ])
    # The seam scores and the mix need different things (the clips; the speech and ambience) and each keeps
    # one core busy: side by side they take the time of the longer one.
    seams = check_seams.submit(film, plan, clips, [t.qc for t in takes])
    clip_sounds = [clip_sound(clip) for clip in clips]  # LTX-2's clips carry their own sound
    with stage("sound"):
        mix = finish_sound(film, *sound, clip_sounds=clip_sounds if all(clip_sounds) else None) if sound else None
    with stage("clips"):
        seams.result()
    cut = cut_of(chosen_references, chosen, clips, "make-film", plan_checksum(writer_plan))
    retaken = retaken_film(store, cut.writer_plan)
    if retaken is not None:  # run again after a retake: the film stays as retaken (`filmstitch takes` lists all)
        get_run_logger().info("Film %s was retaken: keeping the retaken cut", film.film_id)
        plan, clips, cut, chosen = retaken.plan, retaken.clips, retaken.cut, retaken.keyframes
    elif plan is not writer_plan:
        store_cut_plan(store, writer_plan)  # retakes switch parts back to the writer's plan
    with stage("assembly"):
        made = assemble_film(film, plan, clips, mix, cut)

    location = publish_film(film, plan, made, poster=chosen[0])
    store.update_manifest(status="finished", film=made.key, title=plan.script.title, picks=picks.model_dump())
    get_run_logger().info("Finished %r: %s", plan.script.title, location)
    keep_result_beside(store)
    return FilmResult(
        film_id=film.film_id, title=plan.script.title, location=location, url=film_link(store, made.key),
        key=made.key, sha256=made.sha256,
        duration_s=made.meta.get("duration_s", 0.0), picks=picks, writer=plan.writer, renderer=film.renderer,
    )


def retry_weak_keyframes(
    film: FilmContext, plan: FilmPlan, takes: list[KeyframeTake], chosen_references: dict[str, VariantRef]
) -> list[KeyframeTake]:
    """Re-render, once, every boundary whose best variant scores under the renderer's threshold, with new seeds;
    keep whichever take scores better (both are stored)."""
    weak = [t for t in takes if t.qc.needs_retry]
    if not weak:
        return takes
    get_run_logger().info("Continuity below threshold at keyframes %s: one more take each", [t.index for t in weak])
    retries = fan_out(film, "keyframe-retries", [
        render_keyframe_variants.submit(film, plan, t.index, chosen_references, keyframe_seeds(plan, t.index, 1))
        for t in weak
    ])
    better = {r.index: r for t, r in zip(weak, retries) if _best_score(r) > _best_score(t)}
    return [better.get(t.index, t) for t in takes]


def _best_score(take: KeyframeTake) -> float:
    best = take.qc.best
    return take.qc.variants[best].score if best is not None else float("-inf")


def start_sound(
    film: FilmContext, plan: FilmPlan
) -> tuple[FilmPlan, list[PrefectFuture], dict[str, PrefectFuture]]:
    """Voices cast into the plan (voices stay out of the pictures' reuse keys), then every segment's speech
    and every location's ambience submitted; `finish_sound` mixes them."""
    cast = cast_voices(film, plan)
    speech = [speak_segment.submit(film, cast, i) for i in range(len(plan.script.segments))]
    beds = {loc: make_ambience.submit(film, cast, loc) for loc in plan.script.locations}
    return cast, speech, beds


def finish_sound(film: FilmContext, cast: FilmPlan, speech: list[PrefectFuture],
                 beds: dict[str, PrefectFuture], clip_sounds: list[ArtifactRef] | None = None) -> SoundRef:
    lines = fan_out(film, "speech", speech)
    ambience = dict(zip(beds, fan_out(film, "ambience", list(beds.values()))))
    return mix_sound(film, cast, lines, ambience, clip_sounds)


def write_plan(film: FilmContext, request: FilmRequest) -> FilmPlan:
    """Phase 1's four writer calls, each depending on the ones before, then the cross-checked plan."""
    script = write_script(film, request)
    characters = describe_characters(film, request, script)
    locations = describe_environments(film, request, script)
    keyframes = write_keyframe_prompts(film, request, script, characters, locations)
    return assemble_plan(film, request, script, characters, locations, keyframes)


__all__ = ["FilmResult", "StageFailed", "VariantRef", "make_film"]
