"""The clips' own sound (LTX-2) in the mix: laid at each segment, joined by a cross-fade at the cuts (the click
measured with and without it), and used as the bed under the narration or as the whole soundtrack."""

from __future__ import annotations

import numpy as np
import pytest

from filmstitch.sound import stage
from filmstitch.sound.audio import SAMPLE_RATE, to_wav
from filmstitch.sound.clips import CROSSFADE_S, clip_sound_stem, seam_step
from filmstitch.sound.mix import CLIP_BED_DB, DUCK_DB
from filmstitch.sound.timing import segment_start_sample
from filmstitch.sound.tracks import LineSpeech, SegmentSpeech
from filmstitch.testing.plans import handmade_plan
from filmstitch.testing.sound_checks import decode_audio

LTX2_RATE = 24_000


def tone(freq: float, phase: float, seconds: float, rate: int = LTX2_RATE, level: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return np.stack([level * np.sin(2 * np.pi * freq * t + phase)] * 2, axis=1).astype(np.float32)


def clip_wavs(segments: int, frames: int, fps: int) -> list[bytes]:
    """One tone per clip, of a different pitch and phase, lasting the clip's F + 1 frames (as LTX-2's sound does)."""
    seconds = (frames + 1) / fps
    return [to_wav(tone(180 + 70 * i, 1.3 * i + 0.4, seconds), LTX2_RATE) for i in range(segments)]


def test_a_hard_cut_clicks_and_the_cross_fade_removes_the_click_at_every_cut() -> None:
    frames, fps = 192, 24
    wavs = clip_wavs(4, frames, fps)
    cuts = [segment_start_sample(i, frames, fps) for i in range(1, 4)]
    hard = clip_sound_stem(wavs, frames, fps, crossfade_s=0.0)
    faded = clip_sound_stem(wavs, frames, fps)
    hard_steps = [seam_step(hard, cut) for cut in cuts]
    faded_steps = [seam_step(faded, cut) for cut in cuts]
    assert min(hard_steps) > 10, hard_steps  # a jump many times the waveform's own sample-to-sample motion
    assert max(faded_steps) < 2.5, faded_steps  # the join moves no more than the sound does anyway
    # Away from the cuts the stem is each clip's own sound, untouched.
    middle = segment_start_sample(1, frames, fps) + SAMPLE_RATE * 4
    assert np.allclose(faded[middle - 100: middle], hard[middle - 100: middle])


def test_each_clip_is_laid_from_its_segment_start_and_fades_into_the_next_over_its_tail() -> None:
    frames, fps = 16, 8
    levels = (0.2, 0.6)
    wavs = [to_wav(np.full(((frames + 1) * SAMPLE_RATE // fps, 2), level, np.float32)) for level in levels]
    stem = clip_sound_stem(wavs, frames, fps)
    cut, fade = segment_start_sample(1, frames, fps), round(CROSSFADE_S * SAMPLE_RATE)
    assert stem[100, 0] == pytest.approx(0.2, abs=1e-3)
    assert stem[cut - 1, 0] == pytest.approx(0.2, abs=1e-3)  # clip 0 holds right up to the cut...
    assert 0.2 < stem[cut + fade // 2, 0] < 0.6 * 1.5  # ...and the two overlap over the fade after it
    assert stem[cut + fade + 10, 0] == pytest.approx(0.6, abs=1e-3)
    assert len(stem) == segment_start_sample(2, frames, fps)


def narration(plan, segment: int, onset: float = 0.2) -> SegmentSpeech:
    """A half-second 200 Hz 'line' at ``onset`` seconds into the segment."""
    voice = tone(200, 0, 0.5, SAMPLE_RATE, 0.3)[:, 0]
    line = LineSpeech(segment=segment, line=0, speaker="narrator", text=plan.script.segments[segment].narration,
                      wav=to_wav(voice), onset_s=0.0, speech_s=0.5, layout_onset_s=onset, slot_s=1.0)
    return SegmentSpeech(segment=segment, engine="test", code_version="0", fit=1.0, lines=[line])


@pytest.fixture(scope="module")
def film():
    plan = handmade_plan(segments=2, fps=8, seconds=2.0)
    speech = [narration(plan, i) for i in range(2)]
    clips = clip_wavs(2, plan.request.frames_per_clip, plan.request.fps)
    return plan, speech, clips


def stem(mix, name: str) -> np.ndarray:
    return decode_audio(mix.stems[name], channels=2 if name != "voice" else 1)


def test_as_the_bed_the_clips_sound_replaces_the_ambience_ducked_under_the_narration(film) -> None:
    plan, speech, clips = film
    mix = stage.mix_film(plan, speech, {}, clips, "bed")  # no ambience beds needed: the clips' sound is the bed
    assert sorted(mix.stems) == ["ambience", "voice"]
    assert abs(mix.report.integrated_lufs + 16) < 1 and mix.report.true_peak_dbtp <= -1
    bed = stem(mix, "ambience")
    expected = clip_sound_stem(clips, plan.request.frames_per_clip, plan.request.fps)
    n = min(len(bed), len(expected))
    assert np.corrcoef(bed[:n, 0], expected[:n, 0])[0, 1] > 0.5  # it is the clips' sound (ducking varies its gain)

    def level_db(samples: np.ndarray, at: float) -> float:
        window = samples[int(at * SAMPLE_RATE): int((at + 0.1) * SAMPLE_RATE)]
        return 20 * np.log10(np.sqrt(np.mean(window ** 2)))

    ducked = level_db(bed, 0.4) - level_db(bed, 1.5)  # under the line vs in the silence after it
    assert ducked < -DUCK_DB / 2
    voice = stem(mix, "voice")
    assert level_db(bed, 1.5) - level_db(voice, 0.4) == pytest.approx(CLIP_BED_DB, abs=3)


def test_as_the_soundtrack_the_clips_sound_is_all_there_is(film) -> None:
    plan, speech, clips = film
    mix = stage.mix_film(plan, speech, {}, clips, "soundtrack")
    assert list(mix.stems) == ["soundtrack"]
    assert abs(mix.report.integrated_lufs + 16) < 1 and mix.report.true_peak_dbtp <= -1
    assert len(mix.cues) >= 2  # the narration's subtitles stay


def test_off_keeps_the_ambience_beds_and_bad_modes_are_refused(film) -> None:
    plan, speech, clips = film
    beds = {loc: stage.ambience_bed(plan, loc) for loc in plan.script.locations}
    off = stage.mix_film(plan, speech, beds, clips, "off")
    plain = stage.mix_film(plan, speech, beds)
    assert np.array_equal(stem(off, "ambience"), stem(plain, "ambience"))
    with pytest.raises(stage.SoundStageError, match="clip_sound must be one of"):
        stage.mix_film(plan, speech, beds, clips, "loud")
    with pytest.raises(stage.SoundStageError, match="1 clip sounds for 2 segments"):
        stage.mix_film(plan, speech, beds, clips[:1], "bed")
