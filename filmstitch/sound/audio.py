"""Audio plumbing shared by the sound stage: WAV bytes <-> numpy, ffmpeg as a filter, speech bounds.

Everything the sound stage makes is 48 kHz (the rate of film and of AAC in MP4). Signals are float32
numpy arrays in [-1, 1], shaped ``(samples,)`` for mono or ``(samples, channels)`` for stereo. Between
stages they travel as 16-bit PCM WAV bytes (stdlib ``wave``: no codec, no dependency).

ffmpeg is the one that ships in imageio-ffmpeg (as in :mod:`filmstitch.video`). Audio goes in and
out of it through pipes, so nothing here touches a path a user chose.
"""

from __future__ import annotations

import io
import subprocess
import wave

import numpy as np

#: The sound stage's sample rate: film's and AAC-in-MP4's usual rate.
SAMPLE_RATE = 48_000


class AudioError(RuntimeError):
    """An audio step failed; the message says which step (and never holds a secret)."""


def to_wav(signal: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    """Float samples in [-1, 1] (mono or (samples, channels)) as 16-bit PCM WAV bytes (clipped, rounded)."""
    samples = np.asarray(signal, dtype=np.float32)
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())
    return out.getvalue()


def from_wav(data: bytes, what: str = "audio") -> tuple[np.ndarray, int]:
    """(float32 samples, rate) of 16-bit PCM WAV bytes; mono comes back 1-D, more channels 2-D."""
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            if wav.getsampwidth() != 2:
                raise AudioError(f"{what}: expected 16-bit PCM, got {8 * wav.getsampwidth()}-bit")
            channels, rate = wav.getnchannels(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise AudioError(f"{what} is not a readable WAV ({len(data)} bytes): {exc}") from None
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32767.0
    if channels > 1:
        samples = samples.reshape(-1, channels)
    return samples, rate


def run_ffmpeg(args: list[str], stdin: bytes | None, what: str, timeout: float = 300) -> bytes:
    """Run the bundled ffmpeg with ``args`` (input and output included), return its stdout.

    A failure raises :class:`AudioError` with ``what`` and the last lines ffmpeg printed.
    """
    import imageio_ffmpeg  # here, not at the top: GPU workers use this module's WAV helpers and need no ffmpeg

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostats", "-loglevel", "error", *args]
    try:
        done = subprocess.run(command, input=stdin, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise AudioError(f"{what}: ffmpeg ran past {timeout:g} s") from None
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise AudioError(f"{what}: ffmpeg failed: " + " | ".join(tail))
    return done.stdout


def filter_wav(data: bytes, audio_filter: str, what: str, channels: int | None = None) -> bytes:
    """WAV bytes through an ffmpeg audio filter chain, back as 16-bit WAV at 48 kHz."""
    layout = ["-ac", str(channels)] if channels else []
    return run_ffmpeg(
        ["-f", "wav", "-i", "pipe:0", "-af", audio_filter, "-ar", str(SAMPLE_RATE), *layout,
         "-c:a", "pcm_s16le", "-f", "wav", "pipe:1"],
        data, what,
    )


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def frame_rms(signal: np.ndarray, rate: int, window_s: float = 0.01) -> np.ndarray:
    """RMS of consecutive windows (10 ms by default) of a mono signal."""
    hop = max(1, int(rate * window_s))
    usable = len(signal) // hop * hop
    if usable == 0:
        return np.zeros(0, dtype=np.float32)
    blocks = signal[:usable].reshape(-1, hop).astype(np.float64)
    return np.sqrt(np.mean(blocks * blocks, axis=1)).astype(np.float32)


def speech_bounds(signal: np.ndarray, rate: int, threshold_db: float = -40.0) -> tuple[float, float]:
    """(onset, offset) in seconds of the audible part of a line: the first and last 10 ms window whose
    RMS is within ``threshold_db`` of the line's loudest window. A silent signal gives (0, 0)."""
    mono = signal if signal.ndim == 1 else signal.mean(axis=1)
    rms = frame_rms(mono, rate)
    if not len(rms) or rms.max() <= 1e-6:
        return 0.0, 0.0
    loud = np.flatnonzero(rms >= rms.max() * db_to_gain(threshold_db))
    hop = int(rate * 0.01)
    return loud[0] * hop / rate, (loud[-1] + 1) * hop / rate


def pauses(signal: np.ndarray, rate: int, min_pause_s: float = 0.12, threshold_db: float = -38.0) -> list[float]:
    """Centres (seconds) of the pauses inside a line: runs of quiet 10 ms windows at least ``min_pause_s`` long,
    between its onset and offset. Subtitles split a long line at these, where the voice really stops."""
    mono = signal if signal.ndim == 1 else signal.mean(axis=1)
    rms = frame_rms(mono, rate)
    if not len(rms) or rms.max() <= 1e-6:
        return []
    quiet = rms < rms.max() * db_to_gain(threshold_db)
    loud = np.flatnonzero(~quiet)
    found, run_start = [], None
    for i in range(loud[0], loud[-1] + 1):
        if quiet[i] and run_start is None:
            run_start = i
        elif not quiet[i] and run_start is not None:
            if (i - run_start) * 0.01 >= min_pause_s:
                found.append((run_start + i) / 2 * 0.01)
            run_start = None
    return found
