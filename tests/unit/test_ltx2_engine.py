"""LTX-2 clips on a tiny LTX-2 pipeline built in code, on the CPU: the real engine, small models.

The keyframe contract frame by frame (the closing keyframe is placed at the clip's last frame, not at diffusers'
8k-7, and both ends carry the keyframes' exact pixels), every boundary once in an assembled film, the clip's
waveform (stereo, as long as its frames), and bad input refused before any work.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import LTX2ConditionPipeline
from PIL import Image

from filmstitch.engines import runtime
from filmstitch.engines.ltx2 import Ltx2VideoEngine, keyframe_pixel_frame
from filmstitch.testing.tiny_models import tiny_ltx2_pipeline
from filmstitch.video import concat_mp4, decode_frames, probe
from tests.support.tiny_gpu import tiny_settings

CPU = torch.device("cpu")


def solid(color: tuple[int, int, int], size: int = 32) -> Image.Image:
    return Image.new("RGB", (size, size), color)


def textured(seed: int, size: int = 32) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def engine() -> Ltx2VideoEngine:
    return Ltx2VideoEngine.from_pipeline(tiny_ltx2_pipeline(), tiny_settings(ltx2_steps=2, ltx2_keyframe_crf=0), CPU)


def test_diffusers_puts_a_closing_keyframe_at_8k_minus_7_so_the_engine_places_it_on_the_last_frame(
    engine: Ltx2VideoEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """16 intervals at 8 fps: 17 frames (3 latents); index=-1 is latent 2, which diffusers puts at frame 9.
    The keyframe's tokens reach the transformer at frame 16, the clip's last."""
    placed: list[int] = []
    original = LTX2ConditionPipeline._prepare_keyframe_coords

    def spy(self: LTX2ConditionPipeline, *args: object, **kwargs: object) -> torch.Tensor:
        placed.append(kwargs["pixel_frame_idx"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LTX2ConditionPipeline, "_prepare_keyframe_coords", spy)
    first, last = textured(1), textured(2)
    clip = engine.clip(first, last, "a robot walks", 3, 32, 32, 16, 8)
    assert keyframe_pixel_frame(2) == 9
    assert engine.last_keyframe_frames == {"diffusers": [9], "placed": 16}
    assert placed == [16]
    assert clip.frames.shape == (17, 32, 32, 3)
    # The contract, frame by frame: the first frame is keyframe i, the last keyframe i + 1, bit for bit.
    assert np.array_equal(clip.frames[0], np.asarray(first))
    assert np.array_equal(clip.frames[-1], np.asarray(last))
    assert not any(np.array_equal(frame, np.asarray(last)) for frame in clip.frames[:-1])


def test_a_span_off_the_8k_grid_generates_the_next_8k_plus_1_and_keeps_frames_up_to_the_closing_keyframe(
    engine: Ltx2VideoEngine,
) -> None:
    first, last = textured(3), textured(4)
    clip = engine.clip(first, last, "a robot walks", 3, 32, 32, 12, 24)  # 17 generated, 13 kept
    assert clip.frames.shape[0] == 13
    assert engine.last_keyframe_frames == {"diffusers": [9], "placed": 12}
    assert np.array_equal(clip.frames[-1], np.asarray(last))


def test_the_clip_has_stereo_sound_as_long_as_its_generated_frames(engine: Ltx2VideoEngine) -> None:
    clip = engine.clip(textured(5), textured(6), "a robot walks", 3, 32, 32, 16, 8)
    assert clip.rate == engine.sample_rate == 8000
    assert clip.audio.ndim == 2 and clip.audio.shape[1] == 2
    assert abs(len(clip.audio) - 17 / 8 * clip.rate) <= clip.rate * 0.02  # 17 frames at 8 fps: 2.125 s
    assert np.isfinite(clip.audio).all() and np.abs(clip.audio).max() > 0


def test_same_seed_same_clip_and_sound(engine: Ltx2VideoEngine) -> None:
    a = engine.clip(textured(7), textured(8), "a robot walks", 11, 32, 32, 8, 8)
    b = engine.clip(textured(7), textured(8), "a robot walks", 11, 32, 32, 8, 8)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.audio, b.audio)


def test_clip_parts_give_the_films_frames_as_mp4_and_the_whole_waveform_as_wav(
    engine: Ltx2VideoEngine, tmp_path: Path
) -> None:
    first, last = solid((240, 200, 40)), solid((40, 80, 240))
    for closing, count in ((False, 16), (True, 17)):
        parts = engine.clip_parts(runtime.png_bytes(first), runtime.png_bytes(last), "walks", 9, 32, 32, 16, 8,
                                  closing_frame=closing)
        path = tmp_path / f"clip-{closing}.mp4"
        path.write_bytes(parts["mp4"])
        info = probe(path)
        assert (info.codec, info.width, info.height, info.fps, info.frames) == ("h264", 32, 32, 8.0, count)
        with wave.open(io.BytesIO(parts["wav"])) as wav:
            assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 8000)
            assert wav.getnframes() > 16 / 8 * 8000  # past the cut: the tail the mix cross-fades over


def test_an_assembled_ltx2_film_shows_every_boundary_keyframe_once(engine: Ltx2VideoEngine, tmp_path: Path) -> None:
    keys = [solid(color) for color in [(230, 30, 30), (30, 230, 30), (30, 30, 230), (230, 230, 30)]]
    paths = []
    for i in range(3):
        parts = engine.clip_parts(runtime.png_bytes(keys[i]), runtime.png_bytes(keys[i + 1]), "walks", i, 32, 32, 16, 8,
                                  closing_frame=i == 2)
        paths.append(tmp_path / f"c{i}.mp4")
        paths[-1].write_bytes(parts["mp4"])
    film = tmp_path / "film.mp4"
    assert concat_mp4(paths, film)
    frames = decode_frames(film).astype(int)
    assert len(frames) == 3 * 16 + 1
    for k, key in enumerate(keys):
        error = np.abs(frames - np.asarray(key, dtype=int)).mean(axis=(1, 2, 3))
        assert [int(i) for i in np.flatnonzero(error < 8)] == [16 * k], k


def test_ltx2_refuses_bad_input_before_rendering(engine: Ltx2VideoEngine) -> None:
    good = textured(1)
    with pytest.raises(ValueError, match="multiple of 32"):
        engine.clip(good, good, "walks", 1, 30, 32, 16, 8)
    with pytest.raises(ValueError, match="prompt is empty"):
        engine.clip(good, good, "  ", 1, 32, 32, 16, 8)
    with pytest.raises(ValueError, match="seeds"):
        engine.clip(good, good, "walks", -1, 32, 32, 16, 8)
    with pytest.raises(ValueError, match="not a readable image"):
        engine.clip_parts(b"nope", runtime.png_bytes(good), "walks", 1, 32, 32, 16, 8)


def test_fast_mode_puts_taylorseer_on_ltx2_and_refuses_the_first_block_cache() -> None:
    settings = tiny_settings(fast=True, fast_video_steps=6, ltx2_steps=6, ltx2_keyframe_crf=0)
    fast = Ltx2VideoEngine.from_pipeline(tiny_ltx2_pipeline(), settings, CPU)
    assert fast.optimisations == ["cache=taylorseer/3"]
    clip = fast.clip(textured(1), textured(2), "a robot walks", 3, 32, 32, 8, 8)
    assert clip.frames.shape == (9, 32, 32, 3) and np.array_equal(clip.frames[-1], np.asarray(textured(2)))
    with pytest.raises(ValueError, match="first-block does not work with LTX-2"):
        Ltx2VideoEngine.from_pipeline(tiny_ltx2_pipeline(), settings.model_copy(update={"fast_cache": "first-block"}),
                                      CPU)


def test_settings_refuse_ltx2_with_the_first_block_cache_and_preflight_checks_ltx2s_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pydantic import ValidationError

    from filmstitch import preflight
    from filmstitch.engines import GpuSettings

    with pytest.raises(ValidationError, match="first-block does not work with video_engine=ltx-2"):
        GpuSettings(video_engine="ltx-2", fast=True, fast_cache="first-block")
    (tmp_path / "flux").mkdir()
    (tmp_path / "ltx").mkdir()
    monkeypatch.setenv("FILMSTITCH_GPU_FLUX_DIR", str(tmp_path / "flux"))
    monkeypatch.setenv("FILMSTITCH_GPU_LTX_DIR", str(tmp_path / "ltx"))
    monkeypatch.setenv("FILMSTITCH_GPU_VIDEO_ENGINE", "ltx-2")
    monkeypatch.setenv("FILMSTITCH_GPU_LTX2_DIR", str(tmp_path / "missing-ltx-2"))
    with pytest.raises(preflight.PreflightError, match="FILMSTITCH_GPU_LTX2_DIR"):
        preflight.check_local_gpu()
    (tmp_path / "missing-ltx-2").mkdir()
    preflight.check_local_gpu()
