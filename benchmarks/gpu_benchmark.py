"""Time the GPU engines on FULL-SIZE FLUX.1-dev and LTX-Video 0.9.5 architectures with random weights.

Random weights take the same compute and memory as the real ones, so the timings and peaks hold for real
films (the pictures are noise). Everything is built directly on the GPU in bf16, then the *engine code*
(``FluxImageEngine.keyframe_pngs``, ``LtxVideoEngine.clip_frames`` + ``encode_mp4``) is timed, baseline
(eager, no speed-ups) and optimised (torch.compile, channels-last VAE, no idle GPU between steps, ...) in the same
process.

    python benchmarks/gpu_benchmark.py --part flux --out /tmp/bench     # on a CUDA machine
    python benchmarks/gpu_benchmark.py --part ltx --out /tmp/bench
    python benchmarks/gpu_benchmark.py --tiny --part all                 # CPU dry run of the same code

Per-step time is (T(steps) - T(2)) / (steps - 2) of whole engine calls, so it is comparable with the
per-step baselines in shared/FACTS.md (FLUX 768x512 batch 3: 224.9 ms, LTX 768x512x97 CFG: 138.7 ms).
Results go to ``<out>/<part>.json`` as they come (a run cut short keeps what it measured).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from filmstitch.engines import (
    GpuSettings,
    tiny,
)
from filmstitch.engines import runtime as rt
from filmstitch.engines.flux import FluxImageEngine, ReferenceEncoder
from filmstitch.engines.ltx import LtxVideoEngine, vae_decode_bytes
from filmstitch.video import encode_mp4

GiB = 1024**3
LONG_PROMPT = (
    "cinematic film still, wide shot of an astronaut in a white suit with a gold visor walking across a grey "
    "moon crater at dawn, a small green garden of flowers growing from the dust, soft warm light, "
) * 6
SUMMARY = "astronaut in white suit walks to a green garden in a moon crater at dawn"


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
    """SM clock, temperature and power now: an H100 that heats up clocks down, and that is worth seeing
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


def undo_speed_ups(pipe: Any) -> None:
    """Back to plain eager for a second baseline: drop the compiled forward, the attention backend and the
    channels-last VAE layout that the optimised engines applied to the shared pipeline."""
    pipe.transformer._compiled_call_impl = None  # what nn.Module.compile() set
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


def step_time(run: Callable[[int], Any], steps: int) -> dict[str, float]:
    """Whole-call seconds at `steps` and at 2 steps, and the per-step milliseconds they imply."""
    t_short, _ = timed(lambda: run(2))
    t_full, _ = timed(lambda: run(steps))
    per_step = (t_full - t_short) / (steps - 2)
    return {
        "call_s": round(t_full, 3),
        "call_2_steps_s": round(t_short, 3),
        "ms_per_step": round(per_step * 1000, 1),
        # Everything in a call that is not a denoising step: text encoding, VAE, PNG/uint8 conversion.
        "overhead_s": round(t_full - steps * per_step, 3),
    }


def overlapped(call: Callable[[int], Any], calls: int) -> dict[str, float]:
    """Seconds the GPU is held per call when it takes two calls at once (``clips_per_gpu=2``: the local-gpu
    renderer, ``@modal.concurrent`` on Modal): the engine holds its lock only for GPU work, so one clip's
    MP4 encode (CPU) runs while the next clip denoises."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        wall, _ = timed(lambda: list(pool.map(call, range(calls))))
    return {"calls": calls, "wall_s": round(wall, 3), "per_call_s": round(wall / calls, 3)}


# ------------------------------------------------------------------------------------------ FLUX


def flux_part(bench: Bench, args: argparse.Namespace) -> None:
    device = torch.device("cuda" if not args.tiny else "cpu")
    dtype = torch.bfloat16 if not args.tiny else torch.float32
    width, height, steps = (768, 512, args.image_steps) if not args.tiny else (32, 32, 4)
    big_w, big_h = (1024, 576) if not args.tiny else (64, 32)

    build_s, pipe = timed(lambda: tiny.tiny_flux_pipeline() if args.tiny else tiny.full_flux_pipeline(device, dtype))
    references = build_reference_encoder(args.tiny, device, dtype)
    bench.record("flux_build", {"seconds": round(build_s, 1), "weights_gib": round(rt.module_bytes(
        pipe.transformer, pipe.text_encoder, pipe.text_encoder_2, pipe.vae) / GiB, 2),
        "transformer_params_b": round(sum(p.numel() for p in pipe.transformer.parameters()) / 1e9, 2)})
    refs = [tiny_png(noise_image(width, height, i)) for i in range(2)]
    counter = iter(range(10**6))

    def keyframe_call(engine: FluxImageEngine, w: int, h: int) -> Callable[[int], Any]:
        def run(n_steps: int) -> Any:
            engine.settings = engine.settings.model_copy(update={"image_steps": n_steps, "fast_image_steps": n_steps})
            # A fresh prompt every call, so prompt encoding is inside the timing as in a real keyframe call.
            return engine.keyframe_pngs(f"{LONG_PROMPT} take {next(counter)}", SUMMARY, refs, [1, 2, 3], w, h)
        return run

    def measure(label: str, settings: GpuSettings, n_steps: int, budget_note: str = "") -> FluxImageEngine:
        bench.stage(label)
        compile_s, engine = timed(lambda: FluxImageEngine.from_pipeline(pipe, settings, device, references))
        run = keyframe_call(engine, width, height)
        warm_s, _ = timed(lambda: run(2))  # compiles here when compile is on
        reset_peak()
        result = step_time(run, n_steps)
        result.update(steps=n_steps, warmup_s=round(warm_s + compile_s, 1), peak_gib=peak_gib(),
                      optimisations=engine.optimisations, note=budget_note, gpu=gpu_state())
        bench.record(label, result)
        return engine

    base = GpuSettings(optimise=False, compile=False, image_steps=steps, reference_weight=0.3)
    if args.only_fp8:
        fast = base.model_copy(update={"optimise": True, "compile": True, "fast": True, "fp8": True, "compile_cache_dir": args.cache_dir})
        measure("flux_keyframe_batch3_fast_fp8_compiled", fast, fast.fast_image_steps)
        return
    if args.only_compiled:  # a second process: how long compiling takes with the cache already filled
        measure("flux_keyframe_batch3_compiled_warm_cache", base.model_copy(update={
            "optimise": True, "compile": True, "compile_cache_dir": args.cache_dir}), steps)
        return
    measure("flux_keyframe_batch3_eager_baseline", base, steps)

    # Peak memory at 1024x576 (eager: compiled kernels would need a recompile for the new shape).
    engine = FluxImageEngine.from_pipeline(pipe, base, device, references)
    reset_peak()
    big_s, _ = timed(lambda: keyframe_call(engine, big_w, big_h)(2))
    bench.record("flux_1024x576_batch3_peak", {"peak_gib": peak_gib(), "call_2_steps_s": round(big_s, 2),
                                               "t5_offloaded": engine.offload_text_encoder})

    opt = base.model_copy(update={"optimise": True, "attention_backend": args.attention or None})
    measure("flux_keyframe_batch3_eager_optimised", opt, steps)
    pipe.transformer.set_attention_backend("native")

    if bench.time_left() > 240:  # on the CPU (--tiny) compile is a no-op: a dry run of this code
        compiled = opt.model_copy(update={"compile": True, "compile_mode": args.compile_mode,
                                          "compile_cache_dir": args.cache_dir})
        engine = measure("flux_keyframe_batch3_compiled", compiled, steps)
        fast_steps = compiled.fast_image_steps
        fast_s, _ = timed(lambda: keyframe_call(engine, width, height)(fast_steps))
        bench.record("flux_keyframe_batch3_fast_steps", {"steps": fast_steps, "call_s": round(fast_s, 3)})
        undo_speed_ups(pipe)
        measure("flux_keyframe_batch3_eager_baseline_again", base, steps)


def build_reference_encoder(is_tiny: bool, device: torch.device, dtype: torch.dtype) -> ReferenceEncoder:
    if is_tiny:
        clip = tiny.tiny_clip_model()
        processor = tiny.tiny_clip_processor()
    else:
        clip = tiny.full_clip_model(device, dtype)
        processor = tiny.CLIPImageProcessor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224})
    from transformers import CLIPVisionModelWithProjection

    with tiny.building_on(device, dtype):
        vision = CLIPVisionModelWithProjection(clip.config.vision_config)
    vision.vision_model.load_state_dict(clip.vision_model.state_dict())
    vision.visual_projection.load_state_dict(clip.visual_projection.state_dict())
    return ReferenceEncoder(vision, processor, clip.text_projection.weight.detach())


def tiny_png(image: Image.Image) -> bytes:
    return rt.png_bytes(image)


# ------------------------------------------------------------------------------------------ LTX


def ltx_part(bench: Bench, args: argparse.Namespace) -> None:
    device = torch.device("cuda" if not args.tiny else "cpu")
    dtype = torch.bfloat16 if not args.tiny else torch.float32
    width, height, steps, fps = (768, 512, args.video_steps, 24) if not args.tiny else (32, 32, 4, 24)
    big_w, big_h = (1024, 576) if not args.tiny else (64, 32)
    requested = args.clip_frames

    build_s, pipe = timed(lambda: tiny.tiny_ltx_pipeline() if args.tiny else tiny.full_ltx_pipeline(device, dtype))
    bench.record("ltx_build", {"seconds": round(build_s, 1), "weights_gib": round(rt.module_bytes(
        pipe.transformer, pipe.text_encoder, pipe.vae) / GiB, 2),
        "transformer_params_b": round(sum(p.numel() for p in pipe.transformer.parameters()) / 1e9, 2)})
    first, last = noise_image(width, height, 1), noise_image(width, height, 2)

    def clip_call(engine: LtxVideoEngine, w: int, h: int, f: Image.Image, l: Image.Image) -> Callable[[int], Any]:
        def run(n_steps: int) -> Any:
            engine.settings = engine.settings.model_copy(update={"video_steps": n_steps, "fast_video_steps": n_steps})
            return engine.clip_frames(f, l, "an astronaut walks to a garden on the moon", 7, w, h, requested, fps)
        return run

    def measure(label: str, settings: GpuSettings, n_steps: int) -> LtxVideoEngine:
        bench.stage(label)
        setup_s, engine = timed(lambda: LtxVideoEngine.from_pipeline(pipe, settings, device))
        run = clip_call(engine, width, height, first, last)
        warm_s, _ = timed(lambda: run(2))
        reset_peak()
        result = step_time(run, n_steps)
        result.update(steps=n_steps, warmup_s=round(warm_s + setup_s, 1), peak_gib=peak_gib(),
                      tiled=engine.last_tiling, optimisations=engine.optimisations, gpu=gpu_state())
        bench.record(label, result)
        return engine

    base = GpuSettings(optimise=False, compile=False, video_steps=steps)
    if args.only_fp8:
        fast = base.model_copy(update={"optimise": True, "compile": True, "fast": True, "fp8": True, "compile_cache_dir": args.cache_dir})
        measure("ltx_clip_fast_fp8_compiled", fast, fast.fast_video_steps)
        return
    if args.only_compiled:
        measure("ltx_clip_compiled_warm_cache", base.model_copy(update={
            "optimise": True, "compile": True, "compile_cache_dir": args.cache_dir}), steps)
        return
    engine = measure("ltx_clip_eager_baseline", base, steps)

    frames = clip_call(engine, width, height, first, last)(2)
    encode_s, mp4 = timed(lambda: encode_mp4(frames, fps))  # one array, as the engine hands it over
    bench.record("ltx_mp4_encode", {"frames": len(frames), "seconds": round(encode_s, 2), "bytes": len(mp4)})

    # Peak at 1024x576, untiled and with the engine's own decision under a 40 GB budget.
    big_first, big_last = noise_image(big_w, big_h, 3), noise_image(big_w, big_h, 4)
    for label, budget in (("ltx_1024x576_peak_untiled", 1000.0), ("ltx_1024x576_peak_budget40", 40.0)):
        engine = LtxVideoEngine.from_pipeline(pipe, base.model_copy(update={"memory_budget_gb": budget}), device)
        reset_peak()
        resident = allocated_gib()
        big_run = clip_call(engine, big_w, big_h, big_first, big_last)
        big_s, _ = timed(lambda run=big_run: run(2))
        bench.record(label, {"peak_gib": peak_gib(), "resident_gib": resident, "tiled": engine.last_tiling,
                             "decode_estimate_gib": round(vae_decode_bytes(big_w, big_h, 97) / GiB, 2),
                             "call_2_steps_s": round(big_s, 2)})

    opt = base.model_copy(update={"optimise": True, "attention_backend": args.attention or None})
    measure("ltx_clip_eager_optimised", opt, steps)
    pipe.transformer.set_attention_backend("native")

    if bench.time_left() > 200:
        compiled = opt.model_copy(update={"compile": True, "compile_mode": args.compile_mode,
                                          "compile_cache_dir": args.cache_dir})
        engine = measure("ltx_clip_compiled", compiled, steps)
        pngs = tiny_png(first), tiny_png(last)

        def clip_mp4(_i: int) -> bytes:  # the whole worker call: PNGs in, MP4 bytes out
            return engine.clip_mp4(*pngs, "an astronaut walks to a garden on the moon", 7, width, height, requested, fps)

        bench.record("ltx_clip_compiled_mp4_one_input", {"per_call_s": round(timed(lambda: clip_mp4(0))[0], 3)})
        bench.record("ltx_clip_compiled_mp4_two_inputs", overlapped(clip_mp4, args.film_clips))
        fast_steps = compiled.fast_video_steps
        fast_s, _ = timed(lambda: clip_call(engine, width, height, first, last)(fast_steps))
        bench.record("ltx_clip_fast_steps", {"steps": fast_steps, "call_s": round(fast_s, 3)})
        undo_speed_ups(pipe)
        measure("ltx_clip_eager_baseline_again", base, steps)


def film_summary(out: Path, subjects: int = 4, boundaries: int = 11, clips: int = 10) -> dict[str, Any]:
    """GPU-seconds of one 10-segment film from the measured calls: (subjects + boundaries) FLUX batches of 3
    (reference batches are timed as keyframe batches, a slight over-estimate) plus `clips` LTX clips, each
    with its MP4 encode (the GPU is held while it encodes).

    "optimised" is the film on one GPU with the speed-ups on: FLUX batches one at a time, the clips two at
    a time (``clips_per_gpu=2``), so a clip's encode overlaps the next one's denoising;
    "optimised_one_clip_at_a_time" is the same engines with ``clips_per_gpu=1``.
    """
    try:
        flux = json.loads((out / "flux.json").read_text())
        ltx = json.loads((out / "ltx.json").read_text())
    except FileNotFoundError:
        return {}
    encode = ltx.get("ltx_mp4_encode", {}).get("seconds", 0.0)
    batches = subjects + boundaries

    def seconds(row: dict[str, Any] | None, add: float = 0.0) -> float | None:
        if not row:
            return None
        return row["per_call_s"] if "per_call_s" in row else row["call_s"] + add

    rows = {
        "baseline_eager": (mean_baseline(flux, "flux_keyframe_batch3_eager_baseline"),
                           seconds(mean_baseline(ltx, "ltx_clip_eager_baseline"), encode)),
        "optimised_one_clip_at_a_time": (flux.get("flux_keyframe_batch3_compiled"),
                                         seconds(ltx.get("ltx_clip_compiled_mp4_one_input"))),
        "optimised": (flux.get("flux_keyframe_batch3_compiled"), seconds(ltx.get("ltx_clip_compiled_mp4_two_inputs"))),
        "fast_mode": (flux.get("flux_keyframe_batch3_fast_steps"), seconds(ltx.get("ltx_clip_fast_steps"), encode)),
    }
    summary: dict[str, Any] = {"assumes": f"{subjects} subjects, {boundaries} keyframes, {clips} clips, batches of 3"}
    for name, (image_row, clip_s) in rows.items():
        image_s = seconds(image_row)
        if image_s is not None and clip_s is not None:
            summary[name] = {"image_s": round(batches * image_s, 1), "video_s": round(clips * clip_s, 1),
                             "film_s": round(batches * image_s + clips * clip_s, 1)}
    base, opt = mean_baseline(flux, "flux_keyframe_batch3_eager_baseline"), flux.get("flux_keyframe_batch3_compiled")
    lbase, lopt = mean_baseline(ltx, "ltx_clip_eager_baseline"), ltx.get("ltx_clip_compiled")
    if base and opt and lbase and lopt:
        step_base = batches * base["steps"] * base["ms_per_step"] / 1000 + clips * lbase["steps"] * lbase["ms_per_step"] / 1000
        step_opt = batches * opt["steps"] * opt["ms_per_step"] / 1000 + clips * lopt["steps"] * lopt["ms_per_step"] / 1000
        summary["denoising_steps_only"] = {"baseline_s": round(step_base, 1), "optimised_s": round(step_opt, 1),
                                           "speedup": round(step_base / step_opt, 2)}
    for name in ("optimised_one_clip_at_a_time", "optimised", "fast_mode"):
        if name in summary and "baseline_eager" in summary:
            summary[name]["speedup"] = round(summary["baseline_eager"]["film_s"] / summary[name]["film_s"], 2)
    (out / "film.json").write_text(json.dumps(summary, indent=2))
    print("film summary:", json.dumps(summary), flush=True)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["flux", "ltx", "all"], default="all")
    parser.add_argument("--tiny", action="store_true", help="CPU dry run with tiny pipelines (checks the script)")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "bench-out")))
    parser.add_argument("--image-steps", type=int, default=28)
    parser.add_argument("--video-steps", type=int, default=40)
    parser.add_argument("--clip-frames", type=int, default=192, help="frames the film asks for per clip (8 s at 24 fps)")
    parser.add_argument("--compile-mode", default="default")
    parser.add_argument("--film-clips", type=int, default=10, help="clips rendered two at a time (a film's worth)")
    parser.add_argument("--attention", default="", help="attention backend of the optimised runs, e.g. _native_cudnn")
    parser.add_argument("--cache-dir", default="/tmp/filmstitch-compile-cache", help="Inductor/Triton cache")
    parser.add_argument("--only-compiled", action="store_true", help="time only the compiled engine (cache reuse)")
    parser.add_argument("--only-fp8", action="store_true", help="time only fast mode with FP8 (own process)")
    parser.add_argument("--deadline", type=float, default=540.0, help="seconds before optional stages are skipped")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("filmstitch").setLevel(logging.INFO)
    for part in (["flux", "ltx"] if args.part == "all" else [args.part]):
        suffix = "-fp8" if args.only_fp8 else "-warm" if args.only_compiled else ""
        bench = Bench(args.out, part + suffix, args.deadline)
        (flux_part if part == "flux" else ltx_part)(bench, args)
        bench.record("total_s", round(bench.elapsed(), 1))
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    if not (args.only_fp8 or args.only_compiled):
        film_summary(args.out)


if __name__ == "__main__":
    main()
