"""Keyframe edits, as both flows make them: at checkpoint 2 of make-film and in a retake.

How an edit is made depends on the renderer (`Renderer.edit_mode`):

    restage   the animatic: the instruction changes the keyframe's staging in a copy of the plan (colours,
              positions, poses, props, shot, light) and the boundary is drawn again with its seeds, so the
              clips on either side move to and from the new staging; what it cannot do is said plainly
    pixels    the GPU renderers: an image-editing model edits the picture (FLUX.1 Kontext for an instruction,
              FLUX.1 Fill for a region), stored as a new take of the boundary

Either way the edit is a new take (no take is overwritten), described in the takes table with the edit.
"""

from __future__ import annotations

from dataclasses import dataclass

from prefect import get_run_logger

from filmstitch.models import FilmPlan, KeyframeEdit
from filmstitch.renderers import get_renderer
from filmstitch.storage.parts import keyframe_part
from filmstitch.tasks.common import FilmContext, VariantRef
from filmstitch.tasks.keyframes import (
    KeyframeTake,
    edit_keyframe,
    edit_seeds,
    render_keyframe_variants,
)
from filmstitch.tasks.takes import with_keyframe


@dataclass(frozen=True)
class Edited:
    """An edit made: the plan (re-staged, or as it was), the new take and the picture chosen from it."""

    plan: FilmPlan
    take: KeyframeTake
    picture: VariantRef
    message: str


def restaged_plan(film: FilmContext, plan: FilmPlan, index: int, edit: KeyframeEdit) -> tuple[FilmPlan, str]:
    """(the plan with keyframe `index` re-staged, what happened in words): restage renderers only."""
    renderer = get_renderer(film.renderer)
    restaging = renderer.restage(plan, index, edit)
    message = restaging.message(renderer.name, renderer.restage_abilities)
    return with_keyframe(plan, restaging.keyframe), f"Keyframe {index}: {message}"


def edit_picture(
    film: FilmContext,
    plan: FilmPlan,
    index: int,
    picture: VariantRef,
    take: KeyframeTake,
    references: dict[str, VariantRef],
    edit: KeyframeEdit,
    made_since: str | None = None,
) -> Edited:
    """Edit the chosen picture of boundary `index` (one result, used as the new pick): checkpoint 2's edits.

    `take` is the take the picture belongs to; a re-staged boundary is drawn again with that take's seeds, and
    the picture's variant of the new take is the edited picture. `made_since`: describe the take only if it
    was made since then (FilmStore.describe_take)."""
    renderer = get_renderer(film.renderer)
    logger = get_run_logger()
    if renderer.edit_mode == "restage":
        edited_plan, message = restaged_plan(film, plan, index, edit)
        logger.info(message)
        new = render_keyframe_variants.submit(film, edited_plan, index, references,
                                              [v.seed for v in take.variants]).result()
        result = Edited(edited_plan, new, new.variants[picture.variant], message)
    else:
        new = edit_keyframe.submit(film, plan, index, [picture], references, edit,
                                   edit_seeds(plan, index, 1)).result()
        message = f"Keyframe {index}: edited ({edit.describe()}) by the {renderer.name} renderer's image model."
        logger.info(message)
        result = Edited(plan, new, new.variants[0], message)
    describe_edit(film, result, edit, picture, made_since)
    return result


def describe_edit(film: FilmContext, edited: Edited, edit: KeyframeEdit, source: VariantRef,
                  made_since: str | None = None) -> None:
    """Record how the edit's take was made, beside it in the takes table."""
    index = edited.take.index
    film.store().describe_take(
        keyframe_part(index), edited.take.take, made_since=made_since, made_by="edit", edit=edit_record(edit),
        edited=source.image.key,
        note=edited.message, keyframe=edited.plan.keyframes[index].model_dump(mode="json"),
    )  # the keyframe it was drawn from: switching back to this take restores it


def edit_record(edit: KeyframeEdit) -> dict[str, str]:
    """An edit as the takes table shows it (a mask image is noted, not copied into the manifest)."""
    record = {"instruction": edit.instruction, "region": str(edit.region) if edit.region else None,
              "mask": "a mask image" if edit.mask else None}
    return {name: value for name, value in record.items() if value is not None}
