"""Time the GPU engines on FULL-SIZE architectures with random weights: the one place the GPU numbers come from.

FLUX.1-dev (+ FLUX.1-Redux's SigLIP, the default reference path), FLUX.2 [klein] 4B and LTX-Video 0.9.5 are
built directly on the GPU in bf16 with random weights (the same compute and memory as the real ones; the
pictures are noise), then the *engine code* is timed: ``FluxImageEngine.keyframe_pngs`` (a keyframe batch
of 3 at 768x512 with three references: prompt encoding, Redux tokens, 28 steps, decode, PNGs),
``reference_pngs`` (a reference batch at 512x512), ``LtxVideoEngine.clip_frames`` (a 192-frame clip span:
193 frames generated at 24 fps, 40 CFG steps, decode) plus its MP4 encode.

Baseline (eager, no speed-ups: plain diffusers) and optimised (torch.compile, no idle GPU between steps,
...) run in the same process, the baseline before *and* after the optimised runs (A-B-A), every timing with
the GPU's clock, temperature and power. Lossless means "the optimised output equals eager within bf16
noise": the PSNR and largest pixel difference of the same seed's output are recorded; fast mode's and
FP8's deviation from the lossless output likewise. Random weights cannot show perceptual quality: a PSNR
here says how far the numbers moved, not how a real picture looks.

    python benchmarks/gpu_benchmark.py --part flux --out /tmp/bench     # on a CUDA machine
    python benchmarks/gpu_benchmark.py --part ltx --out /tmp/bench
    python benchmarks/gpu_benchmark.py --part film --out /tmp/bench      # GPU-seconds per film + wall-time model
    python benchmarks/gpu_benchmark.py --part ltx2 --out /tmp/bench      # LTX-2 19B against LTX-Video 0.9.5
    python benchmarks/gpu_benchmark.py --part memory40 --out /tmp/bench  # FLUX + Redux + QC under a 40 GB cap
    python benchmarks/gpu_benchmark.py --tiny --part all                 # CPU dry run of the same code
    python benchmarks/gpu_benchmark.py --tiny --part ltx2                # (and of the ltx2 and memory40 parts)

``--part ltx2`` times one clip of each video engine in the same process, per clip and per film of
``--film-clips``: LTX-Video 0.9.5 (``--video-steps``, eager and compiled) and LTX-2 19B with its Gemma 3 12B
text encoder offloaded to host memory (``--ltx2-steps``; eager, compiled, compiled + FP8), with each one's peak
memory and the offloaded text encoder's cost per new prompt. ``--part memory40`` caps the process at 40 GiB
(``torch.cuda.set_per_process_memory_fraction``, an A100-40GB's memory) and records the peak of a FLUX.1-dev
keyframe batch of 3 with FLUX.1-Redux references and the QC model (CLIP-L, or ``--qc dinov2``) loaded, at 768x512
and 1024x576, or the out-of-memory error.

Per-step time is (T(steps) - T(2)) / (steps - 2) of whole engine calls. Results go to ``<out>/<part>.json``
as they come (a run cut short keeps what it measured).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import math
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from filmstitch.engines import GpuSettings, runtime
from filmstitch.engines.flux import FluxImageEngine
from filmstitch.engines.flux2 import Flux2KleinImageEngine
from filmstitch.engines.frames import interpolate_frames
from filmstitch.engines.ltx import LtxVideoEngine, vae_decode_bytes
from filmstitch.engines.ltx2 import Ltx2VideoEngine
from filmstitch.engines.qc import EmbeddingScorer
from filmstitch.engines.references import ReduxEncoder, ReferenceEncoder
from filmstitch.testing import tiny_models as tiny
from filmstitch.video import concat_mp4, encode_mp4

GiB = 1024**3
LONG_PROMPT = (
    "cinematic film still, wide shot of an astronaut in a white suit with a gold visor walking across a grey "
    "moon crater at dawn, a small green garden of flowers growing from the dust, soft warm light, "
) * 6
SUMMARY = "astronaut in white suit walks to a green garden in a moon crater at dawn"
VIDEO_PROMPT = "An astronaut in a white suit walks across a grey crater towards a small green garden at dawn."
#: References present at a typical boundary: two characters and the location.
REFERENCE_WEIGHTS = [1.0, 1.0, 0.6]


class Bench:
    """Collects results, writes them after every stage, and knows how much time is left."""

    def __init__(self, out: Path, part: str, deadline_s: float) -> None:
        self.out, self.part = out, part
        self.start = time.perf_counter()
        self.deadline_s = deadline_s
        self.results: dict[str, Any] = {"part": part, "device": device_name(), "torch": torch.__version__}
        out.mkdir(parents=True, exist_ok=True)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def time_left(self) -> float:
        return self.deadline_s - self.elapsed()

    def stage(self, name: str) -> None:
        print(f"[{self.elapsed():6.1f}s] start {name}", flush=True)

    def record(self, key: str, value: Any) -> None:
        self.results[key] = value
        print(f"[{self.elapsed():6.1f}s] {key}: {json.dumps(value, default=str)}", flush=True)
        (self.out / f"{self.part}.json").write_text(json.dumps(self.results, indent=2, default=str))


class TimeLimit(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeLimit in the main thread after `seconds` (a compile that never finishes must not eat the call)."""
    if seconds <= 0 or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(_signum: int, _frame: object) -> None:
        raise TimeLimit(f"over {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def device_name() -> str:
    return torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    sync()
    start = time.perf_counter()
    result = fn()
    sync()
    return time.perf_counter() - start, result


def reset_peak() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_gib() -> float:
    return round(torch.cuda.max_memory_allocated() / GiB, 2) if torch.cuda.is_available() else 0.0


def allocated_gib() -> float:
    return round(torch.cuda.memory_allocated() / GiB, 2) if torch.cuda.is_available() else 0.0


def noise_image(width: int, height: int, seed: int) -> Image.Image:
    generator = torch.Generator().manual_seed(seed)
    pixels = (torch.rand(height, width, 3, generator=generator) * 255).to(torch.uint8).numpy()
    return Image.fromarray(pixels)


def gpu_state() -> dict[str, float]:
    """SM clock, temperature and power now: a GPU that heats up clocks down, and that is worth seeing
    next to a timing (the benchmark never changes the GPU's settings)."""
    import subprocess

    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=clocks.sm,temperature.gpu,power.draw", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.split("\n")[0]
        clock, temperature, power = (float(value) for value in out.split(","))
    except (OSError, subprocess.SubprocessError, ValueError):
        return {}
    return {"sm_clock_mhz": clock, "temperature_c": temperature, "power_w": power}


def psnr(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """PSNR (dB, 8-bit) and the largest difference between two same-shaped uint8 outputs."""
    diff = a.astype(np.float64) - b.astype(np.float64)
    mse = float(np.mean(diff**2))
    value = float("inf") if mse == 0 else 10 * math.log10(255.0**2 / mse)
    return {"psnr_db": round(value, 2) if math.isfinite(value) else "inf", "max_abs": int(np.abs(diff).max()),
            "mean_abs": round(float(np.abs(diff).mean()), 3)}


def undo_speed_ups(pipe: Any) -> None:
    """Back to plain eager for a second baseline: drop the compiled forward, the attention backend, the cache
    hook and the channels-last VAE layout that the optimised engines applied to the shared pipeline."""
    runtime.set_fast_cache(pipe.transformer, "none")  # first: the hook wraps the compiled block forwards
    runtime.uncompile(pipe.transformer, pipe.vae)
    pipe.transformer.set_attention_backend("native")
    pipe.vae.to(memory_format=torch.contiguous_format)


def mean_baseline(part: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The eager baseline measured before and again after the optimised runs (A-B-A), averaged, so a GPU
    that clocks down as it warms up does not flatter or penalise either side."""
    first, again = part.get(key), part.get(key + "_again")
    if not first or not again:
        return first
    return {**first, "call_s": round((first["call_s"] + again["call_s"]) / 2, 3),
            "ms_per_step": round((first["ms_per_step"] + again["ms_per_step"]) / 2, 1)}


def step_time(run: Callable[[int], Any], steps: int) -> tuple[dict[str, float], Any]:
    """Whole-call seconds at `steps` and at 2 steps, the per-step milliseconds they imply, and the full call's
    output (the same prompt and seeds in every measurement: what the PSNR comparisons compare)."""
    t_short, _ = timed(lambda: run(2))
    t_full, output = timed(lambda: run(steps))
    per_step = (t_full - t_short) / (steps - 2)
    return {
        "call_s": round(t_full, 3),
        "call_2_steps_s": round(t_short, 3),
        "ms_per_step": round(per_step * 1000, 1),
        # Everything in a call that is not a denoising step: text encoding, references, VAE, PNG/uint8 conversion.
        "overhead_s": round(t_full - steps * per_step, 3),
    }, output


def overlapped(call: Callable[[int], Any], calls: int) -> dict[str, float]:
    """One film stage as the renderer runs it on one GPU: ``calls`` calls, two at a time (``clips_per_gpu=2``
    slots: the local-gpu renderer's device pool, ``@modal.concurrent`` on Modal). The engine holds its lock only
    for GPU work, so one call's CPU work (PNG or MP4 encode, the keyframes' H.264 round trip) runs while the
    next call uses the GPU; the stage's wall time is what the GPU is held for."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        wall, _ = timed(lambda: list(pool.map(call, range(calls))))
    return {"calls": calls, "wall_s": round(wall, 3), "per_call_s": round(wall / calls, 3)}


# ------------------------------------------------------------------------------------------ FLUX


def build_redux(is_tiny: bool, device: torch.device, dtype: torch.dtype) -> ReduxEncoder:
    prior = tiny.tiny_redux_pipeline() if is_tiny else tiny.full_redux_pipeline(device, dtype)
    return ReduxEncoder(prior, GpuSettings().redux_tokens_per_side)


def build_reference_encoder(is_tiny: bool, device: torch.device, dtype: torch.dtype) -> ReferenceEncoder:
    """The clip-blend encoder (CLIP-L vision tower + text projection), for the comparison rows."""
    clip = tiny.tiny_clip_model() if is_tiny else tiny.full_clip_model(device, dtype)
    processor = tiny.tiny_clip_processor() if is_tiny else tiny.CLIPImageProcessor(
        size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224})
    from transformers import CLIPVisionModelWithProjection

    with tiny.building_on(device, dtype):
        vision = CLIPVisionModelWithProjection(clip.config.vision_config)
    vision.vision_model.load_state_dict(clip.vision_model.state_dict())
    vision.visual_projection.load_state_dict(clip.visual_projection.state_dict())
    return ReferenceEncoder(vision, processor, clip.text_projection.weight.detach())


def tiny_png(image: Image.Image) -> bytes:
    return runtime.png_bytes(image)


#: The settings each timed configuration adds to the eager baseline (GpuSettings fields). "lossless" must equal
#: eager within bf16 noise; the fast ones are lossy (fewer steps, TaylorSeer's predicted steps, FP8 matmuls).
LOSSLESS = {"optimise": True, "compile": True}


def configurations(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Label -> settings update, in the order they run (``--configs`` picks some). FP8 swaps the shared
    transformer's linear layers for good, so the FP8 configurations run last, after the second baseline.
    ``fast_steps_only`` is fast mode's step counts with nothing else lossy: what the cache's and FP8's own
    deviation is measured against."""
    compiled = {**LOSSLESS, "compile_mode": args.compile_mode, "compile_cache_dir": args.cache_dir}
    fast_bf16 = {**compiled, "fast": True, "fast_fp8": False}
    every = {
        "compiled": compiled,
        "compiled_full": {**compiled, "compile_scope": "full"},
        "fast_steps_only": {**fast_bf16, "fast_cache": "none"},
        "fast_bf16": fast_bf16,
        # ---- the second baseline runs here ----
        "fast": {**compiled, "fast": True},  # fast mode's defaults: FP8 on
        "fast_interval2": {**compiled, "fast": True, "fast_cache_interval": 2},
        "fast_interval4": {**compiled, "fast": True, "fast_cache_interval": 4},
    }
    chosen = args.configs.split(",") if args.configs else list(every)
    unknown = sorted(set(chosen) - set(every))
    if unknown:
        raise SystemExit(f"unknown configurations {unknown}: choose from {', '.join(every)}")
    return {name: every[name] for name in every if name in chosen}


BEFORE_SECOND_BASELINE = ("compiled", "compiled_full", "fast_steps_only", "fast_bf16")
#: The configurations whose film stages are measured whole (every call of the stage, two at a time): the
#: lossless path and fast mode, the two the GPU-seconds goals are about.
FILM_STAGES = ("compiled", "fast", "fast_interval2", "fast_interval4")


def compare(bench: Bench, prefix: str, name: str, output: np.ndarray, eager: np.ndarray | None,
            outputs: dict[str, np.ndarray]) -> None:
    """Record how far a configuration's output is from eager's, and a fast one's from fast mode's steps alone."""
    outputs[name] = output
    if eager is not None:
        bench.record(f"{prefix}_{name}_vs_eager", psnr(output, eager))
    if name.startswith("fast") and name != "fast_steps_only" and "fast_steps_only" in outputs:
        bench.record(f"{prefix}_{name}_vs_fast_steps_only", psnr(output, outputs["fast_steps_only"]))


def flux_part(bench: Bench, args: argparse.Namespace) -> None:
    device = torch.device("cuda" if not args.tiny else "cpu")
    dtype = torch.bfloat16 if not args.tiny else torch.float32
    width, height, steps = (768, 512, args.image_steps) if not args.tiny else (32, 32, 4)
    ref_side = GpuSettings().effective_reference_size if not args.tiny else 32
    big_w, big_h = (1024, 576) if not args.tiny else (64, 32)

    build_s, pipe = timed(lambda: tiny.tiny_flux_pipeline() if args.tiny else tiny.full_flux_pipeline(device, dtype))
    redux = build_redux(args.tiny, device, dtype)
    references = build_reference_encoder(args.tiny, device, dtype)
    bench.record("flux_build", {"seconds": round(build_s, 1), "weights_gib": round(runtime.module_bytes(
        pipe.transformer, pipe.text_encoder, pipe.text_encoder_2, pipe.vae) / GiB, 2),
        "redux_gib": round(runtime.module_bytes(redux.prior.image_encoder, redux.prior.image_embedder) / GiB, 2),
        "transformer_params_b": round(sum(p.numel() for p in pipe.transformer.parameters()) / 1e9, 2)})
    refs = [tiny_png(noise_image(ref_side, ref_side, i)) for i in range(len(REFERENCE_WEIGHTS))]
    bench.record("reference_side", ref_side)

    def keyframe_call(engine: FluxImageEngine, w: int, h: int) -> Callable[[int], Any]:
        def run(n_steps: int) -> np.ndarray:
            engine.settings = engine.settings.model_copy(update={"image_steps": n_steps, "fast_image_steps": n_steps})
            engine.encode.cache_clear()  # prompt encoding inside every timing, as in a real keyframe call
            pngs = engine.keyframe_pngs(LONG_PROMPT, SUMMARY, refs, [1, 2, 3], w, h, REFERENCE_WEIGHTS)
            return np.stack([np.asarray(runtime.open_image(data)) for data in pngs])
        return run

    def reference_call(engine: FluxImageEngine, side: int) -> dict[str, float]:
        """A reference batch of 3 (text only, square): the first call compiles its shape, the second is timed."""
        def run() -> Any:
            engine.encode.cache_clear()
            return engine.reference_pngs(LONG_PROMPT, SUMMARY, [1, 2, 3], side, side)
        first_s, _ = timed(run)
        call_s, _ = timed(run)
        return {"side": side, "call_s": round(call_s, 3), "first_call_s": round(first_s, 1)}

    def film_stages(engine: FluxImageEngine) -> dict[str, Any]:
        """The film's two image stages as the renderer runs them: its reference batches (one per subject), then
        its keyframe batches (one per boundary, with the same three chosen references), each call with its own
        prompt and two at a time on the GPU."""
        takes = iter(range(10**6))

        def reference(_i: int) -> Any:
            return engine.reference_pngs(f"{LONG_PROMPT} subject {next(takes)}", SUMMARY, [1, 2, 3], ref_side, ref_side)

        def keyframe(_i: int) -> Any:
            return engine.keyframe_pngs(f"{LONG_PROMPT} boundary {next(takes)}", SUMMARY, refs, [1, 2, 3], width,
                                        height, REFERENCE_WEIGHTS)

        return {"references": overlapped(reference, args.film_subjects),
                "keyframes": overlapped(keyframe, args.film_boundaries)}

    def measure(label: str, settings: GpuSettings, limit_s: float = 0,
                reference_sides: tuple[int, ...] = (), film: bool = False) -> np.ndarray | None:
        bench.stage(label)
        n_steps = settings.effective_image_steps
        try:
            with time_limit(limit_s):
                setup_s, engine = timed(lambda: FluxImageEngine.from_pipeline(pipe, settings, device, references,
                                                                              redux))
                run = keyframe_call(engine, width, height)
                warm_s, _ = timed(lambda: run(2))  # compiles here when compile is on
                reset_peak()
                result, output = step_time(run, n_steps)
                result["references"] = [reference_call(engine, side) for side in reference_sides]
                if film:  # after step_time: the engine is at the configuration's own step count
                    result["film_stages"] = film_stages(engine)
        except TimeLimit as exc:
            bench.record(label, {"failed": f"{exc}"})
            return None
        result.update(steps=n_steps, warmup_s=round(warm_s + setup_s, 1), peak_gib=peak_gib(),
                      optimisations=engine.optimisations, gpu=gpu_state())
        bench.record(label, result)
        return output

    base = GpuSettings(optimise=False, compile=False, image_steps=steps, reference_mode="redux")
    configs = configurations(args)
    if args.only_compiled:  # a second process: how long compiling takes with the cache already filled
        measure("flux_keyframe_batch3_compiled_warm_cache", base.model_copy(update=LOSSLESS | {
                    "compile_mode": args.compile_mode, "compile_cache_dir": args.cache_dir}),
                reference_sides=(ref_side,))
        return
    eager_out = measure("flux_keyframe_batch3_eager_baseline", base,
                        reference_sides=(ref_side,) if args.tiny else (512, ref_side))

    outputs: dict[str, np.ndarray] = {}

    def run_config(name: str) -> None:
        if name == "compiled_full" and not (args.tiny or bench.time_left() > 200):
            return  # optional: the whole-model compile, for comparison with the blocks (cold compile ~85 s)
        out = measure(f"flux_keyframe_batch3_{name}", base.model_copy(update=configs[name]),
                      limit_s=max(60.0, bench.time_left() - 60), reference_sides=(ref_side,),
                      film=name in FILM_STAGES and (args.tiny or bench.time_left() > 120))
        if out is not None:
            compare(bench, "flux", name, out, eager_out, outputs)

    for name in (name for name in configs if name in BEFORE_SECOND_BASELINE):
        run_config(name)
    undo_speed_ups(pipe)
    measure("flux_keyframe_batch3_eager_baseline_again", base)
    if args.extras:  # measured once and kept in the results: memory at 1024x576, klein, the clip-blend
        engine = FluxImageEngine.from_pipeline(pipe, base, device, references, redux)
        reset_peak()
        big_s, _ = timed(lambda: keyframe_call(engine, big_w, big_h)(2))
        bench.record("flux_1024x576_batch3_peak", {"peak_gib": peak_gib(), "call_2_steps_s": round(big_s, 2),
                                                   "t5_offloaded": engine.offload_text_encoder})
        klein_part(bench, args, device, dtype, width, height, refs)
        blend = FluxImageEngine.from_pipeline(pipe, base.model_copy(update={"reference_mode": "clip-blend"}), device,
                                              references, redux)
        blend_s, _ = timed(lambda: keyframe_call(blend, width, height)(steps))
        bench.record("flux_keyframe_batch3_eager_clip_blend", {"call_s": round(blend_s, 3),
                                                               "note": "the pooled clip-blend, for comparison"})
    for name in configs:
        if name not in BEFORE_SECOND_BASELINE:
            run_config(name)


def klein_part(bench: Bench, args: argparse.Namespace, device: torch.device, dtype: torch.dtype, width: int,
               height: int, refs: list[bytes]) -> None:
    """FLUX.2 [klein] 4B, the second image engine: a keyframe batch of 3 with the same three references."""
    bench.stage("klein")
    build_s, pipe = timed(lambda: tiny.tiny_flux2_klein_pipeline() if args.tiny else
                          tiny.full_flux2_klein_pipeline(device, dtype))
    settings = GpuSettings(optimise=False, image_engine="flux2-klein")
    if args.tiny:
        settings = settings.model_copy(update={"flux2_reference_pixels": 64 * 64, "flux2_max_tokens": 32})
    engine = Flux2KleinImageEngine.from_pipeline(pipe, settings, device)
    counter = iter(range(10**6))

    def run() -> Any:  # engine: ruff reads the del below as undefining it here; run() is done by then
        return engine.keyframe_pngs(f"{LONG_PROMPT} take {next(counter)}", SUMMARY, refs, [1, 2, 3], width, height,  # noqa: F821
                                    REFERENCE_WEIGHTS)

    warm_s, _ = timed(run)
    reset_peak()
    call_s, _ = timed(run)
    text_only_s, _ = timed(lambda: engine.reference_pngs(LONG_PROMPT, SUMMARY, [1, 2, 3], width, height))  # noqa: F821
    bench.record("klein_keyframe_batch3_eager", {
        "build_s": round(build_s, 1), "warmup_s": round(warm_s, 2), "call_s": round(call_s, 3),
        "no_references_call_s": round(text_only_s, 3), "steps": settings.flux2_steps, "peak_gib": peak_gib(),
        "weights_gib": round(runtime.module_bytes(pipe.transformer, pipe.text_encoder, pipe.vae) / GiB, 2),
        "gpu": gpu_state()})
    del engine, pipe
    reset_peak()


# ------------------------------------------------------------------------------------------ LTX


def ltx_part(bench: Bench, args: argparse.Namespace) -> None:
    device = torch.device("cuda" if not args.tiny else "cpu")
    dtype = torch.bfloat16 if not args.tiny else torch.float32
    width, height, steps, fps = (768, 512, args.video_steps, 24) if not args.tiny else (32, 32, 4, 24)
    big_w, big_h = (1024, 576) if not args.tiny else (64, 32)
    span = args.clip_frames if not args.tiny else 16

    build_s, pipe = timed(lambda: tiny.tiny_ltx_pipeline() if args.tiny else tiny.full_ltx_pipeline(device, dtype))
    bench.record("ltx_build", {"seconds": round(build_s, 1), "weights_gib": round(runtime.module_bytes(
        pipe.transformer, pipe.text_encoder, pipe.vae) / GiB, 2),
        "transformer_params_b": round(sum(p.numel() for p in pipe.transformer.parameters()) / 1e9, 2)})
    first, last = noise_image(width, height, 1), noise_image(width, height, 2)

    def clip_call(engine: LtxVideoEngine, w: int, h: int, f: Image.Image, l: Image.Image) -> Callable[[int], Any]:
        def run(n_steps: int) -> np.ndarray:
            engine.settings = engine.settings.model_copy(update={"video_steps": n_steps, "fast_video_steps": n_steps})
            engine.encode_text.cache_clear()  # the prompt's encoding inside every timing (the negative's too)
            return engine.clip_frames(f, l, VIDEO_PROMPT, 7, w, h, span, fps)
        return run

    def measure(label: str, settings: GpuSettings, limit_s: float = 0) -> np.ndarray | None:
        bench.stage(label)
        n_steps = settings.effective_video_steps
        try:
            with time_limit(limit_s):
                setup_s, engine = timed(lambda: LtxVideoEngine.from_pipeline(pipe, settings, device))
                run = clip_call(engine, width, height, first, last)
                warm_s, _ = timed(lambda: run(2))
                reset_peak()
                result, frames = step_time(run, n_steps)
        except TimeLimit as exc:
            bench.record(label, {"failed": f"{exc}"})
            return None
        timing = engine.timing(span)
        result.update(steps=n_steps, warmup_s=round(warm_s + setup_s, 1), peak_gib=peak_gib(),
                      generated_frames=timing.generated, frame_rate=fps / timing.divisor,
                      tiled=engine.last_tiling, optimisations=engine.optimisations, gpu=gpu_state())
        bench.record(label, result)
        return frames

    def worker_calls(label: str, settings: GpuSettings) -> None:
        """The whole worker call (PNGs in, MP4 bytes out): one alone, then the film's clip stage, its clips two at
        a time (clips_per_gpu=2), each with its own prompt (the negative prompt's encoding is cached, as in a film)."""
        engine = LtxVideoEngine.from_pipeline(pipe, settings, device)
        pngs = tiny_png(first), tiny_png(last)

        def clip_mp4(i: int) -> bytes:
            return engine.clip_mp4(*pngs, f"{VIDEO_PROMPT} Take {i}.", 7, width, height, span, fps)

        bench.record(f"ltx_clip_{label}_mp4_one_input", {"per_call_s": round(timed(lambda: clip_mp4(-1))[0], 3)})
        bench.record(f"ltx_clip_{label}_film_clips", overlapped(clip_mp4, args.film_clips))

    base = GpuSettings(optimise=False, compile=False, video_steps=steps)
    configs = configurations(args)
    if args.only_compiled:
        measure("ltx_clip_compiled_warm_cache", base.model_copy(update=LOSSLESS | {
                    "compile_mode": args.compile_mode, "compile_cache_dir": args.cache_dir}))
        return
    eager_frames = measure("ltx_clip_eager_baseline", base)

    encode_s, mp4 = timed(lambda: encode_mp4(eager_frames[:span], fps))  # one array, as the engine hands it over
    bench.record("ltx_mp4_encode", {"frames": span, "seconds": round(encode_s, 2), "bytes": len(mp4)})
    with tempfile.TemporaryDirectory() as tmp:  # the assembly: a film's clips stream-copied into one film
        paths = [Path(tmp) / f"c{i}.mp4" for i in range(args.film_clips)]
        for path in paths:
            path.write_bytes(mp4)
        concat_s, copied = timed(lambda: concat_mp4(paths, Path(tmp) / "film.mp4"))
    bench.record("assembly_concat", {"clips": len(paths), "seconds": round(concat_s, 3), "stream_copied": copied})

    outputs: dict[str, np.ndarray] = {}

    def run_config(name: str) -> None:
        if name == "compiled_full" and not (args.tiny or bench.time_left() > 150):
            return
        settings = base.model_copy(update=configs[name])
        frames = measure(f"ltx_clip_{name}", settings, limit_s=max(60.0, bench.time_left() - 60))
        if frames is None:
            return
        compare(bench, "ltx", name, frames, eager_frames, outputs)
        call_s = bench.results[f"ltx_clip_{name}"]["call_s"]
        if name in FILM_STAGES and (args.tiny or bench.time_left() > 30 + (args.film_clips + 1) * call_s):
            worker_calls(name, settings)

    for name in (name for name in configs if name in BEFORE_SECOND_BASELINE):
        run_config(name)
    undo_speed_ups(pipe)
    measure("ltx_clip_eager_baseline_again", base)
    if args.extras:  # measured once and kept in the results: memory at 1024x576, the CPU interpolation
        engine = LtxVideoEngine.from_pipeline(pipe, base.model_copy(update={"memory_budget_gb": 1000.0}), device)
        reset_peak()
        resident = allocated_gib()
        big_s, _ = timed(lambda: clip_call(engine, big_w, big_h, noise_image(big_w, big_h, 3),
                                           noise_image(big_w, big_h, 4))(2))
        bench.record("ltx_1024x576_peak_untiled", {"peak_gib": peak_gib(), "resident_gib": resident,
                                                   "tiled": engine.last_tiling, "call_2_steps_s": round(big_s, 2),
                                                   "decode_estimate_gib":
                                                       round(vae_decode_bytes(big_w, big_h, span + 1) / GiB, 2)})
        interp_s, _ = timed(lambda: interpolate_frames(eager_frames[::2].copy(), 2))
        bench.record("interpolation_cpu", {"source_frames": len(eager_frames[::2]), "seconds": round(interp_s, 2),
                                           "note": "ffmpeg minterpolate, CPU, outside the engine's GPU lock"})
    for name in configs:
        if name not in BEFORE_SECOND_BASELINE:
            run_config(name)



# ------------------------------------------------------------------------------------------ LTX-2 vs LTX-Video


def clip_rows(bench: Bench, label: str, engine: Any, run: Callable[[int], Any], steps: int, clips: int) -> Any:
    """One engine configuration: a 2-step warm-up (compiles), then the call at 2 and ``steps`` steps, with its
    peak memory and the film's clip stage it implies (``clips`` calls one after another)."""
    bench.stage(label)
    warm_s, _ = timed(lambda: run(2))
    reset_peak()
    result, output = step_time(run, steps)
    result.update(steps=steps, warmup_s=round(warm_s, 1), peak_gib=peak_gib(), optimisations=engine.optimisations,
                  per_film_s=round(result["call_s"] * clips, 1), gpu=gpu_state())
    bench.record(label, result)
    return output


def ltx2_part(bench: Bench, args: argparse.Namespace) -> None:
    device = torch.device("cuda" if not args.tiny else "cpu")
    dtype = torch.bfloat16 if not args.tiny else torch.float32
    width, height, fps = (768, 512, 24) if not args.tiny else (32, 32, 8)
    span = args.clip_frames if not args.tiny else 8
    video_steps, ltx2_steps = (args.video_steps, args.ltx2_steps) if not args.tiny else (3, 3)
    first, last = noise_image(width, height, 1), noise_image(width, height, 2)
    compiled = {**LOSSLESS, "compile_mode": args.compile_mode, "compile_cache_dir": args.cache_dir}

    # LTX-Video 0.9.5, the default engine, in the same process: eager and compiled.
    build_s, pipe = timed(lambda: tiny.tiny_ltx_pipeline() if args.tiny else tiny.full_ltx_pipeline(device, dtype))
    bench.record("ltx095_build", {"seconds": round(build_s, 1), "weights_gib": round(runtime.module_bytes(
        pipe.transformer, pipe.text_encoder, pipe.vae) / GiB, 2)})
    base = GpuSettings(optimise=False, compile=False, video_steps=video_steps)
    for name, update in (("eager", {}), ("compiled", compiled)):
        engine = LtxVideoEngine.from_pipeline(pipe, base.model_copy(update=update), device)

        def run(n: int, engine: LtxVideoEngine = engine) -> np.ndarray:
            engine.settings = engine.settings.model_copy(update={"video_steps": n})
            return engine.clip_frames(first, last, VIDEO_PROMPT, 7, width, height, span, fps)

        clip_rows(bench, f"ltx095_clip_{name}", engine, run, video_steps, args.film_clips)
    del pipe, engine
    reset_peak()

    # LTX-2 19B + Gemma 3 12B (built on the GPU, the text encoder then offloaded to host memory by the engine).
    build_s, pipe = timed(lambda: tiny.tiny_ltx2_pipeline() if args.tiny else tiny.full_ltx2_pipeline(device, dtype))
    bench.record("ltx2_build", {
        "seconds": round(build_s, 1),
        "transformer_gib": round(runtime.module_bytes(pipe.transformer) / GiB, 2),
        "text_encoder_gib": round(runtime.module_bytes(pipe.text_encoder) / GiB, 2),
        "rest_gib": round(runtime.module_bytes(pipe.connectors, pipe.vae, pipe.audio_vae, pipe.vocoder) / GiB, 2),
        "transformer_params_b": round(sum(p.numel() for p in pipe.transformer.parameters()) / 1e9, 2)})
    base2 = GpuSettings(optimise=False, compile=False, ltx2_steps=ltx2_steps, ltx2_text_encoder="offload")
    configs = [("eager", {}), ("compiled", compiled), ("fp8_compiled", {**compiled, "fp8": True})]  # FP8 last: it
    for name, update in configs:  # swaps the transformer's linear layers for good
        if name != "eager" and not args.tiny and bench.time_left() < 120:
            bench.record(f"ltx2_clip_{name}", {"skipped": "deadline"})
            continue
        engine2 = Ltx2VideoEngine.from_pipeline(pipe, base2.model_copy(update=update), device)
        if name == "eager":
            encode_s, _ = timed(lambda engine=engine2: engine.encode_text(f"{VIDEO_PROMPT} A new prompt."))
            bench.record("ltx2_text_encode_offloaded", {"seconds": round(encode_s, 2), "resident_gib": allocated_gib(),
                                                        "note": "Gemma moved in, run, moved out: once per new text"})

        def run2(n: int, engine: Ltx2VideoEngine = engine2) -> np.ndarray:
            engine.settings = engine.settings.model_copy(update={"ltx2_steps": n})
            return engine.clip(first, last, VIDEO_PROMPT, 7, width, height, span, fps).frames

        clip_rows(bench, f"ltx2_clip_{name}", engine2, run2, ltx2_steps, args.film_clips)
    # Like against like: LTX-2's clip over LTX-Video's in the same mode (FP8 against LTX-Video compiled).
    ratios = {}
    for name, _ in configs:
        ours = bench.results.get(f"ltx2_clip_{name}", {}).get("call_s")
        theirs = bench.results.get(f"ltx095_clip_{name.removeprefix('fp8_')}", {}).get("call_s")
        if ours and theirs:
            ratios[name] = round(ours / theirs, 2)
    bench.record("ltx2_over_ltx095_per_clip", ratios)


# ------------------------------------------------------------------------------------------ 40 GB cap


def memory40_part(bench: Bench, args: argparse.Namespace) -> None:
    """FLUX.1-dev + FLUX.1-Redux + the QC model in one process capped at ``--cap-gib`` (an A100-40GB), the engines
    told the same budget (so FLUX decides T5's residency and VAE slicing from it): a keyframe batch of 3 with three
    references at 768x512 and 1024x576, and the QC scores of the batch."""
    device = torch.device("cuda" if not args.tiny else "cpu")
    dtype = torch.bfloat16 if not args.tiny else torch.float32
    sizes = [(768, 512), (1024, 576)] if not args.tiny else [(32, 32), (64, 32)]
    steps = args.image_steps if not args.tiny else 3
    if device.type == "cuda":
        total = torch.cuda.get_device_properties(device).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, args.cap_gib * GiB / total), device)
    bench.record("cap", {"gib": args.cap_gib if device.type == "cuda" else None, "qc": args.qc})
    pipe = tiny.tiny_flux_pipeline() if args.tiny else tiny.full_flux_pipeline(device, dtype)
    redux = build_redux(args.tiny, device, dtype)
    if args.qc == "dinov2":
        from transformers import BitImageProcessor, Dinov2Config, Dinov2Model

        config = Dinov2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37,
                              image_size=32, patch_size=8) if args.tiny else Dinov2Config(
            hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096, patch_size=14)
        with tiny.building_on(device, dtype):
            qc_model = Dinov2Model(config)
        scorer = EmbeddingScorer(qc_model, BitImageProcessor(size={"shortest_edge": 224},
                                                             crop_size={"height": 224, "width": 224}), "dinov2")
    else:
        encoder = build_reference_encoder(args.tiny, device, dtype)
        processor = tiny.tiny_clip_processor() if args.tiny else tiny.CLIPImageProcessor(
            size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224})
        scorer = EmbeddingScorer(encoder.vision, processor, "clip-vit-large-patch14")
    settings = GpuSettings(image_steps=steps, memory_budget_gb=args.cap_gib, reference_mode="redux")
    engine = FluxImageEngine.from_pipeline(pipe, settings, device, redux=redux)
    bench.record("memory40_loaded", {"allocated_gib": allocated_gib(), "optimisations": engine.optimisations})
    refs = [tiny_png(noise_image(64, 64, i)) for i in range(len(REFERENCE_WEIGHTS))]
    for width, height in sizes:
        reset_peak()
        try:
            call_s, pngs = timed(lambda w=width, h=height: engine.keyframe_pngs(LONG_PROMPT, SUMMARY, refs, [1, 2, 3],
                                                                                w, h, REFERENCE_WEIGHTS))
            scorer.similarity_pngs(pngs, {"a": refs[0], "b": refs[1]})
            bench.record(f"memory40_{width}x{height}", {"peak_gib": peak_gib(), "call_s": round(call_s, 2),
                                                       "fits": True})
        except torch.OutOfMemoryError as exc:
            bench.record(f"memory40_{width}x{height}", {"fits": False, "error": str(exc).splitlines()[0][:200],
                                                       "peak_gib": peak_gib()})


# ------------------------------------------------------------------------------------------ film


def film_summary(out: Path, subjects: int = 4, boundaries: int = 11, clips: int = 10) -> dict[str, Any]:
    """GPU-seconds of one 10-segment film: `subjects` reference batches of 3, `boundaries` keyframe batches of 3
    (768x512, three references each) and `clips` LTX clips with their MP4 encode. Where a configuration's film
    stages were measured whole (each stage's calls two at a time, as the renderer runs them), a stage costs its
    measured wall time; otherwise the measured calls are added up, one at a time (the eager baseline: plain
    diffusers, a call at a time, each clip followed by its encode). Also the wall time from the last keyframe
    pick to the film with N warm containers (or GPUs). The baseline renders references at 512x512 (the size
    before they followed their reader); every other row at the reader's size (384 for FLUX.1-dev)."""
    try:
        flux = json.loads((out / "flux.json").read_text())
        ltx = json.loads((out / "ltx.json").read_text())
    except FileNotFoundError:
        return {}
    encode = ltx.get("ltx_mp4_encode", {}).get("seconds", 0.0)
    reader_side = flux.get("reference_side", GpuSettings().effective_reference_size)

    def call_s(row: dict[str, Any] | None) -> float | None:
        return None if not row or "failed" in row else row["call_s"]

    def reference_s(row: dict[str, Any] | None, side: int) -> float | None:
        found = [r["call_s"] for r in (row or {}).get("references", []) if r["side"] == side]
        return found[0] if found else None

    def image_s(row: dict[str, Any] | None, side: int) -> float | None:
        stages = (row or {}).get("film_stages")
        if stages:
            return stages["references"]["wall_s"] + stages["keyframes"]["wall_s"]
        key, ref = call_s(row), reference_s(row, side)
        return None if key is None or ref is None else subjects * ref + boundaries * key

    def video_s(name: str, row: dict[str, Any] | None) -> float | None:
        stage = ltx.get(f"ltx_clip_{name}_film_clips")
        if stage:
            return stage["wall_s"]
        return clips * (call_s(row) + encode) if call_s(row) else None

    baseline = flux.get("flux_keyframe_batch3_eager_baseline") or {}
    before = (baseline.get("references") or [{"side": reader_side}])[0]["side"]  # the size measured first: 512
    base_key = {**(mean_baseline(flux, "flux_keyframe_batch3_eager_baseline") or {}),
                "references": baseline.get("references", [])}
    base_clip = video_s("eager_baseline", mean_baseline(ltx, "ltx_clip_eager_baseline"))
    rows = {"baseline_eager": (image_s(base_key, before), base_clip),
            "baseline_eager_references_at_reader_size": (image_s(base_key, reader_side), base_clip)}
    for name in ("compiled", "compiled_full", "fast_steps_only", "fast_bf16", "fast", "fast_interval2",
                 "fast_interval4"):
        rows[name] = (image_s(flux.get(f"flux_keyframe_batch3_{name}"), reader_side),
                      video_s(name, ltx.get(f"ltx_clip_{name}")))
    summary: dict[str, Any] = {
        "assumes": f"{subjects} reference batches of 3, {boundaries} keyframe batches of 3 (768x512, 3 references), "
                   f"{clips} clips of 192 frames (193 generated at 24 fps)",
    }
    for name, (images, video) in rows.items():
        if images is not None and video is not None:
            measured = [bool((flux.get(f"flux_keyframe_batch3_{name}") or {}).get("film_stages")),
                        f"ltx_clip_{name}_film_clips" in ltx]
            stages = "measured" if all(measured) else "summed" if not any(measured) else "images or video measured"
            summary[name] = {"image_s": round(images, 1), "video_s": round(video, 1),
                             "film_s": round(images + video, 1), "stages": stages}
            if "baseline_eager" in summary and name != "baseline_eager":
                summary[name]["speedup"] = round(summary["baseline_eager"]["film_s"] / summary[name]["film_s"], 2)
    summary["wall_from_last_pick"] = {name: wall_model(ltx, name) for name in ("compiled", "fast")}
    (out / "film.json").write_text(json.dumps(summary, indent=2))
    print("film summary:", json.dumps(summary), flush=True)
    return summary


#: Not measurable here (no Modal account): a remote call's round trip and the link to the containers.
MODAL_CALL_OVERHEAD_S = 0.3
LINK_BYTES_PER_S = 100e6


def wall_model(ltx: dict[str, Any], name: str, clips: int = 10,
               gpus: tuple[int, ...] = (1, 2, 5, 10)) -> dict[str, Any]:
    """Seconds from the last pick to the film with N warm GPUs/containers running configuration `name`, each
    taking up to 2 clips at once: the first clip on a GPU costs a whole call, each further one what a further clip
    added to the measured clip stage ((stage - one call) / (clips - 1)); then the film is assembled. Transfers:
    two keyframe PNGs up and one MP4 down per clip over an assumed 100 MB/s link, plus an assumed 0.3 s per remote
    call (both assumptions, labelled)."""
    one = ltx.get(f"ltx_clip_{name}_mp4_one_input", {}).get("per_call_s")
    stage = ltx.get(f"ltx_clip_{name}_film_clips", {})
    # Without the stage's measurement, each further clip on a GPU is counted as a whole call (an upper bound).
    two = round((stage["wall_s"] - one) / (stage["calls"] - 1), 3) if one and stage.get("calls", 0) > 1 else one
    assembly = ltx.get("assembly_concat", {}).get("seconds")
    mp4_bytes = ltx.get("ltx_mp4_encode", {}).get("bytes", 0)
    if not (one and two and assembly is not None):
        return {}
    transfer = (mp4_bytes + 2 * 700_000) / LINK_BYTES_PER_S + MODAL_CALL_OVERHEAD_S
    model: dict[str, Any] = {"per_clip_one_s": one, "per_clip_overlapped_s": two, "assembly_s": assembly,
                             "transfer_per_clip_s": round(transfer, 3),
                             "assumptions": "100 MB/s link, 0.3 s per remote call; local GPUs: no transfer"}
    for n in gpus:
        per_gpu = math.ceil(clips / n)
        render = one + (per_gpu - 1) * two
        model[f"gpus_{n}"] = {"local_s": round(render + assembly, 1), "modal_s": round(render + transfer + assembly, 1)}
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["flux", "ltx", "all", "film", "ltx2", "memory40"], default="all")
    parser.add_argument("--tiny", action="store_true", help="CPU dry run with tiny pipelines (checks the script)")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "bench-out")))
    parser.add_argument("--image-steps", type=int, default=28)
    parser.add_argument("--video-steps", type=int, default=40)
    parser.add_argument("--clip-frames", type=int, default=192,
                        help="frames the film asks for per clip (8 s at 24 fps)")
    parser.add_argument("--compile-mode", default="default")
    parser.add_argument("--film-clips", type=int, default=10, help="clips per film (the clip stage, assembly)")
    parser.add_argument("--film-subjects", type=int, default=4, help="reference batches per film")
    parser.add_argument("--film-boundaries", type=int, default=11, help="keyframe batches per film")
    parser.add_argument("--cache-dir", default="/tmp/filmstitch-compile-cache", help="Inductor/Triton cache")
    parser.add_argument("--only-compiled", action="store_true", help="time only the compiled engine (cache reuse)")
    parser.add_argument("--configs", default="", help="comma-separated configurations to time (default: all)")
    parser.add_argument("--extras", action="store_true", help="also the one-off rows: 1024x576 peaks, klein, "
                        "the clip-blend, the CPU interpolation")
    parser.add_argument("--deadline", type=float, default=540.0, help="seconds before optional stages are skipped")
    parser.add_argument("--ltx2-steps", type=int, default=30, help="LTX-2 denoising steps (--part ltx2)")
    parser.add_argument("--cap-gib", type=float, default=40.0, help="memory cap of --part memory40")
    parser.add_argument("--qc", choices=["clip", "dinov2"], default="clip", help="QC model of --part memory40")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("filmstitch").setLevel(logging.INFO)
    if args.part == "film":
        film_summary(args.out, args.film_subjects, args.film_boundaries, args.film_clips)
        return
    if args.part in ("ltx2", "memory40"):
        bench = Bench(args.out, args.part, args.deadline)
        (ltx2_part if args.part == "ltx2" else memory40_part)(bench, args)
        bench.record("total_s", round(bench.elapsed(), 1))
        return
    for part in (["flux", "ltx"] if args.part == "all" else [args.part]):
        bench = Bench(args.out, part + ("-warm" if args.only_compiled else ""), args.deadline)
        (flux_part if part == "flux" else ltx_part)(bench, args)
        bench.record("total_s", round(bench.elapsed(), 1))
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    if not args.only_compiled:
        film_summary(args.out, args.film_subjects, args.film_boundaries, args.film_clips)


if __name__ == "__main__":
    main()
