"""Timing: where each spoken line sits in its segment, and how a line that runs long is fitted.

A segment of ``frames_per_clip`` frames starts at sample ``segment * frames_per_clip * 48000 // fps``
(integer arithmetic: no rounding drift, however long the film); everything below is placed by sample
position relative to that start, so picture and sound agree at every boundary.

Inside a segment the lines (narration first, then the dialogue in order) are laid out one after another:
``LEAD_S`` of silence at the start, ``GAP_S`` between lines, ``TAIL_S`` before the next segment. Each line
takes at least ``MIN_CUE_S`` (a subtitle stays on screen that long without overlapping the next).

**A line that runs long** (the writers aim at ~2.5 words/s, but a voice may be slower): the decision is

1. speed the whole segment's speech up gently, by the smallest factor that fits, at most 10 %
   (:data:`~filmstitch.sound.voices.MAX_FIT`); pitch is unchanged and no word is ever trimmed;
2. if it still does not fit, the speech **moves into the next segment's silence**: the next segment's
   lines start after it (:func:`place_film`), and the spill is reported in the mix's report;
3. the film's end cannot move, so at the last segment the trailing lines move *earlier*, into the silence
   before them; only when the whole film's speech cannot fit is it an error naming the segment.

Why not lengthen the segment? The picture is rendered to the frame grid before sound is made; moving a line
into its neighbour's silence keeps picture and sound in step without re-rendering anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from filmstitch.sound.audio import SAMPLE_RATE
from filmstitch.sound.voices import MAX_FIT

LEAD_S = 0.35
GAP_S = 0.3
TAIL_S = 0.25
MIN_CUE_S = 1.0


class TimingError(ValueError):
    """The film's speech does not fit the film."""


def segment_start_sample(segment: int, frames_per_clip: int, fps: int, rate: int = SAMPLE_RATE) -> int:
    """First sample of a segment: exact integer arithmetic on the frame grid."""
    return segment * frames_per_clip * rate // fps


def film_samples(segments: int, frames_per_clip: int, fps: int, rate: int = SAMPLE_RATE) -> int:
    """Samples in the whole film: exactly as long as its ``segments * frames_per_clip`` frames."""
    return segment_start_sample(segments, frames_per_clip, fps, rate)


def slot(seconds: float, fit: float) -> float:
    """Time a line takes in the layout at tempo ``fit``: its speech, but never less than MIN_CUE_S."""
    return max(seconds / fit, MIN_CUE_S)


def needed_seconds(speech_seconds: Sequence[float], fit: float) -> float:
    if not speech_seconds:
        return 0.0
    return LEAD_S + sum(slot(s, fit) for s in speech_seconds) + GAP_S * (len(speech_seconds) - 1) + TAIL_S


@dataclass(frozen=True)
class SegmentFit:
    """A segment's layout: the tempo factor its lines get, each line's speech onset (seconds from the
    segment's start), and how far the speech still runs past the segment (0 when it fits)."""

    fit: float
    onsets: list[float]
    slots: list[float]
    overrun_s: float = 0.0


def fit_segment(speech_seconds: Sequence[float], segment_seconds: float) -> SegmentFit:
    """Lay out a segment's lines (speech durations at their cast tempo) in ``segment_seconds``: the smallest
    tempo factor in [1, MAX_FIT] that fits (bisection; the layout length falls as the factor rises)."""
    fit = 1.0
    if needed_seconds(speech_seconds, 1.0) > segment_seconds:
        if needed_seconds(speech_seconds, MAX_FIT) > segment_seconds:
            fit = MAX_FIT
        else:
            low, high = 1.0, MAX_FIT
            for _ in range(40):
                middle = (low + high) / 2
                fits = needed_seconds(speech_seconds, middle) <= segment_seconds
                low, high = (low, middle) if fits else (middle, high)
            fit = round(high, 4)
    onsets, slots = lay_out([s / fit for s in speech_seconds])
    overrun = max(0.0, needed_seconds(speech_seconds, fit) - segment_seconds)
    return SegmentFit(fit=fit, onsets=onsets, slots=slots, overrun_s=round(overrun, 3))


def lay_out(speech_seconds: Sequence[float]) -> tuple[list[float], list[float]]:
    """(onsets, slots) of lines of these (already fitted) speech durations: LEAD_S, then one after another
    with GAP_S between them."""
    slots = [slot(s, 1.0) for s in speech_seconds]
    onsets, cursor = [], LEAD_S
    for length in slots:
        onsets.append(round(cursor, 4))
        cursor += length + GAP_S
    return onsets, slots


@dataclass
class FilmPlacement:
    """Absolute speech onsets (seconds from the film's start) per segment and line, and what moved."""

    onsets: list[list[float]]
    spills: list[str] = field(default_factory=list)


def place_film(fits: Sequence[SegmentFit], segment_seconds: float) -> FilmPlacement:
    """Place every segment's lines on the film's timeline (see the module docstring, steps 2 and 3)."""
    film_end = segment_seconds * len(fits)
    onsets: list[list[float]] = []
    spills: list[str] = []
    cursor = 0.0  # earliest time the next line may start
    for index, layout in enumerate(fits):
        start = index * segment_seconds
        placed = []
        for onset, length in zip(layout.onsets, layout.slots):
            at = max(start + onset, cursor)
            placed.append(at)
            cursor = at + length + GAP_S
        onsets.append(placed)
        if placed and index + 1 < len(fits):
            end = placed[-1] + layout.slots[-1]
            if end > start + segment_seconds - TAIL_S + 1e-6:
                spills.append(f"segment {index}: speech runs {end - start - segment_seconds + TAIL_S:.2f} s into "
                              f"segment {index + 1}'s silence")
    _pull_back_the_end(fits, onsets, film_end, spills)
    return FilmPlacement(onsets=[[round(t, 4) for t in row] for row in onsets], spills=spills)


def _pull_back_the_end(fits: Sequence[SegmentFit], onsets: list[list[float]], film_end: float,
                       spills: list[str]) -> None:
    """Move the trailing lines earlier (keeping GAP_S between lines) until the last one ends TAIL_S before
    the film's end; raise TimingError when even the film's start cannot make room."""
    lines = [(s, j) for s, row in enumerate(onsets) for j in range(len(row))]
    if not lines:
        return
    limit = film_end - TAIL_S
    moved_from = None
    for s, j in reversed(lines):
        length = fits[s].slots[j]
        if onsets[s][j] + length <= limit + 1e-9:
            break
        new_start = limit - length
        if new_start < 0:
            raise TimingError(f"segment {len(fits) - 1}: the film's speech does not fit its {film_end:g} s even at "
                              f"{round((MAX_FIT - 1) * 100)} % faster; shorten the lines or lengthen the segments")
        onsets[s][j] = new_start
        moved_from = s
        limit = new_start - GAP_S
    if moved_from is not None:
        spills.append(f"segment {len(fits) - 1}: the closing speech moved earlier to end with the film "
                      f"(from segment {moved_from} on)")
