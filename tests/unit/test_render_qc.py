"""Continuity QC: keyframe variants scored against their references, seams scored at every cut.

The default (any renderer, the animatic included) uses colour histograms and is labelled as such; the GPU
renderers score with an image-embedding model (a tiny CLIP here). Seams are SSIM and mean-colour delta E.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from filmstitch.engines.qc import EmbeddingScorer
from filmstitch.renderers import RenderedImage, get_renderer, qc
from filmstitch.renderers import gpu as gpu_renderers
from filmstitch.testing.plans import handmade_plan
from filmstitch.video import encode_mp4
from tests.support.tiny_gpu import save_tiny_weights


def png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(out, format="PNG")
    return out.getvalue()


def flat(color: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> np.ndarray:
    return np.broadcast_to(np.array(color, np.uint8), (size[1], size[0], 3)).copy()


def scene(colors: list[tuple[int, int, int]], size: tuple[int, int] = (64, 48)) -> np.ndarray:
    """Vertical bands of the given colours."""
    bands = np.array_split(np.arange(size[0]), len(colors))
    image = np.zeros((size[1], size[0], 3), np.uint8)
    for band, color in zip(bands, colors):
        image[:, band] = color
    return image


@pytest.fixture
def plan():
    return handmade_plan(segments=2, width=128, height=128, fps=8, seconds=1.0)


def chosen(plan, colors: dict[str, tuple[int, int, int]]) -> dict[str, RenderedImage]:
    return {s.id: RenderedImage(variant=0, seed=0, png=png(flat(colors[s.id]))) for s in plan.subjects}


def test_histograms_overlap_fully_for_the_same_colours_and_not_at_all_for_others() -> None:
    red, blue = flat((220, 20, 20)), flat((20, 20, 220))
    rows = qc.histogram_similarities([png(red), png(scene([(220, 20, 20), (20, 20, 220)]))],
                                     {"a": png(red), "b": png(blue)})
    assert rows[0] == {"a": 1.0, "b": 0.0}
    assert rows[1]["a"] == pytest.approx(0.5) and rows[1]["b"] == pytest.approx(0.5)


def test_the_default_keyframe_qc_scores_every_variant_against_the_present_references(plan) -> None:
    mira, bolt, garden = (s.id for s in plan.subjects)
    refs = chosen(plan, {mira: (240, 240, 240), bolt: (40, 160, 140), garden: (90, 90, 95)})
    # Keyframe 0 shows Mira only (Bolt stands in the odd keyframes), on the lunar garden.
    assert [s.id for s in plan.subjects_at(0)] == [mira, garden]
    variants = [
        png(scene([(90, 90, 95), (240, 240, 240)])),  # the garden's grey and Mira's white: on model
        png(flat((250, 120, 0))),  # orange: neither
        png(flat((90, 90, 95))),  # the garden alone
    ]
    result = get_renderer("animatic").keyframe_qc(plan, 0, refs, variants)
    assert result.method == qc.HISTOGRAM_METHOD and "not identity" in result.method  # labelled honestly
    assert [sorted(v.similarity) for v in result.variants] == [sorted([mira, garden])] * 3  # Bolt is absent
    assert result.variants[1].score == 0.0
    # Weighted mean: Mira (a character) counts twice the location.
    assert result.variants[0].score == pytest.approx((1.0 * 0.5 + 0.5 * 0.5) / 1.5, abs=1e-4)
    assert result.variants[2].score == pytest.approx((0.0 + 0.5 * 1.0) / 1.5, abs=1e-4)
    assert result.best == 0 and not result.needs_retry
    drifted = get_renderer("animatic").keyframe_qc(plan, 0, refs, [variants[1], variants[1]])
    # Under the threshold, but a colour measure only informs: it never calls for a retry (identity scores do).
    assert drifted.best == 0 and not drifted.identity and not drifted.needs_retry
    assert drifted.model_copy(update={"identity": True}).needs_retry


def test_a_keyframe_without_references_is_not_scored(plan) -> None:
    result = get_renderer("animatic").keyframe_qc(plan, 1, {}, [png(flat((1, 2, 3)))])
    assert result.variants[0].score is None and result.best is None and not result.needs_retry


def test_seams_score_continuous_cuts_high_and_jumps_low() -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (48, 64, 3)).astype(np.uint8)
    base = np.asarray(Image.fromarray(base).resize((64,
                                                    48)).filter(__import__("PIL.ImageFilter").ImageFilter.GaussianBlur(2)))
    clip_a = encode_mp4(np.stack([base] * 8), 8)
    clip_b = encode_mp4(np.stack([base] * 8), 8)  # continues where clip a stops
    clip_c = encode_mp4(np.stack([flat((200, 40, 40))] * 8), 8)  # a jump to a red frame
    seams = qc.seam_scores([clip_a, clip_b, clip_c])
    assert [s.cut for s in seams] == [0, 1]
    assert seams[0].ssim > 0.95 and seams[0].colour_shift < 2
    assert seams[1].ssim < 0.5 and seams[1].colour_shift > 20


def test_seam_qc_needs_one_clip_per_segment(plan) -> None:
    clip = encode_mp4(np.stack([flat((10, 10, 10))] * 8), 8)
    assert len(get_renderer("animatic").seam_qc(plan, [clip, clip])) == 1
    with pytest.raises(ValueError, match="2 segments but 3 clips"):
        get_renderer("animatic").seam_qc(plan, [clip] * 3)


# ------------------------------------------------------------------------------ embeddings (GPU renderers)


@pytest.fixture(scope="module")
def weights_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return save_tiny_weights(tmp_path_factory.mktemp("weights"))


def test_embedding_scores_are_cosines_of_the_models_image_embeddings(weights_env: dict[str, str]) -> None:
    scorer = EmbeddingScorer.load(weights_env["FILMSTITCH_GPU_CLIP_VISION_DIR"], torch.device("cpu"), torch.float32)
    red, blue = Image.fromarray(flat((220, 30, 30))), Image.fromarray(scene([(20, 20, 220), (250, 250, 0)]))
    rows = scorer.similarities([red, blue], {"red": red, "blue": blue})
    assert rows[0]["red"] == pytest.approx(1.0, abs=1e-4) and rows[1]["blue"] == pytest.approx(1.0, abs=1e-4)
    vectors = scorer.embed([red, blue])
    assert rows[0]["blue"] == pytest.approx(float(vectors[0] @ vectors[1]), abs=1e-4)
    assert "clip" in scorer.method and "cosine" in scorer.method


def test_local_gpu_keyframe_qc_uses_the_embedding_model(
    weights_env: dict[str, str], plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in weights_env.items():
        monkeypatch.setenv(name, value)
    gpu_renderers._ENGINES.reset()
    try:
        mira, bolt, garden = (s.id for s in plan.subjects)
        refs = chosen(plan, {mira: (240, 240, 240), bolt: (40, 160, 140), garden: (90, 90, 95)})
        variants = [refs[mira].png, png(flat((250, 120, 0)))]
        result = get_renderer("local-gpu").keyframe_qc(plan, 1, refs, variants)
    finally:
        gpu_renderers._ENGINES.reset()
    assert result.method == "clip image-embedding cosine" and result.threshold == 0.6
    assert sorted(result.variants[0].similarity) == sorted([mira, bolt, garden])  # keyframe 1 shows both
    assert result.variants[0].similarity[mira] == pytest.approx(1.0, abs=1e-4)  # Mira's own reference
    assert result.best == 0


def test_captions_and_the_qc_artifact_say_what_the_form_shows(plan) -> None:
    mira, _bolt, garden = (s.id for s in plan.subjects)
    result = qc.keyframe_qc(0, [{mira: 0.8, garden: 0.5}, {mira: 0.3, garden: 0.2}], {mira: 1.0, garden: 0.5},
                            "m", 0.6, identity=True)
    names = {s.id: s.name for s in plan.subjects}
    assert result.caption(0, names) == "continuity 0.70 (Mira 0.80, Lunar garden 0.50), recommended"
    assert result.caption(1, names) == "continuity 0.27 (Mira 0.30, Lunar garden 0.20) (below the retry threshold)"
    colour = result.model_copy(update={"identity": False})
    assert colour.caption(1, names) == "continuity 0.27 (Mira 0.30, Lunar garden 0.20) (palette drifted)"
    record = qc.qc_artifact([result], [qc.SeamQc(cut=0, ssim=0.9, colour_shift=1.5)])
    assert record["keyframes"][0]["best"] == 0 and record["keyframes"][0]["needs_retry"] is False
    assert record["seams"][0]["ssim"] == 0.9
