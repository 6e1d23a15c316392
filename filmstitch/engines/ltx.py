"""LTX-Video 0.9.5 clip engine: a clip that starts on one keyframe and ends on the next.

The story of one clip:

1. **Timing.** A segment spans ``frames`` frame intervals (``frames_per_clip``: 192 for 8 s at 24 fps), so
   a clip has ``frames + 1`` frames from its opening to its closing keyframe. With ``native`` motion LTX
   generates them all at the film's frame rate (193 = 8 x 24 + 1, LTX's own ``8k + 1``); with
   ``interpolated`` motion (fast mode, or clips longer than LTX's 257 frames) it generates every 2nd frame
   at half the rate and ffmpeg's motion-compensated interpolator makes the rest
   (:mod:`filmstitch.engines.frames`, which also states the frame contract of the film).
2. **Conditions.** ``LTXConditionPipeline`` takes ``LTXVideoCondition`` items: the opening keyframe at
   frame 0 and the closing keyframe at the frame that lies ``frames / fps`` seconds later. Both first go
   through a one-frame H.264 round trip (CRF ``keyframe_crf``, 29), as LTX's training frames did; the
   conditioning latents get ``video_image_cond_noise_scale`` (0.15) noise each step. The motion in between
   follows the clip's visual prompt (built by the renderer from the segment's motion, the characters'
   appearance and the location's light) and steers away from artefacts with a negative prompt.
3. **Pinning.** With ``pin_keyframes`` (default) the exact keyframe pixels are written into the clip's
   first and last frame: the film's boundary frames are the chosen keyframes, bit for bit.
4. **Memory.** Before each clip the engine estimates the VAE decode's peak (calibrated on an H100:
   about 160 bytes per output pixel-frame) and switches VAE tiling on only when resident memory plus
   that estimate would not fit the budget (``memory_budget_gb``, default: the GPU's total).
5. **Output.** :meth:`LtxVideoEngine.clip_mp4` encodes the frames that go into the film (all but the
   closing keyframe, unless ``closing_frame``) with :func:`filmstitch.video.encode_mp4`, the codec setup
   every clip shares, so the final concat can stream-copy.
6. **No idle GPU between steps.** Each step the pipeline adds fresh noise to the conditioning latents,
   drawn from the clip's CPU generator (so a seed gives the same clip on any GPU) and copied up from
   pageable memory: a copy that waits for the GPU to finish the previous step, leaving it idle while
   Python prepares the next one (~10 ms a step on an H100). :class:`ConditioningNoise` draws the same
   numbers, in the same order, one step ahead, into pinned memory with an asynchronous copy. The text
   embeddings are cached per text, so the negative prompt, the same for every clip, is encoded once.

The chosen location's reference image is not given to LTX-Video: every condition of
``LTXConditionPipeline`` is a frame at a time position (docs/gpu.md, "Environment conditioning"), and the
location already reaches every clip through its two keyframes.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Iterator

import numpy as np
import torch
from diffusers import LTXConditionPipeline
from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition
from PIL import Image

from filmstitch.engines import GpuSettings, runtime
from filmstitch.engines.frames import ClipTiming, clip_timing, h264_round_trip, interpolate_frames
from filmstitch.engines.weights import shared_text_encoder
from filmstitch.video import encode_mp4

log = logging.getLogger(__name__)

#: Peak bytes of the LTX VAE decode per output pixel-frame (H100: 6.0 GB at 768x512x97, 7.8 GB at 1024x576x97).
VAE_DECODE_BYTES_PER_VOXEL = 160
#: T5 tokens per text: LTXConditionPipeline's own default.
MAX_TEXT_TOKENS = 256


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
    return runtime.would_overflow(resident_bytes, vae_decode_bytes(width, height, frames), budget_bytes)


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
        self.encode_text = functools.lru_cache(maxsize=runtime.PROMPT_CACHE_SIZE)(self._encode_text)
        pipe.set_progress_bar_config(disable=True)

    @classmethod
    def load(cls, settings: GpuSettings | None = None, device: str | torch.device | None = None) -> LtxVideoEngine:
        settings = settings or GpuSettings()
        device = runtime.resolve_device(settings, device)
        dtype = runtime.resolve_dtype(settings, device)
        directory = runtime.require_dir(settings.ltx_dir, "LTX-Video 0.9.5", "FILMSTITCH_GPU_LTX_DIR")
        shared = shared_text_encoder(directory)  # FLUX's T5-XXL, when the download found it identical
        extra = {}
        if shared is not None:
            from transformers import T5EncoderModel

            extra["text_encoder"] = T5EncoderModel.from_pretrained(shared, torch_dtype=dtype)
        pipe = LTXConditionPipeline.from_pretrained(directory, dtype=dtype, **extra)
        return cls.from_pipeline(pipe, settings, device)

    @classmethod
    def from_pipeline(cls, pipe: LTXConditionPipeline, settings: GpuSettings, device: torch.device) -> LtxVideoEngine:
        pipe.to(device)
        engine = cls(pipe, settings)
        # A channels-last-3d VAE decoded 0.7 s *slower* on an H100, so the VAE keeps its layout.
        engine.optimisations = runtime.speed_up(pipe, settings, device, conv_format=None)
        log.info("LTX engine on %s: %s", device, ", ".join(engine.optimisations) or "eager")
        return engine

    @property
    def frame_step(self) -> int:
        return self.pipe.vae_temporal_compression_ratio

    def timing(self, frames: int) -> ClipTiming:
        """How a clip of ``frames`` intervals is made with these settings (a ValueError if it cannot be)."""
        settings = self.settings
        return clip_timing(frames, settings.effective_video_motion, settings.video_max_frames, self.frame_step)

    def _set_tiling(self, width: int, height: int, frames: int) -> bool:
        budget = runtime.memory_budget_bytes(self.settings, self.device)
        resident = runtime.resident_bytes(self.device, self.pipe.transformer, self.pipe.text_encoder, self.pipe.vae)
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
        """(frames + 1, height, width, 3) uint8: a clip from ``first`` (t = 0) to ``last`` (t = frames / fps)."""
        runtime.check_size(width, height, 32, "LTX clip")
        (seed,) = runtime.check_seeds([seed])
        if not prompt.strip():
            raise ValueError("the clip prompt is empty")
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        timing = self.timing(frames)
        first, last = runtime.fit_image(first, width, height), runtime.fit_image(last, width, height)
        crf = self.settings.keyframe_crf
        conditions = [
            LTXVideoCondition(image=h264_round_trip(first, crf), frame_index=0),
            LTXVideoCondition(image=h264_round_trip(last, crf), frame_index=timing.last_index),
        ]
        steps = self.settings.effective_video_steps
        generator = torch.Generator("cpu").manual_seed(seed)
        with self._lock:
            self._set_tiling(width, height, timing.generated)
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
                    num_frames=timing.generated,
                    frame_rate=fps / timing.divisor,
                    num_inference_steps=steps,
                    guidance_scale=self.settings.video_guidance,
                    image_cond_noise_scale=self.settings.video_image_cond_noise_scale,
                    generator=generator,
                    decode_timestep=self.settings.video_decode_timestep,
                    decode_noise_scale=self.settings.video_decode_noise_scale,
                    # Stay on the GPU: the uint8 conversion there takes milliseconds, where the pipeline's float
                    # numpy output took ~2 s per clip (H100 benchmark).
                    output_type="pt",
                )
            # Frames after the closing keyframe (when frames is not a multiple of 8) are not part of the clip.
            video = to_uint8_video(output.frames[0][: timing.last_index + 1], pinned=self.settings.optimise)
        # CPU work outside the lock: the next clip on this GPU denoises meanwhile.
        video = interpolate_frames(video, timing.divisor)
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
        closing_frame: bool = False,
    ) -> bytes:
        """The bytes API the renderers and Modal workers call: PNG keyframes in, H.264 MP4 out.

        The MP4 holds the ``frames`` frames that go into the film: the opening keyframe and what follows, up
        to the frame before the closing keyframe (the next clip's first frame); ``closing_frame`` (the last
        segment) keeps the closing keyframe too, ``frames + 1`` frames.
        """
        first = runtime.open_image(first_png, "first keyframe")
        last = runtime.open_image(last_png, "last keyframe")
        video = self.clip_frames(first, last, prompt, seed, width, height, frames, fps)
        return encode_mp4(video if closing_frame else video[:frames], fps)
