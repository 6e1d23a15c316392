"""The default film's sound, end to end: 10 segments of 8 s at 24 fps, the offline writer's plan, Piper's
voice, procedural ambience, mixed, muxed with a synthetic picture, then measured from the outside
(ffprobe, ebur128, decoded PCM), as a person's player would see it."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from filmstitch.models import FilmPlan, FilmRequest
from filmstitch.sound import stage
from filmstitch.sound.casting import NARRATOR
from filmstitch.sound.timing import LEAD_S
from filmstitch.sound.tracks import SegmentSpeech, SoundMix
from filmstitch.sound.voices import shape
from filmstitch.testing import sound_checks as probe
from filmstitch.testing.plans import offline_plan

FRAME_S = 1 / 24


@dataclass
class Film:
    plan: FilmPlan
    speech: list[SegmentSpeech]
    mix: SoundMix
    mp4: Path
    picture: Path
    voice: np.ndarray


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> Film:
    folder = tmp_path_factory.mktemp("film")
    plan = offline_plan(FilmRequest(idea="A stranded astronaut on the moon walks around and discovers nature"))
    assert (plan.request.segments, plan.request.seconds_per_segment, plan.request.fps) == (10, 8.0, 24)
    engine = stage.sound_engine()
    plan = stage.cast_voices(plan, voices=engine.voices())
    with ThreadPoolExecutor(2) as pool:
        speech = list(pool.map(lambda s: stage.speak_segment(plan, s, engine), range(plan.request.segments)))
    beds = {location: stage.ambience_bed(plan, location) for location in plan.script.locations}
    mix = stage.mix_film(plan, speech, beds)
    picture = probe.synthetic_picture(folder / "picture.mp4", plan.request.duration_s)
    mp4 = folder / "film.mp4"
    mp4.write_bytes(stage.mux_film(picture.read_bytes(), mix.m4a, mix.cues, plan.script.language))
    return Film(plan, speech, mix, mp4, picture, probe.decode_audio(mix.stems["voice"]))


def spoken_lines(plan: FilmPlan) -> int:
    return sum(1 + len(segment.dialogue) for segment in plan.script.segments)


def test_the_film_has_sound_as_long_as_its_picture(film: Film) -> None:
    streams = probe.ffprobe(film.mp4)["streams"]
    video = next(s for s in streams if s["codec_type"] == "video")
    audio = next(s for s in streams if s["codec_type"] == "audio")
    assert audio["codec_name"] == "aac" and audio["sample_rate"] == "48000" and audio["channels"] == 2
    assert abs(float(audio["duration"]) - float(video["duration"])) <= FRAME_S
    assert abs(float(video["duration"]) - 80.0) <= FRAME_S
    # the picture was stream-copied: the same frames, not a re-encode
    assert int(video["nb_frames"]) == 1920
    assert probe.ffprobe(film.picture)["streams"][0]["bit_rate"] == video["bit_rate"]


def test_loudness_and_true_peak_are_in_range(film: Film) -> None:
    measured = probe.ebur128(film.mp4)
    assert -17.0 <= measured["I"] <= -15.0, measured
    assert measured["TP"] <= -1.0, measured
    assert film.mix.report.normalisation == "linear"


def test_subtitle_track_has_a_cue_per_spoken_line_in_the_scripts_language(film: Film) -> None:
    streams = probe.ffprobe(film.mp4)["streams"]
    subtitle = next(s for s in streams if s["codec_type"] == "subtitle")
    assert subtitle["codec_name"] == "mov_text" and subtitle["tags"]["language"] == "eng"
    cues = probe.srt_times(probe.subtitle_track(film.mp4))
    assert len(cues) >= spoken_lines(film.plan)
    shown = " ".join(text.replace("\n", " ") for _, _, text in cues)
    for segment in film.plan.script.segments:
        for text in [segment.narration, *(line.line for line in segment.dialogue)]:
            assert " ".join(text.split()) in shown
    for start, end, text in cues:
        assert end - start >= 1.0 - 1e-3
        assert len(text.splitlines()) <= 2 and all(len(row) <= 42 for row in text.splitlines())
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(cues)), "cues overlap"


def test_cues_start_where_the_voice_stem_starts_speaking(film: Film) -> None:
    detected = probe.onsets(film.voice)
    first_cue_of_line = {}
    for cue in film.mix.cues:
        first_cue_of_line.setdefault((cue.segment, cue.speaker, round(cue.start)), cue)
    line_cues = sorted({c.start for c in film.mix.cues if c in first_cue_of_line.values()})
    assert len(line_cues) == spoken_lines(film.plan)
    for start in line_cues:
        nearest = min(detected, key=lambda onset: abs(onset - start))
        assert abs(nearest - start) <= FRAME_S, f"cue at {start:.3f} s, speech starts at {nearest:.3f} s"


def test_every_segment_boundary_is_in_sync_within_a_frame(film: Film) -> None:
    """The muxed film's audio against the voice stem, segment by segment: the lag of best correlation is the
    offset picture-to-sound at that boundary (AAC priming, muxing, placement); it must stay under a frame."""
    mixed = probe.decode_audio(film.mp4)
    assert abs(len(mixed) - len(film.voice)) <= 48_000 * FRAME_S
    segment = 8 * 48_000
    max_lag = 4 * 2000
    for k in range(film.plan.request.segments):
        window = slice(k * segment, (k + 1) * segment)
        a, b = mixed[window], film.voice[window]
        lags = np.arange(-max_lag, max_lag + 1, 8)
        scores = [np.dot(a[max_lag + lag: len(a) - max_lag + lag], b[max_lag: len(b) - max_lag]) for lag in lags]
        best = lags[int(np.argmax(scores))] / 48_000
        assert abs(best) <= FRAME_S, f"segment {k}: sound is {best * 1000:.1f} ms off the picture"
        # and the segment's first line starts at its layout time after the boundary (placement by sample)
        first = min(c.start for c in film.mix.cues if c.segment == k)
        assert abs(first - (k * 8 + LEAD_S)) <= FRAME_S


def test_two_characters_sound_different_and_each_the_same_across_the_film(film: Film) -> None:
    """Median F0 (cepstrum) of the lines: the two characters are apart, in the direction of their casting,
    and the casting keeps everyone (narrator included) 2.5 semitones apart. Then every character line against the
    same text in the narrator's (unshaped) voice: the shift is the character's cast pitch in every segment, so a
    character keeps one voice across the film (the text's own intonation cancels out)."""
    by_speaker: dict[str, list[float]] = {}
    for segment in film.speech:
        for line in segment.lines:
            by_speaker.setdefault(line.speaker, []).append(probe.median_pitch(probe.decode_audio(line.wav)))
    cast = {NARRATOR: 0.0, **{c.name: c.voice.pitch_semitones for c in film.plan.characters}}
    assert min(abs(a - b) for a, b in itertools.combinations(cast.values(), 2)) >= 2.5, cast
    # Speakers with three lines or more (a median of one line is its intonation, not its voice): apart, in
    # the direction of their casting.
    median = {name: float(np.median(values)) for name, values in by_speaker.items() if len(values) >= 3}
    assert len(median) >= 2, by_speaker
    for a, b in itertools.combinations(sorted(median, key=cast.get), 2):
        assert 12 * np.log2(median[b] / median[a]) >= 1.5, (a, b, by_speaker)

    # Piper samples its intonation (noise scale 0.667), so each rendering of the reference differs a little:
    # the shift is the median over three renderings, and every one of them is in the message.
    engine = stage.sound_engine()
    lines = [line for segment in film.speech for line in segment.lines if line.speaker != NARRATOR]
    renderings = [engine.synthesize([(line.text, film.plan.narrator) for line in lines]) for _ in range(3)]
    for k, line in enumerate(lines):
        casting = film.plan.character(line.speaker).voice
        fit = film.speech[line.segment].fit
        spoken = probe.decode_audio(line.wav)
        measured = [probe.pitch_shift(probe.decode_audio(shape(plain[k], film.plan.narrator)), spoken,
                                      casting.tempo * fit) for plain in renderings]
        shift = float(np.median([s for s, _ in measured]))
        where = f"segment {line.segment}, {line.speaker} ({line.text!r})"
        assert min(n for _, n in measured) >= 10, f"{where}: too few voiced frames to compare: {measured}"
        assert abs(shift - casting.pitch_semitones) <= 1.0, \
            f"{where}: {shift:+.1f} st, cast {casting.pitch_semitones:+.1f}; (shift, frames) each time: {measured}"


def test_the_mix_report_matches_the_film(film: Film) -> None:
    report = film.mix.report
    assert report.samples == 80 * 48_000 and report.duration_s == 80.0
    assert -17.0 <= report.integrated_lufs <= -15.0 and report.true_peak_dbtp <= -1.0
    ambience = probe.decode_audio(film.mix.stems["ambience"], channels=2)
    assert len(ambience) == len(film.voice) == report.samples
    assert np.sqrt(np.mean(ambience**2)) > 1e-3, "the ambience stem is silent"
