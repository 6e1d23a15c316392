"""LTX-2 clip engine (``FILMSTITCH_GPU_VIDEO_ENGINE=ltx-2``): a clip from one keyframe to the next, with its sound.

Beside :mod:`filmstitch.engines.ltx` (LTX-Video 0.9.5, silent, the default). One ``LTX2ConditionPipeline`` call
makes the picture and a stereo waveform together (diffusers 0.42.1), so the sound of a door, a wave or a step
lands on the frame that shows it.

1. **Timing.** As LTX-Video: a segment of F frame intervals is F + 1 frames from keyframe to keyframe; LTX-2
   generates ``8k + 1`` frames at the film's rate (193 for 8 s at 24 fps), ``interpolated`` motion halves them
   (:func:`filmstitch.engines.frames.clip_timing`). Sizes are multiples of 32.
2. **The closing keyframe lands on the clip's last frame.** ``LTX2VideoCondition.index`` counts *latent*
   frames: index 0 replaces the opening latent (frame 0, exact), but any other index is appended as keyframe
   tokens whose time coordinate is pixel frame ``8k - 7``, so ``index=-1`` on 193 frames puts the closing
   keyframe at frame 185, a third of a second before the cut. The engine keeps ``index=-1`` (the last latent,
   which covers frames 185-192) and, for that one call, places the keyframe's tokens at pixel frame
   ``timing.last_index`` (192): :func:`keyframe_at_frame` wraps the pipeline's ``_prepare_keyframe_coords``, the
   one place that turns the index into a time, as Lightricks' own ``KeyframeInterpolationPipeline`` takes pixel
   frame indices. Frames after ``last_index`` (when F is not a multiple of 8) are dropped.
   The keyframes take the one-frame H.264 round trip LTX-2 was trained with (CRF ``ltx2_keyframe_crf``, 33).
3. **Pinning.** With ``pin_keyframes`` (default) the exact keyframe pixels are written into the clip's first and
   last frame, as LTX-Video's engine does: the film's boundary frames are the chosen keyframes, bit for bit.
4. **Sound.** ``LTX2PipelineOutput.audio`` is (batch, 2, samples) at the vocoder's rate (24 kHz for LTX-2). The
   clip's waveform covers its whole generated length (``generated / (fps / divisor)`` seconds: 193 frames at 24
   fps are 8.042 s, one frame longer than the segment), so the mix has a frame's worth of tail to cross-fade the
   next clip's sound into (:mod:`filmstitch.sound.clips`). It is returned as a 16-bit stereo WAV.
5. **Memory** (docs/gpu.md, "LTX-2"). LTX-2's 19B transformer is 38 GB in bf16 and its Gemma 3 12B text encoder
   24 GB: both on one 80 GB H100 leave too little for the activations and the VAE decode. With
   ``ltx2_text_encoder=offload`` (default) the text encoder lives in host memory and visits the GPU only to encode
   a text not seen before (the negative prompt once per engine, each clip's prompt once); ``fp8`` halves the
   transformer (:func:`filmstitch.engines.runtime.to_fp8`). VAE tiling is switched on when the decode would not
   fit, as in LTX-Video's engine.

Guidance: CFG only (``ltx2_guidance`` for the picture, ``ltx2_audio_guidance`` for the sound); the pipeline's STG
and modality-isolation passes are off, each would add a full transformer pass per step.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import threading
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from diffusers import LTX2ConditionPipeline
from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition
from PIL import Image

from filmstitch.engines import GpuSettings, runtime
from filmstitch.engines.frames import ClipTiming, clip_timing, h264_round_trip, interpolate_frames
from filmstitch.engines.ltx import needs_vae_tiling, to_uint8_video
from filmstitch.video import encode_mp4

log = logging.getLogger(__name__)

#: Gemma tokens per text (LTX-2's pipelines read up to 1024; our clip prompts are under 200 words).
MAX_TEXT_TOKENS = 256


@dataclass(frozen=True)
class ClipWithSound:
    """A clip's frames ((frames + 1, H, W, 3) uint8) and its waveform ((samples, 2) float32 at ``rate``)."""

    frames: np.ndarray
    audio: np.ndarray
    rate: int


def keyframe_pixel_frame(latent_index: int, frame_step: int = 8) -> int:
    """Where diffusers 0.42.1 puts a keyframe appended at a non-zero latent index: pixel frame ``8k - 7``."""
    return (latent_index - 1) * frame_step + 1


@contextlib.contextmanager
def keyframe_at_frame(pipe: LTX2ConditionPipeline, frame: int) -> Iterator[list[int]]:
    """For one call, place the appended keyframe's tokens at pixel frame ``frame`` instead of ``8k - 7``.

    Yields the list of pixel frames the pipeline asked for (one per appended keyframe), so a test can see the
    wrap took effect. Only a single appended keyframe is expected (the closing one).
    """
    original: Callable[..., torch.Tensor] = pipe._prepare_keyframe_coords
    asked: list[int] = []

    def at_frame(*args: object, pixel_frame_idx: int, **kwargs: object) -> torch.Tensor:
        asked.append(pixel_frame_idx)
        return original(*args, pixel_frame_idx=frame, **kwargs)

    pipe._prepare_keyframe_coords = at_frame
    try:
        yield asked
    finally:
        del pipe._prepare_keyframe_coords  # back to the class's own method


def wav_bytes(audio: np.ndarray, rate: int) -> bytes:
    """(samples, channels) float in [-1, 1] -> 16-bit PCM WAV."""
    pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(pcm.shape[1])
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())
    return out.getvalue()


class Ltx2VideoEngine:
    """LTX-2 on one device. Thread-safe: calls are serialised (a pipeline is not re-entrant)."""

    #: Told apart from LTX-Video's engine by the renderers: this one returns sound too.
    has_sound = True

    def __init__(self, pipe: LTX2ConditionPipeline, settings: GpuSettings | None = None,
                 device: torch.device | None = None) -> None:
        self.pipe = pipe
        self.settings = settings or GpuSettings()
        self.device = device or pipe.transformer.device
        self.optimisations: list[str] = []
        self.last_tiling: bool | None = None
        #: The closing keyframe's pixel frame in the last call: where diffusers would put it, where it went.
        self.last_keyframe_frames: dict[str, object] = {}
        self._lock = threading.Lock()
        self.encode_text = functools.lru_cache(maxsize=runtime.PROMPT_CACHE_SIZE)(self._encode_text)
        pipe.set_progress_bar_config(disable=True)

    @classmethod
    def load(cls, settings: GpuSettings | None = None, device: str | torch.device | None = None) -> Ltx2VideoEngine:
        settings = settings or GpuSettings()
        device = runtime.resolve_device(settings, device)
        dtype = runtime.resolve_dtype(settings, device)
        directory = runtime.require_dir(settings.ltx2_dir, "LTX-2", "FILMSTITCH_GPU_LTX2_DIR")
        pipe = LTX2ConditionPipeline.from_pretrained(directory, dtype=dtype)
        return cls.from_pipeline(pipe, settings, device)

    @classmethod
    def from_pipeline(cls, pipe: LTX2ConditionPipeline, settings: GpuSettings, device: torch.device) -> Ltx2VideoEngine:
        if settings.fast and settings.fast_cache == "first-block":
            # diffusers 0.42.1's first-block cache cannot hook LTX-2's audio-video blocks (it fails on the first).
            raise ValueError("FILMSTITCH_GPU_FAST_CACHE=first-block does not work with LTX-2 (diffusers 0.42.1 cannot "
                             "hook its audio-video blocks): use taylorseer (the default) or none")
        offload = settings.ltx2_text_encoder == "offload" and device.type == "cuda"
        for name, module in pipe.components.items():
            if isinstance(module, torch.nn.Module):
                module.to("cpu" if offload and name == "text_encoder" else device)
        engine = cls(pipe, settings, device)
        engine.optimisations = runtime.speed_up(pipe, settings, device, conv_format=None)
        if offload:
            engine.optimisations.append("text-encoder-offload")
        log.info("LTX-2 engine on %s: %s", device, ", ".join(engine.optimisations) or "eager")
        return engine

    @property
    def frame_step(self) -> int:
        return self.pipe.vae_temporal_compression_ratio

    @property
    def sample_rate(self) -> int:
        return int(self.pipe.vocoder.config.output_sampling_rate)

    def timing(self, frames: int) -> ClipTiming:
        settings = self.settings
        return clip_timing(frames, settings.effective_video_motion, settings.video_max_frames, self.frame_step)

    @contextlib.contextmanager
    def _text_encoder_here(self) -> Iterator[None]:
        """The text encoder on the engine's device for one encode, back in host memory after (offload)."""
        encoder = self.pipe.text_encoder
        home = next(encoder.parameters()).device
        if home == self.device:
            yield
            return
        encoder.to(self.device)
        try:
            yield
        finally:
            encoder.to(home)
            if self.device.type == "cuda":
                torch.cuda.empty_cache()

    @torch.no_grad()
    def _encode_text(self, text: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Gemma hidden states and attention mask of one text (``self.encode_text`` is its LRU-cached form)."""
        with self._text_encoder_here():
            embeds, mask, _, _ = self.pipe.encode_prompt(
                prompt=text, do_classifier_free_guidance=False, max_sequence_length=MAX_TEXT_TOKENS,
                device=self.device, dtype=self.pipe.transformer.dtype,
            )
        return embeds, mask

    def _set_tiling(self, width: int, height: int, frames: int) -> bool:
        budget = runtime.memory_budget_bytes(self.settings, self.device)
        resident = runtime.resident_bytes(self.device, self.pipe.transformer, self.pipe.vae, self.pipe.audio_vae)
        tiling = needs_vae_tiling(width, height, frames, resident, budget)
        if tiling:
            self.pipe.vae.enable_tiling()
        else:
            self.pipe.vae.disable_tiling()
        self.last_tiling = tiling
        return tiling

    @torch.no_grad()
    def clip(
        self, first: Image.Image, last: Image.Image, prompt: str, seed: int, width: int, height: int, frames: int,
        fps: int,
    ) -> ClipWithSound:
        """A clip from ``first`` (frame 0) to ``last`` (frame ``frames``), with its sound."""
        runtime.check_size(width, height, 32, "LTX-2 clip")
        (seed,) = runtime.check_seeds([seed])
        if not prompt.strip():
            raise ValueError("the clip prompt is empty")
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        timing = self.timing(frames)
        first, last = runtime.fit_image(first, width, height), runtime.fit_image(last, width, height)
        # The round trip is ours (the ffmpeg binary, as LTX-Video's engine does); crf=0 tells diffusers not to do it
        # again (its own needs PyAV).
        crf = self.settings.ltx2_keyframe_crf
        conditions = [LTX2VideoCondition(frames=h264_round_trip(first, crf), index=0, crf=0),
                      LTX2VideoCondition(frames=h264_round_trip(last, crf), index=-1, crf=0)]
        generator = torch.Generator("cpu").manual_seed(seed)
        with self._lock:
            self._set_tiling(width, height, timing.generated)
            prompt_embeds, prompt_mask = self.encode_text(prompt)
            negative_embeds, negative_mask = self.encode_text(self.settings.negative_prompt)
            with keyframe_at_frame(self.pipe, timing.last_index) as asked:
                output = self.pipe(
                    conditions=conditions,
                    prompt_embeds=prompt_embeds, prompt_attention_mask=prompt_mask,
                    negative_prompt_embeds=negative_embeds, negative_prompt_attention_mask=negative_mask,
                    max_sequence_length=MAX_TEXT_TOKENS,
                    width=width, height=height, num_frames=timing.generated, frame_rate=fps / timing.divisor,
                    num_inference_steps=self.settings.effective_ltx2_steps,
                    guidance_scale=self.settings.ltx2_guidance,
                    audio_guidance_scale=self.settings.ltx2_audio_guidance,
                    stg_scale=0.0, audio_stg_scale=0.0, modality_scale=1.0, audio_modality_scale=1.0,
                    generator=generator,
                    output_type="pt",
                )
            self.last_keyframe_frames = {"diffusers": list(asked), "placed": timing.last_index}
            video = to_uint8_video(output.frames[0][: timing.last_index + 1], pinned=self.settings.optimise)
            audio = output.audio[0].float().cpu().numpy().T.copy()  # (samples, 2)
        video = interpolate_frames(video, timing.divisor)
        if self.settings.pin_keyframes:
            video[0] = np.asarray(first, dtype=np.uint8)
            video[-1] = np.asarray(last, dtype=np.uint8)
        return ClipWithSound(frames=video, audio=audio, rate=self.sample_rate)

    def clip_parts(
        self, first_png: bytes, last_png: bytes, prompt: str, seed: int, width: int, height: int, frames: int,
        fps: int, closing_frame: bool = False,
    ) -> dict[str, bytes]:
        """The bytes API the renderers and Modal workers call: ``{"mp4": the clip's film frames (as
        ``LtxVideoEngine.clip_mp4``), "wav": its whole waveform}``."""
        first = runtime.open_image(first_png, "first keyframe")
        last = runtime.open_image(last_png, "last keyframe")
        made = self.clip(first, last, prompt, seed, width, height, frames, fps)
        video = made.frames if closing_frame else made.frames[:frames]
        return {"mp4": encode_mp4(video, fps), "wav": wav_bytes(made.audio, made.rate)}

    def clip_mp4(self, *args: object, **kwargs: object) -> bytes:
        """The picture alone (the LTX-Video engine's API)."""
        return self.clip_parts(*args, **kwargs)["mp4"]
