"""Phase 3: one clip per segment, pinned to its two chosen keyframes (with its own sound, from LTX-2)."""

from __future__ import annotations

from prefect import task

from filmstitch import backends
from filmstitch.models import FilmPlan, derive_seed
from filmstitch.renderers import RenderedImage, get_renderer
from filmstitch.reuse import clip_key, clip_sound_inputs, clip_subjects, key_of
from filmstitch.storage import ArtifactRef, FilmStore
from filmstitch.storage.parts import clip_part
from filmstitch.tasks.common import STAGE, FilmContext, VariantRef, render_slot, stored_take
from filmstitch.tasks.estimate import metered


def clip_seed(plan: FilmPlan, segment: int, take_seed: int | None = None) -> int:
    extra = () if take_seed is None else (take_seed,)
    return derive_seed(plan.request.seed, "clip", segment, *extra)


def clip_sound(clip: ArtifactRef) -> ArtifactRef | None:
    """The clip's own sound (a WAV stored beside it), as its manifest entry names it; None for a silent clip."""
    sound = clip.meta.get("sound")
    if not sound:
        return None
    return ArtifactRef(key=sound["key"], sha256=sound["sha256"], size=sound["size"], content_type="audio/wav",
                       reuse_key=sound.get("reuse_key"))


def _reusable(store: FilmStore, clip: ArtifactRef | None) -> ArtifactRef | None:
    """A stored clip, if its sound (when it has one) is stored and intact too."""
    if clip is None:
        return None
    sound = clip_sound(clip)
    if sound is not None and store.reuse(sound.key, sound.reuse_key) is None:
        return None
    return clip


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
    maker = renderer.identity()
    reuse_key = clip_key(maker, plan, segment, first, last, chosen_references, seed, renderer.clip_reads_narration)
    store = ctx.store()
    key, reused = stored_take(store, clip_part(segment), reuse_key, ".mp4")
    reused = _reusable(store, reused)
    if reused is not None:
        return reused

    def image(ref: VariantRef) -> RenderedImage:
        return RenderedImage(variant=ref.variant, seed=ref.seed, png=store.get_verified(ref.image))

    pictures = {sid: image(ref) for sid, ref in references.items()}
    with render_slot(backends.renderer(ctx.renderer)), metered(ctx, key.removesuffix(".mp4")):
        made = renderer.clip_with_sound(plan, segment, image(first), image(last), pictures, seed)
    sound = None
    if made.wav is not None:  # stored first: the clip's entry names it, so a clip is never listed without it
        sound_key = key_of("clip-sound", maker, **clip_sound_inputs(reuse_key))
        wav = store.put(key.removesuffix(".mp4") + ".wav", made.wav, "audio/wav", reuse_key=sound_key,
                        stage="clip-sound", segment=segment, seed=seed)
        sound = {"key": wav.key, "sha256": wav.sha256, "size": wav.size, "reuse_key": sound_key}
    meta = {"sound": sound} if sound else {}
    return store.put(key, made.mp4, "video/mp4", reuse_key=reuse_key, stage="clip", segment=segment, seed=seed,
                     **meta)
