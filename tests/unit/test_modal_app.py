"""The Modal app and both GPU renderers, on tiny weights written to disk, without Modal credentials.

`.local()` runs a Modal class in this process (its `@modal.enter` hook included), so the app's methods
are checked against the real engines. The `modal` renderer is checked by routing `Cls.from_name(...)`
to those local classes; the `local-gpu` renderer loads the same tiny weights through GpuSettings, and its
device pool is checked with fake devices and engines (even spread, one load per engine and device, no idle
device while work waits, busy time logged).
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from filmstitch.engines import BadInput, weights
from filmstitch.renderers import RenderedImage, get_renderer
from filmstitch.renderers import gpu as gpu_renderers
from filmstitch.testing.plans import handmade_plan
from filmstitch.video import probe
from tests.support.tiny_gpu import save_tiny_weights

ROOT = Path(__file__).resolve().parents[2]


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
    # Only the public API of the installed modal (App.registered_* is deprecated and goes in modal 1.7).
    code = (
        "import warnings; warnings.simplefilter('error', DeprecationWarning); import modal; "
        "import filmstitch.modal_workers.film_gpu as m; "
        "print(m.app.name, m.settings.modal_gpu, m.container_env['FILMSTITCH_GPU_VIDEO_STEPS'], "
        "m.container_env['FILMSTITCH_GPU_FLUX_DIR'], m.container_env['FILMSTITCH_GPU_REDUX_DIR'], "
        "isinstance(m.FluxWorker, modal.Cls), isinstance(m.LtxWorker, modal.Cls), "
        "isinstance(m.download_weights, modal.Function))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["filmstitch-gpu", "H100", "30", "/weights/flux1-dev", "/weights/flux1-redux-dev",
                                  "True", "True", "True"]


def test_the_app_mounts_the_weights_read_only_without_the_deprecated_call() -> None:
    source = (ROOT / "modal_workers" / "film_gpu.py").read_text()
    assert ".with_mount_options(read_only=True)" in source and ".read_only()" not in source


def test_flux_worker_local_renders_references_and_keyframes(tiny_env: dict[str, str]) -> None:
    from filmstitch.modal_workers.film_gpu import FluxWorker

    worker = FluxWorker()
    refs = worker.reference_pngs.local("a girl in a red suit", "girl red suit", [1, 2, 3], 32, 32)
    assert len(refs) == 3 and {image_of(p).size for p in refs} == {(32, 32)}
    assert refs[0] != refs[1]
    keys = worker.keyframe_pngs.local("the girl on the moon", "girl moon", refs[:2], [4, 5], 32, 32, [1.0, 0.6])
    assert len(keys) == 2 and image_of(keys[0]).format == "PNG"
    scores = worker.variant_scores.local(keys, {"girl": refs[0]})
    assert len(scores["similarities"]) == 2 and "cosine" in scores["method"]


def test_workers_return_bad_input_instead_of_raising_so_modal_does_not_retry_it(tiny_env: dict[str, str]) -> None:
    from filmstitch.modal_workers.film_gpu import FluxWorker, LtxWorker

    result = FluxWorker().keyframe_pngs.local("the moon", "moon", [b"not a png"], [1], 32, 32)
    assert result == BadInput("reference image 0 is not a readable image (9 bytes): cannot identify image file "
                              + result.message.split("cannot identify image file ", 1)[1])
    assert isinstance(LtxWorker().clip_mp4.local(b"x", b"y", "walks", 1, 32, 32, 8, 8), BadInput)
    assert FluxWorker().reference_pngs.local("a girl", "girl", [], 32, 32) == BadInput("give 1 to 8 seeds, got 0")


def test_ltx_worker_local_renders_a_clip(tiny_env: dict[str, str], tmp_path: Path) -> None:
    from filmstitch.modal_workers.film_gpu import LtxWorker

    for closing, frames in ((False, 16), (True, 17)):
        mp4 = LtxWorker().clip_mp4.local(png((200, 0, 0), (32, 32)), png((0, 0, 200), (32, 32)), "walks", 3, 32, 32,
                                         16, 8, closing)
        path = tmp_path / "clip.mp4"
        path.write_bytes(mp4)
        info = probe(path)
        assert (info.frames, info.width, info.height, info.fps) == (frames, 32, 32, 8.0)


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
    monkeypatch.setenv("MODAL_TOKEN_ID", "ak-test")
    monkeypatch.setenv("MODAL_TOKEN_SECRET", "as-test")
    renderer = get_renderer("modal")
    mira = plan.subjects[0]

    refs = renderer.reference_variants(plan, mira, [1, 2])
    assert [image_of(p).size for p in refs] == [(128, 128)] * 2
    assert calls[-1][0] == "reference_pngs" and "Mira" in calls[-1][1]["prompt"]
    assert len(calls[-1][1]["summary"].split()) <= 50

    chosen = chosen_references(plan)
    keys = renderer.keyframe_variants(plan, 1, chosen, [3, 4, 5])
    assert len(keys) == 3
    name, request = calls[-1]
    assert name == "keyframe_pngs" and request["prompt"] == plan.keyframes[1].prompt
    assert request["summary"] == plan.keyframes[1].clip_summary
    present = plan.subjects_at(1)
    assert request["reference_pngs"] == [chosen[s.id].png for s in present]
    assert request["reference_weights"] == [1.0 if s.kind == "character" else 0.6 for s in present]

    first = RenderedImage(variant=0, seed=3, png=keys[0])
    last = RenderedImage(variant=1, seed=4, png=keys[1])
    mp4 = renderer.clip(plan, 0, first, last, chosen, seed=9)
    assert calls[-1][0] == "clip_mp4" and calls[-1][1]["frames"] == plan.request.frames_per_clip
    assert calls[-1][1]["closing_frame"] is False
    assert plan.script.segments[0].action in calls[-1][1]["prompt"]
    assert mp4[4:8] == b"ftyp"
    result = renderer.keyframe_qc(plan, 1, chosen, keys)
    assert calls[-1][0] == "variant_scores" and len(result.variants) == 3 and result.best is not None
    assert len(calls) == 4  # one remote call each
    assert looked_up == [("filmstitch-gpu", "FluxWorker"), ("filmstitch-gpu", "LtxWorker")]  # looked up once

    # A request the engine refuses comes back as a ValueError on this side (the worker returned BadInput).
    bad = RenderedImage(variant=0, seed=3, png=b"junk")
    with pytest.raises(ValueError, match="first keyframe is not a readable image"):
        renderer.clip(plan, 1, bad, last, chosen, seed=9)
    assert calls[-1][0] == "clip_mp4"


def test_modal_renderer_says_the_flow_machine_needs_modal_credentials(plan: Any,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import modal

    for name in ("MODAL_TOKEN_ID", "MODAL_TOKEN_SECRET", "MODAL_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(modal.config, "_user_config", {})  # as if there were no ~/.modal.toml
    monkeypatch.setattr(modal.Cls, "from_name", lambda *a: pytest.fail("no lookup without credentials"))
    monkeypatch.setattr(gpu_renderers.ModalRenderer, "_workers", {})
    with pytest.raises(RuntimeError, match="needs Modal credentials on the machine that runs the flow"):
        get_renderer("modal").reference_variants(plan, plan.subjects[0], [1])


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
    keys = [get_renderer("local-gpu").keyframe_variants(plan, i, chosen, [i, i + 10]) for i in range(3)]
    refs = get_renderer("local-gpu").reference_variants(plan, plan.subjects[-1], [7])
    assert len(loads) == 1  # four renderer objects, one engine per device
    assert [image_of(p).size for p in [*keys[0], *refs]] == [(128, 128)] * 3

    for segment in range(2):
        first = RenderedImage(variant=0, seed=0, png=keys[segment][0])
        last = RenderedImage(variant=1, seed=11, png=keys[segment + 1][1])
        path = tmp_path / f"clip{segment}.mp4"
        path.write_bytes(get_renderer("local-gpu").clip(plan, segment, first, last, chosen, seed=5))
        info = probe(path)
        # The last segment's clip keeps its closing keyframe: the film has 2 x 8 + 1 frames.
        frames = plan.request.frames_per_clip + (segment == 1)
        assert (info.frames, info.width, info.height, info.fps) == (frames, 128, 128, 8.0)


class FakeEngine:
    """Stands in for an engine on a fake device: each job holds it for `seconds` (GPU work)."""

    def __init__(self, kind: str, device: str) -> None:
        self.kind, self.device = kind, device

    def work(self, seconds: float) -> str:
        time.sleep(seconds)
        return self.device


def run_jobs(pool: gpu_renderers.DevicePool, jobs: list[tuple[str, float]]) -> list[str]:
    """Run (kind, seconds) jobs from threads started together; returns the device each ran on, in job order."""
    used: list[str | None] = [None] * len(jobs)

    def job(i: int, kind: str, seconds: float) -> None:
        with pool.run(kind, lambda device: FakeEngine(kind, device)) as engine:
            assert engine.kind == kind
            used[i] = engine.work(seconds)

    threads = [threading.Thread(target=job, args=(i, *spec)) for i, spec in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return used


def test_device_pool_spreads_jobs_evenly_and_loads_each_engine_once_per_device(
        caplog: pytest.LogCaptureFixture) -> None:
    pool = gpu_renderers.DevicePool(["cuda:0", "cuda:1"], slots=2)
    caplog.set_level(logging.INFO, logger="filmstitch.renderers.gpu")
    # A film's worth of work on two GPUs: 15 image batches, then 10 clips (long enough that a loaded machine's
    # thread-scheduling jitter cannot reorder who finishes first).
    images = run_jobs(pool, [("image", 0.1)] * 15)
    clips = run_jobs(pool, [("video", 0.15)] * 10)
    # Even to within two jobs: a tie between two devices with one job running each goes to the one busy for less
    # time so far, and which device that is depends on the threads' timing.
    for done, total in ((Counter(images), 15), (Counter(clips), 10)):
        assert set(done) == {"cuda:0", "cuda:1"} and sum(done.values()) == total
        assert max(done.values()) - min(done.values()) <= 2, done
    assert sorted(pool.loads) == [("image", "cuda:0"), ("image", "cuda:1"), ("video", "cuda:0"), ("video", "cuda:1")]
    report = pool.busy_report()
    assert {d: r["jobs"] for d, r in report.items()} == {d: Counter(images)[d] + Counter(clips)[d]
                                                         for d in ("cuda:0", "cuda:1")}
    # Busy time is wall time with work: each device ran its image jobs of 0.1 s and its clips of 0.15 s, two at a
    # time, so at most all of them one after another.
    assert all(0.5 <= r["busy_s"] < 0.1 * Counter(images)[d] + 0.15 * Counter(clips)[d] + 1.0
               for d, r in report.items())
    assert any(re.match(r"cuda:1: job of \d+\.\d s; busy \d+\.\d s over \d+ jobs",
                        r.getMessage()) for r in caplog.records)


def test_device_pool_never_queues_a_job_behind_a_busy_device_while_another_is_idle() -> None:
    """cuda:0 runs a long clip; cuda:1 finishes a short one; the next clip must go to idle cuda:1, not to
    cuda:0's second slot (where it would wait for the engine while cuda:1 sits idle)."""
    pool = gpu_renderers.DevicePool(["cuda:0", "cuda:1"], slots=2)
    started = threading.Event()
    release = threading.Event()
    load = lambda device: FakeEngine("video", device)  # noqa: E731

    def long_clip() -> None:
        with pool.run("video", load):
            started.set()
            release.wait(10)

    first = threading.Thread(target=long_clip)
    first.start()
    started.wait(10)
    with pool.run("video", load) as engine:
        assert engine.device == "cuda:1"  # the idle device, not cuda:0's free slot
    with pool.run("video", load) as engine:
        assert engine.device == "cuda:1"  # still the only idle device
        with pool.run("video", load) as third:
            assert third.device == "cuda:0"  # both busy with one each: now cuda:0 takes a second
    release.set()
    first.join(10)
    assert pool.running == {"cuda:0": 0, "cuda:1": 0}



def test_busy_time_is_wall_time_with_work_overlapping_jobs_counted_once() -> None:
    pool = gpu_renderers.DevicePool(["cuda:0"], slots=2)
    run_jobs(pool, [("video", 0.4), ("video", 0.4)])  # two clips at once on one GPU
    assert 0.4 <= pool.busy_s["cuda:0"] < 0.7 and pool.jobs["cuda:0"] == 2


def test_device_pool_blocks_when_every_slot_is_taken_and_wakes_when_one_frees() -> None:
    pool = gpu_renderers.DevicePool(["cuda:0"], slots=1)
    order: list[str] = []

    def second() -> None:
        with pool.slot():
            order.append("second")

    with pool.slot():
        waiter = threading.Thread(target=second)
        waiter.start()
        time.sleep(0.2)
        assert order == [] and waiter.is_alive()  # waiting for the slot
        order.append("first done")
    waiter.join(10)
    assert order == ["first done", "second"]


def test_a_small_gpu_lets_the_image_engine_go_before_loading_the_video_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILMSTITCH_GPU_MEMORY_BUDGET_GB", "40")
    engines = gpu_renderers._LocalEngines()
    monkeypatch.setattr(gpu_renderers, "visible_devices", lambda settings: ["cuda:0"])
    monkeypatch.setattr(gpu_renderers, "load_engine", lambda kind, settings, device: FakeEngine(kind, device))
    monkeypatch.setattr("torch.cuda.empty_cache", lambda: None)
    with engines.run("image") as engine:
        assert engine.kind == "image"
    with engines.run("video"):
        pass
    assert ("image", "cuda:0") not in engines.pool.engines and ("video", "cuda:0") in engines.pool.engines


def test_reference_prompts_describe_the_subject_and_fit_clip(plan: Any) -> None:
    settings = gpu_renderers.GpuSettings()
    for subject in plan.subjects:
        request = gpu_renderers.reference_request(plan, subject, [1], settings)
        assert subject.name in request["prompt"] and len(request["summary"].split()) <= 50
        assert (request["width"], request["height"]) == (128, 128)  # square, at most the film's height
    environment = gpu_renderers.reference_request(plan, plan.subjects[-1], [1], settings)
    assert "no people" in environment["prompt"] and plan.environments[0].lighting in environment["prompt"]
    big = handmade_plan(segments=2, width=768, height=512)
    # At the size Redux's SigLIP reads (384), not the film's 512 rows: larger is GPU time nobody sees.
    assert gpu_renderers.reference_request(big, big.subjects[0], [1], settings)["width"] == 384
    klein = settings.model_copy(update={"image_engine": "flux2-klein"})
    assert gpu_renderers.reference_request(big, big.subjects[0], [1], klein)["width"] == 512
    assert np.array_equal(
        gpu_renderers.summary_words(" ".join(f"w{i}" for i in range(80))).split(), [f"w{i}" for i in range(50)]
    )


def test_keyframe_requests_carry_only_the_present_references_with_their_weights(plan: Any) -> None:
    settings = gpu_renderers.GpuSettings(character_reference_weight=0.9, environment_reference_weight=0.4)
    chosen = chosen_references(plan)
    mira, bolt, garden = (s.id for s in plan.subjects)
    even = gpu_renderers.keyframe_request(plan, 0, chosen, [1], settings)  # Bolt is not in keyframe 0
    assert even["reference_pngs"] == [chosen[mira].png, chosen[garden].png] and even["reference_weights"] == [0.9, 0.4]
    odd = gpu_renderers.keyframe_request(plan, 1, chosen, [1], settings)
    assert odd["reference_pngs"] == [chosen[mira].png, chosen[bolt].png, chosen[garden].png]


def test_the_video_prompt_is_visual_and_chronological_with_the_narration_last(plan: Any) -> None:
    moving = plan.model_copy(update={"script": plan.script.model_copy(update={"segments": [
        plan.script.segments[0].model_copy(update={"motion": "Mira climbs the rim as dust drifts behind her."}),
        *plan.script.segments[1:],
    ]})})
    prompt = gpu_renderers.video_prompt(moving, 0)
    assert prompt.startswith("Mira climbs the rim as dust drifts behind her.")
    env = plan.environments[0]
    assert env.lighting in prompt and "Mira is a slim astronaut in a white space suit" in prompt
    assert "Bolt is a small boxy robot" in prompt
    # Keyframe 0 is wide, keyframe 1 medium, the camera looks further right: the camera words say so.
    assert "The camera pushes in from a wide shot to a medium shot and pans slowly to the right." in prompt
    assert prompt.index("The camera") < prompt.index(plan.script.segments[0].narration.split()[0] + " crosses")
    assert gpu_renderers.video_prompt(plan, 0).startswith(plan.script.segments[0].action)  # no motion: the action
    assert len(gpu_renderers.video_prompt(plan, 1).split()) <= gpu_renderers.MAX_VIDEO_PROMPT_WORDS
    narration = plan.script.segments[0].narration
    assert narration in gpu_renderers.video_prompt(plan, 0)
    french = plan.model_copy(update={"script": plan.script.model_copy(update={"language": "fr"})})
    assert narration not in gpu_renderers.video_prompt(french, 0)  # a script in French: the prompt stays English


def test_clip_requests_refuse_clips_ltx_cannot_make_before_any_work(plan: Any) -> None:
    first = RenderedImage(variant=0, seed=0, png=png((1, 2, 3)))
    long_plan = handmade_plan(segments=2, width=128, height=128, fps=61 - 2, seconds=20.0)  # 1180 frames a clip
    with pytest.raises(ValueError, match="cannot be made with LTX-Video"):
        gpu_renderers.clip_request(long_plan, 0, first, first, 1, gpu_renderers.GpuSettings())
    request = gpu_renderers.clip_request(plan, 1, first, first, 1, gpu_renderers.GpuSettings())
    assert request["closing_frame"] is True and request["frames"] == 8


# ------------------------------------------------------------------------------ weights downloads


FLUX_MODEL_INDEX = {
    "_class_name": "FluxPipeline", "_diffusers_version": "0.30.0.dev0",
    "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
    "text_encoder_2": ["transformers", "T5EncoderModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
    "tokenizer_2": ["transformers", "T5TokenizerFast"], "transformer": ["diffusers", "FluxTransformer2DModel"],
    "vae": ["diffusers", "AutoencoderKL"],
}


def test_allow_lists_are_the_components_model_index_names() -> None:
    assert weights.allow_patterns(FLUX_MODEL_INDEX) == [
        "model_index.json", "scheduler/*", "text_encoder/*", "text_encoder_2/*", "tokenizer/*", "tokenizer_2/*",
        "transformer/*", "vae/*",
    ]
    redux = {"_class_name": "FluxPriorReduxPipeline", "feature_extractor": ["transformers", "SiglipImageProcessor"],
             "image_embedder": ["flux", "ReduxImageEncoder"], "image_encoder": ["transformers", "SiglipVisionModel"],
             "text_encoder": [None, None]}
    assert weights.allow_patterns(redux) == ["model_index.json", "feature_extractor/*", "image_embedder/*",
                                             "image_encoder/*"]
    with pytest.raises(ValueError, match="names no components"):
        weights.allow_patterns({"_class_name": "X"})


def test_downloads_fetch_allow_lists_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    fetched: list[tuple[str, dict[str, Any]]] = []

    def hf_hub_download(repo: str, filename: str, local_dir: Path, token: str | None) -> str:
        Path(local_dir).mkdir(parents=True, exist_ok=True)
        (Path(local_dir) / filename).write_text(json.dumps(FLUX_MODEL_INDEX))
        return str(Path(local_dir) / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda repo, **kw: fetched.append((repo, kw)))
    repos = weights.repos_for(gpu_renderers.GpuSettings())
    assert [r.folder for r in repos] == ["flux1-dev", "flux1-redux-dev", "flux1-kontext-dev", "flux1-fill-dev",
                                         "clip-vit-large-patch14", "ltx-video-0.9.5"]
    for repo in repos:
        weights.download(repo, tmp_path, token="hf_x")
    assert all("ignore_patterns" not in kw and kw["allow_patterns"] for _, kw in fetched)
    assert fetched[0][1]["allow_patterns"][0] == "model_index.json"
    assert fetched[4] == ("openai/clip-vit-large-patch14", {
        "local_dir": tmp_path / "clip-vit-large-patch14", "token": "hf_x",
        "allow_patterns": ["config.json", "model.safetensors", "preprocessor_config.json"]})
    klein = weights.repos_for(gpu_renderers.GpuSettings(image_engine="flux2-klein"))
    assert [r.folder for r in klein] == ["flux2-klein-4b", "flux1-kontext-dev", "flux1-fill-dev",
                                         "clip-vit-large-patch14", "ltx-video-0.9.5"]


def test_modal_renderer_edits_a_keyframe_on_the_edit_worker(
    tmp_path_factory: pytest.TempPathFactory, plan: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An instruction goes to Kontext, a region to Fill, each one remote call to the deployed EditWorker, whose
    `@modal.enter` reads the weights folders the settings name (the Volume's on Modal)."""
    import modal

    from filmstitch.modal_workers import film_gpu
    from filmstitch.models import KeyframeEdit, Region

    for name, value in save_tiny_weights(tmp_path_factory.mktemp("edit-weights"), edits=True).items():
        monkeypatch.setenv(name, value)
    calls: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(modal.Cls, "from_name", lambda app, name: LocalCls(getattr(film_gpu, name), calls))
    monkeypatch.setattr(gpu_renderers.ModalRenderer, "_workers", {})
    monkeypatch.setenv("MODAL_TOKEN_ID", "ak-test")
    monkeypatch.setenv("MODAL_TOKEN_SECRET", "as-test")
    renderer = get_renderer("modal")
    picture = RenderedImage(variant=0, seed=1, png=png((90, 120, 200)))
    edits = [KeyframeEdit(instruction="make her coat red"), KeyframeEdit(region=Region(x0=0, y0=0, x1=32, y1=32))]
    for edit in edits:
        renderer.check_edit(plan, 1, edit)
        variants = renderer.edit_keyframe(plan, 1, picture, edit, [3, 4])
        assert [image_of(v).size for v in variants] == [(128, 128)] * 2
    assert [name for name, _ in calls] == ["instruct_pngs", "repaint_pngs"]
    outside = np.asarray(image_of(variants[0]))[64:, 64:]  # Fill keeps every pixel outside the region
    assert (outside == np.asarray(image_of(picture.png))[64:, 64:]).all()
