"""Phase 3: one clip per segment, pinned to its two chosen keyframes."""

from __future__ import annotations

from prefect import task

from filmstitch.models import FilmPlan, derive_seed
from filmstitch.renderers import RenderedImage, get_renderer
from filmstitch.reuse import clip_inputs, clip_subjects, key_of
from filmstitch.storage import ArtifactRef
from filmstitch.tasks.common import STAGE, FilmContext, VariantRef, render_slot, stored_take


def clip_seed(plan: FilmPlan, segment: int, take_seed: int | None = None) -> int:
    extra = () if take_seed is None else (take_seed,)
    return derive_seed(plan.request.seed, "clip", segment, *extra)


@task(name="render-clip", task_run_name="clip-{segment}", **STAGE)
def render_clip(
    ctx: FilmContext,
    plan: FilmPlan,
    segment: int,
    first: VariantRef,
    last: VariantRef,
    chosen_references: dict[str, VariantRef],
    seed: int,
) -> ArtifactRef:
    references = {sid: chosen_references[sid] for sid in clip_subjects(plan, segment) if sid in chosen_references}
    renderer = get_renderer(ctx.renderer)
    reuse_key = key_of("clip", renderer.identity(), **clip_inputs(plan, segment, first, last, references, seed,
                                                                          renderer.clip_reads_narration))
    store = ctx.store()
    key, reused = stored_take(store, f"clips/c{segment:02d}", reuse_key, ".mp4")
    if reused is not None:
        return reused

    def image(ref: VariantRef) -> RenderedImage:
        return RenderedImage(variant=ref.variant, seed=ref.seed, png=store.get_verified(ref.image))

    pictures = {sid: image(ref) for sid, ref in references.items()}
    with render_slot(ctx.renderer):
        mp4 = renderer.clip(plan, segment, image(first), image(last), pictures, seed)
    return store.put(key, mp4, "video/mp4", reuse_key=reuse_key, stage="clip", segment=segment, seed=seed)
