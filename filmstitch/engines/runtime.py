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


class Fp8Linear(torch.nn.Module):
    """A linear layer as an FP8 matmul with row-wise scales: ``torch._scaled_mm`` on e4m3 operands.

    The weight is quantised once, one scale per output row; each call quantises its activations, one scale
    per token row (amax / 448, e4m3's largest value). On an H200 the FP8 GEMMs of FLUX's and LTX's shapes ran
    1.6-1.9x faster than bf16 (relative error ~3.8 % per GEMM: lossy); quantising the activations eagerly
    costs that gain back, so it pays only under ``torch.compile``, where the quantisation fuses into the
    kernels around the GEMM.
    """

    E4M3_MAX = 448.0

    def __init__(self, linear: torch.nn.Linear) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.out_dtype = linear.weight.dtype
        weight, scale = self.quantise(linear.weight.detach())
        # (in, out) column-major: the layout _scaled_mm wants for its second operand.
        self.register_buffer("weight_t", weight.t(), persistent=False)
        self.register_buffer("weight_scale", scale.t().contiguous(), persistent=False)  # (1, out)
        self.bias = None if linear.bias is None else torch.nn.Parameter(linear.bias.detach(), requires_grad=False)

    @classmethod
    def quantise(cls, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(n, k) -> e4m3 values and float32 scales (n, 1) with ``values * scales ~= rows``."""
        scale = rows.abs().amax(dim=-1, keepdim=True).float().clamp_min(1e-12) / cls.E4M3_MAX
        return (rows.float() / scale).clamp(-cls.E4M3_MAX, cls.E4M3_MAX).to(torch.float8_e4m3fn), scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        values, scale = self.quantise(x.reshape(-1, self.in_features))
        out = torch._scaled_mm(values, self.weight_t, scale_a=scale, scale_b=self.weight_scale,
                               bias=self.bias, out_dtype=self.out_dtype, use_fast_accum=True)
        return out.reshape(*shape[:-1], self.out_features)


def to_fp8(module: torch.nn.Module, min_features: int = 256) -> int:
    """Swap a transformer's large linear layers for :class:`Fp8Linear` (FP8 matmuls need sizes that are multiples
    of 16; small layers gain nothing). Returns how many were swapped. Needs an FP8 GPU (compute capability 8.9+)
    or a CPU (tests)."""
    swapped = 0
    for name, child in list(module.named_children()):
        if isinstance(child, torch.nn.Linear) and min(child.in_features, child.out_features) >= min_features \
                and child.in_features % 16 == 0 and child.out_features % 16 == 0:
            setattr(module, name, Fp8Linear(child))
            swapped += 1
        else:
            swapped += to_fp8(child, min_features)
    return swapped


def fp8_supported(device: torch.device) -> bool:
    return device.type == "cpu" or (device.type == "cuda" and torch.cuda.get_device_capability(device) >= (8, 9))


#: Fast mode's cache hooks (diffusers.hooks). TaylorSeer runs a fixed schedule: 3 full steps, then one full
#: step in every `cache_interval` (GpuSettings.fast_cache_interval), the others predicted from a first-order
#: Taylor expansion of the blocks' outputs ("lite": the blocks are skipped, proj_out's output is predicted).
#: First-block cache skips a step's remaining blocks when the first block's residual changed by less than
#: `threshold` (data-dependent, so random weights cannot show its real skip rate).
TAYLORSEER = {"disable_cache_before_step": 3, "max_order": 1, "use_lite_mode": True}
FIRST_BLOCK_THRESHOLD = 0.05


def set_fast_cache(transformer: torch.nn.Module, kind: str, interval: int = 2) -> str | None:
    """Put fast mode's diffusers cache hook on a transformer (``CacheMixin.enable_cache``), replacing any hook
    an earlier engine on the same pipeline set; ``"none"`` removes it. Returns the hook's name, or None."""
    if getattr(transformer, "is_cache_enabled", False):
        transformer.disable_cache()
    if kind == "none":
        return None
    from diffusers.hooks import FirstBlockCacheConfig, TaylorSeerCacheConfig

    if kind == "taylorseer":
        transformer.enable_cache(TaylorSeerCacheConfig(**TAYLORSEER, cache_interval=interval,
                                                       taylor_factors_dtype=torch.float32))
    elif kind == "first-block":
        transformer.enable_cache(FirstBlockCacheConfig(threshold=FIRST_BLOCK_THRESHOLD))
    else:
        raise ValueError(f"unknown cache {kind!r}: choose none, taylorseer or first-block")
    return kind


def repeated_blocks(transformer: torch.nn.Module) -> list[torch.nn.Module]:
    """The transformer's repeated blocks, as diffusers names their classes (``_repeated_blocks``)."""
    names = set(getattr(transformer, "_repeated_blocks", None) or ())
    return [module for module in transformer.modules() if type(module).__name__ in names]


def compile_blocks(transformer: torch.nn.Module, mode: str) -> int:
    """Regional compilation: each repeated block's ``forward`` compiled, one graph per block class that all its
    instances reuse (Dynamo lifts the parameters to inputs). diffusers' ``compile_repeated_blocks`` compiles the
    block's whole call instead, which takes in the Python of fast mode's cache hooks (they wrap ``forward``):
    the graph breaks in every block and Dynamo's recompile limit is hit. Compiling the forward the hooks wrap
    keeps their Python eager around compiled blocks. Must run before a cache hook goes on. Returns the count."""
    blocks = repeated_blocks(transformer)
    for block in blocks:
        block.__dict__.pop("forward", None)  # an earlier engine's compiled forward on the same pipeline
        block.forward = torch.compile(block.forward, mode=mode, dynamic=False)
    return len(blocks)


def uncompile(transformer: torch.nn.Module, vae: torch.nn.Module | None = None) -> None:
    """Back to the eager transformer (and VAE decoder): drop a whole-model compile and every block's compiled
    forward."""
    transformer._compiled_call_impl = None  # what nn.Module.compile() sets
    for block in repeated_blocks(transformer):
        block.__dict__.pop("forward", None)
    uncompile_vae_decoder(vae)


def uncompile_vae_decoder(vae: torch.nn.Module | None) -> None:
    """Back to the eager VAE decoder (see :func:`compile_vae_decoder`)."""
    decoder = getattr(vae, "decoder", None)
    if decoder is not None:
        decoder._compiled_call_impl = None


def compile_vae_decoder(vae: torch.nn.Module, mode: str) -> bool:
    """Compile the VAE's decoder, one graph per output size (a clip's or a batch's). The decode is convolutions
    between memory-bound norms and activations that Inductor fuses: on an H200 LTX's 193-frame 768x512 decode
    took 377 -> 212 ms and FLUX's batch of 3 77 -> 38 ms, 49.5 / 46.2 dB PSNR from eager
    (``benchmarks/step_profile.py --vae``). False where the VAE has no ``decoder`` module."""
    decoder = getattr(vae, "decoder", None)
    if not isinstance(decoder, torch.nn.Module):
        return False
    decoder.compile(mode=mode, dynamic=False)
    return True


def speed_up(
    pipe: object,
    settings: GpuSettings,
    device: torch.device,
    *,
    conv_format: torch.memory_format | None,
) -> list[str]:
    """Apply the lossless speed-ups, and the lossy ones asked for (FP8, fast mode's cache), to a pipeline.
    Returns what was applied.

    Order matters: FP8 swaps the linear layers before anything is compiled, so the compiled graphs see the final
    modules; the blocks are compiled before the cache hook goes on, so the hook wraps compiled blocks.
    (Fused QKV projections were tried and dropped: no faster under compile on an H100, 1-5% slower eager.)
    """
    applied: list[str] = []
    transformer = pipe.transformer
    cache = settings.fast_cache if settings.fast else "none"
    set_fast_cache(transformer, "none")  # an earlier engine's hook on the same pipeline
    if device.type == "cuda":
        applied += _cuda_speed_ups(pipe, settings, device, conv_format, cached=cache != "none")
    if set_fast_cache(transformer, cache, settings.fast_cache_interval):
        applied.append(f"cache={cache}" + (f"/{settings.fast_cache_interval}" if cache == "taylorseer" else ""))
    return applied


def _cuda_speed_ups(pipe: object, settings: GpuSettings, device: torch.device,
                    conv_format: torch.memory_format | None, *, cached: bool) -> list[str]:
    applied: list[str] = []
    transformer = pipe.transformer
    if settings.optimise:
        if settings.attention_backend:
            transformer.set_attention_backend(settings.attention_backend)
            applied.append(f"attention={settings.attention_backend}")
        if conv_format is not None:
            pipe.vae.to(memory_format=conv_format)
            applied.append("vae-" + str(conv_format).removeprefix("torch."))
    if settings.effective_fp8:
        if fp8_supported(device):
            started = time.perf_counter()
            applied.append(f"fp8({to_fp8(transformer)} linears)")
            log.info("FP8 quantisation took %.1f s", time.perf_counter() - started)
        else:
            log.warning("FP8 asked for, but %s has no FP8 matmuls (compute capability 8.9+); keeping bf16", device)
    if settings.compile:
        configure_compile_cache(settings.compile_cache_dir)
        uncompile(transformer, pipe.vae)
        # A cache hook's per-step Python breaks a whole-model graph: under one, only the blocks are compiled.
        if settings.compile_scope == "blocks" or cached:
            applied.append(f"compile-blocks({compile_blocks(transformer, settings.compile_mode)}, "
                           f"{settings.compile_mode})")
        else:
            transformer.compile(mode=settings.compile_mode, fullgraph=False, dynamic=False)
            applied.append(f"compile({settings.compile_mode})")
        if compile_vae_decoder(pipe.vae, settings.compile_mode):
            applied.append("compile-vae-decoder")
    return applied
