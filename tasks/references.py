"""Phase 1, references: variants of every character and of the environment."""

from __future__ import annotations

from prefect import task

from filmstitch.models import FilmPlan, derive_seed, stable_hash
from filmstitch.renderers import get_renderer
from tasks.common import CACHED, RETRIES, FilmContext, VariantRef, render_slot, reuse_variants, store_variants


def reference_seeds(plan: FilmPlan, subject_id: str) -> list[int]:
    return [derive_seed(plan.request.seed, "reference", subject_id, v) for v in range(plan.request.variants)]


@task(name="render-reference-variants", task_run_name="references-{subject_id}", **RETRIES, **CACHED)
def render_reference_variants(ctx: FilmContext, plan: FilmPlan, subject_id: str) -> list[VariantRef]:
    subject = next(s for s in plan.subjects if s.id == subject_id)
    seeds = reference_seeds(plan, subject_id)
    # The key names what the image depends on, so a changed description never reuses a stale picture.
    request = plan.request
    fingerprint = stable_hash([subject.model_dump(), seeds, ctx.renderer, request.width, request.height], 8)
    prefix = f"references/{subject_id}/{fingerprint}"
    store = ctx.store()
    reused = reuse_variants(store, prefix, seeds)
    if reused is not None:
        return reused
    with render_slot(ctx.renderer):
        pngs = get_renderer(ctx.renderer).reference_variants(plan, subject, seeds)
    return store_variants(store, prefix, pngs, seeds, stage="reference")
