"""The GPU engines on tiny random pipelines built in code, on the CPU: the real engine code, small models.

FLUX.1-dev: batching, seeds, the CLIP/T5 prompt split, prompt reuse, the three reference modes (Redux tokens,
the clip-blend and its spaces, none) with per-reference weights. FLUX.2 [klein]: the same interface, references
as in-context images sized by their weights. LTX-Video: frames at the delivered rate (or interpolated), the
closing keyframe's position, the CRF round trip of the conditions, the settings it passes, the VAE tiling switch,
MP4 output and the film's frame contract. Speed-ups: fast mode's cache hook, FP8 matmuls.
All: loading from a `save_pretrained` directory, clear errors on bad input.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from diffusers import Flux2KleinPipeline, FluxPipeline, LTXConditionPipeline
from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition
from PIL import Image

from filmstitch.engines import GpuSettings, runtime
from filmstitch.engines.flux import FluxImageEngine
from filmstitch.engines.flux2 import Flux2KleinImageEngine, reference_size
from filmstitch.engines.frames import clip_timing, h264_round_trip, interpolate_frames
from filmstitch.engines.ltx import LtxVideoEngine, conditioning_noise_ahead, needs_vae_tiling, vae_decode_bytes
from filmstitch.engines.references import ReduxEncoder, ReferenceEncoder, blend_pooled
from filmstitch.testing.tiny_models import (
    save_tiny_clip,
    tiny_clip_model,
    tiny_flux2_klein_pipeline,
    tiny_flux_pipeline,
    tiny_ltx_pipeline,
    tiny_redux_pipeline,
)
from filmstitch.video import concat_mp4, decode_frames, probe
from tests.support.tiny_gpu import save_tiny_weights, tiny_settings

CPU = torch.device("cpu")
GiB = 1024**3
PROMPT = "a girl in a red suit walks on the moon near a green garden at dawn, wide cinematic shot"
SUMMARY = "girl red suit moon garden"


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_clip(tmp_path_factory.mktemp("clip"))


@pytest.fixture(scope="module")
def references(clip_dir: Path) -> ReferenceEncoder:
    return ReferenceEncoder.load(str(clip_dir), CPU, torch.float32)


@pytest.fixture(scope="module")
def redux() -> ReduxEncoder:
    return ReduxEncoder(tiny_redux_pipeline(), tokens_per_side=2)


@pytest.fixture
def flux(redux: ReduxEncoder) -> FluxImageEngine:
    """FLUX.1-dev with the default reference mode, redux."""
    return FluxImageEngine.from_pipeline(tiny_flux_pipeline(), tiny_settings(), CPU, redux=redux)


@pytest.fixture
def blend(references: ReferenceEncoder) -> FluxImageEngine:
    return FluxImageEngine.from_pipeline(
        tiny_flux_pipeline(), tiny_settings(reference_mode="clip-blend"), CPU, references
    )


@pytest.fixture
def klein() -> Flux2KleinImageEngine:
    return Flux2KleinImageEngine.from_pipeline(
        tiny_flux2_klein_pipeline(), tiny_settings(image_engine="flux2-klein", flux2_reference_pixels=64 * 64), CPU
    )


@pytest.fixture
def ltx() -> LtxVideoEngine:
    return LtxVideoEngine.from_pipeline(tiny_ltx_pipeline(), tiny_settings(), CPU)


class CallSpy:
    """Records the keyword arguments of every call of a method on a class, and still runs it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, cls: type, name: str) -> None:
        self.calls: list[dict[str, Any]] = []
        original = getattr(cls, name)

        def spy(instance: Any, *args: Any, **kwargs: Any) -> Any:
            self.calls.append(kwargs)
            return original(instance, *args, **kwargs)

        monkeypatch.setattr(cls, name, spy)


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def solid(color: tuple[int, int, int], size: int = 32) -> Image.Image:
    return Image.new("RGB", (size, size), color)


def textured(color: tuple[int, int, int], size: int = 64, seed: int = 0) -> Image.Image:
    """A reference with structure (a solid image tells encoders little): the colour plus seeded noise."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(-40, 40, (size, size, 3))
    return Image.fromarray(np.clip(np.array(color) + noise, 0, 255).astype(np.uint8))


# ------------------------------------------------------------------------------------------ FLUX


def test_reference_variants_are_one_batched_call_with_a_generator_per_seed(
    flux: FluxImageEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = CallSpy(monkeypatch, FluxPipeline, "__call__").calls
    images = flux.reference_images(PROMPT, SUMMARY, [11, 12, 13], 32, 32)
    assert len(calls) == 1
    call = calls[0]
    assert [g.initial_seed() for g in call["generator"]] == [11, 12, 13]
    assert call["prompt_embeds"].shape[0] == 3 and call["pooled_prompt_embeds"].shape[0] == 3
    assert call.get("prompt") is None and call.get("prompt_2") is None  # embeddings, not strings
    assert [image.size for image in images] == [(32, 32)] * 3


def test_same_seed_same_image_different_seeds_differ(flux: FluxImageEngine) -> None:
    first = flux.reference_images(PROMPT, SUMMARY, [5, 6, 7], 32, 32)
    again = flux.reference_images(PROMPT, SUMMARY, [5, 6, 7], 32, 32)
    for a, b in zip(first, again):
        assert np.array_equal(pixels(a), pixels(b))
    assert not np.array_equal(pixels(first[0]), pixels(first[1]))
    assert not np.array_equal(pixels(first[1]), pixels(first[2]))


def test_a_variant_re_renders_alone_from_its_recorded_seed(flux: FluxImageEngine) -> None:
    batch = flux.reference_images(PROMPT, SUMMARY, [5, 6, 7], 32, 32)
    (alone,) = flux.reference_images(PROMPT, SUMMARY, [6], 32, 32)
    assert np.abs(pixels(alone) - pixels(batch[1])).max() <= 1


def test_keyframe_prompt_split_full_prompt_to_t5_summary_to_clip(
    flux: FluxImageEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    encodes = CallSpy(monkeypatch, FluxPipeline, "encode_prompt").calls
    clip_runs = CallSpy(monkeypatch, FluxPipeline, "_get_clip_prompt_embeds").calls
    t5_runs = CallSpy(monkeypatch, FluxPipeline, "_get_t5_prompt_embeds").calls
    flux.keyframe_images(PROMPT, SUMMARY, [solid((200, 30, 30))], [1, 2, 3], 32, 32)
    assert encodes[0]["prompt"] == SUMMARY and encodes[0]["prompt_2"] == PROMPT
    # The text encoders ran once each (the pipeline call itself got embeddings and encoded nothing) ...
    assert [run["prompt"] for run in clip_runs] == [[SUMMARY]]  # CLIP: the <=50-word summary
    assert [run["prompt"] for run in t5_runs] == [[PROMPT]]  # T5: the full prompt
    # ... for one prompt, repeated for the 3 variants.
    assert clip_runs[0]["num_images_per_prompt"] == 1 and t5_runs[0]["num_images_per_prompt"] == 1


def test_prompt_embeddings_are_computed_once_per_prompt(flux: FluxImageEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    t5_runs = CallSpy(monkeypatch, FluxPipeline, "_get_t5_prompt_embeds").calls
    refs = [solid((10, 200, 10))]
    flux.keyframe_images(PROMPT, SUMMARY, refs, [1, 2, 3], 32, 32)
    flux.keyframe_images(PROMPT, SUMMARY, refs, [4, 5, 6], 32, 32)
    assert len(t5_runs) == 1
    flux.keyframe_images(PROMPT + " at night", SUMMARY, refs, [1], 32, 32)
    assert len(t5_runs) == 2


# ----- redux (the default)


def test_redux_appends_each_references_pooled_tokens_after_the_prompt(
    flux: FluxImageEngine, redux: ReduxEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = CallSpy(monkeypatch, FluxPipeline, "__call__").calls
    refs = [textured((220, 40, 40), seed=1), textured((30, 30, 220), seed=2)]
    flux.keyframe_images(PROMPT, SUMMARY, refs, [1, 2], 32, 32, reference_weights=[1.0, 0.5])
    text = flux.encode(SUMMARY, PROMPT)
    sent = calls[0]["prompt_embeds"]
    # 32 T5 tokens, then 2 x 2 pooled Redux tokens per reference (the tiny SigLIP's grid is 4 x 4).
    assert sent.shape == (2, text.t5.shape[1] + 2 * 4, text.t5.shape[2])
    assert torch.equal(sent[0, : text.t5.shape[1]], text.t5[0])  # the prompt's tokens untouched
    assert torch.equal(calls[0]["pooled_prompt_embeds"][0], text.pooled[0])  # the pooled vector is the prompt's
    # The tokens are Redux's own: SigLIP hidden states through the image embedder, area-pooled, times the weight.
    hidden = redux.prior.encode_image(refs, CPU, 1)
    embeds = redux.prior.image_embedder(hidden).image_embeds  # (2, 16, 32)
    grid = embeds.transpose(1, 2).reshape(2, -1, 4, 4)
    pooled = torch.nn.functional.avg_pool2d(grid, 2).flatten(2).transpose(1, 2)  # (2, 4, 32)
    torch.testing.assert_close(sent[0, text.t5.shape[1] :], torch.cat([pooled[0], 0.5 * pooled[1]]))


def test_redux_encodes_each_reference_picture_once(redux: ReduxEncoder, monkeypatch: pytest.MonkeyPatch) -> None:
    """A film's keyframes reuse a few chosen references: each picture goes through SigLIP once, and its cached
    tokens are the ones a fresh encode gives; a changed picture (one pixel) is encoded anew."""
    encoded = CallSpy(monkeypatch, type(redux.prior), "encode_image").calls
    encoder = ReduxEncoder(redux.prior, tokens_per_side=2)  # its own, empty cache
    red, blue = textured((220, 40, 40), seed=1), textured((30, 30, 220), seed=2)
    first = encoder.tokens([red, blue], [1.0, 0.5])
    again = encoder.tokens([blue, red], [1.0, 1.0])  # the same pictures, another order and weights
    assert len(encoded) == 2  # one encode per picture, none for the second call
    torch.testing.assert_close(again[0, :4], first[0, 4:] * 2)  # blue at weight 1 is twice blue at 0.5
    torch.testing.assert_close(again[0, 4:], first[0, :4])
    fresh = ReduxEncoder(redux.prior, tokens_per_side=2).tokens([red, blue], [1.0, 0.5])
    assert torch.equal(fresh, first)
    changed = red.copy()
    changed.putpixel((0, 0), (0, 0, 0))
    encoder.tokens([changed], [1.0])
    assert len(encoded) == 5  # the fresh encoder's own two, then the changed picture


def test_redux_references_change_the_keyframe_and_their_weights_matter(flux: FluxImageEngine) -> None:
    def render(refs: list[Image.Image], weights: list[float] | None = None) -> np.ndarray:
        return pixels(flux.keyframe_images(PROMPT, SUMMARY, refs, [3], 32, 32, reference_weights=weights)[0])

    red, blue = textured((230, 20, 20), seed=3), textured((20, 20, 230), seed=4)
    text_only = pixels(flux.reference_images(PROMPT, SUMMARY, [3], 32, 32)[0])
    assert not np.array_equal(render([red]), render([blue]))
    assert not np.array_equal(render([red]), text_only)
    assert not np.array_equal(render([red, blue], [1.0, 0.2]), render([red, blue], [1.0, 1.0]))
    # A reference of weight 0 is not used at all: the same picture as without it.
    assert np.array_equal(render([red, blue], [1.0, 0.0]), render([red]))
    assert np.array_equal(render([red], [0.0]), text_only)


def test_redux_is_required_for_redux_mode() -> None:
    engine = FluxImageEngine.from_pipeline(tiny_flux_pipeline(), tiny_settings(), CPU)
    with pytest.raises(RuntimeError, match="FILMSTITCH_GPU_REDUX_DIR"):
        engine.keyframe_images(PROMPT, SUMMARY, [solid((1, 2, 3))], [1], 32, 32)


def test_reference_weights_are_checked(flux: FluxImageEngine) -> None:
    with pytest.raises(ValueError, match="1 reference images but 2 weights"):
        flux.keyframe_images(PROMPT, SUMMARY, [solid((1, 2, 3))], [1], 32, 32, reference_weights=[1.0, 1.0])
    with pytest.raises(ValueError, match="within \\[0, 2\\]"):
        flux.keyframe_images(PROMPT, SUMMARY, [solid((1, 2, 3))], [1], 32, 32, reference_weights=[-1.0])


def test_no_reference_mode_renders_from_the_text_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = FluxImageEngine.from_pipeline(tiny_flux_pipeline(), tiny_settings(reference_mode="none"), CPU)
    (with_refs,) = engine.keyframe_images(PROMPT, SUMMARY, [solid((250, 0, 0))], [2], 32, 32)
    (plain,) = engine.reference_images(PROMPT, SUMMARY, [2], 32, 32)
    assert np.array_equal(pixels(with_refs), pixels(plain))


# ----- clip-blend (the original averaged-embedding blend, kept for comparison)


def expected_reference_vector(clip_dir: Path, images: list[Image.Image], weights: list[float]) -> torch.Tensor:
    """The blend target computed independently: CLIP image_embeds (joint space), unit-normalised and
    averaged with the weights, pulled back into the text pooler space by pinv(text_projection)."""
    clip = tiny_clip_model()
    pixels_in = rt_processor(clip_dir)(images=images, return_tensors="pt").pixel_values
    embeds = clip.visual_projection(clip.vision_model(pixel_values=pixels_in).pooler_output)
    unit = torch.nn.functional.normalize(embeds, dim=-1)
    joint = torch.nn.functional.normalize((torch.tensor(weights)[:, None] * unit).sum(0), dim=-1)
    return torch.linalg.pinv(clip.text_projection.weight) @ joint


def rt_processor(clip_dir: Path) -> Any:
    from transformers import CLIPImageProcessor

    return CLIPImageProcessor.from_pretrained(clip_dir)


@pytest.mark.parametrize(("weight", "ref_weights"), [(0.3, [1.0, 1.0]), (0.6, [1.0, 0.6]), (1.0, [0.2, 1.0])])
def test_reference_blend_moves_the_pooled_embedding_by_exactly_the_weight(
    clip_dir: Path, references: ReferenceEncoder, monkeypatch: pytest.MonkeyPatch, weight: float,
    ref_weights: list[float]
) -> None:
    settings = tiny_settings(reference_mode="clip-blend", reference_weight=weight)
    engine = FluxImageEngine.from_pipeline(tiny_flux_pipeline(), settings, CPU, references)
    refs = [solid((220, 40, 40)), solid((30, 30, 220))]
    calls = CallSpy(monkeypatch, FluxPipeline, "__call__").calls
    engine.keyframe_images(PROMPT, SUMMARY, refs, [1, 2], 32, 32, reference_weights=ref_weights)
    pooled_text = engine.encode(SUMMARY, PROMPT).pooled[0]
    sent = calls[0]["pooled_prompt_embeds"]
    assert torch.equal(sent[0], sent[1])  # the same conditioning for every variant
    assert torch.equal(calls[0]["prompt_embeds"][0], engine.encode(SUMMARY, PROMPT).t5[0])  # T5 untouched

    target = expected_reference_vector(clip_dir, refs, ref_weights)
    target = target * pooled_text.norm() / target.norm()
    torch.testing.assert_close(sent[0] - pooled_text, weight * (target - pooled_text), atol=1e-5, rtol=1e-4)


def test_zero_weight_leaves_the_pooled_embedding_untouched(
    references: ReferenceEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = tiny_settings(reference_mode="clip-blend", reference_weight=0.0)
    engine = FluxImageEngine.from_pipeline(tiny_flux_pipeline(), settings, CPU, references)
    calls = CallSpy(monkeypatch, FluxPipeline, "__call__").calls
    engine.keyframe_images(PROMPT, SUMMARY, [solid((220, 40, 40))], [1], 32, 32)
    assert torch.equal(calls[0]["pooled_prompt_embeds"][0], engine.encode(SUMMARY, PROMPT).pooled[0])


def test_blended_references_change_the_keyframe(blend: FluxImageEngine) -> None:
    (red,) = blend.keyframe_images(PROMPT, SUMMARY, [solid((230, 20, 20))], [3], 32, 32)
    (blue,) = blend.keyframe_images(PROMPT, SUMMARY, [solid((20, 20, 230))], [3], 32, 32)
    assert not np.array_equal(pixels(red), pixels(blue))


def test_pinv_maps_the_joint_space_back_consistently(references: ReferenceEncoder) -> None:
    """text_projection(pinv(P) e) == e: the pooler-space vector projects onto the image embedding."""
    joint = references.joint_embedding([solid((100, 150, 200))])
    pooler = references.pooler_embedding([solid((100, 150, 200))])
    assert pooler.shape == (references.pooler_dim,) and joint.shape == (references.text_projection.shape[0],)
    torch.testing.assert_close(references.text_projection @ pooler, joint, atol=1e-5, rtol=1e-4)


def test_blend_rejects_weights_outside_zero_one() -> None:
    with pytest.raises(ValueError, match="within \\[0, 1\\]"):
        blend_pooled(torch.ones(1, 4), torch.ones(4), 1.5)


def test_clip_spaces_must_match(references: ReferenceEncoder) -> None:
    with pytest.raises(ValueError, match="text_projection maps into"):
        ReferenceEncoder(references.vision, references.processor, torch.zeros(5, 32))


@pytest.mark.parametrize(("budget_gb", "sliced"), [(None, False), (1e-4, True), (1000.0, False)])
def test_flux_decodes_the_batch_at_once_unless_memory_is_short(budget_gb: float | None, sliced: bool) -> None:
    engine = FluxImageEngine.from_pipeline(tiny_flux_pipeline(), tiny_settings(memory_budget_gb=budget_gb), CPU)
    images = engine.reference_images(PROMPT, SUMMARY, [4, 5, 6], 32, 32)
    assert engine.last_vae_slicing is sliced and engine.pipe.vae.use_slicing is sliced
    # Sliced or not, the same pictures. Not always the same bytes: PyTorch's CPU convolutions pick their
    # kernels by batch size, so one decode of 3 and three decodes of 1 can round a pixel to the next 8-bit
    # level (seen: 1 level on 0.03 % of one picture's pixels). More than one level would be a real difference.
    other = FluxImageEngine.from_pipeline(
        tiny_flux_pipeline(), tiny_settings(memory_budget_gb=1e-4 if not sliced else None), CPU
    )
    for mine, theirs in zip(images, other.reference_images(PROMPT, SUMMARY, [4, 5, 6], 32, 32), strict=True):
        difference = np.abs(np.asarray(mine, dtype=np.int16) - np.asarray(theirs, dtype=np.int16))
        assert difference.max() <= 1 and (difference > 0).mean() < 0.01, (difference.max(), (difference > 0).mean())
    assert other.last_vae_slicing is not sliced


def test_flux_refuses_bad_input_before_rendering(flux: FluxImageEngine) -> None:
    with pytest.raises(ValueError, match="1 to 8 seeds"):
        flux.reference_images(PROMPT, SUMMARY, [], 32, 32)
    with pytest.raises(ValueError, match="non-negative integers"):
        flux.reference_images(PROMPT, SUMMARY, [-1], 32, 32)
    with pytest.raises(ValueError, match="multiple of 16"):
        flux.reference_images(PROMPT, SUMMARY, [1], 40, 32)
    with pytest.raises(ValueError, match="reference image 0 is not a readable image"):
        flux.keyframe_pngs(PROMPT, SUMMARY, [b"not a png"], [1], 32, 32)


# ------------------------------------------------------------------------------------------ FLUX.2 [klein]


def test_klein_variants_are_one_batched_call_from_prompt_embeddings(
    klein: Flux2KleinImageEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = CallSpy(monkeypatch, Flux2KleinPipeline, "__call__").calls
    images = klein.reference_images(PROMPT, SUMMARY, [1, 2, 3], 32, 32)
    (call,) = calls
    assert [g.initial_seed() for g in call["generator"]] == [1, 2, 3]
    assert call["prompt_embeds"].shape[0] == 3 and call.get("prompt") is None and call["image"] is None
    assert call["num_inference_steps"] == klein.settings.flux2_steps
    assert [image.size for image in images] == [(32, 32)] * 3
    assert not np.array_equal(pixels(images[0]), pixels(images[1]))
    again = klein.reference_images(PROMPT, SUMMARY, [1], 32, 32)
    assert np.abs(pixels(again[0]) - pixels(images[0])).max() <= 1


def test_klein_references_go_in_as_images_sized_by_their_weight(
    klein: Flux2KleinImageEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = CallSpy(monkeypatch, Flux2KleinPipeline, "__call__").calls
    red, blue = textured((230, 20, 20), 128, 5), textured((20, 20, 230), 128, 6)
    klein.keyframe_images(PROMPT, SUMMARY, [red, blue, solid((0, 255, 0), 128)], [4], 32, 32,
                          reference_weights=[1.0, 2.0, 0.0])
    sent = calls[0]["image"]
    # 64 x 64 = 4096 px at weight 1; weight 2 doubles the area; weight 0 drops the reference.
    assert [image.size for image in sent] == [(64, 64), (96, 96)]
    assert reference_size(red, 1.0, 64 * 64) == (64, 64) and reference_size(Image.new("RGB", (320, 160)), 0.5,
                                                                            409_600) == (640, 320)


def test_klein_references_change_the_keyframe_and_their_weights_matter(klein: Flux2KleinImageEngine) -> None:
    def render(refs: list[Image.Image], weights: list[float] | None = None) -> np.ndarray:
        return pixels(klein.keyframe_images(PROMPT, SUMMARY, refs, [7], 32, 32, reference_weights=weights)[0])

    red, blue = textured((230, 20, 20), 64, 7), textured((20, 20, 230), 64, 8)
    text_only = pixels(klein.reference_images(PROMPT, SUMMARY, [7], 32, 32)[0])
    assert not np.array_equal(render([red]), render([blue]))
    assert not np.array_equal(render([red]), text_only)
    assert not np.array_equal(render([red, blue], [1.0, 2.0]), render([red, blue], [1.0, 1.0]))
    assert np.array_equal(render([red, blue], [1.0, 0.0]), render([red]))


def test_klein_refuses_bad_input(klein: Flux2KleinImageEngine) -> None:
    with pytest.raises(ValueError, match="multiple of 16"):
        klein.reference_images(PROMPT, SUMMARY, [1], 40, 32)
    with pytest.raises(ValueError, match="prompt is empty"):
        klein.reference_images(" ", SUMMARY, [1], 32, 32)
    with pytest.raises(ValueError, match="reference image 0 is not a readable image"):
        klein.keyframe_pngs(PROMPT, SUMMARY, [b"junk"], [1], 32, 32)


# ------------------------------------------------------------------------------------------ loading


def test_engines_load_from_save_pretrained_directories(tmp_path: Path, redux: ReduxEncoder) -> None:
    env = save_tiny_weights(tmp_path, flux2=True)
    settings = tiny_settings(flux_dir=env["FILMSTITCH_GPU_FLUX_DIR"], ltx_dir=env["FILMSTITCH_GPU_LTX_DIR"],
                             redux_dir=env["FILMSTITCH_GPU_REDUX_DIR"], redux_tokens_per_side=2,
                             clip_vision_dir=env["FILMSTITCH_GPU_CLIP_VISION_DIR"])
    loaded = FluxImageEngine.load(settings)
    assert loaded.redux is not None and loaded.references is None  # redux mode loads Redux, not the blend's CLIP
    in_memory = FluxImageEngine.from_pipeline(tiny_flux_pipeline(), settings, CPU, redux=redux)
    ref = textured((9, 99, 199), seed=9)
    (a,) = loaded.keyframe_images(PROMPT, SUMMARY, [ref], [4], 32, 32)
    (b,) = in_memory.keyframe_images(PROMPT, SUMMARY, [ref], [4], 32, 32)
    assert np.abs(pixels(a) - pixels(b)).max() <= 1  # same weights, same seed, same picture

    blend = FluxImageEngine.load(settings.model_copy(update={"reference_mode": "clip-blend"}))
    assert blend.references is not None and blend.redux is None

    klein = Flux2KleinImageEngine.load(settings.model_copy(update={"flux2_dir": env["FILMSTITCH_GPU_FLUX2_DIR"]}))
    assert klein.keyframe_images(PROMPT, SUMMARY, [textured((1, 2, 3))], [1], 32, 32)[0].size == (32, 32)

    video = LtxVideoEngine.load(settings)
    clip = video.clip_frames(a, b, "she walks", 3, 32, 32, 8, 8)
    assert clip.shape == (9, 32, 32, 3)


def test_missing_weights_name_the_setting_to_fix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="FILMSTITCH_GPU_FLUX_DIR"):
        FluxImageEngine.load(tiny_settings(flux_dir=str(tmp_path / "nope")))
    with pytest.raises(FileNotFoundError, match="FILMSTITCH_GPU_LTX_DIR"):
        LtxVideoEngine.load(tiny_settings(ltx_dir=str(tmp_path / "nope")))
    with pytest.raises(FileNotFoundError, match="FILMSTITCH_GPU_FLUX2_DIR"):
        Flux2KleinImageEngine.load(tiny_settings(flux2_dir=str(tmp_path / "nope")))


def test_settings_refuse_frame_counts_ltx_cannot_make() -> None:
    with pytest.raises(ValueError, match="8k\\+1"):
        GpuSettings(video_max_frames=96)


# ------------------------------------------------------------------------------------------ clip timing


@pytest.mark.parametrize(
    ("span", "motion", "expected"),
    [
        (192, "native", (1, 193, 192)),  # 8 s at 24 fps: every frame generated, exactly LTX's 8k+1
        (120, "native", (1, 121, 120)),  # 5 s at 24 fps
        (175, "native", (1, 177, 175)),  # 7 s at 25 fps: the closing keyframe at 175, one frame past it dropped
        (192, "interpolated", (2, 97, 96)),  # every 2nd frame at 12 fps, the rest interpolated
        (480, "native", (2, 241, 240)),  # 20 s at 24 fps: too long for 257 frames, so interpolated
        (8, "native", (1, 9, 8)),
    ],
)
def test_clip_timing_makes_frames_at_the_delivered_rate_within_ltx_limits(
    span: int, motion: str, expected: tuple[int, int, int]
) -> None:
    timing = clip_timing(span, motion)
    assert (timing.divisor, timing.generated, timing.last_index) == expected
    assert (timing.generated - 1) % 8 == 0 and timing.generated <= 257
    assert timing.frames == span + 1 and timing.delivered(False) == span and timing.delivered(True) == span + 1


def test_clip_timing_refuses_what_ltx_cannot_make() -> None:
    with pytest.raises(ValueError, match="cannot be made with LTX-Video"):
        clip_timing(1201)  # 50 s at 24 fps, prime-ish: no divisor up to 4
    with pytest.raises(ValueError, match="'native' or 'interpolated'"):
        clip_timing(192, "crossfade")


def test_interpolation_moves_things_between_the_generated_frames() -> None:
    """A square moving 8 px a frame: the interpolated frames put it half-way (4 px), never a double exposure."""
    frames = np.full((9, 96, 192, 3), 40, np.uint8)
    for i in range(9):
        frames[i, 30:60, 50 + 8 * i : 80 + 8 * i] = 230
    out = interpolate_frames(frames, 2)
    assert out.shape == (17, 96, 192, 3)
    assert np.array_equal(out[::2], frames)  # the generated frames, bit for bit
    left_edges = [int(np.argmax(out[k, 45, :, 0] > 135)) for k in range(17)]
    assert left_edges == [50 + 4 * k for k in range(17)]
    # One square, not two faint ones: a cross-fade would leave every odd frame with 2 half-bright squares.
    assert all(((out[k, 45, :, 0] > 90) & (out[k, 45, :, 0] < 180)).sum() <= 2 for k in range(1, 17, 2))


def test_h264_round_trip_compresses_like_a_video_frame() -> None:
    image = textured((120, 140, 160), 64, 11)
    trip = h264_round_trip(image, 29)
    difference = np.abs(pixels(trip) - pixels(image))
    assert trip.size == image.size and 0 < difference.mean() < 40
    assert np.abs(pixels(h264_round_trip(image, 40)) - pixels(image)).mean() > difference.mean()  # higher CRF: lossier
    assert h264_round_trip(image, 0) is image


# ------------------------------------------------------------------------------------------ LTX-Video


def test_clip_conditions_sit_at_both_ends_of_a_clip_made_at_the_delivered_rate(
    ltx: LtxVideoEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = CallSpy(monkeypatch, LTXConditionPipeline, "__call__").calls
    first, last = textured((250, 10, 10), 32, 1), textured((10, 10, 250), 32, 2)
    video = ltx.clip_frames(first, last, "the astronaut walks to the garden", 5, 32, 32, 16, 8)
    (call,) = calls
    assert call["num_frames"] == 17 and call["frame_rate"] == 8  # 2 s at 8 fps: 17 frames, all generated
    start, end = call["conditions"]
    assert (start.frame_index, end.frame_index) == (0, 16)
    # The prompt and the negative prompt go in as their cached T5 embeddings.
    assert torch.equal(call["prompt_embeds"], ltx.encode_text("the astronaut walks to the garden")[0])
    assert torch.equal(call["negative_prompt_embeds"], ltx.encode_text(ltx.settings.negative_prompt)[0])
    assert video.shape == (17, 32, 32, 3)
    assert np.array_equal(video[0], np.asarray(first)) and np.array_equal(video[-1], np.asarray(last))


def test_conditions_are_round_tripped_through_h264_but_the_delivered_ends_are_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, last = textured((200, 90, 10), 32, 3), textured((10, 90, 200), 32, 4)
    for crf in (29, 0):
        engine = LtxVideoEngine.from_pipeline(tiny_ltx_pipeline(), tiny_settings(keyframe_crf=crf), CPU)
        calls = CallSpy(monkeypatch, LTXConditionPipeline, "__call__").calls
        video = engine.clip_frames(first, last, "walks", 5, 32, 32, 8, 8)
        start, end = calls[-1]["conditions"]
        assert start.image.tobytes() == h264_round_trip(first, crf).tobytes()
        assert end.image.tobytes() == h264_round_trip(last, crf).tobytes()
        assert (start.image.tobytes() == first.tobytes()) is (crf == 0)
        assert np.array_equal(video[0], np.asarray(first)) and np.array_equal(video[-1], np.asarray(last))
        monkeypatch.undo()


def test_ltx_settings_reach_the_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = tiny_settings(video_image_cond_noise_scale=0.3, video_decode_timestep=0.07,
                             video_decode_noise_scale=0.02)
    engine = LtxVideoEngine.from_pipeline(tiny_ltx_pipeline(), settings, CPU)
    calls = CallSpy(monkeypatch, LTXConditionPipeline, "__call__").calls
    engine.clip_frames(solid((1, 2, 3)), solid((4, 5, 6)), "walks", 1, 32, 32, 8, 8)
    call = calls[0]
    assert (call["image_cond_noise_scale"], call["decode_timestep"], call["decode_noise_scale"]) == (0.3, 0.07, 0.02)
    assert GpuSettings().video_image_cond_noise_scale == 0.15 and GpuSettings().video_decode_timestep == 0.05
    assert GpuSettings().keyframe_crf == 29 and GpuSettings().video_motion == "native"


def test_a_closing_keyframe_off_the_8k_grid_is_conditioned_where_it_belongs(
    ltx: LtxVideoEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = CallSpy(monkeypatch, LTXConditionPipeline, "__call__").calls
    last = textured((9, 9, 200), 32, 5)
    video = ltx.clip_frames(solid((200, 9, 9)), last, "walks", 5, 32, 32, 12, 8)
    assert calls[0]["num_frames"] == 17 and calls[0]["conditions"][1].frame_index == 12
    assert video.shape[0] == 13 and np.array_equal(video[-1], np.asarray(last))


def test_interpolated_motion_generates_half_the_frames_at_half_the_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = LtxVideoEngine.from_pipeline(tiny_ltx_pipeline(), tiny_settings(video_motion="interpolated"), CPU)
    calls = CallSpy(monkeypatch, LTXConditionPipeline, "__call__").calls
    interpolated = CallSpy(monkeypatch, type(engine), "clip_frames").calls  # noqa: F841 - keeps the real call
    first, last = textured((200, 9, 9), 32, 6), textured((9, 9, 200), 32, 7)
    video = engine.clip_frames(first, last, "walks", 5, 32, 32, 16, 8)
    assert calls[0]["num_frames"] == 9 and calls[0]["frame_rate"] == 4 and calls[0]["conditions"][1].frame_index == 8
    assert video.shape == (17, 32, 32, 3)
    assert np.array_equal(video[0], np.asarray(first)) and np.array_equal(video[-1], np.asarray(last))
    # Fast mode keeps native motion: ffmpeg's interpolator took 27 s of CPU per 768x512 clip on the H200 host.
    assert tiny_settings(fast=True).effective_video_motion == "native"


def test_text_embeddings_match_the_pipelines_and_the_negative_prompt_is_encoded_once(
    ltx: LtxVideoEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    encodes = CallSpy(monkeypatch, LTXConditionPipeline, "_get_t5_prompt_embeds").calls
    for prompt in ("walks", "runs", "walks"):
        ltx.clip_frames(solid((9, 9, 9)), solid((99, 99, 99)), prompt, 1, 32, 32, 8, 8)
    # "walks", the negative prompt, "runs": three texts, each encoded once over three clips.
    assert [call["prompt"] for call in encodes] == [["walks"], [ltx.settings.negative_prompt], ["runs"]]
    stock, stock_mask, negative, _ = ltx.pipe.encode_prompt(
        "runs", ltx.settings.negative_prompt, max_sequence_length=256, device=CPU
    )
    assert torch.equal(ltx.encode_text("runs")[0], stock) and torch.equal(ltx.encode_text("runs")[1], stock_mask)
    assert torch.equal(ltx.encode_text(ltx.settings.negative_prompt)[0], negative)


def test_noise_drawn_ahead_is_the_noise_the_pipeline_would_draw() -> None:
    """Same frames, and the generator left in the same state (so the decode's noise is unchanged too)."""
    pipe = tiny_ltx_pipeline()
    pipe.set_progress_bar_config(disable=True)
    first, last = solid((250, 10, 10)), solid((10, 10, 250))

    def render(ahead: bool) -> tuple[torch.Tensor, torch.Tensor]:
        generator = torch.Generator("cpu").manual_seed(11)
        context = conditioning_noise_ahead(pipe, generator, 5) if ahead else contextlib.nullcontext()
        with context:
            frames = pipe(
                conditions=[LTXVideoCondition(image=first, frame_index=0),
                            LTXVideoCondition(image=last, frame_index=8)],
                prompt="walks", width=32, height=32, num_frames=9, num_inference_steps=5, generator=generator,
                image_cond_noise_scale=0.5, output_type="pt",
            ).frames[0]
        return frames, generator.get_state()

    stock_frames, stock_state = render(ahead=False)
    ahead_frames, ahead_state = render(ahead=True)
    assert torch.equal(stock_frames, ahead_frames)
    assert torch.equal(stock_state, ahead_state)
    assert "add_noise_to_image_conditioning_latents" not in vars(pipe)  # the stock method is back
    # The noise really matters to the frames: another noise scale gives other frames.
    other = pipe(
        conditions=[LTXVideoCondition(image=first, frame_index=0), LTXVideoCondition(image=last, frame_index=8)],
        prompt="walks", width=32, height=32, num_frames=9, num_inference_steps=5,
        generator=torch.Generator("cpu").manual_seed(11), image_cond_noise_scale=0.0, output_type="pt",
    ).frames[0]
    assert not torch.equal(other, stock_frames)


def test_same_clip_seed_same_clip(ltx: LtxVideoEngine) -> None:
    ltx.settings = tiny_settings(pin_keyframes=False)
    a = ltx.clip_frames(solid((200, 0, 0)), solid((0, 0, 200)), "walks", 1, 32, 32, 8, 8)
    b = ltx.clip_frames(solid((200, 0, 0)), solid((0, 0, 200)), "walks", 1, 32, 32, 8, 8)
    c = ltx.clip_frames(solid((200, 0, 0)), solid((0, 0, 200)), "walks", 2, 32, 32, 8, 8)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_tiling_decision_follows_the_memory_estimate() -> None:
    assert vae_decode_bytes(1024, 576, 97) == 160 * 1024 * 576 * 97
    # 1024x576x97 with LTX resident (15 GiB) fits 40 GB untiled (the benchmark: 20.3 GiB peak) ...
    assert not needs_vae_tiling(1024, 576, 97, 15 * GiB, 40 * GiB)
    # ... but not on a 24 GB card, nor a 257-frame clip next to 28 GiB of other residents.
    assert needs_vae_tiling(1024, 576, 97, 15 * GiB, 24 * GiB)
    assert needs_vae_tiling(1024, 576, 257, 28 * GiB, 40 * GiB)
    assert not needs_vae_tiling(1024, 576, 257, 28 * GiB, None)  # no budget known (CPU): never tile


@pytest.mark.parametrize(("budget_gb", "tiled"), [(None, False), (1e-4, True), (1000.0, False)])
def test_engine_switches_vae_tiling_by_its_budget(budget_gb: float | None, tiled: bool) -> None:
    engine = LtxVideoEngine.from_pipeline(tiny_ltx_pipeline(), tiny_settings(memory_budget_gb=budget_gb), CPU)
    engine.clip_frames(solid((9, 9, 9)), solid((99, 99, 99)), "walks", 1, 32, 32, 8, 8)
    assert engine.last_tiling is tiled and engine.pipe.vae.use_tiling is tiled


def test_clip_mp4_holds_the_frames_that_go_into_the_film(ltx: LtxVideoEngine, tmp_path: Path) -> None:
    first, last = solid((240, 200, 40)), solid((40, 80, 240))
    for closing, count in ((False, 16), (True, 17)):
        mp4 = ltx.clip_mp4(runtime.png_bytes(first), runtime.png_bytes(last), "walks", 9, 32, 32, 16, 8,
                           closing_frame=closing)
        path = tmp_path / f"clip-{closing}.mp4"
        path.write_bytes(mp4)
        info = probe(path)
        assert (info.codec, info.width, info.height, info.fps, info.frames) == ("h264", 32, 32, 8.0, count)
        frames = decode_frames(path)
        assert np.abs(frames[0].astype(int) - np.asarray(first)).mean() < 6  # H.264 is lossy, but close
    assert np.abs(frames[-1].astype(int) - np.asarray(last)).mean() < 6


def test_an_assembled_film_shows_every_boundary_keyframe_once(tmp_path: Path) -> None:
    """Three clips between four keyframes, joined as the assembly joins them: 3 x 16 + 1 frames, each keyframe
    at its cut (frame 16 i) and nowhere else."""
    engine = LtxVideoEngine.from_pipeline(tiny_ltx_pipeline(), tiny_settings(keyframe_crf=0), CPU)
    keys = [solid(color) for color in [(230, 30, 30), (30, 230, 30), (30, 30, 230), (230, 230, 30)]]
    paths = []
    for i in range(3):
        mp4 = engine.clip_mp4(runtime.png_bytes(keys[i]), runtime.png_bytes(keys[i + 1]), "walks", i, 32, 32, 16, 8,
                              closing_frame=i == 2)
        paths.append(tmp_path / f"c{i}.mp4")
        paths[-1].write_bytes(mp4)
    film = tmp_path / "film.mp4"
    assert concat_mp4(paths, film)  # stream-copied
    frames = decode_frames(film).astype(int)
    assert len(frames) == 3 * 16 + 1
    for k, key in enumerate(keys):
        error = np.abs(frames - np.asarray(key, dtype=int)).mean(axis=(1, 2, 3))
        matches = [int(i) for i in np.flatnonzero(error < 8)]
        assert matches == [16 * k], (k, matches)


def test_ltx_refuses_bad_input_before_rendering(ltx: LtxVideoEngine) -> None:
    with pytest.raises(ValueError, match="multiple of 32"):
        ltx.clip_frames(solid((0, 0, 0)), solid((0, 0, 0)), "walks", 1, 48, 32, 8, 8)
    with pytest.raises(ValueError, match="prompt is empty"):
        ltx.clip_frames(solid((0, 0, 0)), solid((0, 0, 0)), "  ", 1, 32, 32, 8, 8)
    with pytest.raises(ValueError, match="at least 1 frame interval"):
        ltx.clip_frames(solid((0, 0, 0)), solid((0, 0, 0)), "walks", 1, 32, 32, 0, 8)
    with pytest.raises(ValueError, match="first keyframe is not a readable image"):
        ltx.clip_mp4(b"junk", runtime.png_bytes(solid((0, 0, 0))), "walks", 1, 32, 32, 8, 8)


# ------------------------------------------------------------------------------------------ speed-ups


def test_fast_mode_puts_diffusers_cache_hook_on_the_transformer_and_changes_the_output() -> None:
    from diffusers.hooks import HookRegistry

    pipe = tiny_flux_pipeline()
    exact = FluxImageEngine.from_pipeline(pipe, tiny_settings(image_steps=8), CPU)
    (reference,) = exact.reference_images(PROMPT, SUMMARY, [2], 32, 32)
    fast = FluxImageEngine.from_pipeline(pipe, tiny_settings(fast=True, fast_image_steps=8), CPU)
    assert "cache=taylorseer/3" in fast.optimisations and pipe.transformer.is_cache_enabled  # the default interval
    hooks = [name for _, module in pipe.transformer.named_modules()
             for name in getattr(HookRegistry.check_if_exists_or_initialize(module), "hooks", {})]
    assert any("taylorseer" in name for name in hooks)
    (cached,) = fast.reference_images(PROMPT, SUMMARY, [2], 32, 32)
    assert not np.array_equal(pixels(cached), pixels(reference))  # predicted steps: lossy
    FluxImageEngine.from_pipeline(pipe, tiny_settings(image_steps=8), CPU)  # a lossless engine takes the hook off
    assert not pipe.transformer.is_cache_enabled
    (again,) = exact.reference_images(PROMPT, SUMMARY, [2], 32, 32)
    assert np.array_equal(pixels(again), pixels(reference))


def test_a_longer_taylorseer_interval_predicts_more_steps() -> None:
    pipe = tiny_flux_pipeline()
    outputs = []
    for interval in (2, 3):
        engine = FluxImageEngine.from_pipeline(pipe, tiny_settings(fast=True, fast_image_steps=10,
                                                                   fast_cache_interval=interval), CPU)
        assert f"cache=taylorseer/{interval}" in engine.optimisations
        outputs.append(pixels(engine.reference_images(PROMPT, SUMMARY, [2], 32, 32)[0]))
    assert not np.array_equal(*outputs)


def test_compiled_blocks_run_under_the_cache_hook_with_one_graph_per_block_class() -> None:
    """Regional compilation (what fast mode compiles): the hooks' Python stays eager around compiled blocks, so
    the output equals the eager cached run and Dynamo makes one graph per block class, no recompiles."""
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    pipe = tiny_flux_pipeline()
    transformer = pipe.transformer

    def render() -> np.ndarray:
        out = pipe(prompt="a cat", num_inference_steps=8, width=32, height=32, output_type="np",
                   generator=torch.Generator().manual_seed(1), max_sequence_length=32)
        return out.images[0]

    runtime.set_fast_cache(transformer, "taylorseer")
    eager = render()
    runtime.set_fast_cache(transformer, "none")
    graphs_before = counters["stats"]["unique_graphs"]
    assert runtime.compile_blocks(transformer, "default") == len(transformer.transformer_blocks) + len(
        transformer.single_transformer_blocks)
    runtime.set_fast_cache(transformer, "taylorseer")  # after compiling: the hook wraps the compiled forward
    compiled = render()
    assert np.allclose(compiled, eager, atol=1e-4)
    assert counters["stats"]["unique_graphs"] - graphs_before == 2  # FluxTransformerBlock, FluxSingleTransformerBlock
    assert not counters["recompiles"]
    runtime.set_fast_cache(transformer, "none")
    runtime.uncompile(transformer)
    assert all("forward" not in block.__dict__ for block in runtime.repeated_blocks(transformer))


def test_the_compiled_vae_decoder_decodes_as_eager_and_uncompiles() -> None:
    """Compile also covers the VAE decoder (the decode is norms and activations between convolutions, which
    Inductor fuses); its pixels match eager's, and uncompile puts the eager decoder back."""
    torch._dynamo.reset()
    vae = tiny_flux_pipeline().vae
    latents = torch.randn(2, vae.config.latent_channels, 8, 8, generator=torch.Generator().manual_seed(3))
    eager = vae.decode(latents).sample
    assert runtime.compile_vae_decoder(vae, "default")
    assert vae.decoder._compiled_call_impl is not None
    torch.testing.assert_close(vae.decode(latents).sample, eager, atol=1e-4, rtol=1e-4)
    runtime.uncompile(tiny_flux_pipeline().transformer, vae)
    assert vae.decoder._compiled_call_impl is None
    assert not runtime.compile_vae_decoder(torch.nn.Linear(2, 2), "default")  # no decoder: nothing compiled


def test_references_render_at_the_size_their_reader_takes() -> None:
    assert GpuSettings().effective_reference_size == 384  # Redux's SigLIP reads 384 px
    assert GpuSettings(image_engine="flux2-klein").effective_reference_size == 512
    assert GpuSettings(reference_size=448).effective_reference_size == 448
    assert GpuSettings(fast=True).effective_fp8 and not GpuSettings().effective_fp8
    assert not GpuSettings(fast=True, fast_fp8=False).effective_fp8


def test_fp8_linear_matches_the_bf16_layer_within_fp8_precision() -> None:
    torch.manual_seed(0)
    linear = torch.nn.Linear(256, 512)
    x = torch.randn(3, 7, 256)
    fp8 = runtime.Fp8Linear(linear)
    expected, got = linear(x), fp8(x)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    relative = (got - expected).norm() / expected.norm()
    assert 0 < relative < 0.06  # e4m3 keeps 3 mantissa bits: a few percent, never exact
    model = torch.nn.Sequential(torch.nn.Linear(256, 512), torch.nn.GELU(), torch.nn.Linear(512, 256),
                                torch.nn.Linear(256, 8))
    assert runtime.to_fp8(model) == 2
    assert isinstance(model[0], runtime.Fp8Linear) and isinstance(model[3], torch.nn.Linear)


def test_a_png_batch_is_encoded_side_by_side_to_the_same_bytes_in_order() -> None:
    images = [solid((i * 40, 255 - i * 40, 7)) for i in range(5)]
    encoded = runtime.png_bytes_all(images)
    assert encoded == [runtime.png_bytes(image) for image in images]
    pixels = [runtime.open_image(data).getpixel((0, 0)) for data in encoded]
    assert pixels == [(i * 40, 255 - i * 40, 7) for i in range(5)]
    assert runtime.png_bytes_all([]) == []
