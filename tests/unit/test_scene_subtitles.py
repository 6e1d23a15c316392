"""Subtitles follow the scenes: no cue spans a scene cut, also when speech runs over one (a line that spilled
into the next segment's silence), and no cue is stretched to its minimum second past a cut."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest

from filmstitch.models import FilmRequest
from filmstitch.sound import stage
from filmstitch.sound.mix import scene_cuts
from filmstitch.sound.subtitles import MIN_SECONDS, Cue, TimedLine, cues_for
from filmstitch.testing.plans import offline_plan

IDEA = "A stranded astronaut on the moon walks around and discovers nature"
LONG = ("The dust storm rolls in over the crater rim, and Nora has to choose now: turn back to the lander and "
        "the warm lights, or walk on into the grey, where the little green shoots are waiting, one by one, "
        "for someone to find them.")


def spanning(cues: list[Cue], cuts: list[float]) -> list[Cue]:
    return [cue for cue in cues if any(cue.start < cut < cue.end for cut in cuts)]


def words(cues: list[Cue]) -> list[str]:
    return " ".join(cue.text.replace("\n", " ") for cue in cues).split()


def test_a_line_heard_over_a_cut_is_split_there_and_keeps_every_word() -> None:
    line = TimedLine(segment=3, speaker="narrator", text=LONG, start=28.0, end=37.0, pauses=[30.1, 32.4, 35.2])
    cuts = [32.0]
    cues = cues_for([line], 80.0, cuts)
    assert spanning(cues, cuts) == []
    assert words(cues) == LONG.split()
    before = [c for c in cues if c.end <= 32.0]
    after = [c for c in cues if c.start >= 32.0]
    assert before and after and len(before) + len(after) == len(cues)
    assert before[-1].end == 32.0 and after[0].start == 32.0  # the change of cue is on the cut
    # about as much text on each side as speech: 4 of 9 seconds before the cut
    share = len(" ".join(words(before))) / len(LONG)
    assert 0.3 <= share <= 0.6, share
    # and nothing else changed: without cuts it is the usual cues
    assert spanning(cues_for([line], 80.0), cuts), "the planted line must span the cut without the rule"


def test_a_short_line_before_a_cut_is_not_stretched_over_it() -> None:
    lines = [TimedLine(segment=0, speaker="Mira", text="Home.", start=7.5, end=7.8),
             TimedLine(segment=1, speaker="Bolt", text="Not yet.", start=8.35, end=8.9)]
    first, second = cues_for(lines, 16.0, [8.0])
    assert first.end == 8.0 and second.start == 8.35
    assert second.end - second.start >= MIN_SECONDS  # after the cut the minimum holds again
    # without the cut the first cue would have been held to its second, over the cut
    assert cues_for(lines, 16.0)[0].end > 8.0


def test_one_word_over_a_cut_stays_whole_with_the_scene_that_hears_most_of_it() -> None:
    late = TimedLine(segment=0, speaker="Mira", text="Incredible!", start=7.7, end=8.3)
    (cue,) = cues_for([late], 16.0, [8.1])
    assert (cue.start, cue.end, cue.text) == (7.7, 8.1, "Incredible!")
    early = TimedLine(segment=0, speaker="Mira", text="Incredible!", start=7.9, end=8.6)
    (cue,) = cues_for([early], 16.0, [8.0])
    assert cue.start == 8.0 and cue.text == "Incredible!"


def test_cuts_that_are_not_on_a_whole_millisecond_are_kept_on_their_side() -> None:
    cut = 8 * 64 * 48_000 // 11 / 48_000  # 8 segments of 64 frames at 11 fps: 46.5454... s
    line = TimedLine(segment=7, speaker="narrator", text=LONG, start=cut - 3.3, end=cut + 4.1)
    cues = cues_for([line], 90.0, [cut])
    assert spanning(cues, [cut]) == [] and words(cues) == LONG.split()
    assert all(b.start >= a.end for a, b in itertools.pairwise(cues))


@pytest.fixture(scope="module")
def spilled_mix():
    """The default film (10 segments of 8 s), whose last line before its first scene cut is far too long for
    its segment: the voice runs into the next scene's silence (the spill rule), and the mix makes the cues."""
    plan = offline_plan(FilmRequest(idea=IDEA))
    last = max(s.index for s in plan.script.segments if s.scene == 0)
    segments = list(plan.script.segments)
    segments[last] = segments[last].model_copy(update={"narration": LONG, "dialogue": []})
    plan = plan.model_copy(update={"script": plan.script.model_copy(update={"segments": segments})})
    engine = stage.sound_engine()
    plan = stage.cast_voices(plan, voices=engine.voices())
    with ThreadPoolExecutor(2) as pool:
        speech = list(pool.map(lambda s: stage.speak_segment(plan, s, engine), range(plan.request.segments)))
    beds = {location: stage.ambience_bed(plan, location) for location in plan.script.locations}
    return plan, last, stage.mix_film(plan, speech, beds)


def test_the_mix_splits_speech_that_spills_over_a_scene_cut(spilled_mix) -> None:
    plan, last, mix = spilled_mix
    cuts = scene_cuts(plan)
    assert cuts[0] == (last + 1) * 8.0
    assert any(f"segment {last}:" in spill for spill in mix.report.spills), mix.report.spills
    assert spanning(mix.cues, cuts) == []
    own = [cue for cue in mix.cues if cue.segment == last and cue.speaker == "narrator"]
    assert own[0].start < cuts[0] and own[-1].end > cuts[0], "the narration is heard on both sides of the cut"
    assert words(own) == LONG.split()
    assert all(b.start >= a.end for a, b in itertools.pairwise(mix.cues)), "cues overlap"
