"""Voice casting and speech timing: deterministic, distinct, overridable, and never trimming a word."""

from __future__ import annotations

import pytest

from filmstitch.models import FilmRequest, VoiceCasting
from filmstitch.sound import stage
from filmstitch.sound.casting import MIN_SEMITONES_APART, NARRATOR, PRESETS, describe_casting
from filmstitch.sound.timing import (
    GAP_S,
    LEAD_S,
    MIN_CUE_S,
    TAIL_S,
    TimingError,
    film_samples,
    fit_segment,
    place_film,
    segment_start_sample,
)
from filmstitch.sound.voices import MAX_FIT
from filmstitch.testing.plans import handmade_plan, offline_plan


@pytest.fixture(scope="module")
def plan():
    return offline_plan(FilmRequest(idea="A lighthouse keeper and a seal on a stormy coast", seed=3))


def test_casting_is_deterministic_concrete_and_stored(plan) -> None:
    cast = stage.cast_voices(plan)
    assert cast == stage.cast_voices(plan)
    assert cast.narrator.voice == "joe" and (cast.narrator.pitch_semitones, cast.narrator.formant,
                                             cast.narrator.tempo) == (0.0, 1.0, 1.0)
    pitches = [0.0] + [c.voice.pitch_semitones for c in cast.characters]
    assert all(c.voice.voice == "joe" for c in cast.characters)
    assert all(abs(a - b) >= MIN_SEMITONES_APART for i, a in enumerate(pitches) for b in pitches[i + 1:])
    # the writer's notes survive; casting only fills the concrete fields
    assert [c.voice.timbre for c in cast.characters] == [c.voice.timbre for c in plan.characters]
    assert set(describe_casting(cast)) == {NARRATOR, *(c.name for c in cast.characters)}


def test_casting_follows_the_notes(plan) -> None:
    hero = plan.characters[0]
    child = plan.model_copy(update={"characters": [
        hero.model_copy(update={"voice": VoiceCasting(age="child", timbre="bright, squeaky", manner="excited, quick")}),
        *plan.characters[1:]]})
    elder = plan.model_copy(update={"characters": [
        hero.model_copy(update={"voice": VoiceCasting(age="elder", timbre="deep and gravelly", manner="slow")}),
        *plan.characters[1:]]})
    young_voice = stage.cast_voices(child).character(hero.name).voice
    old_voice = stage.cast_voices(elder).character(hero.name).voice
    assert young_voice.pitch_semitones > old_voice.pitch_semitones + 5
    assert young_voice.formant > old_voice.formant and young_voice.tempo > old_voice.tempo


def test_overrides_set_a_voice_and_a_preset(plan) -> None:
    hero = plan.characters[0].name
    cast = stage.cast_voices(plan, {hero: "joe:high", NARRATOR: "joe:low"})
    semitones, formant, tempo = PRESETS["high"]
    voice = cast.character(hero).voice
    assert (voice.voice, voice.pitch_semitones, voice.formant, voice.tempo) == ("joe", semitones, formant, tempo)
    assert cast.narrator.pitch_semitones == PRESETS["low"][0]


@pytest.mark.parametrize(("overrides", "message"), [
    ({"HERO": "bob"}, "voice 'bob' for HERO does not exist (voices: joe"),
    ({"HERO": "joe:squeaky"}, "no preset 'squeaky'"),
    ({"Nobody": "joe"}, "voices names 'Nobody', who is not in the film"),
    ({NARRATOR: "amy"}, "voice 'amy' for the narrator does not exist"),
])
def test_a_bad_override_is_one_clear_line_naming_the_character(plan, overrides, message) -> None:
    hero = plan.characters[0].name
    overrides = {hero if who == "HERO" else who: voice for who, voice in overrides.items()}
    with pytest.raises(stage.SoundStageError) as caught:
        stage.cast_voices(plan, overrides)
    text = str(caught.value)
    assert text.startswith("voice casting: ") and "\n" not in text
    assert message.replace("HERO", hero) in text


def test_the_request_carries_the_overrides() -> None:
    request = FilmRequest(idea="A robot in a city", voices={"narrator": "joe:deep"})
    cast = stage.cast_voices(offline_plan(request))
    assert cast.narrator.pitch_semitones == PRESETS["deep"][0]


# --------------------------------------------------------------------------- timing


def test_segment_starts_are_exact_samples_on_the_frame_grid() -> None:
    for fps in (24, 25, 30, 60):
        frames = 8 * fps
        assert segment_start_sample(1, frames, fps) == 8 * 48_000
        assert film_samples(75, frames, fps) == 75 * 8 * 48_000  # a 10-minute film: no drift at all
    # a frame rate that does not divide 48 kHz: each boundary is still the floor of the exact position
    assert segment_start_sample(7, 9 * 8, 9) == 7 * 72 * 48_000 // 9


def test_a_line_that_fits_is_untouched() -> None:
    layout = fit_segment([3.0, 1.2], 8.0)
    assert layout.fit == 1.0 and layout.overrun_s == 0
    assert layout.onsets == [LEAD_S, round(LEAD_S + 3.0 + GAP_S, 4)]


def test_a_long_segment_is_sped_up_by_the_least_that_fits_and_at_most_ten_percent() -> None:
    room = 8.0 - LEAD_S - GAP_S - TAIL_S
    layout = fit_segment([room * 0.6 * 1.05, room * 0.4 * 1.05], 8.0)
    assert 1.0 < layout.fit <= 1.051 and layout.overrun_s == 0
    too_long = fit_segment([room * 1.3], 8.0)
    assert too_long.fit == MAX_FIT and too_long.overrun_s > 0


def test_a_short_line_still_holds_the_screen_for_a_second() -> None:
    layout = fit_segment([0.4, 0.4], 8.0)
    assert layout.slots == [MIN_CUE_S, MIN_CUE_S]


def test_speech_that_still_runs_long_moves_into_the_next_segments_silence() -> None:
    long, short = fit_segment([9.0], 8.0), fit_segment([2.0], 8.0)
    placed = place_film([long, short, short], 8.0)
    end_of_long = placed.onsets[0][0] + long.slots[0]
    assert end_of_long > 8.0
    assert placed.onsets[1][0] >= end_of_long + GAP_S - 1e-3  # the next segment waits for it
    assert placed.onsets[2] == [16.0 + LEAD_S]  # and the one after is back on the grid
    assert "segment 0" in placed.spills[0]


def test_the_last_segment_pulls_its_speech_earlier_and_an_impossible_film_is_an_error() -> None:
    short, long = fit_segment([2.0], 8.0), fit_segment([8.5], 8.0)
    placed = place_film([short, long], 8.0)
    assert placed.onsets[1][0] + long.slots[0] <= 16.0 - TAIL_S + 1e-9
    assert placed.onsets[1][0] >= placed.onsets[0][0] + short.slots[0] + GAP_S - 1e-9
    with pytest.raises(TimingError, match="segment 1"):
        place_film([fit_segment([7.5], 8.0), fit_segment([9.9], 8.0)], 8.0)


def test_handmade_plan_speech_layout_has_every_line(tmp_path) -> None:
    plan = stage.cast_voices(handmade_plan(segments=2, seconds=4.0))
    lines = stage.segment_lines(plan, 1)
    assert lines[0][0] == NARRATOR and lines[1] == ("Mira", "Bolt, look at this!")


def test_reuse_keys_change_with_what_a_segment_sounds_like_and_nothing_else(plan) -> None:
    from filmstitch.reuse import ambience_inputs, key_of, keyframe_inputs, sound_identity, speech_inputs
    from filmstitch.sound.voices import PiperEngine

    engine = PiperEngine()

    def speech_key(film, segment):
        return key_of("speech", sound_identity(engine), **speech_inputs(film, segment))

    def bed_key(film, location):
        return key_of("ambience", sound_identity(None), **ambience_inputs(film, location))

    cast = stage.cast_voices(plan)
    keys = [speech_key(cast, s) for s in range(cast.request.segments)]
    assert len(set(keys)) == len(keys) and keys == [speech_key(cast, s) for s in range(10)]
    hero = cast.characters[0].name
    speaking = next(s.index for s in cast.script.segments if any(d.speaker == hero for d in s.dialogue))
    silent = next(s.index for s in cast.script.segments if hero not in {d.speaker for d in s.dialogue})
    recast = stage.cast_voices(plan, {hero: "joe:giant"})
    assert speech_key(recast, speaking) != keys[speaking]
    assert speech_key(recast, silent) == keys[silent], "other segments are reused"
    location = cast.script.locations[0]
    assert bed_key(cast, location) == bed_key(recast, location)
    # A new voice never redraws a picture: keyframe keys leave voices out.
    refs = {s.id: "0" * 64 for s in cast.subjects}
    assert keyframe_inputs(cast, 1, refs, [1, 2]) == keyframe_inputs(recast, 1, refs, [1, 2])
