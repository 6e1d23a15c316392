"""Procedural ambience: a seeded sound bed for each location, made of filtered noise, slow modulation
and occasional events, from the location's ambience tags and its sound description.

Each tag of :data:`filmstitch.models.Ambience` is a small sound design of its own (see the ``_tag``
functions below): wind is pink noise in two bands whose balance and level follow slow gusts; surf is a
train of swells (rise, break, hiss of the backwash); rain a hiss plus thousands of droplets ringing in
resonators; a storm adds thunder that rolls for seconds; a room is a low air tone with mains hum; a city
a traffic rumble with cars passing left to right and the odd horn; birds are frequency-swept chirp
phrases; insects pulse trains of crickets; fire a low roar with crackles; and so on. Words in the
location's ``sound`` text add beds ('gulls' adds birds, 'thunder' a storm) and set the intensity
('gentle', 'distant' quieter; 'howling', 'roaring' louder).

Continuity: a location's bed is synthesised in one piece for every run of consecutive segments at that
location, so it flows across their boundaries. Where the location changes, the outgoing bed runs on
:data:`CROSSFADE_S` / 2 past the boundary and the incoming one starts that much before it, and the mixer
cross-fades them (equal power). Everything is drawn from ``numpy.random.default_rng(seed)``: the same
seed gives the same samples.

Beds are stereo, 48 kHz, at :data:`BED_RMS_DB` dBFS RMS (the mixer sets their level under the speech).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy import signal as sps

from filmstitch.models import Environment, FilmPlan, derive_seed
from filmstitch.sound.audio import SAMPLE_RATE, db_to_gain, from_wav, to_wav
from filmstitch.sound.timing import segment_start_sample

CROSSFADE_S = 2.0
FILM_FADE_IN_S = 0.5
FILM_FADE_OUT_S = 1.5
BED_RMS_DB = -20.0
SR = SAMPLE_RATE
Rng = np.random.Generator


# --------------------------------------------------------------------------- where each location sounds


@dataclass(frozen=True)
class Span:
    """A run of consecutive segments at one location: segments ``first`` .. ``last`` inclusive."""

    first: int
    last: int


def location_spans(plan: FilmPlan) -> dict[str, list[Span]]:
    """Location id -> its runs of consecutive segments, in film order."""
    spans: dict[str, list[Span]] = {}
    segments = plan.script.segments
    start = 0
    for i in range(1, len(segments) + 1):
        if i == len(segments) or segments[i].location != segments[start].location:
            spans.setdefault(segments[start].location, []).append(Span(start, i - 1))
            start = i
    return spans


def piece_bounds(plan: FilmPlan, span: Span) -> tuple[int, int]:
    """(first sample, end sample) of a span's bed: its segments, plus CROSSFADE_S / 2 into each neighbour
    at another location (not past the film's start or end)."""
    request = plan.request
    half = int(CROSSFADE_S / 2 * SR)
    start = segment_start_sample(span.first, request.frames_per_clip, request.fps)
    end = segment_start_sample(span.last + 1, request.frames_per_clip, request.fps)
    film_end = segment_start_sample(request.segments, request.frames_per_clip, request.fps)
    return max(0, start - half) if span.first > 0 else 0, min(film_end, end + half) if end < film_end else end


# --------------------------------------------------------------------------- building blocks


def white(rng: Rng, n: int, channels: int = 2) -> np.ndarray:
    return rng.standard_normal((n, channels))


_PINK_B = [0.049922035, -0.095993537, 0.050612699, -0.004408786]
_PINK_A = [1.0, -2.494956002, 2.017265875, -0.522189400]


def pink(rng: Rng, n: int, channels: int = 2) -> np.ndarray:
    """1/f noise (Kellet's IIR approximation), unit RMS."""
    return _unit(sps.lfilter(_PINK_B, _PINK_A, white(rng, n, channels), axis=0))


def brown(rng: Rng, n: int, channels: int = 2) -> np.ndarray:
    """1/f^2 noise (leaky integral of white), DC removed, unit RMS."""
    walk = sps.lfilter([1.0], [1.0, -0.997], white(rng, n, channels), axis=0)
    return _unit(band(walk, low=20))


def band(x: np.ndarray, low: float | None = None, high: float | None = None, order: int = 2) -> np.ndarray:
    """Butterworth high-, low- or band-pass along time."""
    if low and high:
        sos = sps.butter(order, [low, high], btype="bandpass", fs=SR, output="sos")
    elif low:
        sos = sps.butter(order, low, btype="highpass", fs=SR, output="sos")
    else:
        sos = sps.butter(order, high, btype="lowpass", fs=SR, output="sos")
    return sps.sosfilt(sos, x, axis=0)


def _unit(x: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
    return x / rms if rms > 1e-12 else x


def drift(rng: Rng, n: int, rate_hz: float, low: float = 0.0, high: float = 1.0) -> np.ndarray:
    """A slow random curve between low and high: random points every 1/rate_hz s, smoothly interpolated
    (cosine), shape (n, 1) so it multiplies both channels."""
    points = max(2, int(n / SR * rate_hz) + 2)
    values = rng.uniform(low, high, points)
    position = np.arange(n) / SR * rate_hz
    index = np.minimum(position.astype(np.int64), points - 2)
    frac = position - index
    smooth = (1 - np.cos(np.pi * frac)) / 2
    return (values[index] * (1 - smooth) + values[index + 1] * smooth)[:, None]


def event_times(rng: Rng, n: int, mean_interval_s: float, jitter: float = 0.9) -> list[int]:
    """Sample positions of occasional events: gaps of mean_interval_s, spread by ``jitter``."""
    times, t = [], rng.uniform(0.1, 1.0) * mean_interval_s
    while t * SR < n:
        times.append(int(t * SR))
        t += mean_interval_s * rng.uniform(1 - jitter, 1 + jitter)
    return times


def place(out: np.ndarray, sound: np.ndarray, at: int, pan: float) -> None:
    """Add a mono event at sample ``at`` with a constant-power pan (-1 left .. 1 right)."""
    end = min(len(out), at + len(sound))
    if end <= at:
        return
    angle = (pan + 1) * np.pi / 4
    out[at:end, 0] += sound[: end - at] * np.cos(angle)
    out[at:end, 1] += sound[: end - at] * np.sin(angle)


def tone(freqs: np.ndarray) -> np.ndarray:
    """A sine following an instantaneous frequency curve (Hz per sample)."""
    return np.sin(2 * np.pi * np.cumsum(freqs) / SR)


def envelope(n: int, attack: float, decay: float) -> np.ndarray:
    """Attack (s) then exponential decay (time constant, s), n samples long."""
    t = np.arange(n) / SR
    return np.minimum(1.0, t / max(attack, 1e-4)) * np.exp(-np.maximum(0, t - attack) / decay)


def resonate(impulses: np.ndarray, freq: float, decay_s: float) -> np.ndarray:
    """Impulses ringing in a two-pole resonator (droplets, crackles, clanks)."""
    r = np.exp(-1.0 / (decay_s * SR))
    a = [1.0, -2 * r * np.cos(2 * np.pi * freq / SR), r * r]
    return sps.lfilter([1 - r], a, impulses, axis=0)


def sparse_impulses(rng: Rng, n: int, rate_hz: float, channels: int = 2, heavy: float = 1.0) -> np.ndarray:
    """Random clicks at ``rate_hz`` per second per channel, amplitudes heavy-tailed when ``heavy`` > 1."""
    out = np.zeros((n, channels))
    count = rng.poisson(rate_hz * n / SR * channels)
    rows, cols = rng.integers(0, n, count), rng.integers(0, channels, count)
    out[rows, cols] = rng.uniform(0.2, 1.0, count) ** heavy * rng.choice([-1.0, 1.0], count)
    return out


# --------------------------------------------------------------------------- the sound of each tag


def _wind(rng: Rng, n: int) -> np.ndarray:
    gust = drift(rng, n, 0.25, 0.05, 1.0)
    low = band(pink(rng, n), 80, 500)
    whistle = band(pink(rng, n), 700, 1800, order=3)
    return _unit(low) * (0.25 + 0.75 * gust) + _unit(whistle) * gust**2 * 0.5


def _surf(rng: Rng, n: int) -> np.ndarray:
    swell = np.zeros(n)
    for at in event_times(rng, n + int(6 * SR), 8.5, 0.3):
        at -= int(3 * SR)
        rise, fall = rng.uniform(1.8, 3.0), rng.uniform(2.5, 4.5)
        t = (np.arange(int((rise + fall * 3) * SR)) / SR)
        shape = np.where(t < rise, (t / rise) ** 2, np.exp(-(t - rise) / fall)) * rng.uniform(0.6, 1.0)
        lo, hi = max(0, at), min(n, at + len(shape))
        if hi > lo:
            swell[lo:hi] = np.maximum(swell[lo:hi], shape[lo - at: hi - at])
    swell = swell[:, None]
    body = _unit(band(pink(rng, n), 60, 1400))
    hiss = _unit(band(white(rng, n), 2500, 9000))
    return body * (0.25 + 0.75 * swell) + hiss * swell**3 * 0.35 + _unit(brown(rng, n)) * 0.15


def _rain(rng: Rng, n: int, heavy: float = 1.0) -> np.ndarray:
    hiss = _unit(band(white(rng, n), 1800, 12000)) * 0.45
    body = _unit(band(pink(rng, n), 300, 6000)) * 0.5
    drops = sparse_impulses(rng, n, 60 * heavy)
    ring = _unit(resonate(drops, 3200, 0.004) + 0.6 * resonate(drops, 5200, 0.002))
    intensity = drift(rng, n, 0.12, 0.45, 1.0)  # showers come and go
    return (hiss + body) * intensity + ring * 0.4 * intensity


def _storm(rng: Rng, n: int) -> np.ndarray:
    out = _unit(_rain(rng, n, heavy=2.0)) * 0.8 + _unit(_wind(rng, n)) * 0.6
    for at in event_times(rng, n, 14.0, 0.5):
        length = int(rng.uniform(4.0, 7.0) * SR)
        rumble = band(rng.standard_normal(length), high=140, order=2)
        rumble = _unit(rumble) * envelope(length, rng.uniform(0.05, 0.4), rng.uniform(1.2, 2.2))
        rumble *= 0.6 + 0.4 * drift(rng, length, 3.0)[:, 0]
        place(out, rumble * rng.uniform(2.0, 3.5), at, rng.uniform(-0.6, 0.6))
    return out


def _room(rng: Rng, n: int) -> np.ndarray:
    air = _unit(band(brown(rng, n), 30, 260)) * 0.8
    vent = _unit(band(pink(rng, n), 200, 900)) * 0.6 * drift(rng, n, 0.15, 0.2, 1.0)  # ventilation cycling
    t = np.arange(n) / SR
    mains = sum((amp * np.sin(2 * np.pi * 60 * k * t) for k, amp in ((1, 0.12), (2, 0.06), (3, 0.04))), np.zeros(n))
    return air + vent + mains[:, None]


def _city(rng: Rng, n: int) -> np.ndarray:
    out = _unit(band(brown(rng, n), 30, 450)) * (0.6 + 0.4 * drift(rng, n, 0.05))
    out += _unit(band(pink(rng, n), 300, 2500)) * 0.12
    for at in event_times(rng, n, 5.5, 0.6):  # a car passing, panned across
        length = int(rng.uniform(3.0, 5.0) * SR)
        car = _unit(band(rng.standard_normal(length), 120, 1600)) * np.hanning(length) ** 2
        half = length // 2
        direction = rng.choice([-1.0, 1.0])
        place(out, car[:half] * 0.9, at, -0.8 * direction)
        place(out, car[half:] * 0.9, at + half, 0.8 * direction)
    for at in event_times(rng, n, 25.0, 0.5):  # a distant horn
        length = int(rng.uniform(0.25, 0.5) * SR)
        base = rng.uniform(330, 440)
        horn = np.sign(tone(np.full(length, base))) * 0.5 + np.sign(tone(np.full(length, base * 1.26))) * 0.5
        horn = band(horn * np.hanning(length), 300, 2000) * 0.15
        place(out, horn, at, rng.uniform(-0.7, 0.7))
    return out


def _birds(rng: Rng, n: int, every_s: float = 2.5) -> np.ndarray:
    out = np.zeros((n, 2))
    for at in event_times(rng, n, every_s, 0.8):
        base, sweep = rng.uniform(2500, 5000), rng.uniform(-1500, 1500)
        note_s, gap_s = rng.uniform(0.04, 0.12), rng.uniform(0.05, 0.14)
        notes = int(rng.integers(2, 7))
        pan, level = rng.uniform(-0.9, 0.9), rng.uniform(0.3, 1.0)
        for k in range(notes):
            length = int(note_s * SR)
            freqs = base + sweep * np.linspace(0, 1, length) ** 2 + 60 * np.sin(np.linspace(0, 12, length))
            chirp = tone(freqs) * np.sin(np.linspace(0, np.pi, length)) ** 2 * level
            place(out, chirp, at + int(k * (note_s + gap_s) * SR), pan)
    return out


def _insects(rng: Rng, n: int, crickets: int = 3) -> np.ndarray:
    out = np.zeros((n, 2))
    t = np.arange(n) / SR
    for _ in range(crickets):
        carrier = np.sin(2 * np.pi * rng.uniform(4200, 5200) * t)
        pulse = (np.sin(2 * np.pi * rng.uniform(25, 35) * t) > 0.3).astype(float)
        period = rng.uniform(0.5, 0.9)
        chirping = ((t + rng.uniform(0, period)) % period < period * 0.35).astype(float)
        gate = band((pulse * chirping)[:, None], high=400)[:, 0]
        cricket = carrier * gate * rng.uniform(0.3, 0.8)
        pan = rng.uniform(-0.8, 0.8)
        out[:, 0] += cricket * np.cos((pan + 1) * np.pi / 4)
        out[:, 1] += cricket * np.sin((pan + 1) * np.pi / 4)
    return out + _unit(band(white(rng, n), 5000, 8000)) * 0.03


def _stream(rng: Rng, n: int) -> np.ndarray:
    babble = _unit(band(white(rng, n), 300, 3500)) * (0.55 + 0.45 * drift(rng, n, 7.0) * drift(rng, n, 2.0))
    out = babble * 0.8
    for at in event_times(rng, n, 0.18, 0.9):  # bubbles: short rising blips
        length = int(rng.uniform(0.015, 0.05) * SR)
        f0 = rng.uniform(350, 900)
        blip = tone(np.linspace(f0, f0 * rng.uniform(1.5, 2.5), length)) * envelope(length, 0.003, 0.012)
        place(out, blip * rng.uniform(0.1, 0.35), at, rng.uniform(-0.6, 0.6))
    return out


def _underwater(rng: Rng, n: int) -> np.ndarray:
    out = _unit(band(brown(rng, n), 20, 300)) * (0.7 + 0.3 * drift(rng, n, 0.08))
    for at in event_times(rng, n, 1.2, 0.9):
        length = int(rng.uniform(0.05, 0.15) * SR)
        f0 = rng.uniform(150, 500)
        bubble = tone(np.linspace(f0, f0 * 2.2, length)) * envelope(length, 0.005, 0.04)
        place(out, bubble * rng.uniform(0.1, 0.4), at, rng.uniform(-0.5, 0.5))
    return out


def _fire(rng: Rng, n: int) -> np.ndarray:
    roar = _unit(band(brown(rng, n), 40, 300)) * (0.5 + 0.5 * drift(rng, n, 3.0)) * 0.7
    crackle = _unit(band(resonate(sparse_impulses(rng, n, 14, heavy=3.0), 2200, 0.002), 1200)) * 0.7
    pops = _unit(resonate(sparse_impulses(rng, n, 0.6, heavy=1.0), 900, 0.01)) * 0.5
    return roar + crackle + pops


def _space(rng: Rng, n: int) -> np.ndarray:
    t = np.arange(n) / SR
    drone = sum((np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3)) * a
                 for f, a in ((55.0, 0.2), (55.35, 0.16), (82.5, 0.1), (110.2, 0.05))), np.zeros(n))
    shimmer = _unit(band(pink(rng, n), 1800, 3500)) * 0.05 * drift(rng, n, 0.05)
    rumble = _unit(band(pink(rng, n), 20, 160)) * 0.8 * drift(rng, n, 0.08, 0.4, 1.0)
    return drone[:, None] * (0.7 + 0.3 * drift(rng, n, 0.04)) + rumble + shimmer


def _crowd(rng: Rng, n: int, voices: int = 7) -> np.ndarray:
    out = np.zeros((n, 2))
    for _ in range(voices):
        syllables = np.clip(drift(rng, n, rng.uniform(3.5, 5.5), -0.6, 1.0), 0, None)[:, 0]
        talk = _unit(band(rng.standard_normal(n), rng.uniform(200, 350), rng.uniform(1800, 3000)))
        voice = talk * syllables * drift(rng, n, 0.15, 0.0, 1.0)[:, 0]
        pan = rng.uniform(-0.9, 0.9)
        out[:, 0] += voice * np.cos((pan + 1) * np.pi / 4)
        out[:, 1] += voice * np.sin((pan + 1) * np.pi / 4)
    return out + _unit(band(brown(rng, n), 80, 500)) * 0.3


def _machine(rng: Rng, n: int) -> np.ndarray:
    t = np.arange(n) / SR
    base = rng.uniform(45, 65)
    wobble = 1 + 0.004 * np.sin(2 * np.pi * 0.3 * t)
    hum = sum((a * np.sin(2 * np.pi * base * k * np.cumsum(wobble) / SR)
               for k, a in ((1, 0.22), (2, 0.18), (3, 0.14), (4, 0.1), (5, 0.08), (7, 0.05))), np.zeros(n))
    load = drift(rng, n, 0.1, 0.5, 1.0)  # the machine works harder, then eases
    out = hum[:, None] * load + _unit(band(pink(rng, n), 80, 1200)) * 0.35 * load
    out += _unit(band(pink(rng, n), 2500, 4000)) * 0.05
    period = rng.uniform(0.8, 1.3)
    clanks = np.zeros((n, 2))
    for k in range(int(n / SR / period)):
        clanks[int(k * period * SR) + int(rng.integers(0, 200)), :] = rng.uniform(0.6, 1.0)
    metal = resonate(clanks, 1250, 0.05) + 0.5 * resonate(clanks, 2900, 0.03)
    return out + _unit(metal) * 0.35


def _forest(rng: Rng, n: int) -> np.ndarray:
    leaves = _unit(band(pink(rng, n), 1500, 7000)) * drift(rng, n, 0.2, 0.2, 1.0) * 0.5
    return leaves + _unit(_wind(rng, n)) * 0.35 + _unit(_birds(rng, n, every_s=4.0) + 1e-9) * 0.3


def _night(rng: Rng, n: int) -> np.ndarray:
    out = _unit(_insects(rng, n, crickets=2)) * 0.5 + _unit(band(pink(rng, n), 60, 400)) * 0.3
    for at in event_times(rng, n, 18.0, 0.5):  # an owl: two soft hoots
        for k in range(2):
            length = int(0.35 * SR)
            hoot = tone(np.linspace(390, 330, length)) * np.sin(np.linspace(0, np.pi, length)) ** 2
            place(out, hoot * 0.6, at + int(k * 0.55 * SR), rng.uniform(-0.7, 0.7))
    return out


#: tag -> (generator, level in dB relative to the bed's loudest part).
TAGS: dict[str, tuple[Callable[[Rng, int], np.ndarray], float]] = {
    "wind": (_wind, 0.0), "surf": (_surf, 0.0), "rain": (_rain, -1.0), "storm": (_storm, 0.0),
    "room": (_room, -6.0), "city": (_city, -2.0), "forest": (_forest, -2.0), "birds": (_birds, -5.0),
    "insects": (_insects, -8.0), "stream": (_stream, -3.0), "underwater": (_underwater, -1.0),
    "fire": (_fire, -2.0), "space": (_space, -8.0), "crowd": (_crowd, -3.0), "machine": (_machine, -5.0),
    "night": (_night, -5.0),
}
#: Words in Environment.sound that add a bed.
SOUND_WORDS = {
    "birds": r"gull|bird|song ?bird|chirp|tweet|cuckoo",
    "surf": r"wave|surf|ocean|shore|tide|breakers",
    "rain": r"rain|drizzle|downpour|drip",
    "storm": r"thunder|storm|lightning",
    "wind": r"wind|breeze|gust|howl",
    "machine": r"engine|motor|machine|factory|generator|turbine",
    "city": r"traffic|car horn|street|siren|city",
    "crowd": r"crowd|chatter|market|murmur|voices",
    "fire": r"fire|crackl|hearth|flame|embers",
    "stream": r"stream|brook|river|creek|babbl|trickl",
    "insects": r"cricket|insect|cicada|bees?\b|buzzing",
    "night": r"\bowl|frog|night",
    "underwater": r"underwater|bubbl|deep sea",
    "forest": r"leaves|rustl|forest|trees",
    "room": r"\broom|clock|indoors|kitchen|hum\b",
    "space": r"vacuum|\bspace|void",
}
QUIETER = r"\b(gentle|soft|quiet|faint|distant|light|calm|still|hushed)\b"
LOUDER = r"\b(howling|roaring|heavy|loud|pounding|raging|fierce|wild)\b"


def bed_recipe(environment: Environment) -> list[tuple[str, float]]:
    """(tag, level dB) for a location: its tags (the first loudest), then at most two more from its sound
    text, all shifted by the text's intensity words."""
    text = environment.sound.lower()
    recipe: list[tuple[str, float]] = [(tag, TAGS[tag][1] - 2.0 * i)
                                       for i, tag in enumerate(dict.fromkeys(environment.ambience))]
    extra = [tag for tag, words in SOUND_WORDS.items() if re.search(words, text) and tag not in dict(recipe)]
    recipe += [(tag, TAGS[tag][1] - 6.0) for tag in extra[:2]]
    shift = (-4.0 if re.search(QUIETER, text) else 0.0) + (3.0 if re.search(LOUDER, text) else 0.0)
    return [(tag, level + shift) for tag, level in recipe]


def synthesize_bed(environment: Environment, samples: int, seed: int) -> np.ndarray:
    """A location's bed, ``samples`` long, stereo float at BED_RMS_DB dBFS RMS (plus the recipe's shift),
    soft-limited below full scale."""
    recipe = bed_recipe(environment)
    bed = np.zeros((samples, 2))
    for tag, level in recipe:
        rng = np.random.default_rng(derive_seed(seed, tag))
        bed += _unit(TAGS[tag][0](rng, samples)) * db_to_gain(level)
    loudest = max(level for _, level in recipe)
    bed = _unit(bed) * db_to_gain(BED_RMS_DB + min(0.0, loudest))
    return (np.tanh(bed / 0.9) * 0.9).astype(np.float32)


def fade(piece: np.ndarray, fade_in: int, fade_out: int) -> np.ndarray:
    """Equal-power (sine) fade-in and fade-out of ``fade_in`` / ``fade_out`` samples."""
    out = piece.copy()
    if fade_in:
        out[:fade_in] *= np.sin(np.linspace(0, np.pi / 2, fade_in))[:, None]
    if fade_out:
        out[len(out) - fade_out:] *= np.cos(np.linspace(0, np.pi / 2, fade_out))[:, None]
    return out


class BedEngine(Protocol):
    """A text-to-audio engine that makes beds (``filmstitch.engines.audio.StableAudioAmbienceEngine``)."""

    name: str
    code_version: str

    def bed(self, prompt: str, samples: int, seed: int) -> np.ndarray: ...


def engine_bed(engine: BedEngine, environment: Environment, samples: int, seed: int) -> np.ndarray:
    """A bed from a text-to-audio engine, at the procedural beds' level (BED_RMS_DB), soft-limited alike."""
    from filmstitch.engines.audio import ambience_prompt

    bed = np.asarray(engine.bed(ambience_prompt(environment), samples, seed), dtype=np.float64)
    bed = _unit(bed) * db_to_gain(BED_RMS_DB)
    return (np.tanh(bed / 0.9) * 0.9).astype(np.float32)


def ambience_pieces(plan: FilmPlan, location_id: str, spans: Sequence[Span], seed: int,
                    engine: BedEngine | None = None) -> list[np.ndarray]:
    """One faded bed per span (see :func:`piece_bounds`): cross-fade ramps where the location changes,
    a short fade-in at the film's start and a longer fade-out at its end. Procedural unless an ``engine``
    (text-to-audio) is given."""
    environment = plan.location(location_id)
    film_end = segment_start_sample(plan.request.segments, plan.request.frames_per_clip, plan.request.fps)
    pieces = []
    for number, span in enumerate(spans):
        start, end = piece_bounds(plan, span)
        piece_seed = derive_seed(seed, number)
        bed = (engine_bed(engine, environment, end - start, piece_seed) if engine is not None
               else synthesize_bed(environment, end - start, piece_seed))
        fade_in = int((FILM_FADE_IN_S if start == 0 else CROSSFADE_S) * SR)
        fade_out = int((FILM_FADE_OUT_S if end == film_end else CROSSFADE_S) * SR)
        pieces.append(fade(bed, min(fade_in, len(bed) // 2), min(fade_out, len(bed) // 2)))
    return pieces


def bed_to_wav(pieces: Sequence[np.ndarray]) -> bytes:
    """A location's pieces, end to end, as one stereo WAV (the mixer cuts them apart by piece_bounds)."""
    return to_wav(np.concatenate(pieces) if pieces else np.zeros((0, 2), np.float32))


def wav_to_pieces(plan: FilmPlan, spans: Sequence[Span], data: bytes) -> list[tuple[int, np.ndarray]]:
    """(first sample, piece) for each span of a bed made by :func:`bed_to_wav`."""
    samples, _ = from_wav(data, "an ambience bed")
    out, cursor = [], 0
    for span in spans:
        start, end = piece_bounds(plan, span)
        out.append((start, samples[cursor: cursor + end - start]))
        cursor += end - start
    if cursor != len(samples):
        raise ValueError(f"ambience bed has {len(samples)} samples; its spans need {cursor}")
    return out
