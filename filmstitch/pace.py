"""Speech pace: how many spoken words a second of film holds, in one place for the writers and the checks.

The writers aim at WRITING_WORDS_PER_SECOND (narration and dialogue of a segment together); a spoken line is
estimated at SPEAKING_WORDS_PER_SECOND, the pace that still sounds natural (the Claude writer's check refuses
more words than that). `speech_fit_problems` lays out a plan's lines with those estimates by the mix's own
arithmetic (filmstitch.sound.timing), so a plan whose speech cannot fit its film is refused before any
picture, not in the mix after every picture was drawn.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from filmstitch.models import FilmPlan

#: Words per second of clip the writers write to (voice-over pace).
WRITING_WORDS_PER_SECOND = 2.5
#: Words per second that still sound natural: the estimated speaking pace and the most a segment may hold.
SPEAKING_WORDS_PER_SECOND = 3.0

_WORD = re.compile(r"[\w'\u2019-]+")


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def estimated_seconds(text: str) -> float:
    """How long a line takes to say at SPEAKING_WORDS_PER_SECOND."""
    return word_count(text) / SPEAKING_WORDS_PER_SECOND


def spoken_lines(plan: FilmPlan, segment: int) -> list[str]:
    """What is said in a segment, in the order the mix lays it out: the narration, then the dialogue."""
    seg = plan.script.segments[segment]
    return [text for text in [seg.narration, *(line.line for line in seg.dialogue)] if text.strip()]


def speech_fit_problems(plan: FilmPlan) -> list[str]:
    """One line when the film's speech, at the estimated pace, cannot be placed in the film even as the mix
    places it (10 % faster, spilling into the next segment's silence): the mix would fail after every picture.
    A plan without sound says nothing, so there is nothing to fit."""
    if not plan.request.sound:
        return []
    from filmstitch.sound.timing import TimingError, fit_segment, place_film

    seconds = plan.request.frames_per_clip / plan.request.fps
    fits = [fit_segment([estimated_seconds(text) for text in spoken_lines(plan, i)], seconds)
            for i in range(len(plan.script.segments))]
    try:
        place_film(fits, seconds)
    except TimingError:
        words = sum(word_count(text) for i in range(len(fits)) for text in spoken_lines(plan, i))
        lines = sum(len(spoken_lines(plan, i)) for i in range(len(fits)))
        return [(f"the film's speech ({lines} lines, {words} words, about {words / SPEAKING_WORDS_PER_SECOND:.1f} s "
                f"at {SPEAKING_WORDS_PER_SECOND:g} words/s, each line at least 1 s) does not fit its "
                f"{seconds * len(fits):g} s; shorten or remove lines, or lengthen the segments")]
    return []
