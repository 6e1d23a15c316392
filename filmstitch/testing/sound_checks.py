"""Independent measurements of what the sound stage made: ffprobe, ebur128, decoded PCM, pitch, onsets.

Nothing here reuses the sound stage's own measuring code, so a test built on it can catch the stage's
mistakes instead of repeating them.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np

from filmstitch.video import ffmpeg_exe

RATE = 48_000


def ffprobe(path: Path) -> dict:
    """Streams and format of a media file, from Debian's ffprobe."""
    done = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
                          capture_output=True, check=True, timeout=60)
    return json.loads(done.stdout)


def ebur128(path: Path) -> dict[str, float]:
    """Integrated loudness and true peak of a file's audio by ffmpeg's ebur128 filter."""
    done = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(path), "-map", "0:a:0",
                           "-af", "ebur128=peak=true", "-f", "null", "-"], capture_output=True, timeout=120, check=True)
    text = done.stderr.decode()
    summary = text[text.rfind("Summary:"):]
    integrated = re.search(r"I:\s*(-?[\d.]+) LUFS", summary)
    peak = re.search(r"Peak:\s*(-?[\d.]+) dBFS", summary)
    if integrated is None or peak is None:
        raise AssertionError(f"no loudness summary from ffmpeg's ebur128: {text[-300:]}")
    return {"I": float(integrated.group(1)), "TP": float(peak.group(1))}


def decode_audio(source: Path | bytes, channels: int = 1) -> np.ndarray:
    """Any audio (a file or bytes of FLAC/WAV/M4A) as float32 PCM at 48 kHz, decoded by ffmpeg."""
    args = ["-i", str(source)] if isinstance(source, Path) else ["-i", "pipe:0"]
    done = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", *args, "-map", "0:a:0",
                           "-ac", str(channels), "-ar", str(RATE), "-f", "f32le", "pipe:1"],
                          input=None if isinstance(source, Path) else source, capture_output=True, check=True,
                          timeout=120)
    samples = np.frombuffer(done.stdout, dtype="<f4")
    return samples.reshape(-1, channels) if channels > 1 else samples


def subtitle_track(path: Path) -> str:
    """The first subtitle track of an MP4, converted back to SRT text by ffmpeg."""
    done = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(path), "-map", "0:s:0",
                           "-f", "srt", "pipe:1"], capture_output=True, check=True, timeout=60)
    return done.stdout.decode()


def srt_times(text: str) -> list[tuple[float, float, str]]:
    """(start, end, text) of every SRT cue."""
    def seconds(clock: str) -> float:
        h, m, s = clock.replace(",", ".").split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)
    cues = []
    for block in text.strip().split("\n\n"):
        rows = block.strip().splitlines()
        start, end = rows[1].split(" --> ")
        cues.append((seconds(start), seconds(end), "\n".join(rows[2:])))
    return cues


def onsets(voice: np.ndarray, threshold_db: float = -35.0, min_silence_s: float = 0.2) -> list[float]:
    """Speech onsets in a voice stem: 5 ms windows louder than threshold_db below the stem's loudest window,
    after at least min_silence_s of quiet."""
    hop = RATE // 200
    frames = voice[: len(voice) // hop * hop].reshape(-1, hop)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    loud = rms > rms.max() * 10 ** (threshold_db / 20)
    found: list[float] = []
    quiet_run = int(min_silence_s * 200)
    for i in np.flatnonzero(loud):
        if i >= 1 and not loud[max(0, i - quiet_run): i].any():
            found.append(i * hop / RATE)
        elif i == 0:
            found.append(0.0)
    return found


def pitch_track(samples: np.ndarray, rate: int = RATE) -> tuple[np.ndarray, np.ndarray]:
    """(times s, F0 Hz) of the voiced 64 ms frames (hop 10 ms), by the real cepstrum: the quefrency of its
    highest peak between 1/400 s and 1/55 s, kept where that peak stands clear of the cepstrum around it."""
    frame, hop = int(0.064 * rate), int(0.01 * rate)
    starts = np.arange(0, len(samples) - frame, hop)
    if not len(starts):
        return np.zeros(0), np.zeros(0)
    frames = np.stack([samples[s: s + frame] for s in starts]).astype(np.float64)
    loud = np.sqrt(np.mean(frames**2, axis=1))
    keep = loud >= loud.max() * 0.1
    spectrum = np.abs(np.fft.rfft(frames[keep] * np.hanning(frame), axis=1)) + 1e-9
    cepstrum = np.fft.irfft(np.log(spectrum), axis=1)
    low, high = rate // 400, rate // 55
    band = cepstrum[:, low:high]
    peak = band.argmax(axis=1)
    voiced = band.max(axis=1) / (np.abs(band).mean(axis=1) + 1e-12) > 4.0
    times = (starts[keep][voiced] + frame / 2) / rate
    return times, rate / (peak[voiced] + low)


def median_pitch(samples: np.ndarray, rate: int = RATE) -> float:
    """Median F0 (Hz) of a voice's voiced frames (0 when fewer than five are voiced)."""
    _, track = pitch_track(samples, rate)
    return float(np.median(track)) if len(track) >= 5 else 0.0


def pitch_shift(reference: np.ndarray, shifted: np.ndarray, time_scale: float = 1.0) -> tuple[float, int]:
    """(median semitones, frames compared) between two renderings of one utterance with the same timing
    (``shifted`` runs ``time_scale`` times faster): frame-by-frame F0 ratios, so intonation cancels out."""
    ref_t, ref_f = pitch_track(reference)
    sh_t, sh_f = pitch_track(shifted)
    if not len(ref_t) or not len(sh_t):
        return 0.0, 0
    ratios = []
    for t, f in zip(sh_t, sh_f):
        k = int(np.argmin(np.abs(ref_t - t * time_scale)))
        if abs(ref_t[k] - t * time_scale) <= 0.011:
            ratios.append(12 * np.log2(f / ref_f[k]))
    return (float(np.median(ratios)) if ratios else 0.0), len(ratios)


def spectral_centroid(samples: np.ndarray, rate: int = RATE) -> float:
    """Centroid (Hz) of the average power spectrum of a signal's loud parts."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples)))) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    return float((spectrum * freqs).sum() / spectrum.sum())


def synthetic_picture(path: Path, seconds: float, fps: int = 24, size: str = "768x512") -> Path:
    """A cheap test-pattern MP4 (H.264, yuv420p) of exactly ``seconds * fps`` frames."""
    frames = round(seconds * fps)
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    f"testsrc2=size={size}:rate={fps}", "-frames:v", str(frames), "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-y", str(path)], check=True, timeout=300)
    return path
