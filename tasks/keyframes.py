"""Phase 2: variants of every boundary keyframe, conditioned on the chosen references."""

from __future__ import annotations

from prefect import task

from filmstitch.models import FilmPlan, derive_seed
from filmstitch.renderers import RenderedImage, get_renderer
from filmstitch.reuse import key_of, keyframe_inputs
from filmstitch.tasks.common import STAGE, FilmContext, VariantRef, render_slot, reuse_variants, store_variants


def keyframe_seeds(plan: FilmPlan, index: int, take_seed: int | None = None) -> list[int]:
    """Seeds of a boundary's variants; a retake passes its own seed to draw new ones."""
    extra = () if take_seed is None else (take_seed,)
    return [derive_seed(plan.request.seed, "keyframe", index, v, *extra) for v in range(plan.request.variants)]


@task(name="render-keyframes", task_run_name="keyframe-{index}", **STAGE)
def render_keyframe_variants(
    ctx: FilmContext, plan: FilmPlan, index: int, chosen_references: dict[str, VariantRef], seeds: list[int]
) -> list[VariantRef]:
    """`chosen_references` maps subject id -> chosen reference variant, for every subject of the film."""
    present = [s.id for s in plan.subjects_at(index)]
    missing = [sid for sid in present if sid not in chosen_references]
    if missing:
        raise ValueError(f"keyframe {index}: no reference chosen for {missing}")
    conditioning = {sid: chosen_references[sid] for sid in present}
    renderer = get_renderer(ctx.renderer)
    reuse_key = key_of("keyframe", renderer.identity(), **keyframe_inputs(plan, index, conditioning, seeds))
    part = f"keyframes/k{index:02d}"
    store = ctx.store()
    take, reused = reuse_variants(store, part, reuse_key, seeds)
    if reused is not None:
        return reused
    references = {
        sid: RenderedImage(variant=ref.variant, seed=ref.seed, png=store.get_verified(ref.image))
        for sid, ref in conditioning.items()
    }
    with render_slot(ctx.renderer):
        pngs = renderer.keyframe_variants(plan, index, references, seeds)
    return store_variants(store, part, take, reuse_key, pngs, seeds, stage="keyframe")
