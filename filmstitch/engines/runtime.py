"""Torch plumbing shared by the engines: device and dtype, PNG bytes, seeds, memory, speed-ups.

Kept apart from the engines so each engine file reads as the story of one model.
"""

from __future__ import annotations

import io
import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError

from filmstitch.engines import GpuSettings

log = logging.getLogger(__name__)

MAX_SEEDS = 8
#: Prompts whose text-encoder output an engine keeps (LRU): a film reuses a prompt across its variants,
#: and every clip shares the negative prompt.
PROMPT_CACHE_SIZE = 32
_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


def resolve_device(settings: GpuSettings, device: str | torch.device | None = None) -> torch.device:
    """The device to run on: an explicit one, else the settings' choice (auto = CUDA when there is one)."""
    if device is not None:
        return torch.device(device)
    if settings.device == "cuda" or (settings.device == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("FILMSTITCH_GPU_DEVICE=cuda but PyTorch sees no CUDA device")
        return torch.device("cuda")
    return torch.device("cpu")


def resolve_dtype(settings: GpuSettings, device: torch.device) -> torch.dtype:
    """bf16 on CUDA (what FLUX and LTX were trained in), fp32 on the CPU (bf16 CPU kernels are slow or missing)."""
    if settings.dtype != "auto":
        return _DTYPES[settings.dtype]
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def require_dir(path: str, what: str, env: str) -> Path:
    """A weights directory that exists, or a clear error naming the setting to fix."""
    directory = Path(path)
    if not directory.is_dir():
        raise FileNotFoundError(
            f"{what} weights not found at {directory} (set {env}; docs/gpu.md shows how to download them)"
        )
    return directory


def check_seeds(seeds: Sequence[int]) -> list[int]:
    seeds = list(seeds)
    if not seeds or len(seeds) > MAX_SEEDS:
        raise ValueError(f"give 1 to {MAX_SEEDS} seeds, got {len(seeds)}")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
            raise ValueError(f"seeds must be non-negative integers, got {seed!r}")
    return seeds


def check_size(width: int, height: int, multiple: int, what: str) -> None:
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, int) or value <= 0 or value % multiple:
            raise ValueError(f"{what}: {name} must be a positive multiple of {multiple}, got {value!r}")


def generators(seeds: Sequence[int]) -> list[torch.Generator]:
    """One CPU generator per seed: the same seed draws the same noise on any machine or GPU."""
    return [torch.Generator("cpu").manual_seed(seed) for seed in seeds]


def png_bytes(image: Image.Image) -> bytes:
    """Lossless PNG at zlib level 1: ~3x faster than PIL's default 6 for slightly larger files."""
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG", compress_level=1)
    return out.getvalue()


#: Threads start on first use only.
_PNG_POOL = ThreadPoolExecutor(max_workers=MAX_SEEDS, thread_name_prefix="filmstitch-png")


def png_bytes_all(images: Sequence[Image.Image]) -> list[bytes]:
    """PNG-encode a batch side by side: Pillow's zlib releases the GIL, so three 768x512 variants take
    the ~90 ms of one instead of ~260 ms (H100 host). Same bytes as :func:`png_bytes`, in order."""
    if len(images) < 2:
        return [png_bytes(image) for image in images]
    return list(_PNG_POOL.map(png_bytes, images))


def open_image(data: bytes, what: str = "image") -> Image.Image:
    """Decode PNG/JPEG bytes to RGB, with an error that says which input was bad."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{what} is not a readable image ({len(data)} bytes): {exc}") from None
    return image.convert("RGB")


def fit_image(image: Image.Image, width: int, height: int) -> Image.Image:
    """Resize to the clip's frame size (keyframes are rendered at it, so usually a no-op)."""
    if image.size == (width, height):
        return image
    return image.resize((width, height), Image.Resampling.LANCZOS)


def module_bytes(*modules: torch.nn.Module | None) -> int:
    """Bytes held by the parameters and buffers of some modules."""
    total = 0
    for module in modules:
        if module is None:
            continue
        for tensor in (*module.parameters(), *module.buffers()):
            total += tensor.numel() * tensor.element_size()
    return total


#: Fraction of a memory budget the engines plan to fill (the allocator fragments; leave some slack).
BUDGET_FILL = 0.9


def resident_bytes(device: torch.device, *modules: torch.nn.Module | None) -> int:
    """Memory in use now: what CUDA has allocated on the device, else (CPU) what the modules hold."""
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device)
    return module_bytes(*modules)


def would_overflow(resident: int, extra: int, budget: int | None) -> bool:
    """Whether ``extra`` bytes on top of ``resident`` would pass the planned fill of the budget (None: no budget
    known, e.g. on the CPU, so never)."""
    return budget is not None and resident + extra > BUDGET_FILL * budget


def memory_budget_bytes(settings: GpuSettings, device: torch.device) -> int | None:
    """GPU memory the engines may plan for: the configured budget, else the device's total; None on the CPU
    without a configured budget (nothing to plan for)."""
    if settings.memory_budget_gb is not None:
        return int(settings.memory_budget_gb * 1024**3)
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    return None


def configure_compile_cache(cache_dir: str | None) -> None:
    """Point Inductor's FX-graph / autograd caches and Triton's kernel cache at a persistent directory
    (a Modal Volume), as Modal's FLUX example does, so a fresh process re-uses compiled kernels."""
    if not cache_dir:
        return
    root = Path(cache_dir)
    (root / "triton").mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TORCHINDUCTOR_FX_GRAPH_CACHE", "1")
    os.environ.setdefault("TORCHINDUCTOR_AUTOGRAD_CACHE", "1")
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(root / "inductor"))
    os.environ.setdefault("TRITON_CACHE_DIR", str(root / "triton"))


def try_fp8(transformer: torch.nn.Module) -> bool:
    """Quantize a transformer's linear layers to FP8 (dynamic activations, per-row scales) with torchao.

    Returns False, leaving the module untouched, where torchao or an FP8-capable GPU is missing. FP8 is
    lossy and experimental: on an H100 with torch 2.11 + torchao 0.18 the compiled FP8 transformers did
    not finish compiling within 170 s (docs/gpu.md), so it is a separate opt-in, not part of fast mode.
    """
    if not torch.cuda.is_available() or torch.cuda.get_device_capability() < (8, 9):
        return False
    try:
        from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, PerRow, quantize_
    except Exception as exc:  # noqa: BLE001 - torchao is optional; any import failure means "no FP8"
        log.warning("FP8 requested but torchao is unavailable (%s); keeping bf16", exc)
        return False
    quantize_(transformer, Float8DynamicActivationFloat8WeightConfig(granularity=PerRow()))
    return True


def speed_up(
    pipe: object,
    settings: GpuSettings,
    device: torch.device,
    *,
    conv_format: torch.memory_format | None,
) -> list[str]:
    """Apply the lossless speed-ups (and, if asked, FP8) to a pipeline on CUDA. Returns what was applied.

    Order matters: quantize before compiling, so the compiled graph sees the final modules. (Fused QKV
    projections were tried and dropped: no faster under compile on an H100, 1-5% slower eager.)
    """
    applied: list[str] = []
    if device.type != "cuda":
        return applied
    transformer = pipe.transformer
    if settings.optimise:
        if settings.attention_backend:
            transformer.set_attention_backend(settings.attention_backend)
            applied.append(f"attention={settings.attention_backend}")
        if conv_format is not None:
            pipe.vae.to(memory_format=conv_format)
            applied.append("vae-" + str(conv_format).removeprefix("torch."))
    if settings.fp8:
        started = time.perf_counter()
        if try_fp8(transformer):
            applied.append("fp8")
            log.info("FP8 quantization took %.1f s", time.perf_counter() - started)
    if settings.compile:
        configure_compile_cache(settings.compile_cache_dir)
        transformer.compile(mode=settings.compile_mode, fullgraph=False, dynamic=False)
        applied.append(f"compile({settings.compile_mode})")
    return applied
