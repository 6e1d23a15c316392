"""LTX-Video 0.9.5 clip engine: a clip that starts on one keyframe and ends on the next.

The story of one clip:

1. **Conditions.** ``LTXConditionPipeline`` takes ``LTXVideoCondition`` items. The chosen keyframe of
   boundary ``i`` goes in at frame 0 and the chosen keyframe of boundary ``i + 1`` at the clip's last
   frame index, so neighbouring clips share their boundary frame and the film stays continuous.
   The motion in between is guided by the segment's narration and action (the prompt) and steered away
   from the usual artefacts by a negative prompt.
2. **Length.** The film asks for ``plan.request.frames_per_clip`` frames (192 for 8 s at 24 fps). LTX needs
   8k+1 frames, and its cost grows with the frame count, so the engine generates ``M`` frames: the 8k+1
   count nearest the request, capped at ``video_max_frames`` (97 by default). LTX is told the frame rate
   those ``M`` frames really have over the clip's duration (``(M - 1) / (N - 1) * fps``, about 12 fps for
   97 frames over 8 s), so it paces the motion for the real duration. The ``M`` frames are then
   time-resampled to the requested ``N``: output frame ``j`` sits at source time ``j * (M - 1) / (N - 1)``
   and is the linear cross-fade of the two source frames around it. Frame 0 and frame ``N - 1`` fall on
   source frames exactly, so the first and last frames are kept, and the clip lasts exactly ``N / fps``.
   Resampling and the conversion to uint8 run on the GPU.
   With ``pin_keyframes`` (default) the exact keyframe pixels are then written into those two frames.
3. **Memory.** Before each clip the engine estimates the VAE decode's peak (calibrated on an H100:
   about 160 bytes per output pixel-frame) and switches VAE tiling on only when resident memory plus
   that estimate would not fit the budget (``memory_budget_gb``, default: the GPU's total). Tiling halves
   the decode's memory and doubles its time, so it is used only where it is needed.
4. **Output.** Frames are encoded with :func:`filmstitch.video.encode_mp4`, the codec setup every clip
   of the film shares, so the final concat can stream-copy.
5. **No idle GPU between steps.** Each step the pipeline adds fresh noise to the conditioning latents,
   drawn from the clip's CPU generator (so a seed gives the same clip on any GPU) and copied up from
   pageable memory: a copy that waits for the GPU to finish the previous step, leaving it idle while
   Python prepares the next one (~10 ms a step on an H100). :class:`ConditioningNoise` draws the same
   numbers, in the same order, one step ahead, into pinned memory with an asynchronous copy. The text
   embeddings are cached per text, so the negative prompt, the same for every clip, is encoded once.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from diffusers import LTXConditionPipeline
from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition
from PIL import Image

from filmstitch.engines import GpuSettings
from filmstitch.engines import runtime as rt
from filmstitch.video import encode_mp4

log = logging.getLogger(__name__)

#: Peak bytes of the LTX VAE decode per output pixel-frame (H100: 6.0 GB at 768x512x97, 7.8 GB at 1024x576x97).
VAE_DECODE_BYTES_PER_VOXEL = 160
#: T5 tokens per text: LTXConditionPipeline's own default.
MAX_TEXT_TOKENS = 256


def ltx_frame_count(requested: int, max_frames: int, step: int = 8) -> int:
    """Frames LTX should generate for a clip of ``requested`` frames: the nearest ``step*k + 1``, capped."""
    if requested < 2:
        raise ValueError(f"a clip needs at least 2 frames, got {requested}")
    k = max(1, round((requested - 1) / step))
    cap = max(1, (max_frames - 1) // step)
    return min(k, cap) * step + 1


def resample_frames(frames: torch.Tensor, count: int) -> torch.Tensor:
    """Time-resample frames (M, ...) to ``count`` frames by linear cross-fade, on whatever device they are.

    Output frame j sits at source time j * (M - 1) / (count - 1): the first and last frames fall on
    source frames exactly (a lerp with weight 0 returns its start unchanged).
    """
    source = frames.shape[0]
    if count < 2 or source < 2:
        raise ValueError(f"resampling needs at least 2 frames each way (source {source}, target {count})")
    if count == source:
        return frames
    positions = torch.arange(count, device=frames.device, dtype=torch.float64) * (source - 1) / (count - 1)
    lower = positions.floor().long().clamp(0, source - 1)
    upper = (lower + 1).clamp(max=source - 1)
    weight = (positions - lower).to(frames.dtype).view(-1, *([1] * (frames.dim() - 1)))
    return torch.lerp(frames[lower], frames[upper], weight)


def to_uint8_video(frames: torch.Tensor, pinned: bool = False) -> np.ndarray:
    """(F, C, H, W) floats in [0, 1] -> (F, H, W, 3) uint8, converted on the frames' device, then copied back.

    With ``pinned`` a CUDA copy lands in page-locked host memory (PyTorch's caching host allocator reuses
    it between clips): 226 MB per 192-frame 768x512 clip took ~180 ms to pageable memory on an H100.
    """
    pixels = (frames.float().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()
    if pinned and pixels.is_cuda:
        host = torch.empty(pixels.shape, dtype=torch.uint8, pin_memory=True)
        host.copy_(pixels)
        return host.numpy()
    return pixels.cpu().numpy()


def vae_decode_bytes(width: int, height: int, frames: int) -> int:
    """Estimated peak memory of an untiled LTX VAE decode of one clip."""
    return VAE_DECODE_BYTES_PER_VOXEL * width * height * frames


def needs_vae_tiling(width: int, height: int, frames: int, resident_bytes: int, budget_bytes: int | None) -> bool:
    """Tile the VAE decode only when resident memory plus the decode estimate would overflow the budget."""
    return rt.would_overflow(resident_bytes, vae_decode_bytes(width, height, frames), budget_bytes)


class ConditioningNoise:
    """Per-step noise for the conditioning latents, drawn one step ahead (see the module docstring, step 5).

    Replaces ``LTXConditionPipeline.add_noise_to_image_conditioning_latents`` for one call. The numbers are
    those the pipeline would draw: ``torch.randn`` on the clip's CPU generator, one draw per step, in step
    order, and exactly ``steps`` draws, so the generator is left where the VAE's decode noise expects it.
    """

    def __init__(self, generator: torch.Generator, steps: int) -> None:
        self.generator, self.steps = generator, steps
        self.drawn = 0
        self.ready: torch.Tensor | None = None

    def _draw(self, like: torch.Tensor) -> torch.Tensor:
        self.drawn += 1
        noise = torch.randn(like.shape, generator=self.generator, dtype=like.dtype)
        if like.is_cuda:  # pinned + non_blocking: queued behind the running step instead of waiting for it
            return noise.pin_memory().to(like.device, non_blocking=True)
        return noise.to(like.device)

    def __call__(
        self,
        t: torch.Tensor,
        init_latents: torch.Tensor,
        latents: torch.Tensor,
        noise_scale: float,
        conditioning_mask: torch.Tensor,
        generator: torch.Generator,
        eps: float = 1e-6,
    ) -> torch.Tensor:
        noise = self.ready if self.ready is not None else self._draw(latents)
        self.ready = self._draw(latents) if self.drawn < self.steps else None
        # The pipeline's own arithmetic (diffusers 0.42): noise only the hard-conditioned latents, scaled by t^2.
        need_to_noise = (conditioning_mask > 1.0 - eps).unsqueeze(-1)
        noised_latents = init_latents + noise_scale * noise * (t**2)
        return torch.where(need_to_noise, noised_latents, latents)


@contextlib.contextmanager
def conditioning_noise_ahead(pipe: LTXConditionPipeline, generator: torch.Generator, steps: int) -> Iterator[None]:
    """Let one pipeline call draw its conditioning noise through :class:`ConditioningNoise`."""
    pipe.add_noise_to_image_conditioning_latents = ConditioningNoise(generator, steps)
    try:
        yield
    finally:
        del pipe.add_noise_to_image_conditioning_latents  # back to the class's own method


class LtxVideoEngine:
    """LTX-Video 0.9.5 on one device. Thread-safe: calls are serialised (a pipeline is not re-entrant)."""

    def __init__(self, pipe: LTXConditionPipeline, settings: GpuSettings | None = None) -> None:
        self.pipe = pipe
        self.settings = settings or GpuSettings()
        self.device = pipe.transformer.device
        self.optimisations: list[str] = []
        self.last_tiling: bool | None = None
        self._lock = threading.Lock()
        # Each text is encoded once: the negative prompt, the same for every clip, above all.
        self.encode_text = functools.lru_cache(maxsize=rt.PROMPT_CACHE_SIZE)(self._encode_text)
        pipe.set_progress_bar_config(disable=True)

    @classmethod
    def load(cls, settings: GpuSettings | None = None, device: str | torch.device | None = None) -> LtxVideoEngine:
        settings = settings or GpuSettings()
        device = rt.resolve_device(settings, device)
        dtype = rt.resolve_dtype(settings, device)
        directory = rt.require_dir(settings.ltx_dir, "LTX-Video 0.9.5", "FILMSTITCH_GPU_LTX_DIR")
        pipe = LTXConditionPipeline.from_pretrained(directory, dtype=dtype)
        return cls.from_pipeline(pipe, settings, device)

    @classmethod
    def from_pipeline(cls, pipe: LTXConditionPipeline, settings: GpuSettings, device: torch.device) -> LtxVideoEngine:
        pipe.to(device)
        engine = cls(pipe, settings)
        # A channels-last-3d VAE decoded 0.7 s *slower* on an H100, so the VAE keeps its layout.
        engine.optimisations = rt.speed_up(pipe, settings, device, conv_format=None)
        log.info("LTX engine on %s: %s", device, ", ".join(engine.optimisations) or "eager")
        return engine

    @property
    def frame_step(self) -> int:
        return self.pipe.vae_temporal_compression_ratio

    def _set_tiling(self, width: int, height: int, frames: int) -> bool:
        budget = rt.memory_budget_bytes(self.settings, self.device)
        resident = rt.resident_bytes(self.device, self.pipe.transformer, self.pipe.text_encoder, self.pipe.vae)
        tiling = needs_vae_tiling(width, height, frames, resident, budget)
        if tiling:
            self.pipe.vae.enable_tiling()
        else:
            self.pipe.vae.disable_tiling()
        self.last_tiling = tiling
        return tiling

    @torch.no_grad()
    def _encode_text(self, text: str) -> tuple[torch.Tensor, torch.Tensor]:
        """T5 embeddings and attention mask of one text (``self.encode_text`` is its LRU-cached form)."""
        embeds, mask, _, _ = self.pipe.encode_prompt(
            prompt=text, do_classifier_free_guidance=False, max_sequence_length=MAX_TEXT_TOKENS, device=self.device
        )
        return embeds, mask

    @torch.no_grad()
    def clip_frames(
        self,
        first: Image.Image,
        last: Image.Image,
        prompt: str,
        seed: int,
        width: int,
        height: int,
        frames: int,
        fps: int,
    ) -> np.ndarray:
        """(frames, height, width, 3) uint8: a clip from ``first`` to ``last`` lasting ``frames / fps`` seconds."""
        rt.check_size(width, height, 32, "LTX clip")
        (seed,) = rt.check_seeds([seed])
        if not prompt.strip():
            raise ValueError("the clip prompt is empty")
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        generated = ltx_frame_count(frames, self.settings.video_max_frames, self.frame_step)
        # The frame rate the generated frames have over the clip's real duration (see the module docstring).
        frame_rate = (generated - 1) * fps / max(frames - 1, 1)
        first, last = rt.fit_image(first, width, height), rt.fit_image(last, width, height)
        conditions = [
            LTXVideoCondition(image=first, frame_index=0),
            LTXVideoCondition(image=last, frame_index=generated - 1),
        ]
        steps = self.settings.effective_video_steps
        generator = torch.Generator("cpu").manual_seed(seed)
        with self._lock:
            self._set_tiling(width, height, generated)
            prompt_embeds, prompt_mask = self.encode_text(prompt)
            negative_embeds, negative_mask = self.encode_text(self.settings.negative_prompt)
            # optimise=False keeps the pipeline's own per-step noise: the plain-diffusers baseline.
            noise = contextlib.nullcontext()
            if self.settings.optimise:
                noise = conditioning_noise_ahead(self.pipe, generator, steps)
            with noise:
                output = self.pipe(
                    conditions=conditions,
                    prompt_embeds=prompt_embeds,
                    prompt_attention_mask=prompt_mask,
                    negative_prompt_embeds=negative_embeds,
                    negative_prompt_attention_mask=negative_mask,
                    max_sequence_length=MAX_TEXT_TOKENS,
                    width=width,
                    height=height,
                    num_frames=generated,
                    frame_rate=frame_rate,
                    num_inference_steps=steps,
                    guidance_scale=self.settings.video_guidance,
                    generator=generator,
                    decode_timestep=self.settings.video_decode_timestep,
                    decode_noise_scale=self.settings.video_decode_noise_scale,
                    # Stay on the GPU: resampling and the uint8 conversion there take milliseconds, where the
                    # pipeline's float numpy output plus a CPU resample took ~2 s per clip (H100 benchmark).
                    output_type="pt",
                )
            video = to_uint8_video(resample_frames(output.frames[0], frames), pinned=self.settings.optimise)
        if self.settings.pin_keyframes:
            video[0] = np.asarray(first, dtype=np.uint8)
            video[-1] = np.asarray(last, dtype=np.uint8)
        return video

    def clip_mp4(
        self,
        first_png: bytes,
        last_png: bytes,
        prompt: str,
        seed: int,
        width: int,
        height: int,
        frames: int,
        fps: int,
    ) -> bytes:
        """The bytes API the renderers and Modal workers call: PNG keyframes in, H.264 MP4 out."""
        first = rt.open_image(first_png, "first keyframe")
        last = rt.open_image(last_png, "last keyframe")
        video = self.clip_frames(first, last, prompt, seed, width, height, frames, fps)
        return encode_mp4(video, fps)


def clip_prompt(narration: str, action: str, extra: Sequence[str] = ()) -> str:
    """The motion prompt for a clip: what happens (action) first, then the narration's mood and detail."""
    parts = [action.strip(), narration.strip(), *(text.strip() for text in extra)]
    return " ".join(part for part in parts if part)
