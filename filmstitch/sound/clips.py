"""The clips' own sound (LTX-2): each clip's waveform laid at its segment, joined at the cuts by a short cross-fade.

A clip made by LTX-2 carries a stereo waveform generated with its frames (:mod:`filmstitch.engines.ltx2`), stored
as a part of its own (``clips/cNN/take-K.wav``). Clip ``i``'s sound starts on the segment's first sample (exact
integer arithmetic on the frame grid, :func:`filmstitch.sound.timing.segment_start_sample`) and runs a frame past
the cut: LTX-2 generates F + 1 frames, keyframe to keyframe, and its sound lasts as long.

**Seams.** Two clips' sounds were generated apart, so at the cut the waveform jumps from whatever clip ``i`` was
doing to whatever clip ``i + 1`` starts with: a click. :func:`clip_sound_stem` joins them with an equal-power
cross-fade of :data:`CROSSFADE_S` (20 ms): clip ``i`` fades out over its tail past the cut (which is the sound of
clip ``i + 1``'s first frame's moment, so nothing is borrowed from elsewhere) while clip ``i + 1`` fades in. 20 ms
is under the 41.7 ms tail a 24 fps clip has, long enough that the join has no step (the fade's own slope is a
50 Hz half-cycle), and short enough that the cut still sounds like a cut. :func:`seam_step` measures the join.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import gcd

import numpy as np
from scipy.signal import resample_poly

from filmstitch.sound.audio import SAMPLE_RATE, AudioError, from_wav
from filmstitch.sound.timing import film_samples, segment_start_sample

CROSSFADE_S = 0.02


def to_film_rate(samples: np.ndarray, rate: int) -> np.ndarray:
    """(samples, 2) float32 at the sound stage's 48 kHz (polyphase resampling; LTX-2's vocoder runs at 24 kHz)."""
    if samples.ndim == 1:
        samples = np.stack([samples, samples], axis=1)
    if rate == SAMPLE_RATE:
        return samples.astype(np.float32)
    common = gcd(rate, SAMPLE_RATE)
    return resample_poly(samples, SAMPLE_RATE // common, rate // common, axis=0).astype(np.float32)


def _fades(length: int, fade: int, fade_in: bool, fade_out: bool) -> np.ndarray:
    """Equal-power gain: sin ramp in over the first ``fade`` samples, cos ramp out over the last ``fade``."""
    gain = np.ones(length, dtype=np.float32)
    fade = min(fade, length // 2)
    if fade <= 0:
        return gain
    ramp = np.sin(0.5 * np.pi * (np.arange(fade) + 0.5) / fade).astype(np.float32)
    if fade_in:
        gain[:fade] *= ramp
    if fade_out:
        gain[length - fade:] *= ramp[::-1]
    return gain


def clip_sound_stem(
    wavs: Sequence[bytes], frames_per_clip: int, fps: int, crossfade_s: float = CROSSFADE_S
) -> np.ndarray:
    """The film's clip-sound stem: (samples, 2) float32 at 48 kHz, ``len(wavs)`` segments long.

    Clip ``i`` is laid from its segment's first sample, up to the next segment's first sample plus the fade
    (``crossfade_s``; 0 is a hard cut). Each joins the next by an equal-power cross-fade starting at the cut; a
    clip whose sound is too short for the fade fades out over its own last samples instead (a dip, not a click).
    """
    segments = len(wavs)
    total = film_samples(segments, frames_per_clip, fps)
    fade = round(crossfade_s * SAMPLE_RATE)
    stem = np.zeros((total, 2), dtype=np.float32)
    for i, wav in enumerate(wavs):
        samples, rate = from_wav(wav, f"clip {i}'s sound")
        sound = to_film_rate(samples, rate)
        if sound.ndim != 2 or sound.shape[1] != 2:
            raise AudioError(f"clip {i}'s sound: expected mono or stereo, got {sound.shape[1]} channels")
        start = segment_start_sample(i, frames_per_clip, fps)
        end = segment_start_sample(i + 1, frames_per_clip, fps)
        last = i == segments - 1
        piece = sound[: (end - start) + (0 if last else fade)]
        piece = piece * _fades(len(piece), fade, fade_in=i > 0, fade_out=not last)[:, None]
        stop = min(total, start + len(piece))
        stem[start:stop] += piece[: stop - start]
    return stem


def seam_step(stem: np.ndarray, at: int, around: int = 480) -> float:
    """The click at sample ``at``: the largest sample-to-sample step within a couple of samples of it, over the
    median step of the ``around`` samples on either side (how much the join jumps against how the sound moves
    anyway). About 1 for a seamless join; a hard cut between unrelated sounds gives tens to hundreds."""
    mono = stem.mean(axis=1) if stem.ndim == 2 else stem
    steps = np.abs(np.diff(mono.astype(np.float64)))
    local = steps[max(0, at - 2): at + 2].max()
    context = np.concatenate([steps[max(0, at - around): at - 2], steps[at + 2: at + around]])
    return float(local / max(np.median(context), 1e-9))
