"""The sound stage: voices cast once, one task per segment's speech, one per location's ambience, one mix.

Everything is stored in the film's storage with a reuse key (filmstitch.reuse): every spoken line as a WAV,
each location's ambience bed, the mix (AAC .m4a), its stems (FLAC), and the subtitles as .srt and .vtt
sidecars in the film's folder. A crash during the sound stage resumes without speaking finished lines again.
The domain work is filmstitch.sound.stage (bytes in, bytes out); these tasks store and reuse it.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from prefect import task
from pydantic import BaseModel, ConfigDict

from filmstitch import backends
from filmstitch.models import FilmPlan
from filmstitch.reuse import ambience_inputs, key_of, mix_inputs, sound_identity, speech_inputs
from filmstitch.sound import stage
from filmstitch.sound.settings import SoundSettings
from filmstitch.sound.subtitles import Cue
from filmstitch.sound.tracks import LineSpeech, SegmentSpeech
from filmstitch.storage import ArtifactRef, FilmStore
from filmstitch.storage.parts import ambience_part, speech_part
from filmstitch.tasks.common import STAGE, FilmContext, render_slot, stored_take
from filmstitch.tasks.estimate import metered

_engines: dict[str, Any] = {}
_engines_guard = threading.Lock()


def sound_backend() -> backends.SoundBackend:
    """The sound engine this machine uses (FILMSTITCH_SOUND_ENGINE), as filmstitch.backends lists it."""
    return backends.sound_engine(SoundSettings().engine)


def voice_engine() -> stage.SoundEngine:
    """The process's voice engine (FILMSTITCH_SOUND_ENGINE): kept, so the offline voice's processes are reused."""
    name = sound_backend().voice
    with _engines_guard:
        if name not in _engines:
            _engines[name] = stage.sound_engine(name)
        return _engines[name]


def bed_engine() -> Any:
    """The ambience engine: None for the offline, procedural one."""
    name = sound_backend().ambience
    with _engines_guard:
        if name not in _engines:
            _engines[name] = stage.ambience_engine(name)
        return _engines[name]


class SpeechRef(BaseModel):
    """A segment's stored speech: its description (timings, fit) and one WAV per line."""

    model_config = ConfigDict(frozen=True)

    segment: int
    about: ArtifactRef
    lines: list[ArtifactRef]


class SoundRef(BaseModel):
    """The film's stored sound: the mix, its cues and the subtitle sidecars."""

    model_config = ConfigDict(frozen=True)

    mix: ArtifactRef
    cues: ArtifactRef
    srt: ArtifactRef
    vtt: ArtifactRef


@task(name="cast-voices", **STAGE)
def cast_voices(film: FilmContext, plan: FilmPlan) -> FilmPlan:
    """The plan with a concrete voice for the narrator and every character (stored as plan/cast.json)."""
    cast = stage.cast_voices(plan, plan.request.voices, voice_engine().voices())
    voices = {"narrator": cast.narrator.model_dump(mode="json")} | {
        c.name: c.voice.model_dump(mode="json") for c in cast.characters}
    film.store().put_json("plan/cast.json", voices, stage="casting")
    return cast


@task(name="speak", task_run_name="speech-{segment}", **STAGE)
def speak_segment(film: FilmContext, plan: FilmPlan, segment: int) -> SpeechRef:
    engine = voice_engine()
    reuse_key = key_of("speech", sound_identity(engine), **speech_inputs(plan, segment))
    store = film.store()
    about_key, about = stored_take(store, speech_part(segment), reuse_key, "/speech.json")
    if about is not None:
        lines = [store.reuse(key, reuse_key) for key in json.loads(store.get_verified(about))["wav_keys"]]
        if all(lines):
            return SpeechRef(segment=segment, about=about, lines=lines)
    folder = about_key.rsplit("/", 1)[0]
    backend = sound_backend()
    with render_slot(backend), metered(film, folder, backend):
        speech = stage.speak_segment(plan, segment, engine)
    wavs = [store.put(f"{folder}/line-{line.line}.wav", line.wav, "audio/wav", reuse_key=reuse_key,
                      stage="speech", segment=segment, speaker=line.speaker) for line in speech.lines]
    description = speech.model_dump(mode="json", exclude={"lines": {"__all__": {"wav"}}})
    description["wav_keys"] = [wav.key for wav in wavs]
    about = store.put(about_key, json.dumps(description, indent=2, ensure_ascii=False).encode(), "application/json",
                      reuse_key=reuse_key, stage="speech", segment=segment)
    return SpeechRef(segment=segment, about=about, lines=wavs)


@task(name="ambience", task_run_name="ambience-{location_id}", **STAGE)
def make_ambience(film: FilmContext, plan: FilmPlan, location_id: str) -> ArtifactRef:
    engine = bed_engine()
    reuse_key = key_of("ambience", sound_identity(engine), **ambience_inputs(plan, location_id))
    store = film.store()
    key, reused = stored_take(store, ambience_part(location_id), reuse_key, ".wav")
    if reused is not None:
        return reused
    backend = sound_backend()
    with render_slot(backend), metered(film, key.removesuffix(".wav"), backend):
        wav = stage.ambience_bed(plan, location_id, engine=engine)
    return store.put(key, wav, "audio/wav", reuse_key=reuse_key, stage="ambience", location=location_id)


def load_speech(store: FilmStore, ref: SpeechRef) -> SegmentSpeech:
    description = json.loads(store.get_verified(ref.about))
    wavs = [store.get_verified(line) for line in ref.lines]
    lines = [LineSpeech(**line, wav=wav) for line, wav in zip(description.pop("lines"), wavs)]
    description.pop("wav_keys")
    return SegmentSpeech(**description, lines=lines)


@task(name="mix-sound", **STAGE)
def mix_sound(film: FilmContext, plan: FilmPlan, speech: list[SpeechRef], beds: dict[str, ArtifactRef],
              clip_sounds: list[ArtifactRef] | None = None) -> SoundRef:
    """The mix at -16 LUFS, its stems, the subtitle cues from the speech, and the .srt/.vtt sidecars. The clips' own
    sound (LTX-2: one WAV per segment), when given, is used as ``FILMSTITCH_SOUND_CLIP_SOUND`` says."""
    from filmstitch.sound.settings import SoundSettings

    mode = SoundSettings().clip_sound
    inputs = mix_inputs(plan, [[ref.about, *ref.lines] for ref in speech], beds, clip_sounds, mode)
    reuse_key = key_of("mix", sound_identity(None), **inputs)
    store = film.store()
    keys = {"mix": "sound/mix.m4a", "cues": "sound/cues.json", "srt": "subtitles.srt", "vtt": "subtitles.vtt"}
    stored = {name: store.reuse(key, reuse_key) for name, key in keys.items()}
    if all(stored.values()):
        return SoundRef(**stored)
    mixed = stage.mix_film(plan, [load_speech(store, ref) for ref in speech],
                           {loc: store.get_verified(ref) for loc, ref in beds.items()},
                           [store.get_verified(ref) for ref in clip_sounds] if clip_sounds else None, mode)
    srt, vtt = stage.subtitle_files(mixed.cues, plan.script.language)
    for name, flac in mixed.stems.items():
        store.put(f"sound/{name}.flac", flac, "audio/flac", reuse_key=reuse_key, stage="mix")
    cues = json.dumps({"report": mixed.report.model_dump(mode="json"),
                       "cues": [cue.model_dump(mode="json") for cue in mixed.cues]}, indent=2, ensure_ascii=False)
    return SoundRef(
        mix=store.put(keys["mix"], mixed.m4a, "audio/mp4", reuse_key=reuse_key, stage="mix",
                      lufs=mixed.report.integrated_lufs, true_peak_dbtp=mixed.report.true_peak_dbtp),
        cues=store.put(keys["cues"], cues.encode(), "application/json", reuse_key=reuse_key, stage="mix"),
        srt=store.put(keys["srt"], srt.encode(), "application/x-subrip", reuse_key=reuse_key, stage="subtitles"),
        vtt=store.put(keys["vtt"], vtt.encode(), "text/vtt", reuse_key=reuse_key, stage="subtitles"),
    )


def stored_cues(store: FilmStore, sound: SoundRef) -> list[Cue]:
    return [Cue(**cue) for cue in json.loads(store.get_verified(sound.cues))["cues"]]
