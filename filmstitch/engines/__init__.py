"""GPU engines: FLUX.1-dev (or FLUX.2 [klein]) for reference and keyframe images, LTX-Video 0.9.5 (or LTX-2, with
sound) for clips.

The engines are plain Python classes (``filmstitch.engines.flux.FluxImageEngine``,
``filmstitch.engines.flux2.Flux2KleinImageEngine``, ``filmstitch.engines.ltx.LtxVideoEngine`` and
``filmstitch.engines.ltx2.Ltx2VideoEngine``), plus
the continuity scorer ``filmstitch.engines.qc.EmbeddingScorer``. The ``local-gpu`` renderer runs them
in-process and the Modal app (``modal_workers/film_gpu.py``) runs the very same classes inside GPU
containers. Both read :class:`GpuSettings` (environment variables ``FILMSTITCH_GPU_*``).

This module imports no torch, so settings can be read (and Modal apps defined) on machines
without the GPU extras. Torch-dependent helpers live in :mod:`filmstitch.engines.runtime`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: LTX-Video's VAE compresses time 8x, so a clip must have 8k+1 frames.
LTX_FRAME_STEP = 8
#: The most frames LTX-Video 0.9.5 generates in one clip (Lightricks' own limit).
LTX_MAX_FRAMES = 257

ImageEngineName = Literal["flux1-dev", "flux2-klein"]
VideoEngineName = Literal["ltx-video-0.9.5", "ltx-2"]
ReferenceMode = Literal["redux", "clip-blend", "none"]
#: The side a reference is read at by the image engine that uses it: rendering it larger is GPU time nobody sees.
READER_SIDE: dict[str, int] = {"flux1-dev": 384, "flux2-klein": 512}


@dataclass(frozen=True)
class BadInput:
    """What a GPU worker returns (instead of raising) when a request is invalid: Modal retries every
    exception a function raises, and a bad request must not hold a GPU for two more attempts. The
    caller turns it back into a ``ValueError`` (:func:`raise_bad_input`)."""

    message: str


def raise_bad_input(result: object) -> object:
    """The result itself, or the ``ValueError`` a worker reported as :class:`BadInput`."""
    if isinstance(result, BadInput):
        raise ValueError(result.message)  # noqa: TRY004 - the worker's ValueError, raised again
    return result


class GpuSettings(BaseSettings):
    """Everything the GPU engines and the Modal app need to know, from ``FILMSTITCH_GPU_*``."""

    model_config = SettingsConfigDict(env_prefix="FILMSTITCH_GPU_", env_file=".env", extra="ignore")

    # --- weights (diffusers `from_pretrained` layout, filmstitch.engines.weights; docs/gpu.md) ---
    flux_dir: str = Field("/weights/flux1-dev", description="FLUX.1-dev pipeline directory.")
    redux_dir: str = Field("/weights/flux1-redux-dev", description="FLUX.1-Redux-dev prior pipeline directory.")
    flux2_dir: str = Field("/weights/flux2-klein-4b", description="FLUX.2 [klein] 4B pipeline directory.")
    ltx_dir: str = Field("/weights/ltx-video-0.9.5", description="LTX-Video 0.9.5 pipeline directory.")
    ltx2_dir: str = Field("/weights/ltx-2", description="LTX-2 (Lightricks/LTX-2, diffusers layout) directory.")
    clip_vision_dir: str = Field(
        "/weights/clip-vit-large-patch14",
        description="openai/clip-vit-large-patch14 (vision tower + both projections): the clip-blend references "
        "and the continuity scores.",
    )
    qc_dir: str | None = Field(
        None,
        description="Image-embedding model for the continuity scores (CLIP or DINOv2 folder); None = clip_vision_dir."
    )
    qc_threshold: float = Field(
        0.6, ge=-1.0, le=1.0, description="A boundary whose best variant's embedding cosine is under this is worth "
        "one re-render (--auto). A starting point to tune on real renders: CLIP-L image-to-image cosines of "
        "unrelated photos sit around 0.5, of the same subject above 0.8.",
    )

    # --- where and how to run ---
    device: Literal["auto", "cuda", "cpu"] = Field("auto", description="auto = CUDA when available.")
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "auto", description="auto = bfloat16 on CUDA, float32 on the CPU."
    )
    memory_budget_gb: float | None = Field(
        None, gt=0, description="GPU memory the engines may plan for; None = the device's total memory."
    )

    # --- images: which engine, and how the chosen references condition a keyframe ---
    image_engine: ImageEngineName = Field(
        "flux1-dev", description="flux1-dev (FLUX.1-dev + references) or flux2-klein (FLUX.2 [klein] 4B, references "
        "as in-context images)."
    )
    reference_mode: ReferenceMode = Field(
        "redux", description="FLUX.1-dev only: redux (FLUX.1-Redux image tokens per reference), clip-blend (the "
        "pooled-vector blend), none (text only)."
    )
    character_reference_weight: float = Field(1.0, ge=0.0, le=2.0, description="Weight of a character's reference.")
    environment_reference_weight: float = Field(0.6, ge=0.0, le=2.0, description="Weight of the location's reference.")
    reference_size: int | None = Field(
        None, ge=64, le=1024, description="References render square at this size (or the film's height if "
        "smaller). None: the size their reader takes, 384 for FLUX.1-dev (Redux's SigLIP reads 384 px, clip-blend's "
        "and the QC's CLIP-L 224 px), 512 for FLUX.2 [klein] (its references go in at 512x512)."
    )

    # --- FLUX.1-dev ---
    image_steps: int = Field(28, ge=1, le=100)
    image_guidance: float = Field(3.5, ge=0.0, le=20.0, description="FLUX.1-dev distilled guidance.")
    reference_weight: float = Field(
        0.3, ge=0.0, le=1.0, description="clip-blend: how far the pooled prompt moves towards the references."
    )
    redux_tokens_per_side: int = Field(
        9, ge=1, le=27, description="redux: each reference's 27x27 SigLIP tokens are area-pooled to this grid "
        "(9: 81 tokens), so several references add few tokens and the text prompt keeps its say."
    )
    t5_max_tokens: int = Field(512, ge=16, le=512)

    # --- FLUX.2 [klein] 4B ---
    flux2_steps: int = Field(4, ge=1, le=100, description="klein 4B is step-distilled: 4 steps.")
    flux2_guidance: float = Field(1.0, ge=0.0, le=20.0, description="Ignored by the distilled model (no CFG).")
    flux2_reference_pixels: int = Field(
        512 * 512, ge=64 * 64, le=1024 * 1024,
        description="Pixel area a reference of weight 1 is given (area scales with the weight; 0 drops it).",
    )
    flux2_max_tokens: int = Field(512, ge=16, le=512)

    # --- keyframe edits: FLUX.1 Kontext [dev] (instructions) and FLUX.1 Fill [dev] (regions) ---
    kontext_dir: str = Field("/weights/flux1-kontext-dev", description="FLUX.1-Kontext-dev pipeline directory.")
    fill_dir: str = Field("/weights/flux1-fill-dev", description="FLUX.1-Fill-dev pipeline directory.")
    edit_steps: int = Field(28, ge=1, le=100, description="Denoising steps of an edit (Kontext or Fill).")
    kontext_guidance: float = Field(2.5, ge=0.0, le=20.0, description="Kontext's distilled guidance (2.5).")
    fill_guidance: float = Field(30.0, ge=0.0, le=100.0, description="Fill's distilled guidance (30).")
    kontext_preferred_resolution: bool = Field(
        True, description="Give Kontext the picture at its trained resolution nearest the film's aspect ratio "
        "(the edit still comes back at the film's size)."
    )

    # --- clips: which engine ---
    video_engine: VideoEngineName = Field(
        "ltx-video-0.9.5", description="ltx-video-0.9.5 (silent clips, the default) or ltx-2 "
        "(clips with their own sound; 19B, the LTX-2 Community License: free under its revenue threshold, read it "
        "before choosing; docs/licences.md)."
    )

    # --- LTX-2 (video_engine=ltx-2; the LTX-Video settings below on frames and motion apply to it too) ---
    ltx2_steps: int = Field(30, ge=1, le=100, description="Denoising steps (LTX-2's pipelines use 30-40).")
    ltx2_guidance: float = Field(3.0, ge=1.0, le=20.0, description="CFG scale of the picture.")
    ltx2_audio_guidance: float = Field(7.0, ge=1.0, le=20.0, description="CFG scale of the sound (Lightricks: 7).")
    ltx2_keyframe_crf: int = Field(
        33, ge=0, le=51, description="CRF of the keyframes' H.264 round trip before they condition a clip (LTX-2 "
        "was trained with 33); 0 = none.",
    )
    ltx2_text_encoder: Literal["gpu", "offload"] = Field(
        "offload", description="offload: the 12B Gemma text encoder stays in host memory and visits the GPU only to "
        "encode a new text, so the 19B transformer fits one 80 GB GPU; gpu: it stays on the GPU (140 GB cards).",
    )

    # --- LTX-Video 0.9.5 ---
    video_steps: int = Field(40, ge=1, le=100)
    video_guidance: float = Field(3.0, ge=1.0, le=20.0)
    video_max_frames: int = Field(
        LTX_MAX_FRAMES, ge=9, le=LTX_MAX_FRAMES,
        description="Most frames LTX generates per clip (8k+1); longer clips use `interpolated` motion.",
    )
    video_motion: Literal["native", "interpolated"] = Field(
        "native", description="native: every frame generated at the film's rate (193 for 8 s at 24 fps); "
        "interpolated: half the frames generated (at half the rate) and the rest made by ffmpeg's motion-compensated "
        "interpolator (minterpolate). Never cross-fades.",
    )
    keyframe_crf: int = Field(
        29, ge=0, le=51, description="CRF of the one-frame H.264 round trip a keyframe takes before it conditions a "
        "clip (LTX was trained on video frames; Lightricks' inference uses 29); 0 = no round trip.",
    )
    video_image_cond_noise_scale: float = Field(
        0.15, ge=0.0, le=1.0, description="Noise added to the conditioning latents each step (LTX's default 0.15).",
    )
    clips_per_gpu: int = Field(
        2,
        ge=1,
        le=4,
        description="Clips a GPU (local) or an LtxWorker container (Modal) takes at once: the engine runs one "
        "clip's GPU work at a time, so a second clip denoises while the first is encoded to MP4 on the CPU.",
    )
    negative_prompt: str = "worst quality, inconsistent motion, blurry, jittery, distorted"
    video_decode_timestep: float = Field(
        0.05, ge=0.0, le=1.0,
        description="LTX 0.9.1+ timestep-conditioned VAE decode (0.05, as diffusers' LTX examples)."
    )
    video_decode_noise_scale: float = Field(0.025, ge=0.0, le=1.0, description="Noise of that decode (0.025).")
    pin_keyframes: bool = Field(True, description="Write the exact keyframe pixels into a clip's first and last frame.")

    # --- speed ---
    fast: bool = Field(False, description="Opt-in fast mode (lossy): fewer steps and the cache hook below.")
    fast_image_steps: int = Field(12, ge=1, le=100)
    fast_video_steps: int = Field(16, ge=1, le=100)
    fast_cache: Literal["none", "taylorseer", "first-block"] = Field(
        "taylorseer", description="diffusers cache hook in fast mode: taylorseer (a fixed schedule of predicted "
        "steps) or first-block (skips a step when the first block barely changes)."
    )
    fast_cache_interval: int = Field(
        3, ge=1, le=8,
        description="TaylorSeer: after its first 3 steps, one full step in this many (the rest predicted)."
    )
    fast_fp8: bool = Field(
        True, description="Fast mode also runs the transformers' linear layers as FP8 matmuls (see fp8) where the GPU "
        "has them."
    )
    optimise: bool = Field(
        True,
        description="Lossless speed-ups on CUDA: channels-last VAE convolutions (FLUX), the attention backend below, "
        "conditioning noise drawn a step ahead and clip frames copied back through pinned memory (LTX).",
    )
    fp8: bool = Field(
        False, description="Lossy: the transformers' linear layers as FP8 matmuls with row-wise scales "
        "(torch._scaled_mm; Hopper/Ada GPUs; pays under compile)."
    )
    compile: bool = Field(False, description="torch.compile the transformers and the VAE decoders (CUDA only).")
    compile_mode: Literal["default", "max-autotune-no-cudagraphs", "reduce-overhead"] = "default"
    compile_scope: Literal["blocks", "full"] = Field(
        "blocks", description="blocks: each repeated transformer block's forward compiled once per block class "
        "(regional compilation; works under fast mode's cache hooks); full: the whole transformer (no cache hooks)."
    )
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
    modal_edit_cls: str = "EditWorker"
    modal_gpu: str = Field("A100-40GB", description="Modal GPU type, e.g. 'A100-40GB', 'H100', 'L40S'.")
    modal_video_gpu: str | None = Field(
        None, description="Modal GPU type of the clip worker; None = modal_gpu for LTX-Video 0.9.5, 'H100' (80 GB) "
        "for LTX-2.",
    )
    modal_edit_gpu: str = Field(
        "H100", description="Modal GPU type of the keyframe-edit worker: FLUX.1 Kontext and Fill (12B each, with "
        "T5-XXL) are ~57 GB together in bf16, more than a 40 GB card holds.",
    )
    modal_timeout_s: int = Field(1800, ge=60, le=86400)
    modal_max_containers: int = Field(10, ge=1, le=100)
    modal_min_containers: int = Field(0, ge=0, le=10, description="Warm containers (1 avoids a cold start per film).")
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

    @model_validator(mode="after")
    def _ltx2_cache(self) -> GpuSettings:
        if self.video_engine == "ltx-2" and self.fast and self.fast_cache == "first-block":
            raise ValueError("fast_cache=first-block does not work with video_engine=ltx-2 (diffusers 0.42.1 cannot "
                             "hook LTX-2's audio-video blocks): use taylorseer (the default) or none")
        return self

    @property
    def effective_image_steps(self) -> int:
        return self.fast_image_steps if self.fast else self.image_steps

    @property
    def effective_video_steps(self) -> int:
        return self.fast_video_steps if self.fast else self.video_steps

    @property
    def effective_ltx2_steps(self) -> int:
        return min(self.ltx2_steps, self.fast_video_steps) if self.fast else self.ltx2_steps

    @property
    def effective_modal_video_gpu(self) -> str:
        if self.modal_video_gpu:
            return self.modal_video_gpu
        return "H100" if self.video_engine == "ltx-2" else self.modal_gpu

    @property
    def effective_reference_size(self) -> int:
        return self.reference_size or READER_SIDE[self.image_engine]

    @property
    def effective_fp8(self) -> bool:
        return self.fp8 or (self.fast and self.fast_fp8)

    @property
    def effective_video_motion(self) -> str:
        return self.video_motion

    @property
    def effective_qc_dir(self) -> str:
        return self.qc_dir or self.clip_vision_dir

    def reference_weight_for(self, kind: str) -> float:
        """The weight of a chosen reference of this subject kind ('character' or 'environment')."""
        return self.character_reference_weight if kind == "character" else self.environment_reference_weight


__all__ = ["LTX_FRAME_STEP", "LTX_MAX_FRAMES", "BadInput", "GpuSettings", "raise_bad_input"]
