"""The GPU sound engines on tiny random models built in code, on the CPU: the real engine code and loading
path (from_pretrained on a weights folder), small models. Then the Modal app's classes run in-process
(`.local()`, their `@modal.enter` included) against the same tiny weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from filmstitch.engines.audio import StableAudioAmbienceEngine, ambience_prompt
from filmstitch.engines.tts import SpeechT5Engine, mean_xvectors
from filmstitch.models import VoiceCasting
from filmstitch.sound import stage
from filmstitch.sound.ambience import wav_to_pieces
from filmstitch.sound.audio import SAMPLE_RATE, from_wav
from filmstitch.sound.settings import SoundSettings
from filmstitch.sound.voices import SpeechError
from filmstitch.testing.plans import handmade_plan
from filmstitch.testing.tiny_sound import TINY_SPEAKERS, save_tiny_speecht5, tiny_stable_audio3


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sound-weights")
    save_tiny_speecht5(root / "speecht5")
    tiny_stable_audio3().save_pretrained(root / "sa3")
    return {"tts": root / "speecht5", "ambience": root / "sa3"}


@pytest.fixture(scope="module")
def settings(weights: dict[str, Path]) -> SoundSettings:
    return SoundSettings(tts_dir=str(weights["tts"]), ambience_dir=str(weights["ambience"]), device="cpu",
                         ambience_steps=2, ambience_chunk_s=10.0)


@pytest.fixture(scope="module")
def voice(settings: SoundSettings) -> SpeechT5Engine:
    engine = SpeechT5Engine.load(settings)
    engine.min_len_ratio = engine.max_len_ratio = 3.0  # random weights never say "stop": fix the length
    return engine


def test_speecht5_loads_its_layout_and_speaks_each_line_in_its_voice(voice: SpeechT5Engine) -> None:
    assert voice.voices() == sorted(TINY_SPEAKERS)
    lines = [("the girl walks on the moon", VoiceCasting(voice="awb")), ("a robot", VoiceCasting(voice="slt")),
             ("the girl walks on the moon", VoiceCasting(voice="clb"))]
    speech = voice.synthesize(lines)
    assert [s.rate for s in speech] == [16_000] * 3
    assert all(len(s.samples) > 0 and np.abs(s.samples).max() > 1e-3 for s in speech)
    assert not np.allclose(speech[0].samples, speech[2].samples), "another voice, another sound"
    again = voice.synthesize(lines)
    assert all(np.array_equal(a.samples, b.samples) for a, b in zip(speech, again)), "seeded: the same audio"


def test_speecht5_refuses_an_unknown_voice_and_missing_weights(voice: SpeechT5Engine, tmp_path: Path) -> None:
    with pytest.raises(SpeechError, match="'joe' is not a SpeechT5 speaker") as caught:
        voice.synthesize([("a robot", VoiceCasting(voice="slt")), ("hello", VoiceCasting(voice="joe"))])
    assert caught.value.line == 1
    with pytest.raises(FileNotFoundError, match="FILMSTITCH_SOUND_TTS_DIR"):
        SpeechT5Engine.load(SoundSettings(tts_dir=str(tmp_path), device="cpu"))


def test_the_stage_casts_distinct_speakers_and_speaks_a_segment_with_speecht5(voice: SpeechT5Engine) -> None:
    plan = stage.cast_voices(handmade_plan(segments=2, seconds=4.0), voices=voice.voices())
    speakers = [plan.narrator.voice, *(c.voice.voice for c in plan.characters)]
    assert len(set(speakers)) == len(speakers), "with several engine voices everyone gets their own"
    speech = stage.speak_segment(plan, 1, voice)
    assert [line.speaker for line in speech.lines] == ["narrator", "Mira"]
    for line in speech.lines:
        samples, rate = from_wav(line.wav)
        assert rate == SAMPLE_RATE and len(samples) > 0 and line.speech_s > 0


def test_mean_xvectors_averages_per_speaker() -> None:
    vectors = {f"spkrec-xvect/cmu_us_{who}_arctic-wav-arctic_a000{k}.npy": np.full(4, float(k) + (who == "slt"))
               for who in ("awb", "slt") for k in (1, 2, 3)}
    table = mean_xvectors(vectors)
    assert sorted(table) == ["awb", "slt"]
    assert np.allclose(table["awb"], 2.0) and np.allclose(table["slt"], 3.0 * (3.0 / 3.0))


def test_stable_audio_makes_a_bed_of_the_exact_length_chunked_and_seeded(settings: SoundSettings) -> None:
    engine = StableAudioAmbienceEngine.load(settings)
    samples = 25 * SAMPLE_RATE  # 10 s chunks with 2 s overlaps: three pipeline calls
    bed = engine.bed("wind over the sea at night", samples, seed=4)
    assert bed.shape == (samples, 2) and bed.dtype == np.float32 and np.isfinite(bed).all()
    assert np.abs(bed).max() > 0
    assert np.array_equal(bed, engine.bed("wind over the sea at night", samples, seed=4))
    assert not np.array_equal(bed, engine.bed("wind over the sea at night", samples, seed=5))


def test_the_stage_makes_an_ambience_bed_with_stable_audio(settings: SoundSettings) -> None:
    plan = handmade_plan(segments=2, seconds=4.0)
    engine = StableAudioAmbienceEngine.load(settings)
    prompt = ambience_prompt(plan.location("lunar_garden"))
    assert "no music, no speech" in prompt and "wind" in prompt
    bed = stage.ambience_bed(plan, "lunar_garden", engine=engine)
    (start, piece), = wav_to_pieces(plan, [stage.amb.Span(0, 1)], bed)
    assert start == 0 and piece.shape == (8 * SAMPLE_RATE, 2)
    rms = np.sqrt(np.mean(piece[SAMPLE_RATE: -2 * SAMPLE_RATE] ** 2))
    assert 0.03 < rms < 0.3, "levelled like the procedural beds (-20 dBFS RMS)"


def test_the_modal_app_runs_the_same_engines(settings: SoundSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILMSTITCH_SOUND_TTS_DIR", settings.tts_dir)
    monkeypatch.setenv("FILMSTITCH_SOUND_AMBIENCE_DIR", settings.ambience_dir)
    monkeypatch.setenv("FILMSTITCH_SOUND_DEVICE", "cpu")
    monkeypatch.setenv("FILMSTITCH_SOUND_AMBIENCE_STEPS", "2")
    from filmstitch.modal_workers import sound_gpu

    voices = sound_gpu.VoiceWorker()
    assert voices.voices.local() == sorted(TINY_SPEAKERS)
    wavs = voices.synthesize.local([("a robot", "awb")])
    samples, rate = from_wav(wavs[0])
    assert rate == 16_000 and len(samples) > 0
    bed = sound_gpu.AmbienceWorker().bed.local("rain on a tin roof", 3 * SAMPLE_RATE, 1)
    samples, rate = from_wav(bed)
    assert rate == SAMPLE_RATE and samples.shape == (3 * SAMPLE_RATE, 2)
    assert set(sound_gpu.WEIGHT_REPOS) >= {"speecht5/speecht5_tts", "speecht5/speecht5_hifigan",
                                           "stable-audio-3-medium"}
    assert all(allow for _, allow in sound_gpu.WEIGHT_REPOS.values()), "every download is allow-listed"
