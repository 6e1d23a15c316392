"""Phase 2: variants of every boundary keyframe, conditioned on the chosen references, with their continuity
scores (how well each variant matches the references of the subjects present: filmstitch.renderers.qc)."""

from __future__ import annotations

from prefect import task
from pydantic import BaseModel, ConfigDict

from filmstitch.models import FilmPlan, derive_seed
from filmstitch.renderers import RenderedImage, get_renderer
from filmstitch.renderers.qc import KeyframeQc
from filmstitch.reuse import key_of, keyframe_inputs
from filmstitch.tasks.common import STAGE, FilmContext, VariantRef, render_slot, reuse_variants, store_variants


class KeyframeTake(BaseModel):
    """One take of a boundary: its variants and their continuity scores."""

    model_config = ConfigDict(frozen=True)

    index: int
    take: int
    variants: list[VariantRef]
    qc: KeyframeQc


def keyframe_seeds(plan: FilmPlan, index: int, take_seed: int | None = None) -> list[int]:
    """Seeds of a boundary's variants; a retake passes its own seed to draw new ones."""
    extra = () if take_seed is None else (take_seed,)
    return [derive_seed(plan.request.seed, "keyframe", index, v, *extra) for v in range(plan.request.variants)]


@task(name="render-keyframes", task_run_name="keyframe-{index}", **STAGE)
def render_keyframe_variants(
    ctx: FilmContext, plan: FilmPlan, index: int, chosen_references: dict[str, VariantRef], seeds: list[int]
) -> KeyframeTake:
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
    with render_slot(ctx.renderer):
        if variants is None:
            pngs = renderer.keyframe_variants(plan, index, references, seeds)
            variants = store_variants(store, part, take, reuse_key, pngs, seeds, stage="keyframe")
        else:
            pngs = [store.get_verified(v.image) for v in variants]
        scores = renderer.keyframe_qc(plan, index, references, pngs)
    store.put(qc_key, scores.model_dump_json(indent=2).encode(), "application/json", reuse_key=reuse_key,
              stage="qc", boundary=index)
    return KeyframeTake(index=index, take=take, variants=variants, qc=scores)
