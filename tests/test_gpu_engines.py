"""The GPU engines on tiny random pipelines built in code, on the CPU: the real engine code, small models.

FLUX: batching, seeds, the CLIP/T5 prompt split, prompt reuse, the reference blend and its spaces.
LTX-Video: first/last-frame conditions, frame counts and resampling, the VAE tiling switch, MP4 output.
Both: loading from a `save_pretrained` directory, clear errors on bad input.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from diffusers import FluxPipeline, LTXConditionPipeline
from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition
from PIL import Image

from filmstitch.engines import GpuSettings
from filmstitch.engines import runtime as rt
from filmstitch.engines.flux import FluxImageEngine, ReferenceEncoder, blend_pooled
from filmstitch.engines.ltx import (
    LtxVideoEngine,
    conditioning_noise_ahead,
    ltx_frame_count,
    needs_vae_tiling,
    resample_frames,
    vae_decode_bytes,
)
from filmstitch.engines.tiny import save_tiny_clip, tiny_clip_model, tiny_flux_pipeline, tiny_ltx_pipeline
from filmstitch.video import decode_frames, probe
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


@pytest.fixture
def flux(references: ReferenceEncoder) -> FluxImageEngine:
    return FluxImageEngine.from_pipeline(tiny_flux_pipeline(), tiny_settings(), CPU, references)


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


def expected_reference_vector(clip_dir: Path, images: list[Image.Image]) -> torch.Tensor:
    """The blend target computed independently: CLIP image_embeds (joint space), unit-normalised and
    averaged, pulled back into the text pooler space by pinv(text_projection)."""
    clip = tiny_clip_model()
    pixels_in = rt_processor(clip_dir)(images=images, return_tensors="pt").pixel_values
    embeds = clip.visual_projection(clip.vision_model(pixel_values=pixels_in).pooler_output)
    joint = torch.nn.functional.normalize(torch.nn.functional.normalize(embeds, dim=-1).mean(0), dim=-1)
    return torch.linalg.pinv(clip.text_projection.weight) @ joint


def rt_processor(clip_dir: Path) -> Any:
    from transformers import CLIPImageProcessor

    return CLIPImageProcessor.from_pretrained(clip_dir)


@pytest.mark.parametrize("weight", [0.3, 0.6, 1.0])
def test_reference_blend_moves_the_pooled_embedding_by_exactly_the_weight(
    clip_dir: Path, references: ReferenceEncoder, monkeypatch: pytest.MonkeyPatch, weight: float
) -> None:
    engine = FluxImageEngine.from_pipeline(tiny_flux_pipeline(), tiny_settings(reference_weight=weight), CPU, references)
    refs = [solid((220, 40, 40)), solid((30, 30, 220))]
    calls = CallSpy(monkeypatch, FluxPipeline, "__call__").calls
    engine.keyframe_images(PROMPT, SUMMARY, refs, [1, 2], 32, 32)
    pooled_text = engine.encode(SUMMARY, PROMPT).pooled[0]
    sent = calls[0]["pooled_prompt_embeds"]
    assert torch.equal(sent[0], sent[1])  # the same conditioning for every variant

    target = expected_reference_vector(clip_dir, refs)
    target = target * pooled_text.norm() / target.norm()
    torch.testing.assert_close(sent[0] - pooled_text, weight * (target - pooled_text), atol=1e-5, rtol=1e-4)


def test_zero_weight_leaves_the_pooled_embedding_untouched(
    references: ReferenceEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = FluxImageEngine.from_pipeline(tiny_flux_pipeline(), tiny_settings(reference_weight=0.0), CPU, references)
    calls = CallSpy(monkeypatch, FluxPipeline, "__call__").calls
    engine.keyframe_images(PROMPT, SUMMARY, [solid((220, 40, 40))], [1], 32, 32)
    assert torch.equal(calls[0]["pooled_prompt_embeds"][0], engine.encode(SUMMARY, PROMPT).pooled[0])


def test_references_change_the_keyframe(flux: FluxImageEngine) -> None:
    (red,) = flux.keyframe_images(PROMPT, SUMMARY, [solid((230, 20, 20))], [3], 32, 32)
    (blue,) = flux.keyframe_images(PROMPT, SUMMARY, [solid((20, 20, 230))], [3], 32, 32)
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
def test_flux_decodes_the_batch_at_once_unless_memory_is_short(
    references: ReferenceEncoder, budget_gb: float | None, sliced: bool
) -> None:
    engine = FluxImageEngine.from_pipeline(tiny_flux_pipeline(), tiny_settings(memory_budget_gb=budget_gb), CPU, references)
    images = engine.reference_images(PROMPT, SUMMARY, [4, 5, 6], 32, 32)
    assert engine.last_vae_slicing is sliced and engine.pipe.vae.use_slicing is sliced
    # Sliced or not, the same pixels.
    other = FluxImageEngine.from_pipeline(
        tiny_flux_pipeline(), tiny_settings(memory_budget_gb=1e-4 if not sliced else None), CPU, references
    )
    assert [i.tobytes() for i in other.reference_images(PROMPT, SUMMARY, [4, 5, 6], 32, 32)] == [i.tobytes() for i in images]
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


# ------------------------------------------------------------------------------------------ loading


def test_engines_load_from_save_pretrained_directories(tmp_path: Path, references: ReferenceEncoder) -> None:
    env = save_tiny_weights(tmp_path)
    settings = tiny_settings(flux_dir=env["FILMSTITCH_GPU_FLUX_DIR"], ltx_dir=env["FILMSTITCH_GPU_LTX_DIR"],
                             clip_vision_dir=env["FILMSTITCH_GPU_CLIP_VISION_DIR"])
    loaded = FluxImageEngine.load(settings)
    in_memory = FluxImageEngine.from_pipeline(tiny_flux_pipeline(), settings, CPU, references)
    (a,) = loaded.keyframe_images(PROMPT, SUMMARY, [solid((9, 99, 199))], [4], 32, 32)
    (b,) = in_memory.keyframe_images(PROMPT, SUMMARY, [solid((9, 99, 199))], [4], 32, 32)
    assert np.abs(pixels(a) - pixels(b)).max() <= 1  # same weights, same seed, same picture

    video = LtxVideoEngine.load(settings)
    clip = video.clip_frames(a, b, "she walks", 3, 32, 32, 9, 8)
    assert clip.shape == (9, 32, 32, 3)


def test_missing_weights_name_the_setting_to_fix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="FILMSTITCH_GPU_FLUX_DIR"):
        FluxImageEngine.load(tiny_settings(flux_dir=str(tmp_path / "nope")))
    with pytest.raises(FileNotFoundError, match="FILMSTITCH_GPU_LTX_DIR"):
        LtxVideoEngine.load(tiny_settings(ltx_dir=str(tmp_path / "nope")))


def test_settings_refuse_frame_counts_ltx_cannot_make() -> None:
    with pytest.raises(ValueError, match="8k\\+1"):
        GpuSettings(video_max_frames=96)


# ------------------------------------------------------------------------------------------ LTX-Video


@pytest.mark.parametrize(
    ("requested", "cap", "expected"),
    [(192, 97, 97), (192, 257, 193), (48, 97, 49), (97, 97, 97), (8, 97, 9), (2, 97, 9), (100, 97, 97)],
)
def test_ltx_frame_count_is_the_nearest_8k_plus_1_within_the_cap(requested: int, cap: int, expected: int) -> None:
    assert ltx_frame_count(requested, cap) == expected


def test_resampling_keeps_the_ends_and_interpolates_linearly_in_time() -> None:
    source = torch.arange(9, dtype=torch.float32).view(9, 1, 1, 1).expand(9, 3, 2, 2)
    out = resample_frames(source, 25)
    assert out.shape == (25, 3, 2, 2)
    assert torch.equal(out[0], source[0]) and torch.equal(out[-1], source[-1])
    torch.testing.assert_close(out[:, 0, 0, 0], torch.linspace(0, 8, 25))
    assert resample_frames(source, 9) is source


def test_clip_conditions_pin_the_keyframes_at_the_first_and_last_frame(
    ltx: LtxVideoEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = CallSpy(monkeypatch, LTXConditionPipeline, "__call__").calls
    first, last = solid((250, 10, 10)), solid((10, 10, 250))
    video = ltx.clip_frames(first, last, "the astronaut walks to the garden", 5, 32, 32, 48, 24)
    (call,) = calls
    assert call["num_frames"] == 49
    start, end = call["conditions"]
    assert (start.frame_index, end.frame_index) == (0, 48)
    assert start.image.tobytes() == first.tobytes() and end.image.tobytes() == last.tobytes()
    # The prompt and the negative prompt go in as their cached T5 embeddings.
    assert torch.equal(call["prompt_embeds"], ltx.encode_text("the astronaut walks to the garden")[0])
    assert torch.equal(call["negative_prompt_embeds"], ltx.encode_text(ltx.settings.negative_prompt)[0])
    assert call["frame_rate"] == pytest.approx(48 * 24 / 47)  # 49 generated frames span the 48-frame clip
    assert video.shape == (48, 32, 32, 3)
    assert np.array_equal(video[0], np.asarray(first)) and np.array_equal(video[-1], np.asarray(last))


def test_text_embeddings_match_the_pipelines_and_the_negative_prompt_is_encoded_once(
    ltx: LtxVideoEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    encodes = CallSpy(monkeypatch, LTXConditionPipeline, "_get_t5_prompt_embeds").calls
    for prompt in ("walks", "runs", "walks"):
        ltx.clip_frames(solid((9, 9, 9)), solid((99, 99, 99)), prompt, 1, 32, 32, 9, 8)
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
                conditions=[LTXVideoCondition(image=first, frame_index=0), LTXVideoCondition(image=last, frame_index=8)],
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


def test_long_clips_are_generated_at_the_cap_and_resampled(ltx: LtxVideoEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    ltx.settings = tiny_settings(video_max_frames=17)
    calls = CallSpy(monkeypatch, LTXConditionPipeline, "__call__").calls
    video = ltx.clip_frames(solid((1, 2, 3)), solid((4, 5, 6)), "walks", 5, 32, 32, 40, 8)
    assert calls[0]["num_frames"] == 17 and calls[0]["conditions"][1].frame_index == 16
    assert video.shape[0] == 40


def test_same_clip_seed_same_clip(ltx: LtxVideoEngine) -> None:
    ltx.settings = tiny_settings(pin_keyframes=False)
    a = ltx.clip_frames(solid((200, 0, 0)), solid((0, 0, 200)), "walks", 1, 32, 32, 9, 8)
    b = ltx.clip_frames(solid((200, 0, 0)), solid((0, 0, 200)), "walks", 1, 32, 32, 9, 8)
    c = ltx.clip_frames(solid((200, 0, 0)), solid((0, 0, 200)), "walks", 2, 32, 32, 9, 8)
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
    engine.clip_frames(solid((9, 9, 9)), solid((99, 99, 99)), "walks", 1, 32, 32, 9, 8)
    assert engine.last_tiling is tiled and engine.pipe.vae.use_tiling is tiled


def test_clip_mp4_has_the_requested_frames_size_and_rate(ltx: LtxVideoEngine, tmp_path: Path) -> None:
    first, last = solid((240, 200, 40)), solid((40, 80, 240))
    mp4 = ltx.clip_mp4(rt.png_bytes(first), rt.png_bytes(last), "walks", 9, 32, 32, 20, 10)
    path = tmp_path / "clip.mp4"
    path.write_bytes(mp4)
    info = probe(path)
    assert (info.codec, info.width, info.height, info.fps, info.frames) == ("h264", 32, 32, 10.0, 20)
    frames = decode_frames(path)
    assert np.abs(frames[0].astype(int) - np.asarray(first)).mean() < 6  # H.264 is lossy, but close
    assert np.abs(frames[-1].astype(int) - np.asarray(last)).mean() < 6


def test_ltx_refuses_bad_input_before_rendering(ltx: LtxVideoEngine) -> None:
    with pytest.raises(ValueError, match="multiple of 32"):
        ltx.clip_frames(solid((0, 0, 0)), solid((0, 0, 0)), "walks", 1, 48, 32, 9, 8)
    with pytest.raises(ValueError, match="prompt is empty"):
        ltx.clip_frames(solid((0, 0, 0)), solid((0, 0, 0)), "  ", 1, 32, 32, 9, 8)
    with pytest.raises(ValueError, match="at least 2 frames"):
        ltx.clip_frames(solid((0, 0, 0)), solid((0, 0, 0)), "walks", 1, 32, 32, 1, 8)
    with pytest.raises(ValueError, match="first keyframe is not a readable image"):
        ltx.clip_mp4(b"junk", rt.png_bytes(solid((0, 0, 0))), "walks", 1, 32, 32, 9, 8)


def test_a_png_batch_is_encoded_side_by_side_to_the_same_bytes_in_order() -> None:
    images = [solid((i * 40, 255 - i * 40, 7)) for i in range(5)]
    encoded = rt.png_bytes_all(images)
    assert encoded == [rt.png_bytes(image) for image in images]
    assert [rt.open_image(data).getpixel((0, 0)) for data in encoded] == [(i * 40, 255 - i * 40, 7) for i in range(5)]
    assert rt.png_bytes_all([]) == []
