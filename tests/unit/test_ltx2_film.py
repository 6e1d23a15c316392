"""LTX-2 through the render-clip task with the local-gpu renderer on tiny weights loaded from disk: each clip's
waveform is a stored part (checksummed, named by the clip's manifest entry), a second render reuses the clip and its
sound, a damaged sound makes the clip again, and the stored sounds mix."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from filmstitch.engines.ltx2 import Ltx2VideoEngine
from filmstitch.images import thumbnail_jpeg
from filmstitch.renderers import gpu as gpu_renderers
from filmstitch.settings import StorageConfig
from filmstitch.sound import stage
from filmstitch.storage import FilmStore
from filmstitch.tasks.clips import clip_sound, render_clip
from filmstitch.tasks.common import FilmContext, VariantRef
from filmstitch.testing.plans import handmade_plan
from filmstitch.video import decode_frames
from tests.support.tiny_gpu import save_tiny_weights
from tests.unit.test_ltx2_sound import narration


@pytest.fixture(scope="module")
def weights_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return save_tiny_weights(tmp_path_factory.mktemp("weights"), ltx2=True)


@pytest.fixture
def ltx2_env(weights_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in weights_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FILMSTITCH_GPU_KEYFRAME_CRF", "0")
    monkeypatch.setenv("FILMSTITCH_GPU_LTX2_KEYFRAME_CRF", "0")
    gpu_renderers._ENGINES.reset()
    yield weights_env
    gpu_renderers._ENGINES.reset()


def png(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (128, 128), color).save(out, format="PNG")
    return out.getvalue()


def keyframe(store: FilmStore, index: int, color: tuple[int, int, int]) -> VariantRef:
    data = png(color)
    image = store.put(f"keyframes/k{index:02d}/take-1/v0.png", data, "image/png", stage="keyframe")
    thumb = store.put(f"keyframes/k{index:02d}/take-1/v0.jpg", thumbnail_jpeg(data), "image/jpeg", stage="keyframe")
    return VariantRef(variant=0, seed=index, image=image, thumb=thumb)


def test_each_clip_stores_its_sound_reuses_both_and_the_sounds_mix(
    ltx2_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    original = Ltx2VideoEngine.clip

    def counted(self: Ltx2VideoEngine, *args: object, **kwargs: object) -> object:
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Ltx2VideoEngine, "clip", counted)
    plan = handmade_plan(segments=2, width=128, height=128, fps=8, seconds=2.0)
    ctx = FilmContext(film_id="ltx2-film", storage=StorageConfig(root=str(tmp_path)), writer="offline",
                      renderer="local-gpu")
    store = ctx.store()
    colors = [(230, 30, 30), (30, 230, 30), (30, 30, 230)]
    keys = [keyframe(store, i, c) for i, c in enumerate(colors)]

    clips = [render_clip.fn(ctx, plan, i, keys[i], keys[i + 1], {}, seed=5 + i) for i in range(2)]
    assert len(calls) == 2
    sounds = [clip_sound(clip) for clip in clips]
    assert [s.key for s in sounds] == ["clips/c00/take-1.wav", "clips/c01/take-1.wav"]
    wavs = [store.get_verified(sound) for sound in sounds]  # checksummed like any part
    for wav in wavs:
        with wave.open(io.BytesIO(wav)) as reader:
            assert (reader.getnchannels(), reader.getframerate()) == (2, 8000)
            assert reader.getnframes() == pytest.approx(17 / 8 * 8000, rel=0.03)  # 17 frames at 8 fps
    path = tmp_path / "c1.mp4"
    path.write_bytes(store.get_verified(clips[1]))
    frames = decode_frames(path).astype(int)
    assert len(frames) == 17 and np.abs(frames[-1] - np.asarray(colors[2])).mean() < 6  # ends on keyframe 2

    again = [render_clip.fn(ctx, plan, i, keys[i], keys[i + 1], {}, seed=5 + i) for i in range(2)]
    assert len(calls) == 2, "the second render reuses both clips and their sounds"
    assert again == clips

    store.store.put(f"{ctx.film_id}/{sounds[0].key}", b"RIFF damaged", "audio/wav")  # bytes no longer match
    remade = render_clip.fn(ctx, plan, 0, keys[0], keys[1], {}, seed=5)
    assert len(calls) == 3, "a damaged sound makes its clip again"
    assert store.get_verified(clip_sound(remade)) == wavs[0]  # the same seed makes the same sound

    speech = [narration(plan, i) for i in range(2)]
    mix = stage.mix_film(plan, speech, {}, [store.get_verified(clip_sound(c)) for c in (remade, clips[1])], "bed")
    assert sorted(mix.stems) == ["ambience", "voice"] and abs(mix.report.integrated_lufs + 16) < 1


def test_on_modal_the_ltx2_worker_returns_the_clip_and_its_sound(
    ltx2_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Modal path with `VIDEO_ENGINE=ltx-2`: the renderer calls `clip_parts` (one remote call), the worker's
    `@modal.enter` loads LTX-2 from the settings, and its GPU type defaults to an 80 GB H100."""
    import modal

    from filmstitch.engines import GpuSettings
    from filmstitch.modal_workers import film_gpu
    from filmstitch.renderers import RenderedImage, get_renderer
    from tests.unit.test_modal_app import LocalCls

    calls: list[tuple[str, dict[str, object]]] = []
    monkeypatch.setattr(modal.Cls, "from_name", lambda app, name: LocalCls(getattr(film_gpu, name), calls))
    monkeypatch.setattr(gpu_renderers.ModalRenderer, "_workers", {})
    monkeypatch.setenv("MODAL_TOKEN_ID", "ak-test")
    monkeypatch.setenv("MODAL_TOKEN_SECRET", "as-test")
    plan = handmade_plan(segments=2, width=128, height=128, fps=8, seconds=1.0)
    first, last = (RenderedImage(variant=0, seed=i, png=png(c)) for i, c in enumerate([(200, 0, 0), (0, 0, 200)]))
    made = get_renderer("modal").clip_with_sound(plan, 1, first, last, {}, seed=9)
    assert [name for name, _ in calls] == ["clip_parts"] and calls[0][1]["closing_frame"] is True
    with wave.open(io.BytesIO(made.wav)) as reader:
        assert reader.getnchannels() == 2 and reader.getnframes() > 8000
    assert made.mp4[4:8] == b"ftyp"
    assert GpuSettings().effective_modal_video_gpu == "H100"
    assert GpuSettings(video_engine="ltx-video-0.9.5").effective_modal_video_gpu == "A100-40GB"
    assert GpuSettings(modal_video_gpu="H200").effective_modal_video_gpu == "H200"


@pytest.mark.parametrize(("engine", "budget_gb", "let_go"),
                         [("ltx-2", 80, True), ("ltx-video-0.9.5", 80, False), ("ltx-2", 141, False)])
def test_flux_makes_room_for_ltx2_on_an_80_gb_gpu(engine: str, budget_gb: float, let_go: bool) -> None:
    """FLUX (31.4 GiB) and LTX-Video share an H100; FLUX and LTX-2 (~39 GiB resident) only an H200."""
    from filmstitch.engines import GpuSettings

    local = gpu_renderers._LocalEngines()
    local.settings = GpuSettings(video_engine=engine, memory_budget_gb=budget_gb)
    local.pool = gpu_renderers.DevicePool(["cuda:0"], 1, local._make_room)
    local.pool.engines[("image", "cuda:0")] = object()
    local._make_room("video", "cuda:0")
    assert (("image", "cuda:0") not in local.pool.engines) is let_go
