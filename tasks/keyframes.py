"""Phase 2: variants of every boundary keyframe, conditioned on the chosen references, with their continuity
scores (how well each variant matches the references of the subjects present: filmstitch.renderers.qc); and
edits of a chosen keyframe (an instruction, or a region painted again), stored as a take of their own."""

from __future__ import annotations

from collections.abc import Callable

from prefect import task
from pydantic import BaseModel, ConfigDict

from filmstitch import backends
from filmstitch.models import FilmPlan, KeyframeEdit, derive_seed
from filmstitch.renderers import RenderedImage, Renderer, get_renderer
from filmstitch.renderers.qc import KeyframeQc
from filmstitch.reuse import key_of, keyframe_edit_inputs, keyframe_inputs
from filmstitch.storage.parts import keyframe_part
from filmstitch.tasks.common import STAGE, FilmContext, VariantRef, render_slot, reuse_variants, store_variants
from filmstitch.tasks.estimate import metered


class KeyframeTake(BaseModel):
    """One take of a boundary: its variants and their continuity scores."""

    model_config = ConfigDict(frozen=True)

    index: int
    take: int
    variants: list[VariantRef]
    qc: KeyframeQc


def keyframe_seeds(plan: FilmPlan, index: int, take_seed: int | None = None, variants: int | None = None) -> list[int]:
    """Seeds of a boundary's variants; a retake passes its own seed to draw new ones (and may ask for another
    number of variants)."""
    extra = () if take_seed is None else (take_seed,)
    count = plan.request.variants if variants is None else variants
    return [derive_seed(plan.request.seed, "keyframe", index, v, *extra) for v in range(count)]


def edit_seeds(plan: FilmPlan, index: int, count: int, take_seed: int | None = None) -> list[int]:
    """Seeds of the variants of an edit of boundary `index`."""
    extra = () if take_seed is None else (take_seed,)
    return [derive_seed(plan.request.seed, "keyframe-edit", index, v, *extra) for v in range(count)]


@task(name="render-keyframes", task_run_name="keyframe-{index}", **STAGE)
def render_keyframe_variants(
    ctx: FilmContext, plan: FilmPlan, index: int, chosen_references: dict[str, VariantRef], seeds: list[int]
) -> KeyframeTake:
    """`chosen_references` maps subject id -> chosen reference variant, for every subject of the film."""
    conditioning = _conditioning(plan, index, chosen_references)
    renderer = get_renderer(ctx.renderer)
    reuse_key = key_of("keyframe", renderer.identity(), **keyframe_inputs(plan, index, conditioning, seeds))
    return _keyframe_take(ctx, renderer, plan, index, conditioning, reuse_key, seeds, "keyframe",
                          lambda references: renderer.keyframe_variants(plan, index, references, seeds))


@task(name="edit-keyframe", task_run_name="edit-keyframe-{index}", **STAGE)
def edit_keyframe(
    ctx: FilmContext,
    plan: FilmPlan,
    index: int,
    pictures: list[VariantRef],
    chosen_references: dict[str, VariantRef],
    edit: KeyframeEdit,
    seeds: list[int],
) -> KeyframeTake:
    """A new take of boundary `index` made by editing pictures of it (renderers whose `edit_mode` is "pixels"):
    one picture edited once per seed, or several pictures edited once each (one seed each). Scored like any
    keyframe take, so the recommendation works the same."""
    if len(pictures) not in (1, len(seeds)):
        raise ValueError(f"edit {len(pictures)} pictures with 1 seed each, or 1 picture with several seeds")
    conditioning = _conditioning(plan, index, chosen_references)
    renderer = get_renderer(ctx.renderer)
    reuse_key = key_of("keyframe-edit", renderer.identity(),
                       **keyframe_edit_inputs(plan, index, pictures, conditioning, edit, seeds))
    store = ctx.store()

    def make(_references: dict[str, RenderedImage]) -> list[bytes]:
        sources = [RenderedImage(variant=p.variant, seed=p.seed, png=store.get_verified(p.image)) for p in pictures]
        if len(sources) == 1:
            return renderer.edit_keyframe(plan, index, sources[0], edit, seeds)
        return [png for source, seed in zip(sources, seeds) for png in renderer.edit_keyframe(plan, index, source,
                                                                                                edit, [seed])]

    return _keyframe_take(ctx, renderer, plan, index, conditioning, reuse_key, seeds, "keyframe-edit", make)


def _conditioning(plan: FilmPlan, index: int, chosen_references: dict[str, VariantRef]) -> dict[str, VariantRef]:
    present = [s.id for s in plan.subjects_at(index)]
    missing = [sid for sid in present if sid not in chosen_references]
    if missing:
        raise ValueError(f"keyframe {index}: no reference chosen for {missing}")
    return {sid: chosen_references[sid] for sid in present}


def _keyframe_take(
    ctx: FilmContext,
    renderer: Renderer,
    plan: FilmPlan,
    index: int,
    conditioning: dict[str, VariantRef],
    reuse_key: str,
    seeds: list[int],
    stage: str,
    make: Callable[[dict[str, RenderedImage]], list[bytes]],
) -> KeyframeTake:
    """The take made from `reuse_key`, reused when it is stored intact (with its scores), else made and scored."""
    part = keyframe_part(index)
    store = ctx.store()
    take, variants = reuse_variants(store, part, reuse_key, seeds)
    qc_key = f"{part}/take-{take}/qc.json"
    if variants is not None:
        stored_qc = store.reuse(qc_key, reuse_key)
        if stored_qc is not None:
            return KeyframeTake(index=index, take=take, variants=variants,
                                qc=KeyframeQc.model_validate_json(store.get_verified(stored_qc)))
    references = {
        sid: RenderedImage(variant=ref.variant, seed=ref.seed, png=store.get_verified(ref.image))
        for sid, ref in conditioning.items()
    }
    with render_slot(backends.renderer(ctx.renderer)), metered(ctx, f"{part}/take-{take}"):
        if variants is None:
            pngs = make(references)
            variants = store_variants(store, part, take, reuse_key, pngs, seeds, stage=stage)
        else:
            pngs = [store.get_verified(v.image) for v in variants]
        scores = renderer.keyframe_qc(plan, index, references, pngs)
    store.put(qc_key, scores.model_dump_json(indent=2).encode(), "application/json", reuse_key=reuse_key,
              stage="qc", boundary=index)
    return KeyframeTake(index=index, take=take, variants=variants, qc=scores)


__all__ = ["KeyframeTake", "edit_keyframe", "edit_seeds", "keyframe_seeds",
           "render_keyframe_variants"]
