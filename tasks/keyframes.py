"""Phase 2: variants of every boundary keyframe, conditioned on the chosen references."""

from __future__ import annotations

from prefect import task

from filmstitch.models import FilmPlan, derive_seed, stable_hash
from filmstitch.renderers import RenderedImage, get_renderer
from tasks.common import CACHED, RETRIES, FilmContext, VariantRef, render_slot, reuse_variants, store_variants


def keyframe_seeds(plan: FilmPlan, index: int) -> list[int]:
    return [derive_seed(plan.request.seed, "keyframe", index, v) for v in range(plan.request.variants)]


@task(name="render-keyframe-variants", task_run_name="keyframe-{index}", **RETRIES, **CACHED)
def render_keyframe_variants(
    ctx: FilmContext, plan: FilmPlan, index: int, chosen_references: dict[str, VariantRef]
) -> list[VariantRef]:
    """`chosen_references` maps subject id -> chosen reference variant, for every subject of the film."""
    present = [s.id for s in plan.subjects_at(index)]
    missing = [sid for sid in present if sid not in chosen_references]
    if missing:
        raise ValueError(f"keyframe {index}: no reference chosen for {missing}")
    conditioning = {sid: chosen_references[sid] for sid in present}
    seeds = keyframe_seeds(plan, index)
    fingerprint = stable_hash(
        [plan.keyframes[index].model_dump(), {k: v.image.sha256 for k, v in conditioning.items()}, seeds, ctx.renderer,
         plan.request.width, plan.request.height],
        8,
    )
    prefix = f"keyframes/k{index:02d}/{fingerprint}"
    store = ctx.store()
    reused = reuse_variants(store, prefix, seeds)
    if reused is not None:
        return reused
    references = {
        sid: RenderedImage(variant=ref.variant, seed=ref.seed, png=store.get_verified(ref.image))
        for sid, ref in conditioning.items()
    }
    with render_slot(ctx.renderer):
        pngs = get_renderer(ctx.renderer).keyframe_variants(plan, index, references, seeds)
    return store_variants(store, prefix, pngs, seeds, stage="keyframe")
