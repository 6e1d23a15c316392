"""SpeechT5 voice engine: a neural voice per character, on a local GPU or inside a Modal container.

The story of one segment's lines:

1. **Voices.** SpeechT5 (Microsoft, MIT licence) speaks in the voice of a 512-dimensional speaker
   embedding (an x-vector). The weights folder holds ``speakers.npz``: one mean x-vector per speaker of the
   CMU ARCTIC corpus (awb, bdl, clb, jmk, ksp, rms, slt), made once by the download command. Those names are
   the engine's voice ids, so casting gives each character a different real speaker (and shaping on top
   only where the film has more characters than speakers).
2. **One batch per segment.** The segment's lines are tokenised together (padded, with an attention mask)
   and decoded in one ``generate_speech`` call with the HiFi-GAN vocoder; ``return_output_lengths`` says
   where each line's waveform ends. SpeechT5's decoder pre-net applies dropout at inference (by design),
   so the batch runs under a seed made from its texts and voices: the same lines give the same audio.
3. **Output.** 16 kHz mono float samples per line (:class:`~filmstitch.sound.voices.RawSpeech`); the
   sound stage shapes, fits and resamples them like Piper's.

Weights layout (``FILMSTITCH_SOUND_TTS_DIR``)::

    speecht5_tts/        microsoft/speecht5_tts     (model + tokenizer)
    speecht5_hifigan/    microsoft/speecht5_hifigan (vocoder)
    speakers.npz         voice id -> x-vector (512 floats)
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import AutoTokenizer, SpeechT5ForTextToSpeech, SpeechT5HifiGan

from filmstitch.engines import runtime
from filmstitch.models import VoiceCasting, derive_seed, stable_hash
from filmstitch.sound.settings import SoundSettings
from filmstitch.sound.voices import SHAPING_VERSION, RawSpeech, SoundEngine, SpeechError, speakable

SAMPLE_RATE = 16_000
#: Mel frames per input token the decoder may produce (SpeechT5's own default is 20).
MAX_LEN_RATIO = 20.0


class SpeechT5Engine(SoundEngine):
    """SpeechT5 + HiFi-GAN with one x-vector per voice id."""

    name = "speecht5"

    def __init__(self, model: SpeechT5ForTextToSpeech, vocoder: SpeechT5HifiGan, tokenizer,
                 speakers: Mapping[str, np.ndarray], device: torch.device, dtype: torch.dtype,
                 min_len_ratio: float = 0.0, max_len_ratio: float = MAX_LEN_RATIO) -> None:
        if not speakers:
            raise SpeechError("speakers.npz holds no speaker embeddings")
        self.model = model.to(device=device, dtype=dtype).eval()
        self.vocoder = vocoder.to(device=device, dtype=dtype).eval()
        self.tokenizer = tokenizer
        self.device, self.dtype = device, dtype
        self.speakers = {voice: torch.tensor(np.asarray(vector, dtype=np.float32))
                         for voice, vector in speakers.items()}
        self.min_len_ratio, self.max_len_ratio = min_len_ratio, max_len_ratio
        self.lock = threading.Lock()  # one batch on the GPU at a time
        sizes = sum(p.numel() for p in self.model.parameters()) + sum(p.numel() for p in self.vocoder.parameters())
        self.code_version = f"speecht5-{stable_hash([sizes, sorted(self.speakers)], 8)}-{SHAPING_VERSION}"

    @classmethod
    def load(cls, settings: SoundSettings | None = None, device: str | torch.device | None = None) -> SpeechT5Engine:
        """From ``settings.tts_dir`` in the layout of the module docstring."""
        settings = settings or SoundSettings()
        root = Path(settings.tts_dir)
        for part in ("speecht5_tts", "speecht5_hifigan", "speakers.npz"):
            if not (root / part).exists():
                raise FileNotFoundError(f"SpeechT5 weights incomplete: {root / part} is missing (set "
                                        "FILMSTITCH_SOUND_TTS_DIR; docs/sound.md shows the download)")
        gpu = _gpu_settings(settings)
        target = runtime.resolve_device(gpu, device)
        # SpeechT5 is small (~150 M) and was trained in fp32; fp32 on the GPU too unless asked otherwise.
        dtype = runtime.resolve_dtype(gpu, target) if settings.dtype != "auto" else torch.float32
        with np.load(root / "speakers.npz") as table:
            speakers = {voice: table[voice] for voice in table.files}
        return cls(SpeechT5ForTextToSpeech.from_pretrained(root / "speecht5_tts"),
                   SpeechT5HifiGan.from_pretrained(root / "speecht5_hifigan"),
                   AutoTokenizer.from_pretrained(root / "speecht5_tts"), speakers, target, dtype)

    def voices(self) -> list[str]:
        return sorted(self.speakers)

    @torch.inference_mode()
    def synthesize(self, lines: Sequence[tuple[str, VoiceCasting]]) -> list[RawSpeech]:
        if not lines:
            return []
        for index, (_, casting) in enumerate(lines):
            if casting.voice not in self.speakers:
                raise SpeechError(f"voice {casting.voice!r} is not a SpeechT5 speaker ({', '.join(self.voices())})",
                                  index)
        texts = [speakable(text) for text, _ in lines]
        batch = self.tokenizer(texts, padding=True, return_tensors="pt")
        embeddings = torch.stack([self.speakers[c.voice] for _, c in lines])
        seed = derive_seed(0, "speecht5", texts, [c.voice for _, c in lines])
        with self.lock, torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(seed)
            try:
                waves, lengths = self.model.generate_speech(
                    batch.input_ids.to(self.device), embeddings.to(self.device, self.dtype),
                    attention_mask=batch.attention_mask.to(self.device), vocoder=self.vocoder,
                    minlenratio=self.min_len_ratio, maxlenratio=self.max_len_ratio, return_output_lengths=True)
            except RuntimeError as exc:
                raise SpeechError(f"SpeechT5 failed: {str(exc).splitlines()[0]}", 0) from None
        waves = waves.float().cpu().numpy().reshape(len(lines), -1)
        return [RawSpeech(waves[k, : int(lengths[k])].astype(np.float32), SAMPLE_RATE) for k in range(len(lines))]


def _gpu_settings(settings: SoundSettings):
    """The image/video engines' device and dtype rules, applied to the sound settings."""
    from filmstitch.engines import GpuSettings

    return GpuSettings(device=settings.device, dtype=settings.dtype)


def mean_xvectors(vectors: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-speaker mean of CMU ARCTIC utterance x-vectors keyed 'cmu_us_<speaker>_arctic-...' (the download
    command's last step), each renormalised to the norm of the utterance vectors."""
    by_speaker: dict[str, list[np.ndarray]] = {}
    for name, vector in vectors.items():
        parts = Path(name).name.split("_")
        speaker = parts[2] if len(parts) > 2 and parts[0] == "cmu" else parts[0]
        by_speaker.setdefault(speaker, []).append(np.asarray(vector, dtype=np.float32).reshape(-1))
    table = {}
    for speaker, rows in sorted(by_speaker.items()):
        stacked = np.stack(rows)
        mean = stacked.mean(axis=0)
        table[speaker] = mean * (np.linalg.norm(stacked, axis=1).mean() / max(np.linalg.norm(mean), 1e-9))
    return table
