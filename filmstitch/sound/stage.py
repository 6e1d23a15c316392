"""The sound stage as pure functions, bytes in and bytes out: what the flow's tasks call.

One task per segment speaks its lines (:func:`speak_segment`), one per location makes its ambience bed
(:func:`ambience_bed`), one mixes (:func:`mix_film`); then :func:`subtitle_files` and :func:`mux_film` make
the sidecars and the final MP4. Casting (:func:`cast_voices`) runs first, once, and its result is stored in
the plan, so every segment's task sees the same voices.

Every failure names its stage and the line it concerns (segment, speaker, first words), in one line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from filmstitch import backends
from filmstitch.models import FilmPlan, derive_seed
from filmstitch.sound import ambience as amb
from filmstitch.sound.audio import SAMPLE_RATE, AudioError, from_wav, pauses, speech_bounds
from filmstitch.sound.casting import NARRATOR, CastingError, casting_for
from filmstitch.sound.casting import cast_voices as _cast_voices
from filmstitch.sound.mix import mix_film as _mix_film
from filmstitch.sound.subtitles import Cue, to_srt, to_vtt
from filmstitch.sound.timing import fit_segment, lay_out
from filmstitch.sound.tracks import LineSpeech, SegmentSpeech, SoundMix
from filmstitch.sound.voices import SoundEngine, SpeechError, first_words, shape
from filmstitch.video import VideoError, mux_av


class SoundStageError(RuntimeError):
    """A sound-stage failure, with a message that names the stage and the line."""


def sound_engine(name: str = "piper", **options: object) -> SoundEngine:
    """The voice engine by name (``filmstitch.backends.VOICE_ENGINES``): 'piper' (offline, default;
    ``FILMSTITCH_SOUND_PIPER_*`` and ``FILMSTITCH_SOUND_SPEECH_WORKERS`` apply), 'speecht5' (in-process, the local
    GPU) or 'speecht5-modal' (the deployed Modal app). ``options`` go to the engine's factory."""
    try:
        factory = backends.voice_engine_factory(name)
    except ValueError as exc:
        raise SoundStageError(str(exc)) from None
    engine: SoundEngine = factory(**options)
    return engine


def ambience_engine(name: str = "procedural", **options: object) -> amb.BedEngine | None:
    """The ambience engine by name (``filmstitch.backends.AMBIENCE_ENGINES``): 'procedural' (offline, default:
    None, the stage's own synthesis), 'stable-audio-3' (text-to-audio on the local GPU, in-process) or
    'stable-audio-3-modal' (on Modal)."""
    try:
        factory = backends.ambience_engine_factory(name)
    except ValueError as exc:
        raise SoundStageError(str(exc)) from None
    engine: amb.BedEngine | None = None if factory is None else factory(**options)
    return engine


def cast_voices(plan: FilmPlan, overrides: Mapping[str, str] | None = None,
                voices: Sequence[str] = ("joe",)) -> FilmPlan:
    """The plan with concrete voices for the narrator and every character (``filmstitch.sound.casting``).

    ``overrides`` (default ``plan.request.voices``) maps a character name or 'narrator' to a voice id like
    'joe' or 'joe:high'; ``voices`` are the engine's voice ids (``engine.voices()``).
    """
    try:
        return _cast_voices(plan, overrides, voices)
    except CastingError as exc:
        raise SoundStageError(f"voice casting: {exc}") from None


def segment_lines(plan: FilmPlan, segment: int) -> list[tuple[str, str]]:
    """(speaker, text) of a segment's spoken lines: the narration (none when it is empty), then the dialogue in
    order."""
    scripted = plan.script.segments[segment]
    narration = [(NARRATOR, scripted.narration)] if scripted.narration.strip() else []
    return [*narration, *((line.speaker, line.line) for line in scripted.dialogue)]


def speak_segment(plan: FilmPlan, segment: int, engine: SoundEngine) -> SegmentSpeech:
    """Every line of one segment in its cast voice, fitted to the segment (``filmstitch.sound.timing``).

    The plan must be cast (:func:`cast_voices`). Lines are synthesised in one engine call, measured, then
    shaped once with the segment's tempo fit; each comes back as 48 kHz mono WAV bytes with where its speech
    starts and ends inside it and where the layout puts it.
    """
    if not 0 <= segment < len(plan.script.segments):
        raise SoundStageError(f"speech: there is no segment {segment} (the film has {len(plan.script.segments)})")
    lines = segment_lines(plan, segment)

    def named(k: int) -> str:
        speaker, text = lines[k]
        return f"speech, segment {segment}, {speaker} ('{first_words(text)}')"

    castings = []
    for k, (speaker, _) in enumerate(lines):
        try:
            castings.append(casting_for(plan, speaker))
        except (CastingError, StopIteration) as exc:
            raise SoundStageError(f"{named(k)}: {exc or 'unknown speaker'}") from None
    try:
        raw = engine.synthesize([(text, casting) for (_, text), casting in zip(lines, castings)])
    except SpeechError as exc:
        where = named(exc.line) if exc.line is not None and exc.line < len(lines) else f"speech, segment {segment}"
        raise SoundStageError(f"{where}: {exc}") from None
    if len(raw) != len(lines):
        raise SoundStageError(f"speech, segment {segment}: {engine.name} returned {len(raw)} lines for {len(lines)}")
    predicted = []
    for speech, casting in zip(raw, castings):
        onset, offset = speech_bounds(speech.samples, speech.rate)
        predicted.append((offset - onset) / casting.tempo)
    seconds = plan.request.frames_per_clip / plan.request.fps
    fit = fit_segment(predicted, seconds)
    shaped, measured = [], []
    for k, (speech, casting) in enumerate(zip(raw, castings)):
        try:
            wav = shape(speech, casting, fit.fit)
            samples, _ = from_wav(wav)
        except (AudioError, ValueError) as exc:
            raise SoundStageError(f"{named(k)}: {exc}") from None
        onset, offset = speech_bounds(samples, SAMPLE_RATE)
        if offset <= onset:
            raise SoundStageError(f"{named(k)}: {engine.name} produced no audible speech")
        shaped.append((wav, onset, offset, pauses(samples, SAMPLE_RATE)))
        measured.append(offset - onset)
    onsets, slots = lay_out(measured)
    return SegmentSpeech(
        segment=segment, engine=engine.name, code_version=engine.code_version, fit=fit.fit, overrun_s=fit.overrun_s,
        lines=[LineSpeech(segment=segment, line=k, speaker=speaker, text=text, wav=wav, onset_s=round(onset, 4),
                          speech_s=round(offset - onset, 4), pauses_s=[round(p, 3) for p in inner],
                          layout_onset_s=onsets[k], slot_s=round(slots[k], 4))
               for k, ((speaker, text), (wav, onset, offset, inner)) in enumerate(zip(lines, shaped))],
    )


def ambience_bed(plan: FilmPlan, location_id: str, spans: Sequence[amb.Span] | None = None,
                 seed: int | None = None, engine: amb.BedEngine | None = None) -> bytes:
    """One location's ambience for all its runs of segments, as one stereo 48 kHz WAV (its pieces end to end;
    ``filmstitch.sound.ambience``). ``spans`` default to the location's runs in the plan, ``seed`` to one
    derived from the film's seed and the location id. Procedural, unless ``engine`` (a text-to-audio engine
    such as Stable Audio 3, :func:`ambience_engine`) is given."""
    known = amb.location_spans(plan)
    if location_id not in known:
        raise SoundStageError(f"ambience: the film has no segment at location {location_id!r} "
                              f"(locations: {', '.join(known)})")
    spans = list(known[location_id] if spans is None else spans)
    seed = derive_seed(plan.request.seed, "ambience", location_id) if seed is None else seed
    try:
        return amb.bed_to_wav(amb.ambience_pieces(plan, location_id, spans, seed, engine))
    except (RuntimeError, ValueError) as exc:
        raise SoundStageError(f"ambience, location {location_id!r}: {exc}") from None


def mix_film(plan: FilmPlan, speech: Sequence[SegmentSpeech], beds: Mapping[str, bytes],
             clip_sounds: Sequence[bytes] | None = None, clip_sound: str = "bed") -> SoundMix:
    """The film's mix (AAC .m4a, -16 LUFS, true peak under -1 dBTP, exactly the picture's length), its
    stems (FLAC) and the subtitle cues timed to the speech (``filmstitch.sound.mix``); the clips' own sound
    (LTX-2), when given, as ``clip_sound`` says (bed, soundtrack or off)."""
    try:
        return _mix_film(plan, speech, beds, clip_sounds, clip_sound)
    except (AudioError, ValueError) as exc:
        raise SoundStageError(f"mix: {exc}") from None


def iso639_2(language: str) -> str:
    """'en' -> 'eng' (the three-letter code MP4 tracks carry); a three-letter code is checked and kept."""
    import pycountry  # its data loads on first use: only films with sound need it

    found = (pycountry.languages.get(alpha_2=language) if len(language) == 2
             else pycountry.languages.get(alpha_3=language))
    if found is None or not hasattr(found, "alpha_3"):
        raise SoundStageError(f"subtitles: {language!r} is not an ISO 639 language code")
    return found.alpha_3


def subtitle_files(cues: Sequence[Cue], language: str) -> tuple[str, str]:
    """(SRT text, WebVTT text) of the cues; ``language`` is the script's ISO 639 code."""
    iso639_2(language)
    return to_srt(cues), to_vtt(cues, language)


def mux_film(picture_mp4: bytes, mix_m4a: bytes, cues: Sequence[Cue], language: str, burn: bool = False) -> bytes:
    """The final MP4: the picture (stream-copied, or re-encoded with the subtitles burnt in when ``burn``),
    the mix, and a soft mov_text subtitle track tagged with the script's language."""
    try:
        return mux_av(picture_mp4, mix_m4a, to_srt(cues), iso639_2(language), burn=burn)
    except VideoError as exc:
        raise SoundStageError(f"assembly (mux): {exc}") from None
