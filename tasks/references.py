"""Phase 1, references: variants of every character and of every location."""

from __future__ import annotations

from prefect import task

from filmstitch import backends
from filmstitch.models import FilmPlan, derive_seed
from filmstitch.renderers import get_renderer
from filmstitch.reuse import key_of, reference_inputs
from filmstitch.storage.parts import reference_part
from filmstitch.tasks.common import STAGE, FilmContext, VariantRef, render_slot, reuse_variants, store_variants
from filmstitch.tasks.estimate import metered


def reference_seeds(plan: FilmPlan, subject_id: str) -> list[int]:
    return [derive_seed(plan.request.seed, "reference", subject_id, v) for v in range(plan.request.variants)]


@task(name="render-references", task_run_name="references-{subject_id}", **STAGE)
def render_reference_variants(ctx: FilmContext, plan: FilmPlan, subject_id: str) -> list[VariantRef]:
    subject = next(s for s in plan.subjects if s.id == subject_id)
    seeds = reference_seeds(plan, subject_id)
    renderer = get_renderer(ctx.renderer)
    reuse_key = key_of("reference", renderer.identity(), **reference_inputs(plan, subject_id, seeds))
    part = reference_part(subject_id)
    store = ctx.store()
    take, reused = reuse_variants(store, part, reuse_key, seeds)
    if reused is not None:
        return reused
    with render_slot(backends.renderer(ctx.renderer)), metered(ctx, f"{part}/take-{take}"):
        pngs = renderer.reference_variants(plan, subject, seeds)
    return store_variants(store, part, take, reuse_key, pngs, seeds, stage="reference")
