"""The Modal app and both GPU renderers, on tiny weights written to disk, without Modal credentials.

`.local()` runs a Modal class in this process (its `@modal.enter` hook included), so the app's methods
are checked against the real engines. The `modal` renderer is checked by routing `Cls.from_name(...)`
to those local classes; the `local-gpu` renderer loads the same tiny weights through GpuSettings.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from filmstitch.renderers import RenderedImage, get_renderer
from filmstitch.renderers import gpu as gpu_renderers
from filmstitch.video import probe
from tests.support.plans import handmade_plan
from tests.support.tiny_gpu import save_tiny_weights

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def weights_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return save_tiny_weights(tmp_path_factory.mktemp("weights"))


@pytest.fixture
def tiny_env(weights_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in weights_env.items():
        monkeypatch.setenv(name, value)
    gpu_renderers._ENGINES.reset()
    yield weights_env
    gpu_renderers._ENGINES.reset()


@pytest.fixture
def plan():
    return handmade_plan(segments=2, width=128, height=128, fps=8, seconds=1.0)


def png(color: tuple[int, int, int], size: tuple[int, int] = (128, 128)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def image_of(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def chosen_references(plan: Any) -> dict[str, RenderedImage]:
    colours = [(220, 60, 40), (40, 60, 220), (90, 90, 90)]
    return {s.id: RenderedImage(variant=0, seed=i, png=png(colours[i % 3])) for i, s in enumerate(plan.subjects)}


# ------------------------------------------------------------------------------ the Modal app


def test_app_module_imports_without_modal_credentials(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODAL_", "FILMSTITCH_"))}
    env |= {"HOME": str(tmp_path), "FILMSTITCH_GPU_MODAL_GPU": "H100", "FILMSTITCH_GPU_VIDEO_STEPS": "30"}
    code = (
        "import filmstitch.modal_workers.film_gpu as m; "
        "print(m.app.name, m.settings.modal_gpu, m.container_env['FILMSTITCH_GPU_VIDEO_STEPS'], "
        "m.container_env['FILMSTITCH_GPU_FLUX_DIR'], sorted(m.app.registered_classes), "
        "sorted(m.app.registered_functions))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[:4] == ["filmstitch-gpu", "H100", "30", "/weights/flux1-dev"]
    assert "'FluxWorker'" in out.stdout and "'LtxWorker'" in out.stdout and "download_weights" in out.stdout


def test_flux_worker_local_renders_references_and_keyframes(tiny_env: dict[str, str]) -> None:
    from filmstitch.modal_workers.film_gpu import FluxWorker

    worker = FluxWorker()
    refs = worker.reference_pngs.local("a girl in a red suit", "girl red suit", [1, 2, 3], 32, 32)
    assert len(refs) == 3 and {image_of(p).size for p in refs} == {(32, 32)}
    assert refs[0] != refs[1]
    keys = worker.keyframe_pngs.local("the girl on the moon", "girl moon", refs[:2], [4, 5], 32, 32)
    assert len(keys) == 2 and image_of(keys[0]).format == "PNG"


def test_ltx_worker_local_renders_a_clip(tiny_env: dict[str, str], tmp_path: Path) -> None:
    from filmstitch.modal_workers.film_gpu import LtxWorker

    mp4 = LtxWorker().clip_mp4.local(png((200, 0, 0), (32, 32)), png((0, 0, 200), (32, 32)), "walks", 3, 32, 32, 16, 8)
    path = tmp_path / "clip.mp4"
    path.write_bytes(mp4)
    info = probe(path)
    assert (info.frames, info.width, info.height, info.fps) == (16, 32, 32, 8.0)


# ------------------------------------------------------------------------------ the modal renderer


class LocalCls:
    """Stands in for `modal.Cls.from_name(app, name)`: `.method.remote(...)` runs `.method.local(...)`."""

    def __init__(self, cls: Any, log: list[tuple[str, dict[str, Any]]]) -> None:
        self.cls, self.log = cls, log

    def __call__(self) -> Any:
        instance, log = self.cls(), self.log

        class Method:
            def __init__(self, name: str) -> None:
                self.name = name

            def remote(self, **kwargs: Any) -> Any:
                log.append((self.name, kwargs))
                return getattr(instance, self.name).local(**kwargs)

        class Handle:
            def __getattr__(self, name: str) -> Method:
                return Method(name)

        return Handle()


def test_modal_renderer_makes_one_remote_call_per_method(
    tiny_env: dict[str, str], plan: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import modal

    from filmstitch.modal_workers import film_gpu

    looked_up: list[tuple[str, str]] = []
    calls: list[tuple[str, dict[str, Any]]] = []

    def from_name(app: str, name: str) -> LocalCls:
        looked_up.append((app, name))
        return LocalCls(getattr(film_gpu, name), calls)

    monkeypatch.setattr(modal.Cls, "from_name", from_name)
    monkeypatch.setattr(gpu_renderers.ModalRenderer, "_workers", {})
    renderer = get_renderer("modal")
    mira = plan.subjects[0]

    refs = renderer.reference_variants(plan, mira, [1, 2])
    assert [image_of(p).size for p in refs] == [(128, 128)] * 2
    assert calls[-1][0] == "reference_pngs" and "Mira" in calls[-1][1]["prompt"]
    assert len(calls[-1][1]["clip_prompt"].split()) <= 50

    chosen = chosen_references(plan)
    keys = renderer.keyframe_variants(plan, 1, chosen, [3, 4, 5])
    assert len(keys) == 3
    name, request = calls[-1]
    assert name == "keyframe_pngs" and request["prompt"] == plan.keyframes[1].prompt
    assert request["clip_summary"] == plan.keyframes[1].clip_summary
    assert request["reference_pngs"] == [chosen[s.id].png for s in plan.subjects_at(1)]

    first = RenderedImage(variant=0, seed=3, png=keys[0])
    last = RenderedImage(variant=1, seed=4, png=keys[1])
    mp4 = renderer.clip(plan, 0, first, last, chosen, seed=9)
    assert calls[-1][0] == "clip_mp4" and calls[-1][1]["frames"] == plan.request.frames_per_clip
    assert plan.script.segments[0].action in calls[-1][1]["prompt"]
    assert mp4[4:8] == b"ftyp"
    assert len(calls) == 3  # one remote call each
    assert looked_up == [("filmstitch-gpu", "FluxWorker"), ("filmstitch-gpu", "LtxWorker")]  # looked up once


def test_modal_renderer_refuses_missing_references_before_calling(plan: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import modal

    monkeypatch.setattr(modal.Cls, "from_name", lambda *a: pytest.fail("no remote call should be made"))
    monkeypatch.setattr(gpu_renderers.ModalRenderer, "_workers", {})
    with pytest.raises(ValueError, match="needs the chosen references"):
        get_renderer("modal").keyframe_variants(plan, 0, {}, [1])


# ------------------------------------------------------------------------------ the local-gpu renderer


def test_local_gpu_renderer_renders_a_segment_with_engines_loaded_once(
    tiny_env: dict[str, str], plan: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from filmstitch.engines.flux import FluxImageEngine

    loads: list[object] = []
    original = FluxImageEngine.load.__func__
    monkeypatch.setattr(FluxImageEngine, "load", classmethod(lambda cls, *a: loads.append(a) or original(cls, *a)))

    chosen = chosen_references(plan)
    keys = [get_renderer("local-gpu").keyframe_variants(plan, i, chosen, [i, i + 10]) for i in range(2)]
    refs = get_renderer("local-gpu").reference_variants(plan, plan.subjects[-1], [7])
    assert len(loads) == 1  # three renderer objects, one engine per process
    assert [image_of(p).size for p in [*keys[0], *refs]] == [(128, 128)] * 3

    first = RenderedImage(variant=0, seed=0, png=keys[0][0])
    last = RenderedImage(variant=1, seed=11, png=keys[1][1])
    path = tmp_path / "clip.mp4"
    path.write_bytes(get_renderer("local-gpu").clip(plan, 0, first, last, chosen, seed=5))
    info = probe(path)
    assert (info.frames, info.width, info.height, info.fps) == (plan.request.frames_per_clip, 128, 128, 8.0)


def test_local_gpu_spreads_clips_over_the_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each clip holds one device's engine; with two devices two clips run at once, each on its own."""
    import threading

    engines = gpu_renderers._LocalEngines()
    monkeypatch.setattr(gpu_renderers, "visible_devices", lambda settings: ["cuda:0", "cuda:1"])
    loaded: list[str] = []

    class FakeEngine:
        def __init__(self, device: str) -> None:
            self.device = device

    from filmstitch.engines import ltx

    monkeypatch.setattr(ltx.LtxVideoEngine, "load", classmethod(lambda cls, s, d: loaded.append(d) or FakeEngine(d)))
    inside = threading.Barrier(2, timeout=10)
    used: list[str] = []

    def clip() -> None:
        with engines.video_engine() as engine:
            used.append(engine.device)
            inside.wait()  # both clips are inside at once: they cannot share one device

    threads = [threading.Thread(target=clip) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(used) == ["cuda:0", "cuda:1"] and sorted(loaded) == ["cuda:0", "cuda:1"]
    with engines.video_engine() as engine:  # engines are kept per device
        assert engine.device in ("cuda:0", "cuda:1")
    assert len(loaded) == 2


def test_local_gpu_gives_each_device_a_second_clip_to_denoise_while_the_first_encodes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    from filmstitch.engines import ltx

    monkeypatch.setenv("FILMSTITCH_GPU_CLIPS_PER_GPU", "2")
    engines = gpu_renderers._LocalEngines()
    monkeypatch.setattr(gpu_renderers, "visible_devices", lambda settings: ["cuda:0"])
    loaded: list[str] = []
    monkeypatch.setattr(ltx.LtxVideoEngine, "load", classmethod(lambda cls, s, d: loaded.append(d) or object()))
    inside = threading.Barrier(2, timeout=10)
    passed: list[bool] = []

    def clip() -> None:
        with engines.video_engine():
            inside.wait()  # two clips inside at once on the one device
            passed.append(True)

    threads = [threading.Thread(target=clip) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert passed == [True, True] and loaded == ["cuda:0"]  # one engine, shared
    assert engines.free_devices is not None and engines.free_devices.qsize() == 2


def test_reference_prompts_describe_the_subject_and_fit_clip(plan: Any) -> None:
    for subject in plan.subjects:
        request = gpu_renderers.reference_request(plan, subject, [1])
        assert subject.name in request["prompt"] and len(request["clip_prompt"].split()) <= 50
    environment = gpu_renderers.reference_request(plan, plan.subjects[-1], [1])
    assert "no people" in environment["prompt"] and plan.environments[0].lighting in environment["prompt"]
    assert np.array_equal(
        gpu_renderers.clip_words(" ".join(f"w{i}" for i in range(80))).split(), [f"w{i}" for i in range(50)]
    )
