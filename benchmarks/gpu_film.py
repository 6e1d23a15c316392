"""A whole film on the GPU: full-size random weights written to a weights directory, loaded by the real code.

Random weights make noise pictures; the point is that every byte path, shape and memory peak, the film's
frame count and its duration are those of a real film:

1. **weights**: ``save_pretrained`` of full-size FLUX.1-dev, FLUX.1-Redux-dev, CLIP-L and LTX-Video 0.9.5
   with random weights, in the layout of :mod:`filmstitch.engines.weights` (LTX's T5-XXL is a symbolic
   link to FLUX's, the same architecture: 9.5 GB less disk);
2. **the film**, stage by stage the way the flow runs it, through ``LocalGpuRenderer`` (engines loaded by
   ``from_pretrained`` from those folders): writing (the offline story engine), references,
   checkpoint 1 (auto: variant 0), keyframes with their continuity QC, checkpoint 2 (auto: the best QC
   score, one re-render of a boundary whose best score is under the threshold), clips, assembly
   (``filmstitch.video.concat_mp4``) and the seam QC. Wall time and peak GPU memory per stage, per-GPU busy
   time, the film's frame count and duration.

    python benchmarks/gpu_film.py --weights /root/weights --out $OUT --sizes 768x512:10,1024x576:2   # CUDA
    python benchmarks/gpu_film.py --tiny --out /tmp/film                                              # CPU dry run

``--video-engine ltx-2`` writes LTX-2 19B + Gemma 3 12B (random, ~66 GiB) instead of LTX-Video, renders the clips
with their sound (``clip_with_sound``) and records each clip's waveform length and the click at every cut of the
clips' sound stem with and without the cross-fade (:func:`filmstitch.sound.clips.seam_step`). The weights need
~100 GiB of disk with FLUX's: a 2-GPU machine's disk (128 GiB), or ``--weights`` on a larger volume.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from filmstitch.engines import weights as layout
from filmstitch.models import FilmPlan, FilmRequest, derive_seed
from filmstitch.renderers import RenderedImage
from filmstitch.renderers import gpu as gpu_renderers
from filmstitch.testing import tiny_models as tiny
from filmstitch.video import concat_mp4, decode_frames, probe
from filmstitch.writers.offline import OfflineWriter

GiB = 1024**3
IDEA = "a stranded astronaut on the moon walks around and discovers nature"
#: Settings the tiny dry run needs (small text sequences, few steps).
TINY_ENV = {"FILMSTITCH_GPU_DEVICE": "cpu", "FILMSTITCH_GPU_IMAGE_STEPS": "2", "FILMSTITCH_GPU_VIDEO_STEPS": "2",
            "FILMSTITCH_GPU_T5_MAX_TOKENS": "32", "FILMSTITCH_GPU_LTX2_STEPS": "2"}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def peak_gib() -> float:
    if not torch.cuda.is_available():
        return 0.0
    return round(max(torch.cuda.max_memory_allocated(i) for i in range(torch.cuda.device_count())) / GiB, 2)


def reset_peak() -> None:
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            torch.cuda.reset_peak_memory_stats(i)


def disk_free_gib(path: Path) -> float:
    path.mkdir(parents=True, exist_ok=True)
    return round(shutil.disk_usage(path).free / GiB, 1)


# ------------------------------------------------------------------------------------------ weights


def save_with_shared_t5(pipe: Any, target: Path, shared_t5: Path) -> None:
    """``save_pretrained`` of a pipeline, except its text_encoder folder, which links to an identical T5-XXL."""
    target.mkdir(parents=True, exist_ok=True)
    pipe.save_config(target)  # model_index.json
    for name in pipe.components:
        component = getattr(pipe, name)
        if name == "text_encoder":
            (target / name).unlink(missing_ok=True)
            os.symlink(os.path.relpath(shared_t5, target), target / name)
        elif component is not None:
            component.save_pretrained(target / name)


def write_weights(root: Path, is_tiny: bool, video_engine: str = "ltx-video-0.9.5") -> dict[str, Any]:
    """The random-weight folders, one model family at a time (each is built on the GPU, saved, dropped)."""
    marker = root / f"WRITTEN-{video_engine}"
    if marker.exists():
        return json.loads(marker.read_text())
    device, dtype = ("cpu", torch.float32) if is_tiny else ("cuda", torch.bfloat16)
    started = time.perf_counter()
    free_before = disk_free_gib(root)
    sizes: dict[str, int] = {}
    flux = tiny.tiny_flux_pipeline() if is_tiny else tiny.full_flux_pipeline(device, dtype)
    sizes |= tiny.save_pipelines(root, {layout.FLUX1_DEV.folder: flux})
    if video_engine == "ltx-2":
        del flux
        torch.cuda.empty_cache() if torch.cuda.is_available() else None
        ltx2 = tiny.tiny_ltx2_pipeline() if is_tiny else tiny.full_ltx2_pipeline(device, dtype)
        sizes |= tiny.save_pipelines(root, {layout.LTX2.folder: ltx2})
        del ltx2
    else:
        if is_tiny:
            ltx = tiny.tiny_ltx_pipeline()
            ltx.register_modules(text_encoder=flux.text_encoder_2)  # the same tiny T5 architecture
        else:
            ltx = tiny.full_ltx_pipeline(device, dtype, text_encoder=flux.text_encoder_2)
        del flux
        save_with_shared_t5(ltx, root / layout.LTX_VIDEO.folder, root / layout.FLUX1_DEV.folder / "text_encoder_2")
        del ltx
    torch.cuda.empty_cache() if torch.cuda.is_available() else None
    redux = tiny.tiny_redux_pipeline() if is_tiny else tiny.full_redux_pipeline(device, dtype)
    sizes |= tiny.save_pipelines(root, {layout.FLUX1_REDUX.folder: redux})
    del redux
    clip_dir = root / layout.CLIP_L.folder
    if is_tiny:
        tiny.save_tiny_clip(clip_dir)
    else:
        tiny.full_clip_model(device, dtype).save_pretrained(clip_dir)
        tiny.CLIPImageProcessor(size={"shortest_edge": 224},
                                crop_size={"height": 224, "width": 224}).save_pretrained(clip_dir)
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    record = {"seconds": round(time.perf_counter() - started, 1), "disk_gib": round(total / GiB, 2),
              "disk_free_before_gib": free_before, "disk_free_after_gib": disk_free_gib(root),
              "folders": sorted(p.name for p in root.iterdir() if p.is_dir())}
    marker.write_text(json.dumps(record))
    return record


def weights_env(root: Path, video_engine: str = "ltx-video-0.9.5") -> dict[str, str]:
    return {
        "FILMSTITCH_GPU_FLUX_DIR": str(root / layout.FLUX1_DEV.folder),
        "FILMSTITCH_GPU_REDUX_DIR": str(root / layout.FLUX1_REDUX.folder),
        "FILMSTITCH_GPU_LTX_DIR": str(root / layout.LTX_VIDEO.folder),
        "FILMSTITCH_GPU_LTX2_DIR": str(root / layout.LTX2.folder),
        "FILMSTITCH_GPU_VIDEO_ENGINE": video_engine,
        "FILMSTITCH_GPU_CLIP_VISION_DIR": str(root / layout.CLIP_L.folder),
    }


# ------------------------------------------------------------------------------------------ the film


class Stages:
    """Wall time and peak GPU memory of each stage of one film."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    def run(self, name: str, work: Callable[[], Any], **extra: Any) -> Any:
        reset_peak()
        started = time.perf_counter()
        result = work()
        self.rows[name] = {"wall_s": round(time.perf_counter() - started, 2), "peak_gib": peak_gib(), **extra}
        log(f"{name}: {self.rows[name]}")
        return result


def write_plan(request: FilmRequest) -> FilmPlan:
    writer = OfflineWriter()
    script = writer.write_script(request)
    characters = writer.describe_characters(request, script)
    environments = writer.describe_environments(request, script)
    keyframes = writer.write_keyframes(request, script, characters, environments)
    return FilmPlan(request=request, writer=writer.label, script=script, characters=characters,
                    environments=environments, keyframes=keyframes)


def film(request: FilmRequest, out: Path, workers: int) -> dict[str, Any]:
    """One film, stage by stage as the flow runs it (tasks fanned out in threads), on LocalGpuRenderer."""
    renderer = gpu_renderers.LocalGpuRenderer()
    stages = Stages()
    plan = stages.run("writing", lambda: write_plan(request))
    seeds = lambda *parts: [derive_seed(request.seed, *parts, v) for v in range(request.variants)]  # noqa: E731
    pool = ThreadPoolExecutor(max_workers=workers)

    def reference_stage() -> dict[str, RenderedImage]:
        variants = list(pool.map(lambda s: renderer.reference_variants(plan, s, seeds("ref", s.id)), plan.subjects))
        # Checkpoint 1 (auto): variant 0 of every subject.
        return {s.id: RenderedImage(variant=0, seed=seeds("ref", s.id)[0], png=v[0])
                for s, v in zip(plan.subjects, variants)}

    chosen = stages.run("references", reference_stage, batches=len(plan.subjects))
    retries: list[int] = []

    def keyframe(index: int) -> tuple[RenderedImage, Any]:
        refs = {s.id: chosen[s.id] for s in plan.subjects_at(index)}
        variant_seeds = seeds("key", index)
        variants = renderer.keyframe_variants(plan, index, refs, variant_seeds)
        qc = renderer.keyframe_qc(plan, index, refs, variants)
        if qc.needs_retry:  # --auto: one re-render of a boundary whose best variant scores under the threshold
            retries.append(index)
            variant_seeds = seeds("key-retry", index)
            again = renderer.keyframe_variants(plan, index, refs, variant_seeds)
            qc_again = renderer.keyframe_qc(plan, index, refs, again)
            if qc_again.variants[qc_again.best].score > qc.variants[qc.best].score:
                variants, qc = again, qc_again
        best = qc.best if qc.best is not None else 0
        return RenderedImage(variant=best, seed=variant_seeds[best], png=variants[best]), qc

    picked = stages.run("keyframes+qc", lambda: list(pool.map(keyframe, range(len(plan.keyframes)))),
                        batches=len(plan.keyframes))
    stages.rows["keyframes+qc"]["retried_boundaries"] = retries
    keys = [image for image, _ in picked]
    qcs = [qc for _, qc in picked]

    def clip(segment: int) -> Any:
        refs = {s.id: chosen[s.id] for s in plan.subjects_in_segment(segment)}
        return renderer.clip_with_sound(plan, segment, keys[segment], keys[segment + 1], refs,
                                        derive_seed(request.seed, "clip", segment))

    made = stages.run("clips", lambda: list(pool.map(clip, range(request.segments))), clips=request.segments)
    clips = [m.mp4 for m in made]
    sound = clip_sound_report(request, [m.wav for m in made]) if all(m.wav for m in made) else None

    folder = Path(tempfile.mkdtemp(prefix="filmstitch-film-"))  # $OUT takes few files: clips stay here

    def assemble() -> Path:
        paths = []
        for i, data in enumerate(clips):
            paths.append(folder / f"clip{i:02d}.mp4")
            paths[-1].write_bytes(data)
        concat_mp4(paths, folder / "film.mp4")
        return folder / "film.mp4"

    film_path = stages.run("assembly", assemble)
    seams = stages.run("seam-qc", lambda: renderer.seam_qc(plan, clips))
    info = probe(film_path, count_frames=True)
    expected = request.segments * request.frames_per_clip + 1
    film_bytes = film_path.stat().st_size
    contact_sheet(film_path, out / f"film-{request.width}x{request.height}.png")
    shutil.rmtree(folder, ignore_errors=True)
    pool.shutdown()
    return {
        "size": f"{request.width}x{request.height}", "segments": request.segments, "stages": stages.rows,
        "film": {"frames": info.frames, "expected_frames": expected, "duration_s": round(info.duration, 3),
                 "fps": info.fps, "bytes": film_bytes},
        "qc": {"method": qcs[0].method if qcs else None, "best_scores": [q.variants[q.best].score if q.best is not None
                                                                         else None for q in qcs],
               "seams": [s.model_dump() for s in seams]},
        "gpu_busy": gpu_renderers._ENGINES.configure()[1].busy_report(),
        **({"clip_sound": sound} if sound else {}),
    }


def clip_sound_report(request: FilmRequest, wavs: list[bytes]) -> dict[str, Any]:
    """LTX-2's clips' sound: each waveform's rate and length, and the click at every cut with and without the
    cross-fade the mix joins them with."""
    from filmstitch.sound.audio import from_wav
    from filmstitch.sound.clips import clip_sound_stem, seam_step
    from filmstitch.sound.timing import segment_start_sample

    samples = [from_wav(wav) for wav in wavs]
    cuts = [segment_start_sample(i, request.frames_per_clip, request.fps) for i in range(1, request.segments)]
    hard = clip_sound_stem(wavs, request.frames_per_clip, request.fps, crossfade_s=0.0)
    faded = clip_sound_stem(wavs, request.frames_per_clip, request.fps)
    return {"rate": samples[0][1], "seconds": [round(len(s) / rate, 3) for s, rate in samples],
            "segment_s": request.frames_per_clip / request.fps,
            "seam_step_hard": [round(seam_step(hard, cut), 2) for cut in cuts],
            "seam_step_crossfade": [round(seam_step(faded, cut), 2) for cut in cuts]}


def fast_clip(is_tiny: bool) -> dict[str, Any]:
    """Fast mode on the film's own LTX pipeline (cache hook, 20 steps, native motion): one 768x512 clip of 192
    frames at 2 and at 20 steps, against the default settings' clip at 2 and 40 steps."""
    from filmstitch.engines.ltx import LtxVideoEngine

    settings, pool = gpu_renderers._ENGINES.configure()
    engine = next(e for (kind, _), e in pool.engines.items() if kind == "video")
    width, height, span = (128, 128, 8) if is_tiny else (768, 512, 192)
    first, last = (Image.new("RGB", (width, height), c) for c in ((200, 40, 40), (40, 40, 200)))
    rows: dict[str, Any] = {}
    for label, update in (("default", {}), ("fast", {"fast": True})):
        clip_engine = LtxVideoEngine.from_pipeline(engine.pipe, settings.model_copy(update=update), engine.device)
        for steps in (2, clip_engine.settings.effective_video_steps):
            clip_engine.settings = clip_engine.settings.model_copy(update={"video_steps": steps,
                                                                           "fast_video_steps": steps})
            t0 = time.perf_counter()
            clip_engine.clip_frames(first, last, "a figure walks across a crater", 3, width, height, span, 24)
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            rows[f"{label}_{steps}_steps_s"] = round(time.perf_counter() - t0, 3)
        rows[f"{label}_optimisations"] = clip_engine.optimisations
    LtxVideoEngine.from_pipeline(engine.pipe, settings, engine.device)  # the hook off again
    log(f"ltx fast clip: {rows}")
    return rows


def contact_sheet(film_path: Path, target: Path, count: int = 8) -> None:
    """Evenly spaced frames of the film side by side, small: to look at what came out (noise, not black)."""
    frames = decode_frames(film_path)
    picks = [frames[round(i * (len(frames) - 1) / (count - 1))] for i in range(count)]
    thumbs = [Image.fromarray(frame).resize((192, 128)) for frame in picks]
    sheet = Image.new("RGB", (192 * count, 128))
    for i, thumb in enumerate(thumbs):
        sheet.paste(thumb, (192 * i, 0))
    sheet.save(target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=Path("/root/filmstitch-weights"))
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "film-out")))
    parser.add_argument("--sizes", default="768x512:10,1024x576:2", help="WIDTHxHEIGHT:SEGMENTS, comma-separated")
    parser.add_argument("--tiny", action="store_true", help="CPU dry run: tiny pipelines, 128x128, 1 s segments")
    parser.add_argument("--deadline", type=float, default=560.0, help="seconds after which no further film starts")
    parser.add_argument("--keep-weights", action="store_true", help="leave the weights folder for another run")
    parser.add_argument("--fast-clip", action="store_true",
                        help="afterwards, time one fast-mode clip on the loaded LTX")
    parser.add_argument("--video-engine", choices=["ltx-video-0.9.5", "ltx-2"], default="ltx-video-0.9.5")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("filmstitch").setLevel(logging.INFO)
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
                               "torch": torch.__version__}

    def save() -> None:
        (args.out / ("film-tiny.json" if args.tiny else "film-run.json")).write_text(json.dumps(results, indent=2))

    log(f"weights -> {args.weights} ({disk_free_gib(args.weights)} GiB free)")
    results["weights"] = write_weights(args.weights, args.tiny, args.video_engine)
    results["video_engine"] = args.video_engine
    log(f"weights: {results['weights']}")
    save()
    os.environ.update(weights_env(args.weights, args.video_engine) | (TINY_ENV if args.tiny else {}))
    gpu_renderers._ENGINES.reset()
    settings, pool = gpu_renderers._ENGINES.configure()
    loads = {}
    for kind in ("image", "video", "qc"):  # loaded once per GPU, before the stages (the first task would do it)
        reset_peak()
        t0 = time.perf_counter()
        with gpu_renderers._ENGINES.run(kind):
            pass
        loads[kind] = {"seconds": round(time.perf_counter() - t0, 1), "peak_gib": peak_gib()}
    results["engine_loads"] = loads
    log(f"engines loaded: {loads}")
    save()
    workers = settings.clips_per_gpu * len(pool.devices)
    for spec in args.sizes.split(","):
        size, segments = spec.split(":")
        width, height = (int(v) for v in size.split("x"))
        if args.tiny:
            width, height = 128, 128
        if time.perf_counter() - started > args.deadline:
            log(f"skipping {spec}: past the deadline")
            continue
        request = FilmRequest(idea=IDEA, segments=int(segments), width=width, height=height,
                              **({"seconds_per_segment": 1.0, "fps": 8} if args.tiny else {}))
        log(f"film {width}x{height}, {segments} segments, {request.frames_per_clip} frames per clip")
        try:
            results[f"film_{width}x{height}"] = film(request, args.out, workers)
        except Exception as exc:  # noqa: BLE001 - a failed film must not lose the ones measured before it
            import traceback

            traceback.print_exc()
            results[f"film_{width}x{height}"] = {"failed": f"{type(exc).__name__}: {exc}"}
            log(f"FAILED {spec}: {type(exc).__name__}: {exc}")
        save()
    if args.fast_clip and args.video_engine != "ltx-2" and time.perf_counter() - started < args.deadline + 60:
        results["ltx_fast_clip"] = fast_clip(args.tiny)
        save()
    results["total_s"] = round(time.perf_counter() - started, 1)
    save()
    log(json.dumps({k: v for k, v in results.items() if k.startswith("film_")}, default=str)[:3000])
    if not args.keep_weights and not args.tiny:
        shutil.rmtree(args.weights, ignore_errors=True)


if __name__ == "__main__":
    main()
