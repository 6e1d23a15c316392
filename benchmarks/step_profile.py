"""Where a denoising step's time goes, on a full-size FLUX.1-dev or LTX-Video 0.9.5 with random weights.

For each configuration (eager, compiled, compiled with Inductor's coordinate-descent tuning, CUDA graphs,
fast mode, ...) it prints:

* ``transformer_ms``: the transformer alone, replayed on the exact inputs the pipeline gave it;
* ``pipeline_step_ms``: a whole engine call's per-step time, (T(n) - T(2)) / (n - 2);
* ``gpu_busy``: the fraction of a pipeline call's wall time the GPU spent in kernels (torch.profiler);
* ``phases_s``: the non-step parts of a 2-step call (text encoders, Redux, VAE encode/decode, PNG, host copy).

A pipeline step much slower than its transformer, or a low ``gpu_busy``, means the step loop leaves the
GPU idle (host syncs, launch overhead): the fix there is CUDA graphs or removing the sync, not faster kernels.

    python benchmarks/step_profile.py --model flux --configs eager,compiled,compiled-tuned
    python benchmarks/step_profile.py --model ltx --configs compiled,fast --vae --attention-kernels
    python benchmarks/step_profile.py --model ltx --tiny       # CPU dry run

``fast`` swaps the transformer's linear layers for FP8 ones for good, so it must be the last configuration.
``--vae`` times the VAE decode of one call's latents eager and with its decoder compiled; ``--attention-kernels``
times each PyTorch attention kernel on the model's own attention shape.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.gpu_benchmark import build_redux, noise_image, psnr, sync, timed, tiny_png
from filmstitch.engines import GpuSettings, runtime
from filmstitch.engines.flux import FluxImageEngine
from filmstitch.engines.ltx import LtxVideoEngine
from filmstitch.testing import tiny_models as tiny

PROMPT = "cinematic still, an astronaut in a white suit walks across a grey moon crater to a small green garden " * 4


def configure_inductor(config: str) -> None:
    """Inductor knobs for one configuration (set before compiling; part of the compile cache key)."""
    import torch._inductor.config as inductor

    tuned = config.endswith("tuned")
    inductor.coordinate_descent_tuning = tuned
    inductor.coordinate_descent_check_all_directions = tuned


def settings_for(config: str, args: argparse.Namespace) -> GpuSettings:
    compiled = config.startswith("compiled") or config == "fast"
    return GpuSettings(
        optimise=config != "baseline",
        compile=compiled and not args.tiny,
        compile_mode="reduce-overhead" if "graphs" in config else "default",
        attention_backend=args.attention or None,
        fast=config == "fast",
        image_steps=args.steps,
        fast_image_steps=args.steps,
        video_steps=args.steps,
        fast_video_steps=args.steps,
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


def time_phases(pipe: Any, redux: Any = None) -> dict[str, float]:
    """Wrap the text encoders' forward, Redux, the VAE's encode/decode and the engines' host-side steps to add up
    their (synchronised) seconds in the returned dict; clear it before a call to time that call's phases.
    PNG encodes run three at a time, so ``png_encode`` is thread-seconds, not wall time."""
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
    if redux is not None:
        wrap(redux, "tokens", "redux")
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
        side = 384 if not args.tiny else 32  # the references' size in a film (GpuSettings.effective_reference_size)
        refs = [tiny_png(noise_image(side, side, i)) for i in range(3)]
        takes = iter(range(10**6))

        def run(steps: int) -> Any:  # a new prompt each call, as every keyframe of a film has
            engine.settings = engine.settings.model_copy(update={"image_steps": steps, "fast_image_steps": steps})
            return engine.keyframe_pngs(f"{PROMPT} take {next(takes)}", "astronaut walks to a garden", refs, [1, 2, 3],
                                        width, height)
    else:
        first, last = noise_image(width, height, 1), noise_image(width, height, 2)

        takes = iter(range(10**6))

        def run(steps: int) -> Any:  # a new prompt each call (each clip has its own); the negative stays cached
            engine.settings = engine.settings.model_copy(update={"video_steps": steps, "fast_video_steps": steps})
            return engine.clip_frames(first, last, f"an astronaut walks to a garden, take {next(takes)}", 7,
                                      width, height, 192 if not args.tiny else 16, 24)
    return run


def profile_config(config: str, pipe: Any, make: Any, args: argparse.Namespace,
                   phases: dict[str, float]) -> dict[str, Any]:
    torch._dynamo.reset()
    configure_inductor(config)
    if config == "baseline":
        pipe.transformer.set_attention_backend("native")
    engine = make(settings_for(config, args))
    call = engine_call(args.model, engine, args)
    warm_s, inputs = timed(lambda: capture_transformer_inputs(pipe.transformer, call))
    short_s, _ = timed(lambda: call(2))
    long_s, _ = timed(lambda: call(args.steps))
    row: dict[str, Any] = {"optimisations": engine.optimisations, "warmup_s": round(warm_s, 1)}
    if config != "fast":  # under fast mode's cache hook a replayed forward is a predicted step, not a real one
        row["transformer_ms"] = transformer_ms(pipe.transformer, inputs, 5)
    row["pipeline_step_ms"] = round((long_s - short_s) / (args.steps - 2) * 1000, 1)
    row.update(gpu_busy(call, 4))
    phases.clear()  # the non-step parts of a 2-step call
    row["call_2_steps_s"] = round(timed(lambda: call(2))[0], 3)
    row["phases_s"] = {k: round(v, 3) for k, v in phases.items()}
    return row


def vae_decode_compiled(model: str, pipe: Any, tiny_run: bool) -> dict[str, Any]:
    """One call's VAE decode (FLUX: a batch of 3 at 768x512; LTX: 193 frames at 768x512 with the decode
    timestep), eager and with the decoder compiled: time, compile time and PSNR of the pixels against eager."""
    vae, device, dtype = pipe.vae, pipe.vae.device, pipe.vae.dtype
    width, height, frames = (768, 512, 193) if not tiny_run else (32, 32, 9)
    kwargs: dict[str, Any] = {}
    if model == "flux":
        latents = torch.randn(3, vae.config.latent_channels, height // 8, width // 8, device=device, dtype=dtype)
        vae.disable_slicing()
    else:
        spatial, temporal = pipe.vae_spatial_compression_ratio, pipe.vae_temporal_compression_ratio
        latents = torch.randn(1, vae.config.latent_channels, (frames - 1) // temporal + 1, height // spatial,
                              width // spatial, device=device, dtype=dtype)
        vae.disable_tiling()
        kwargs["temb"] = torch.tensor([0.05], device=device, dtype=dtype)

    def decode() -> torch.Tensor:
        return vae.decode(latents, **kwargs).sample

    def pixels(video: torch.Tensor) -> Any:
        return ((video.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()

    decode()
    eager_s, eager = timed(lambda: [decode() for _ in range(3)][-1])
    row: dict[str, Any] = {"eager_ms": round(eager_s / 3 * 1000, 1)}
    if not tiny_run:
        runtime.compile_vae_decoder(vae, "default")  # what the engines do under compile
        first_s, _ = timed(decode)
        compiled_s, compiled = timed(lambda: [decode() for _ in range(3)][-1])
        runtime.uncompile_vae_decoder(vae)  # back to eager for what follows
        row.update({"compiled_ms": round(compiled_s / 3 * 1000, 1), "compile_s": round(first_s, 1),
                    "compiled_vs_eager": psnr(pixels(compiled), pixels(eager))})
    return row


def attention_kernels(model: str, tiny_run: bool) -> dict[str, Any]:
    """Each SDPA kernel on the model's self-attention shape (FLUX: 3 x 24 heads x 2,291 tokens x 128; LTX with
    CFG: 2 x 32 heads x 9,600 tokens x 64): ms, TFLOP/s and the largest difference from the default's output."""
    if tiny_run:
        return {}
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.nn.functional import scaled_dot_product_attention as sdpa

    batch, heads, tokens, dim = (3, 24, 2291, 128) if model == "flux" else (2, 32, 9600, 64)
    q, k, v = (torch.randn(batch, heads, tokens, dim, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    flop = 4 * batch * heads * tokens * tokens * dim
    reference = sdpa(q, k, v)
    rows: dict[str, Any] = {"shape": [batch, heads, tokens, dim]}
    for name, backends in (("default", None), ("cudnn", [SDPBackend.CUDNN_ATTENTION]),
                           ("flash", [SDPBackend.FLASH_ATTENTION]), ("efficient", [SDPBackend.EFFICIENT_ATTENTION])):
        try:
            with sdpa_kernel(backends) if backends else contextlib.nullcontext():
                out = sdpa(q, k, v)
                seconds, _ = timed(lambda: [sdpa(q, k, v) for _ in range(10)])
            rows[name] = {"ms": round(seconds / 10 * 1000, 2), "tflops": round(flop * 10 / seconds / 1e12),
                          "max_abs_diff": round(float((out - reference).abs().max()), 4)}
        except RuntimeError as error:  # a kernel that does not take this shape or GPU
            rows[name] = {"error": str(error).splitlines()[0][:120]}
    return rows


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
                        help="comma list of baseline, eager, compiled, compiled-tuned, compiled-graphs, fast (last)")
    parser.add_argument("--attention", default="")
    parser.add_argument("--steps", type=int, default=12, help="steps of the long call in the per-step timing")
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--vae", action="store_true", help="also time the VAE decode: eager vs compiled decoder "
                        "(and, for FLUX, sliced vs batched)")
    parser.add_argument("--attention-kernels", action="store_true", help="time each SDPA kernel on the model's shape")
    parser.add_argument("--cache-dir", default="/tmp/filmstitch-compile-cache")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "bench-out")))
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    device = torch.device("cpu" if args.tiny else "cuda")
    dtype = torch.float32 if args.tiny else torch.bfloat16
    if args.model == "flux":
        pipe = tiny.tiny_flux_pipeline() if args.tiny else tiny.full_flux_pipeline(device, dtype)
        redux = build_redux(args.tiny, device, dtype)  # the default reference mode
        make = lambda s: FluxImageEngine.from_pipeline(pipe, s, device, redux=redux)  # noqa: E731 - one name, two engines
    else:
        pipe = tiny.tiny_ltx_pipeline() if args.tiny else tiny.full_ltx_pipeline(device, dtype)
        redux = None
        make = lambda s: LtxVideoEngine.from_pipeline(pipe, s, device)  # noqa: E731 - one name, two engines

    results: dict[str, Any] = {"model": args.model, "device": torch.cuda.get_device_name() if not args.tiny else "cpu"}
    args.out.mkdir(parents=True, exist_ok=True)
    configs = args.configs.split(",")
    if "fast" in configs[:-1]:
        raise SystemExit("fast swaps the linear layers for FP8 ones for good: put it last")
    out = args.out / f"step-profile-{args.model}.json"

    def record(label: str, row: Any) -> None:
        results[label] = row
        print(label, json.dumps(row), flush=True)
        out.write_text(json.dumps(results, indent=2))

    if args.attention_kernels:
        record("attention_kernels", attention_kernels(args.model, args.tiny))
    if args.vae:
        record("vae_decode", vae_decode_compiled(args.model, pipe, args.tiny))
        if args.model == "flux":
            record("vae_decode_batch3", flux_vae_decode(pipe, args.tiny))
    phases = time_phases(pipe, redux)
    for config in configs:
        record(config, profile_config(config, pipe, make, args, phases))


if __name__ == "__main__":
    main()
