"""Subtitles timed to the speech that was actually synthesised, as SRT and WebVTT.

A cue's start and end come from the audio: the onset and offset of the line's speech in the voice stem
(:func:`filmstitch.sound.audio.speech_bounds`), not the segment grid. A cue holds at most
:data:`MAX_LINES` lines of at most :data:`MAX_CHARS` characters (the common broadcast limit) and stays on
screen at least :data:`MIN_SECONDS`. A longer line becomes several cues, split at sentence ends, then
clauses, then words; their times are shared out by characters and moved to the nearest real pause in the
voice, so a cue changes where the speaker takes a breath.

Subtitles follow the scenes: no cue spans a scene cut. A line whose speech runs over a cut (speech that
spilled into the next segment's silence, :mod:`filmstitch.sound.timing`) is split there into one part per
scene, at the word boundary that best matches how much of the speech falls before the cut; and no cue is
stretched to :data:`MIN_SECONDS` past a cut.

Text is data, never markup: SRT has no escapes and players read ``<i>`` and ``{\\an8}`` in it, so those
brackets are written as look-alike characters (‹ › ( )); WebVTT escapes ``& < >`` as entities.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

MAX_CHARS = 42
MAX_LINES = 2
MIN_SECONDS = 1.0
#: Gap kept between two cues when one is stretched to MIN_SECONDS.
CUE_GAP_S = 0.04
#: How far a cue boundary may move to land on a pause in the voice.
SNAP_S = 0.6


class Cue(BaseModel):
    """One subtitle: on screen from ``start`` to ``end`` seconds (film time), ``text`` with ``\\n`` line breaks."""

    model_config = ConfigDict(frozen=True)

    index: int = Field(ge=1)
    start: float = Field(ge=0)
    end: float
    text: str
    speaker: str
    segment: int


class TimedLine(BaseModel):
    """A spoken line as it sits in the film: its speech onset and offset and the pauses inside it (seconds)."""

    model_config = ConfigDict(frozen=True)

    segment: int
    speaker: str
    text: str
    start: float
    end: float
    pauses: list[float] = Field(default_factory=list)


def wrap(text: str, width: int = MAX_CHARS) -> list[str] | None:
    """The text in at most MAX_LINES lines of at most ``width`` characters, balanced (the first line no
    longer than needed), or None when it does not fit."""
    text = " ".join(text.split())
    if len(text) <= width:
        return [text]
    lines = textwrap.wrap(text, width=width, break_long_words=False, break_on_hyphens=False)
    if len(lines) > MAX_LINES or any(len(line) > width for line in lines):
        return None
    # balance: the narrowest width that still gives two lines
    for narrower in range(len(text) // 2, width + 1):
        balanced = textwrap.wrap(text, width=narrower, break_long_words=False, break_on_hyphens=False)
        if len(balanced) <= MAX_LINES and all(len(line) <= width for line in balanced):
            return balanced
    return lines


def chunk(text: str) -> list[list[str]]:
    """A line's text as cues (each a list of wrapped lines). Each sentence gets its own cues, split at
    clauses, then at words, when it does not fit one; whole short sentences share a cue when they fit
    together. A single word longer than a cue line is hard-broken (nothing else can be done with it)."""
    sentences = [p for p in re.split(r"(?<=[.!?…])\s+", " ".join(text.split())) if p]
    units: list[tuple[str, bool]] = []  # (text, is a whole sentence)
    for sentence in sentences:
        if wrap(sentence) is not None:
            units.append((sentence, True))
            continue
        for separator in (r"(?<=[,;:—–])\s+", r"\s+"):
            parts = _greedy([p for p in re.split(separator, sentence) if p])
            if all(wrap(part) is not None for part in parts):
                break
        units += [(part, False) for part in parts]
    merged: list[tuple[str, bool]] = []
    for unit, whole in units:
        if merged and whole and merged[-1][1] and wrap(f"{merged[-1][0]} {unit}") is not None:
            merged[-1] = (f"{merged[-1][0]} {unit}", True)
        else:
            merged.append((unit, whole))
    return [wrap(unit) or textwrap.wrap(unit, MAX_CHARS, break_long_words=True)[:MAX_LINES] for unit, _ in merged]


def _greedy(pieces: list[str]) -> list[str]:
    """Consecutive pieces joined into the fewest cues that fit, as even in length as possible (so no cue is
    a two-word tail that flashes by): dynamic programming over where the cue breaks go."""
    n = len(pieces)
    best: list[tuple[int, int, list[str]] | None] = [None] * (n + 1)  # (cues, longest, joins) for pieces[:i]
    best[0] = (0, 0, [])
    for end in range(1, n + 1):
        for start in range(end):
            before = best[start]
            if before is None:
                continue
            joined = " ".join(pieces[start:end])
            if wrap(joined) is None and end - start > 1:
                continue
            count, longest, joins = before
            candidate = (count + 1, max(longest, len(joined)), [*joins, joined])
            current = best[end]
            if current is None or candidate[:2] < current[:2]:
                best[end] = candidate
    last = best[n]
    return last[2] if last else pieces


def split_at_cuts(line: TimedLine, cuts: Sequence[float]) -> list[TimedLine]:
    """A line as one part per scene it is heard in: split at each cut inside its speech, at the word boundary
    whose share of the text's characters is nearest the share of the speech before the cut (a single word
    cannot be split: it stays whole, with the scene that hears most of it)."""
    inside = sorted(cut for cut in cuts if line.start < cut < line.end)
    if not inside:
        return [line]
    cut = inside[0]
    words = line.text.split()
    share = (cut - line.start) / (line.end - line.start)
    total = len(" ".join(words))
    best = min(range(len(words) + 1), key=lambda k: abs(len(" ".join(words[:k])) / total - share))
    if best in (0, len(words)):  # one word, or almost all of it on one side: it stays one cue, on that side
        start, end = (line.start, cut) if best == len(words) else (cut, line.end)
        whole = line.model_copy(update={"start": start, "end": end,
                                        "pauses": [p for p in line.pauses if start < p < end]})
        return [whole] if best == len(words) else split_at_cuts(whole, inside[1:])
    before = line.model_copy(update={"text": " ".join(words[:best]), "end": cut,
                                     "pauses": [p for p in line.pauses if p < cut]})
    after = line.model_copy(update={"text": " ".join(words[best:]), "start": cut,
                                    "pauses": [p for p in line.pauses if p > cut]})
    return [before, *split_at_cuts(after, inside[1:])]


def cues_for(lines: Sequence[TimedLine], film_seconds: float, cuts: Sequence[float] = ()) -> list[Cue]:
    """Cues for every spoken line, in time order, each at least MIN_SECONDS and none overlapping the next;
    none spans one of the scene ``cuts`` (seconds of film time)."""
    parts = [part for line in sorted(lines, key=lambda item: item.start) for part in split_at_cuts(line, cuts)]
    drafts: list[tuple[float, float, str, TimedLine]] = []
    for line in parts:
        pieces = chunk(line.text)
        weights = [sum(len(row) for row in piece) for piece in pieces]
        total = sum(weights) or 1
        bounds = [line.start]
        for k in range(1, len(pieces)):
            guess = line.start + (line.end - line.start) * sum(weights[:k]) / total
            near = [p for p in line.pauses if abs(p - guess) <= SNAP_S and bounds[-1] < p < line.end]
            bounds.append(min(near, key=lambda p: abs(p - guess)) if near else guess)
        bounds.append(line.end)
        for k, piece in enumerate(pieces):
            drafts.append((bounds[k], bounds[k + 1], "\n".join(piece), line))
    cues = []
    for k, (start, end, text, line) in enumerate(drafts):
        following = drafts[k + 1][0] - CUE_GAP_S if k + 1 < len(drafts) else film_seconds
        next_cut = min((cut for cut in cuts if cut > start + 1e-6), default=film_seconds)
        end = min(max(end, start + MIN_SECONDS), max(end, following), film_seconds, next_cut)
        # whole milliseconds (SRT's grain), inwards: a cue that starts or ends on a cut stays on its side of it
        cues.append(Cue(index=k + 1, start=math.ceil(start * 1000 - 1e-6) / 1000,
                        end=math.floor(end * 1000 + 1e-6) / 1000, text=text, speaker=line.speaker,
                        segment=line.segment))
    return cues


def _clock(seconds: float, decimal: str) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


_SRT_SAFE = str.maketrans({"<": "‹", ">": "›", "{": "(", "}": ")"})


def to_srt(cues: Sequence[Cue]) -> str:
    """SubRip text: numbered cues, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, markup brackets neutralised."""
    blocks = [f"{cue.index}\n{_clock(cue.start, ',')} --> {_clock(cue.end, ',')}\n{cue.text.translate(_SRT_SAFE)}\n"
              for cue in cues]
    return "\n".join(blocks)


def to_vtt(cues: Sequence[Cue], language: str = "en") -> str:
    """WebVTT text with the language in the header, ``& < >`` escaped as entities."""
    def escape(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    blocks = [f"{cue.index}\n{_clock(cue.start, '.')} --> {_clock(cue.end, '.')}\n{escape(cue.text)}\n"
              for cue in cues]
    return f"WEBVTT\nLanguage: {language}\n\n" + "\n".join(blocks)
