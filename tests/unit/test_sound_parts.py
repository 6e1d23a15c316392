"""The sound stage's parts on their own: subtitles, ambience, ducking, a crashing voice process, muxing."""

from __future__ import annotations

import itertools
import stat
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from filmstitch.models import Environment
from filmstitch.sound import ambience as amb
from filmstitch.sound import mix as mix_module
from filmstitch.sound import stage
from filmstitch.sound.audio import SAMPLE_RATE, from_wav
from filmstitch.sound.mix import DUCK_DB, duck_gain
from filmstitch.sound.subtitles import MAX_CHARS, TimedLine, cues_for, to_srt, to_vtt
from filmstitch.sound.voices import PiperEngine, speakable
from filmstitch.testing import sound_checks as probe
from filmstitch.testing.plans import handmade_environment, handmade_plan
from filmstitch.video import decode_frames

LONG = ("At the boulder field the truth is revealed: the garden is real, and it is alive. It has been growing "
        "here, quietly, under the grey dust, for longer than anyone has been looking for it.")


# --------------------------------------------------------------------------- subtitles


def test_a_long_line_becomes_cues_of_two_short_lines_split_at_the_voices_pauses() -> None:
    line = TimedLine(segment=0, speaker="narrator", text=LONG, start=1.0, end=11.0, pauses=[5.2, 7.9])
    cues = cues_for([line], 80.0)
    assert len(cues) >= 3
    for cue in cues:
        rows = cue.text.split("\n")
        assert len(rows) <= 2 and all(len(row) <= MAX_CHARS for row in rows)
        assert cue.end - cue.start >= 1.0
    assert " ".join(c.text.replace("\n", " ") for c in cues) == LONG
    assert cues[0].start == 1.0 and cues[-1].end == 11.0
    inner = [c.start for c in cues[1:]]
    assert any(abs(t - 5.2) < 1e-6 for t in inner), "a cue should change where the voice pauses"


def test_short_cues_stay_a_second_and_never_overlap() -> None:
    lines = [TimedLine(segment=0, speaker="Mira", text="Home.", start=2.0, end=2.4),
             TimedLine(segment=0, speaker="Bolt", text="Yes.", start=2.7, end=3.1)]
    first, second = cues_for(lines, 8.0)
    assert first.end <= second.start and second.end - second.start >= 1.0
    assert first.end == pytest.approx(2.66)


def test_subtitle_text_is_never_markup() -> None:
    line = TimedLine(segment=0, speaker="Mira", text="<b>bold</b> {\\an8} fish & chips --> now", start=0, end=2)
    cues = cues_for([line], 8.0)
    srt, vtt = to_srt(cues), to_vtt(cues, "en")
    assert "<b>" not in srt and "{\\an8}" not in srt and "‹b›bold‹/b›" in srt
    assert "&lt;b&gt;bold&lt;/b&gt;" in vtt and "fish &amp; chips --&gt; now" in vtt
    assert vtt.startswith("WEBVTT\nLanguage: en\n")
    assert "00:00:00,000 --> 00:00:02,000" in srt and "00:00:00.000 --> 00:00:02.000" in vtt


def test_subtitle_files_check_the_language() -> None:
    with pytest.raises(stage.SoundStageError, match="not an ISO 639 language code"):
        stage.subtitle_files([], "xx")
    assert stage.iso639_2("en") == "eng" and stage.iso639_2("de") == "deu"


# --------------------------------------------------------------------------- ambience


def _two_locations(segments: int = 4, seconds: float = 4.0):
    plan = handmade_plan(segments=segments, seconds=seconds)
    crater = Environment(id="crater_base", name="Crater base", description="A metal base inside a crater.",
                         lighting="cold lamps", materials="steel", atmosphere="tense", palette=["#000000"] * 3,
                         set="interior", ambience=["room", "machine"], sound="a steady hum of machines")
    garden = handmade_environment().model_copy(update={"ambience": ["wind"], "sound": "a soft wind"})
    script = plan.script.model_copy(update={"segments": [
        s.model_copy(update={"location": "lunar_garden" if s.index < segments // 2 else "crater_base"})
        for s in plan.script.segments]})
    return plan.model_copy(update={"script": script, "environments": [garden, crater]})


def test_every_ambience_tag_is_a_noise_bed_with_movement_not_a_tone() -> None:
    seconds = 12
    for tag, (generator, _) in amb.TAGS.items():
        bed = generator(np.random.default_rng(5), seconds * SAMPLE_RATE)
        mono = bed.mean(axis=1)
        assert np.isfinite(bed).all() and np.sqrt(np.mean(mono**2)) > 1e-3, tag
        spectrum = np.abs(np.fft.rfft(mono)) ** 2
        # no single frequency holds most of the energy (a tone would)
        assert spectrum.max() / spectrum.sum() < 0.2, tag
        level = probe_level(mono)
        assert level.max() - level.min() > 1.0, f"{tag}: no slow modulation or events (dB range of 1 s windows)"
        assert not np.allclose(bed[:, 0], bed[:, 1]), f"{tag}: not stereo"


def probe_level(mono: np.ndarray) -> np.ndarray:
    windows = mono[: len(mono) // SAMPLE_RATE * SAMPLE_RATE].reshape(-1, SAMPLE_RATE)
    return 20 * np.log10(np.sqrt(np.mean(windows**2, axis=1)) + 1e-12)


def test_tags_sound_different_and_text_adds_beds() -> None:
    def centroid(tag: str) -> float:
        env = handmade_environment().model_copy(update={"ambience": [tag], "sound": ""})
        return probe.spectral_centroid(amb.synthesize_bed(env, 6 * SAMPLE_RATE, 1).mean(axis=1))
    assert centroid("room") < 600 < centroid("rain")
    assert centroid("underwater") < centroid("insects")
    env = handmade_environment().model_copy(update={"ambience": ["wind"], "sound": "gulls over distant breakers"})
    recipe = dict(amb.bed_recipe(env))
    assert set(recipe) == {"wind", "birds", "surf"} and recipe["wind"] == pytest.approx(-4.0)


def test_a_bed_is_seeded_and_continuous_across_segments_of_one_location() -> None:
    plan = handmade_plan(segments=3, seconds=4.0)
    first = stage.ambience_bed(plan, "lunar_garden")
    assert first == stage.ambience_bed(plan, "lunar_garden")
    assert first != stage.ambience_bed(plan, "lunar_garden", seed=99)
    samples, rate = from_wav(first)
    assert rate == SAMPLE_RATE and samples.shape == (3 * 4 * SAMPLE_RATE, 2)  # one piece, the whole film
    # no seam at the segment boundaries: the sample-to-sample step there is like anywhere else
    steps = np.abs(np.diff(samples[:, 0]))
    for boundary in (4 * SAMPLE_RATE, 8 * SAMPLE_RATE):
        assert steps[boundary - 2: boundary + 2].max() < np.percentile(steps, 99.9)


def test_locations_cross_fade_where_they_change() -> None:
    plan = _two_locations()
    spans = amb.location_spans(plan)
    assert spans == {"lunar_garden": [amb.Span(0, 1)], "crater_base": [amb.Span(2, 3)]}
    boundary = 8 * SAMPLE_RATE
    half = int(amb.CROSSFADE_S / 2 * SAMPLE_RATE)
    assert amb.piece_bounds(plan, spans["lunar_garden"][0]) == (0, boundary + half)
    assert amb.piece_bounds(plan, spans["crater_base"][0]) == (boundary - half, 16 * SAMPLE_RATE)
    beds = {loc: stage.ambience_bed(plan, loc) for loc in spans}
    from filmstitch.sound.mix import ambience_stem
    stem = ambience_stem(plan, beds)
    level = probe_level(stem.mean(axis=1))
    # no hole and no bump at the change: the 1 s levels around it stay within a few dB of the beds
    assert level[7] - 6 < level[8] < level[7] + 6 and level.min() > level.max() - 15
    garden = from_wav(beds["lunar_garden"])[0]
    assert np.abs(garden[-100:]).max() < 0.01, "the outgoing bed fades out"


def test_ambience_ducks_under_speech() -> None:
    voice = np.zeros(6 * SAMPLE_RATE, dtype=np.float32)
    voice[2 * SAMPLE_RATE: 4 * SAMPLE_RATE] = 0.1 * np.sin(np.arange(2 * SAMPLE_RATE) * 2 * np.pi * 200 / SAMPLE_RATE)
    gain = 20 * np.log10(duck_gain(voice))
    assert gain[int(0.5 * SAMPLE_RATE)] == pytest.approx(0.0, abs=0.1)
    assert gain[3 * SAMPLE_RATE] == pytest.approx(-DUCK_DB, abs=0.5)
    assert gain[int(1.95 * SAMPLE_RATE)] < -3, "ducking starts just before the speech (look-ahead)"
    assert -DUCK_DB < gain[int(4.3 * SAMPLE_RATE)] < -1, "and releases slowly after it"


def test_unknown_location_is_a_clear_error() -> None:
    with pytest.raises(stage.SoundStageError, match="no segment at location 'moon_base'"):
        stage.ambience_bed(handmade_plan(), "moon_base")


# --------------------------------------------------------------------------- the voice process


def fake_piper(tmp_path: Path, lines_before_crash: int) -> list[str]:
    """A stand-in for `python -m piper` that speaks its protocol (a line on stdin, a WAV into --output-dir,
    `Wrote <path>` on stderr), and dies after some lines."""
    script = tmp_path / "fake_piper.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time, wave, pathlib
        out = pathlib.Path(sys.argv[sys.argv.index("--output-dir") + 1])
        for n, line in enumerate(sys.stdin):
            if n == {lines_before_crash}:
                print("Segmentation fault in the phonemizer", file=sys.stderr, flush=True)
                sys.exit(139)
            path = out / f"{{time.monotonic_ns()}}.wav"
            with wave.open(str(path), "wb") as w:
                w.setnchannels(1); w.setsampwidth(2); w.setframerate(22050)
                w.writeframes(b"\\x00\\x10" * 22050)
            print(f"INFO:__main__:Wrote {{path}}", file=sys.stderr, flush=True)
    """))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return [sys.executable, str(script)]


def test_a_crashing_voice_process_names_the_segment_the_speaker_and_the_line(tmp_path: Path) -> None:
    plan = stage.cast_voices(handmade_plan(segments=2, seconds=4.0))
    engine = PiperEngine(command=fake_piper(tmp_path, lines_before_crash=1))
    with pytest.raises(stage.SoundStageError) as caught:
        stage.speak_segment(plan, 1, engine)
    message = str(caught.value)
    assert message.startswith("speech, segment 1, Mira ('Bolt, look at this!'): Piper exited with code 139")
    assert "Segmentation fault" in message and "\n" not in message


def test_voice_processes_stay_running_between_segments_and_are_replaced_after_a_crash(tmp_path: Path) -> None:
    plan = stage.cast_voices(handmade_plan(segments=2, seconds=4.0))
    engine = PiperEngine(command=fake_piper(tmp_path, lines_before_crash=3))
    stage.speak_segment(plan, 0, engine)  # one line
    first = engine._idle["joe"][0].process.pid
    stage.speak_segment(plan, 1, engine)  # two more: the same process, no new voice load
    assert engine._idle["joe"][0].process.pid == first
    with pytest.raises(stage.SoundStageError, match="segment 0, narrator"):
        stage.speak_segment(plan, 0, engine)  # its fourth line: it crashes
    assert not engine._idle["joe"], "a crashed process is not reused"
    stage.speak_segment(plan, 0, engine)  # a fresh one takes over
    process = engine._idle["joe"][0].process
    engine.close()
    assert process.poll() is not None and not engine._idle


def test_a_voice_process_that_cannot_start_is_a_clear_error(tmp_path: Path) -> None:
    plan = stage.cast_voices(handmade_plan(segments=1, seconds=4.0))
    engine = PiperEngine(command=[str(tmp_path / "no-such-piper")])
    with pytest.raises(stage.SoundStageError,
                       match=r"speech, segment 0, narrator \('Mira crosses the plain.*cannot start"):
        stage.speak_segment(plan, 0, engine)


def test_text_for_the_voice_process_is_one_line_without_phoneme_markup() -> None:
    assert speakable("Say [[ h@loU ]]\nnow") == "Say (( h@loU )) now"


def test_an_uncast_plan_is_refused_before_any_synthesis(tmp_path: Path) -> None:
    engine = PiperEngine(command=fake_piper(tmp_path, lines_before_crash=0))
    with pytest.raises(stage.SoundStageError, match="narrator has no voice yet: cast_voices"):
        stage.speak_segment(handmade_plan(), 0, engine)


def test_a_line_that_runs_long_is_sped_up_at_most_ten_percent_then_moves_into_the_next_silence() -> None:
    plan = handmade_plan(segments=3, fps=24, seconds=6.0)
    long = ("Mira crosses the wide grey plain of the silent moon, past craters, rocks and the long shadows of "
            "the hills, and keeps on walking toward the far horizon.")
    script = plan.script.model_copy(update={"segments": [
        plan.script.segments[0].model_copy(update={"narration": long}), *plan.script.segments[1:]]})
    plan = stage.cast_voices(plan.model_copy(update={"script": script}))
    engine = stage.sound_engine()
    speech = [stage.speak_segment(plan, s, engine) for s in range(3)]
    assert speech[0].fit == pytest.approx(1.10) and speech[0].overrun_s > 0
    assert speech[2].fit == 1.0
    spoken = speech[0].lines[0]
    raw = engine.synthesize([(long, plan.narrator)])[0]
    from filmstitch.sound.audio import speech_bounds
    onset, offset = speech_bounds(raw.samples, raw.rate)
    assert spoken.speech_s == pytest.approx((offset - onset) / 1.10, abs=0.08), "only the tempo changed"
    mix = stage.mix_film(plan, speech, {"lunar_garden": stage.ambience_bed(plan, "lunar_garden")})
    assert any("segment 0" in spill for spill in mix.report.spills)
    cues = mix.cues
    assert all(a.end <= b.start for a, b in itertools.pairwise(cues))
    assert " ".join(c.text.replace("\n", " ") for c in cues if c.segment == 0) == " ".join(long.split())
    assert mix.report.duration_s == 18.0
    first_of_next = min(c.start for c in cues if c.segment == 1)
    assert first_of_next > 6.0 + 0.35, "segment 1 waits for the speech that ran into it"


# --------------------------------------------------------------------------- muxing


@pytest.fixture(scope="module")
def small_film(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("small")
    plan = stage.cast_voices(handmade_plan(segments=2, width=256, height=160, fps=24, seconds=4.0))
    engine = stage.sound_engine()
    speech = [stage.speak_segment(plan, s, engine) for s in range(2)]
    mix = stage.mix_film(plan, speech, {"lunar_garden": stage.ambience_bed(plan, "lunar_garden")})
    picture = probe.synthetic_picture(folder / "picture.mp4", 8.0, size="256x160")
    return plan, mix, picture, folder


def test_burnt_in_subtitles_draw_on_the_picture_and_the_track_stays(small_film) -> None:
    _, mix, picture, folder = small_film
    clean = folder / "clean.mp4"
    burnt = folder / "burnt.mp4"
    clean.write_bytes(stage.mux_film(picture.read_bytes(), mix.m4a, mix.cues, "en"))
    burnt.write_bytes(stage.mux_film(picture.read_bytes(), mix.m4a, mix.cues, "en", burn=True))
    a, b = decode_frames(clean), decode_frames(burnt)
    assert a.shape == b.shape
    cue = mix.cues[0]
    during = int((cue.start + cue.end) / 2 * 24)
    after = int((mix.cues[-1].end + 0.2) * 24)
    lower = slice(a.shape[1] * 2 // 3, None)
    # white text with a dark outline in the lower third while a cue is on, nothing once the last one ends
    assert np.abs(a[during, lower].astype(int) - b[during, lower]).mean() > 3
    if after < len(a):
        assert np.abs(a[after].astype(int) - b[after]).mean() < 3
    streams = {s["codec_type"]: s for s in probe.ffprobe(burnt)["streams"]}
    assert streams["subtitle"]["codec_name"] == "mov_text" and streams["audio"]["codec_name"] == "aac"


def speech_like_mix(seconds: int = 12) -> np.ndarray:
    rng = np.random.default_rng(7)
    mix = (rng.standard_normal((seconds * SAMPLE_RATE, 2)) * 0.0005).astype(np.float32)
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    voiced = (0.03 * np.sin(2 * np.pi * 180 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)))[:, None]
    for start in range(0, seconds, 4):  # two seconds of a voiced, syllable-paced tone every four seconds
        a = start * SAMPLE_RATE
        mix[a:a + 2 * SAMPLE_RATE] += voiced.astype(np.float32)
    return mix


def test_an_encoded_mix_over_the_peak_promise_is_encoded_again_lower(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The encoded file is measured, not assumed: when the first encode's true peak is over -1 dBTP (here the
    measurement of the first encode is raised to 0 dBTP, as one film of twelve really came out), the mix is
    encoded again with a lower peak target, and what is returned is what the file measures."""
    measured: list[float] = []
    real = mix_module.measure

    def first_encode_overshoots(path: Path | bytes) -> dict[str, float]:
        facts = real(path)
        if isinstance(path, Path):
            if not measured:
                facts = {**facts, "true_peak": 0.0}
            measured.append(facts["true_peak"])
        return facts

    monkeypatch.setattr(mix_module, "measure", first_encode_overshoots)
    encodes: list[float] = []
    real_encode = mix_module.normalise_and_encode
    monkeypatch.setattr(mix_module, "normalise_and_encode",
                        lambda mix, out, margin_db=0.0: encodes.append(margin_db) or real_encode(mix, out, margin_db))
    _, _, facts = mix_module.encode_within_peak(speech_like_mix(), tmp_path / "mix.m4a")
    assert encodes == [0.0, 1.5] and measured[0] == 0.0
    assert facts["true_peak"] == measured[-1] <= mix_module.MAX_TRUE_PEAK
    assert -17.0 <= facts["integrated"] <= -15.0


def test_a_mix_within_the_promise_is_encoded_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    encodes: list[float] = []
    real_encode = mix_module.normalise_and_encode
    monkeypatch.setattr(mix_module, "normalise_and_encode",
                        lambda mix, out, margin_db=0.0: encodes.append(margin_db) or real_encode(mix, out, margin_db))
    _, _, facts = mix_module.encode_within_peak(speech_like_mix(), tmp_path / "mix.m4a")
    assert encodes == [0.0] and facts["true_peak"] <= mix_module.MAX_TRUE_PEAK
