"""GPU engines: FLUX.1-dev for reference and keyframe images, LTX-Video 0.9.5 for clips.

The engines are plain Python classes (``filmstitch.engines.flux.FluxImageEngine`` and
``filmstitch.engines.ltx.LtxVideoEngine``). The ``local-gpu`` renderer runs them in-process and
the Modal app (``modal_workers/film_gpu.py``) runs the very same classes inside GPU containers.
Both read :class:`GpuSettings` (environment variables ``FILMSTITCH_GPU_*``).

This module imports no torch, so settings can be read (and Modal apps defined) on machines
without the GPU extras. Torch-dependent helpers live in :mod:`filmstitch.engines.runtime`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: LTX-Video's VAE compresses time 8x, so a clip must have 8k+1 frames.
LTX_FRAME_STEP = 8


class GpuSettings(BaseSettings):
    """Everything the GPU engines and the Modal app need to know, from ``FILMSTITCH_GPU_*``."""

    model_config = SettingsConfigDict(env_prefix="FILMSTITCH_GPU_", env_file=".env", extra="ignore")

    # --- weights (diffusers `from_pretrained` layout; see docs/gpu.md for the download) ---
    flux_dir: str = Field("/weights/flux1-dev", description="FLUX.1-dev pipeline directory.")
    ltx_dir: str = Field("/weights/ltx-video-0.9.5", description="LTX-Video 0.9.5 pipeline directory.")
    clip_vision_dir: str = Field(
        "/weights/clip-vit-large-patch14",
        description="openai/clip-vit-large-patch14 (vision tower + both projections) for reference conditioning.",
    )

    # --- where and how to run ---
    device: Literal["auto", "cuda", "cpu"] = Field("auto", description="auto = CUDA when available.")
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "auto", description="auto = bfloat16 on CUDA, float32 on the CPU."
    )
    memory_budget_gb: float | None = Field(
        None, gt=0, description="GPU memory the engines may plan for; None = the device's total memory."
    )

    # --- FLUX.1-dev ---
    image_steps: int = Field(28, ge=1, le=100)
    image_guidance: float = Field(3.5, ge=0.0, le=20.0, description="FLUX.1-dev distilled guidance.")
    reference_weight: float = Field(
        0.3, ge=0.0, le=1.0, description="How much of the references' CLIP image embedding enters the pooled prompt."
    )
    t5_max_tokens: int = Field(512, ge=16, le=512)

    # --- LTX-Video 0.9.5 ---
    video_steps: int = Field(40, ge=1, le=100)
    video_guidance: float = Field(3.0, ge=1.0, le=20.0)
    video_max_frames: int = Field(
        97, ge=9, le=257, description="Most frames LTX generates per clip (8k+1); longer clips are time-resampled."
    )
    clips_per_gpu: int = Field(
        2,
        ge=1,
        le=4,
        description="Clips a GPU (local) or an LtxWorker container (Modal) takes at once: the engine runs one "
        "clip's GPU work at a time, so a second clip denoises while the first is encoded to MP4 on the CPU.",
    )
    negative_prompt: str = "worst quality, inconsistent motion, blurry, jittery, distorted"
    video_decode_timestep: float = Field(0.05, ge=0.0, le=1.0, description="LTX 0.9.1+ timestep-conditioned VAE decode.")
    video_decode_noise_scale: float = Field(0.025, ge=0.0, le=1.0)
    pin_keyframes: bool = Field(True, description="Write the exact keyframe pixels into a clip's first and last frame.")

    # --- speed ---
    fast: bool = Field(False, description="Opt-in fast mode: fewer denoising steps (lossy: less detail).")
    fast_image_steps: int = Field(16, ge=1, le=100)
    fast_video_steps: int = Field(20, ge=1, le=100)
    optimise: bool = Field(
        True,
        description="Lossless speed-ups on CUDA: channels-last VAE convolutions (FLUX), the attention backend below, "
        "conditioning noise drawn a step ahead and clip frames copied back through pinned memory (LTX).",
    )
    fp8: bool = Field(False, description="Experimental: FP8 transformer weights via torchao (lossy; see docs/gpu.md).")
    compile: bool = Field(False, description="torch.compile the transformers (CUDA only).")
    compile_mode: Literal["default", "max-autotune-no-cudagraphs", "reduce-overhead"] = "default"
    compile_cache_dir: str | None = Field(
        None, description="Inductor/Triton cache directory (a Modal Volume), so later processes skip most compiling."
    )
    attention_backend: str | None = Field(
        None, description="diffusers attention backend, e.g. '_native_cudnn'; None keeps PyTorch SDPA's choice."
    )

    # --- Modal ---
    modal_app: str = "filmstitch-gpu"
    modal_image_cls: str = "FluxWorker"
    modal_video_cls: str = "LtxWorker"
    modal_gpu: str = Field("A100-40GB", description="Modal GPU type, e.g. 'A100-40GB', 'H100', 'L40S'.")
    modal_timeout_s: int = Field(1800, ge=60, le=86400)
    modal_max_containers: int = Field(10, ge=1, le=100)
    modal_min_containers: int = Field(0, ge=0, le=10, description="Warm containers (the seed used 1 against cold starts).")
    modal_scaledown_s: int = Field(300, ge=2, le=3600)
    modal_retries: int = Field(2, ge=0, le=10)
    modal_weights_volume: str = "filmstitch-weights"
    modal_cache_volume: str = "filmstitch-compile-cache"
    modal_hf_secret: str = Field("huggingface-secret", description="Modal Secret holding HF_TOKEN (download only).")

    @field_validator("video_max_frames")
    @classmethod
    def _ltx_frame_count(cls, frames: int) -> int:
        if (frames - 1) % LTX_FRAME_STEP:
            valid = (frames - 1) // LTX_FRAME_STEP * LTX_FRAME_STEP + 1
            raise ValueError(f"video_max_frames must be 8k+1 for LTX-Video (e.g. {valid} or {valid + 8}), got {frames}")
        return frames

    @property
    def effective_image_steps(self) -> int:
        return self.fast_image_steps if self.fast else self.image_steps

    @property
    def effective_video_steps(self) -> int:
        return self.fast_video_steps if self.fast else self.video_steps


__all__ = ["LTX_FRAME_STEP", "GpuSettings"]
