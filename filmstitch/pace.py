"""Speech pace: how many spoken words a second of film holds, in one place for the writers and the checks.

The writers aim at WRITING_WORDS_PER_SECOND (narration and dialogue of a segment together); the Claude writer's
check refuses more words than SPEAKING_WORDS_PER_SECOND, the pace that still sounds natural. A spoken line is
estimated at ESTIMATED_WORDS_PER_SECOND, the slow end of the offline voice (Piper's joe speaks 2.5-3 words/s),
so that a plan the check lets through does not fail in the mix. `speech_fit_problems` lays out a plan's lines with
those estimates by the mix's own
arithmetic (filmstitch.sound.timing), so a plan whose speech cannot fit its film is refused before any
picture, not in the mix after every picture was drawn.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from filmstitch.models import FilmPlan, Script

#: Words per second of clip the writers write to (voice-over pace).
WRITING_WORDS_PER_SECOND = 2.5
#: Words per second that still sound natural: the most a segment may hold (the Claude writer's check).
SPEAKING_WORDS_PER_SECOND = 3.0
#: The pace a line's length is estimated at before it is spoken: the slow end of the offline voice.
ESTIMATED_WORDS_PER_SECOND = WRITING_WORDS_PER_SECOND

_WORD = re.compile(r"[\w'\u2019-]+")


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def estimated_seconds(text: str) -> float:
    """How long a line takes to say at ESTIMATED_WORDS_PER_SECOND."""
    return word_count(text) / ESTIMATED_WORDS_PER_SECOND


def spoken_lines(plan: FilmPlan, segment: int) -> list[str]:
    """What is said in a segment, in the order the mix lays it out: the narration, then the dialogue."""
    seg = plan.script.segments[segment]
    return [text for text in [seg.narration, *(line.line for line in seg.dialogue)] if text.strip()]


def speech_fits(lines: list[list[str]], segment_seconds: float) -> bool:
    """Whether these lines (per segment), at the estimated pace, can be placed in the film as the mix places
    them (filmstitch.sound.timing: 10 % faster at most, spilling into the next segment's silence)."""
    from filmstitch.sound.timing import TimingError, fit_segment, place_film

    fits = [fit_segment([estimated_seconds(text) for text in segment], segment_seconds) for segment in lines]
    try:
        place_film(fits, segment_seconds)
    except TimingError:
        return False
    return True


def fit_script(script: Script, segment_seconds: float) -> Script:
    """The script with lines left out until its speech fits segments of `segment_seconds` (each line takes at
    least a second, so a 1-second segment cannot hold a line of its own): dialogue first, from the end, then the
    narration of every other segment (1, 3, 5...), then of the rest, the opening's last. A script that fits
    comes back as it is."""
    segments = list(script.segments)
    if speech_fits(_said(segments), segment_seconds):
        return script
    for i in reversed(range(len(segments))):
        while segments[i].dialogue and not speech_fits(_said(segments), segment_seconds):
            segments[i] = segments[i].model_copy(update={"dialogue": segments[i].dialogue[:-1]})
    order = [*range(1, len(segments), 2), *range(2, len(segments), 2), 0]
    for i in order:
        if speech_fits(_said(segments), segment_seconds):
            break
        segments[i] = segments[i].model_copy(update={"narration": ""})
    return script.model_copy(update={"segments": segments})


def _said(segments: list) -> list[list[str]]:
    return [[text for text in [s.narration, *(line.line for line in s.dialogue)] if text.strip()] for s in segments]


def speech_fit_problems(plan: FilmPlan) -> list[str]:
    """One line when the film's speech, at the estimated pace, cannot be placed in the film even as the mix
    places it (10 % faster, spilling into the next segment's silence): the mix would fail after every picture.
    A plan without sound says nothing, so there is nothing to fit."""
    if not plan.request.sound:
        return []
    seconds = plan.request.frames_per_clip / plan.request.fps
    fits = [spoken_lines(plan, i) for i in range(len(plan.script.segments))]
    if not speech_fits(fits, seconds):
        words = sum(word_count(text) for i in range(len(fits)) for text in spoken_lines(plan, i))
        lines = sum(len(spoken_lines(plan, i)) for i in range(len(fits)))
        return [(f"the film's speech ({lines} lines, {words} words, about {words / ESTIMATED_WORDS_PER_SECOND:.1f} s "
                f"at {ESTIMATED_WORDS_PER_SECOND:g} words/s, each line at least 1 s) does not fit its "
                f"{seconds * len(fits):g} s; shorten or remove lines, or lengthen the segments")]
    return []
