"""Stable Audio 3 ambience engine: a location's sound bed from its description, on a local GPU or on Modal.

The story of one bed:

1. **Prompt.** :func:`ambience_prompt` writes the location's sound as a text-to-audio model wants it: the
   ``sound`` text the writer gave (else its ambience tags in words), the time of day and mood, and what
   must not be in it (music, speech): the bed sits under the dialogue.
2. **Generate.** ``StableAudio3Pipeline`` (diffusers) denoises ``duration`` seconds of stereo latents
   (8 ping-pong steps for the distilled Medium checkpoint) conditioned on the prompt through T5Gemma,
   from a CPU generator seeded per piece, so a seed gives the same bed on any GPU. A span longer than
   ``ambience_chunk_s`` is made in chunks that overlap by 2 s and are cross-faded (equal power).
3. **Output.** The pipeline's 44.1 kHz stereo is resampled to 48 kHz (polyphase, ``scipy``), so the
   sound stage's fades, ducking and mix treat it exactly like the procedural beds.

Weights: ``stabilityai/stable-audio-3-medium`` in diffusers layout at ``FILMSTITCH_SOUND_AMBIENCE_DIR``.
"""

from __future__ import annotations

import threading
from fractions import Fraction

import numpy as np
import torch
from diffusers import StableAudio3Pipeline
from scipy.signal import resample_poly

from filmstitch.engines import runtime
from filmstitch.models import Environment, derive_seed, stable_hash
from filmstitch.sound.audio import SAMPLE_RATE
from filmstitch.sound.settings import SoundSettings

OVERLAP_S = 2.0
_TAG_WORDS = {"surf": "waves breaking on a shore", "room": "quiet room tone", "city": "distant city traffic",
              "machine": "machinery humming", "space": "a low spaceship hum", "night": "a night with crickets",
              "underwater": "muffled underwater ambience with bubbles", "crowd": "a murmuring crowd"}


def ambience_prompt(environment: Environment) -> str:
    """The text-to-audio prompt of a location (see the module docstring, step 1)."""
    sound = environment.sound or ", ".join(_TAG_WORDS.get(tag, tag) for tag in environment.ambience)
    return (f"Ambient field recording: {sound}. {environment.time_of_day.capitalize()}, {environment.atmosphere}. "
            "Continuous background ambience, no music, no speech.")


class StableAudioAmbienceEngine:
    """Text-to-audio beds with Stable Audio 3."""

    name = "stable-audio-3"

    def __init__(self, pipe: StableAudio3Pipeline, settings: SoundSettings, device: torch.device) -> None:
        self.pipe = pipe.to(device)
        self.pipe.set_progress_bar_config(disable=True)
        self.settings, self.device = settings, device
        self.rate = int(pipe.vae.config.sampling_rate)
        self.lock = threading.Lock()
        size = sum(p.numel() for p in pipe.transformer.parameters())
        self.code_version = f"sa3-{stable_hash([size, settings.ambience_steps, self.rate], 8)}"

    @classmethod
    def load(cls, settings: SoundSettings | None = None, device: str | torch.device | None = None
             ) -> StableAudioAmbienceEngine:
        settings = settings or SoundSettings()
        from filmstitch.engines.tts import _gpu_settings

        gpu = _gpu_settings(settings)
        target = runtime.resolve_device(gpu, device)
        directory = runtime.require_dir(settings.ambience_dir, "Stable Audio 3", "FILMSTITCH_SOUND_AMBIENCE_DIR")
        pipe = StableAudio3Pipeline.from_pretrained(directory, torch_dtype=runtime.resolve_dtype(gpu, target))
        return cls(pipe, settings, target)

    @classmethod
    def from_pipeline(cls, pipe: StableAudio3Pipeline, settings: SoundSettings, device: torch.device | str = "cpu"
                      ) -> StableAudioAmbienceEngine:
        return cls(pipe, settings, torch.device(device))

    def bed(self, prompt: str, samples: int, seed: int) -> np.ndarray:
        """A stereo bed of exactly ``samples`` samples at 48 kHz, float32."""
        if samples <= 0:
            raise ValueError(f"a bed needs a positive length, got {samples} samples")
        chunk = int(self.settings.ambience_chunk_s * SAMPLE_RATE)
        overlap = int(OVERLAP_S * SAMPLE_RATE)
        out = np.zeros((samples, 2), dtype=np.float32)
        start, number = 0, 0
        while start < samples:
            length = min(chunk, samples - start)
            piece = self._generate(prompt, length, derive_seed(seed, number))
            if start:  # equal-power cross-fade over the overlap with the previous chunk
                ramp = np.sin(np.linspace(0, np.pi / 2, overlap))[:, None]
                out[start: start + overlap] *= np.cos(np.linspace(0, np.pi / 2, overlap))[:, None]
                piece[:overlap] *= ramp
            out[start: start + length] += piece
            if start + length >= samples:
                break
            start, number = start + length - overlap, number + 1
        return out

    @torch.inference_mode()
    def _generate(self, prompt: str, samples: int, seed: int) -> np.ndarray:
        seconds = samples / SAMPLE_RATE
        with self.lock:
            audio = self.pipe(prompt, duration=seconds, num_inference_steps=self.settings.ambience_steps,
                              generator=torch.Generator("cpu").manual_seed(seed), output_type="pt").audios[0]
        audio = audio.float().cpu().numpy().T  # (samples, channels) at the model's rate
        if audio.shape[1] == 1:
            audio = np.repeat(audio, 2, axis=1)
        ratio = Fraction(SAMPLE_RATE, self.rate)
        resampled = resample_poly(audio[:, :2], ratio.numerator, ratio.denominator, axis=0).astype(np.float32)
        return np.pad(resampled[:samples], ((0, max(0, samples - len(resampled))), (0, 0)))
