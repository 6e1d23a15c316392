"""Phase 3: one clip per segment, pinned to its two chosen keyframes."""

from __future__ import annotations

from prefect import task

from filmstitch.models import FilmPlan, derive_seed, stable_hash
from filmstitch.renderers import RenderedImage, get_renderer
from filmstitch.storage import ArtifactRef
from tasks.common import CACHED, RETRIES, FilmContext, VariantRef, render_slot


@task(name="render-clip", task_run_name="clip-{segment}", **RETRIES, **CACHED)
def render_clip(
    ctx: FilmContext,
    plan: FilmPlan,
    segment: int,
    first: VariantRef,
    last: VariantRef,
    chosen_references: dict[str, VariantRef],
) -> ArtifactRef:
    seed = derive_seed(plan.request.seed, "clip", segment)
    fingerprint = stable_hash(
        [plan.script.segments[segment].model_dump(), first.image.sha256, last.image.sha256,
         {k: v.image.sha256 for k, v in sorted(chosen_references.items())}, seed, ctx.renderer,
         plan.request.model_dump()],
        8,
    )
    key = f"clips/s{segment:02d}-{fingerprint}.mp4"
    store = ctx.store()
    reused = store.reuse(key)
    if reused is not None:
        return reused

    def image(ref: VariantRef) -> RenderedImage:
        return RenderedImage(variant=ref.variant, seed=ref.seed, png=store.get_verified(ref.image))

    references = {sid: image(ref) for sid, ref in chosen_references.items()}
    with render_slot(ctx.renderer):
        mp4 = get_renderer(ctx.renderer).clip(plan, segment, image(first), image(last), references, seed)
    return store.put(key, mp4, "video/mp4", stage="clip", segment=segment, seed=seed)
