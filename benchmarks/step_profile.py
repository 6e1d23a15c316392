"""Where a denoising step's time goes, on a full-size FLUX.1-dev or LTX-Video 0.9.5 with random weights.

For each configuration (eager, compiled, compiled with Inductor's coordinate-descent tuning, ...) it prints:

* ``transformer_ms``: the transformer alone, replayed on the exact inputs the pipeline gave it;
* ``pipeline_step_ms``: a whole engine call's per-step time, (T(n) - T(2)) / (n - 2);
* ``gpu_busy``: the fraction of a pipeline call's wall time the GPU spent in kernels (torch.profiler).

A pipeline step much slower than its transformer, or a low ``gpu_busy``, means the step loop leaves the
GPU idle (host syncs, launch overhead): the fix there is CUDA graphs or removing the sync, not faster kernels.

    python benchmarks/step_profile.py --model flux --configs eager,compiled,compiled-tuned
    python benchmarks/step_profile.py --model ltx --tiny       # CPU dry run
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.gpu_benchmark import build_reference_encoder, noise_image, sync, timed, tiny_png
from filmstitch.engines import GpuSettings
from filmstitch.testing import tiny_models as tiny
from filmstitch.engines.flux import FluxImageEngine
from filmstitch.engines.ltx import LtxVideoEngine

PROMPT = "cinematic still, an astronaut in a white suit walks across a grey moon crater to a small green garden " * 4


def configure_inductor(config: str) -> None:
    """Inductor knobs for one configuration (set before compiling; part of the compile cache key)."""
    import torch._inductor.config as inductor

    tuned = config.endswith("tuned")
    inductor.coordinate_descent_tuning = tuned
    inductor.coordinate_descent_check_all_directions = tuned


def settings_for(config: str, args: argparse.Namespace) -> GpuSettings:
    compiled = config.startswith("compiled")
    return GpuSettings(
        optimise=config != "baseline",
        compile=compiled,
        compile_mode="reduce-overhead" if "graphs" in config else "default",
        attention_backend=args.attention or None,
        image_steps=args.steps,
        reference_mode="clip-blend",
        video_steps=args.steps,
        compile_cache_dir=args.cache_dir,
    )


def capture_transformer_inputs(transformer: torch.nn.Module, call: Any) -> tuple[tuple, dict]:
    """Run one engine call and keep the arguments of the transformer's first forward."""
    seen: dict[str, Any] = {}

    def hook(_module: Any, args: tuple, kwargs: dict) -> None:
        seen.setdefault("inputs", (args, dict(kwargs)))

    handle = transformer.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        call(2)
    finally:
        handle.remove()
    return seen["inputs"]


def transformer_ms(transformer: torch.nn.Module, inputs: tuple[tuple, dict], repeats: int) -> float:
    args, kwargs = inputs
    for _ in range(2):
        transformer(*args, **kwargs)
    seconds, _ = timed(lambda: [transformer(*args, **kwargs) for _ in range(repeats)])
    return round(seconds / repeats * 1000, 1)


def gpu_busy(call: Any, steps: int) -> dict[str, float]:
    """Kernel time over wall time for one engine call (kernels on one stream do not overlap here)."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    with profile(activities=activities) as prof:
        sync()
        start = time.perf_counter()
        call(steps)
        sync()
        wall = time.perf_counter() - start
    from torch.autograd import DeviceType

    kernels: dict[str, float] = {}
    for event in prof.events():
        if event.device_type == DeviceType.CUDA:  # kernels and memcpys, not the CPU ops that launched them
            kernels[event.name] = kernels.get(event.name, 0.0) + event.time_range.elapsed_us()
    kernel_s = sum(kernels.values()) / 1e6
    top = sorted(kernels.items(), key=lambda item: -item[1])[:6]
    return {"wall_s": round(wall, 3), "kernel_s": round(kernel_s, 3), "gpu_busy": round(kernel_s / wall, 3),
            "top_kernels_ms_per_call": {name[:70]: round(us / 1000, 1) for name, us in top}}


def time_phases(pipe: Any) -> dict[str, float]:
    """Wrap the text encoders' forward and the VAE's encode/decode to add up their (synchronised) seconds."""
    totals: dict[str, float] = {}

    def wrap(owner: Any, attr: str, label: str) -> None:
        inner = getattr(owner, attr)

        def timed_call(*args: Any, **kwargs: Any) -> Any:
            seconds, out = timed(lambda: inner(*args, **kwargs))
            totals[label] = totals.get(label, 0.0) + seconds
            return out

        setattr(owner, attr, timed_call)

    for name in ("text_encoder", "text_encoder_2"):
        if getattr(pipe, name, None) is not None:
            wrap(getattr(pipe, name), "forward", name)
    wrap(pipe.vae, "encode", "vae_encode")
    wrap(pipe.vae, "decode", "vae_decode")
    import filmstitch.engines.ltx as ltx_module
    import filmstitch.engines.runtime as runtime_module

    wrap(runtime_module, "png_bytes", "png_encode")
    wrap(runtime_module, "open_image", "png_decode")
    wrap(ltx_module, "to_uint8_video", "uint8_to_host")
    wrap(ltx_module, "interpolate_frames", "interpolate")
    wrap(ltx_module, "h264_round_trip", "condition_round_trip")
    return totals


def engine_call(model: str, engine: Any, args: argparse.Namespace) -> Any:
    width, height = (768, 512) if not args.tiny else (32, 32)
    if model == "flux":
        refs = [tiny_png(noise_image(width, height, i)) for i in range(2)]
        takes = iter(range(10**6))

        def run(steps: int) -> Any:  # a new prompt each call, as every keyframe of a film has
            engine.settings = engine.settings.model_copy(update={"image_steps": steps})
            return engine.keyframe_pngs(f"{PROMPT} take {next(takes)}", "astronaut walks to a garden", refs, [1, 2, 3],
                                        width, height)
    else:
        first, last = noise_image(width, height, 1), noise_image(width, height, 2)

        def run(steps: int) -> Any:
            engine.settings = engine.settings.model_copy(update={"video_steps": steps})
            return engine.clip_frames(first, last, "an astronaut walks to a garden", 7, width, height, 192, 24)
    return run


def profile_config(config: str, pipe: Any, make: Any, args: argparse.Namespace, with_phases: bool) -> dict[str, Any]:
    torch._dynamo.reset()
    configure_inductor(config)
    if config == "baseline":
        pipe.transformer.set_attention_backend("native")
    engine = make(settings_for(config, args))
    call = engine_call(args.model, engine, args)
    warm_s, inputs = timed(lambda: capture_transformer_inputs(pipe.transformer, call))
    short_s, _ = timed(lambda: call(2))
    long_s, _ = timed(lambda: call(args.steps))
    row = {
        "optimisations": engine.optimisations,
        "warmup_s": round(warm_s, 1),
        "transformer_ms": transformer_ms(pipe.transformer, inputs, 5),
        "pipeline_step_ms": round((long_s - short_s) / (args.steps - 2) * 1000, 1),
        **gpu_busy(call, 4),
    }
    if with_phases:  # once, last: the non-step parts of a 2-step call (the wrappers stay on the pipeline)
        phases = time_phases(pipe)
        row["call_2_steps_s"] = round(timed(lambda: call(2))[0], 3)
        row["phases_s"] = {k: round(v, 3) for k, v in phases.items()}
    return row


def flux_vae_decode(pipe: Any, tiny_run: bool) -> dict[str, Any]:
    """FLUX's VAE decode of a batch of 3, one image at a time (sliced) or all at once: time and extra memory."""
    rows: dict[str, Any] = {}
    sizes = [(32, 32)] if tiny_run else [(768, 512), (1024, 576)]
    for width, height in sizes:
        latents = torch.randn(3, pipe.vae.config.latent_channels, height // 8, width // 8,
                              device=pipe.vae.device, dtype=pipe.vae.dtype)
        for sliced in (True, False):
            pipe.vae.enable_slicing() if sliced else pipe.vae.disable_slicing()
            pipe.vae.decode(latents)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated() if torch.cuda.is_available() else 0
            seconds, _ = timed(lambda latents=latents: [pipe.vae.decode(latents) for _ in range(3)])
            extra = (torch.cuda.max_memory_allocated() - before) / 1024**3 if torch.cuda.is_available() else 0.0
            rows[f"{width}x{height}_{'sliced' if sliced else 'batched'}"] = {
                "ms": round(seconds / 3 * 1000, 1), "extra_gib": round(extra, 2)}
    pipe.vae.enable_slicing()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["flux", "ltx"], required=True)
    parser.add_argument("--configs", default="baseline,compiled,compiled-tuned",
                        help="comma list of baseline, eager, compiled, compiled-tuned, compiled-graphs")
    parser.add_argument("--attention", default="")
    parser.add_argument("--steps", type=int, default=12, help="steps of the long call in the per-step timing")
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--vae", action="store_true", help="FLUX: also time the VAE decode, sliced vs batched")
    parser.add_argument("--cache-dir", default="/tmp/filmstitch-compile-cache")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "bench-out")))
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    device = torch.device("cpu" if args.tiny else "cuda")
    dtype = torch.float32 if args.tiny else torch.bfloat16
    if args.model == "flux":
        pipe = tiny.tiny_flux_pipeline() if args.tiny else tiny.full_flux_pipeline(device, dtype)
        references = build_reference_encoder(args.tiny, device, dtype)
        make = lambda s: FluxImageEngine.from_pipeline(pipe, s, device, references)
    else:
        pipe = tiny.tiny_ltx_pipeline() if args.tiny else tiny.full_ltx_pipeline(device, dtype)
        make = lambda s: LtxVideoEngine.from_pipeline(pipe, s, device)

    results: dict[str, Any] = {"model": args.model, "device": torch.cuda.get_device_name() if not args.tiny else "cpu"}
    args.out.mkdir(parents=True, exist_ok=True)
    configs = args.configs.split(",")
    for config in configs:
        row = profile_config(config, pipe, make, args, with_phases=config == configs[-1])
        results[config] = row
        if args.vae and args.model == "flux" and config == configs[0]:
            results["vae_decode_batch3"] = flux_vae_decode(pipe, args.tiny)
            print("vae_decode_batch3", json.dumps(results["vae_decode_batch3"]), flush=True)
        print(config, json.dumps(row), flush=True)
        (args.out / f"step-profile-{args.model}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
