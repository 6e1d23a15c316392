"""Voice casting: every character (and the narrator) gets a concrete voice, stored in the plan.

The writer casts in words (:class:`~filmstitch.models.VoiceCasting`: age, timbre, accent, manner); this module
turns those words into an engine voice id plus ``pitch_semitones``, ``formant`` and ``tempo``, and writes them
back into the plan, so a character sounds the same in every line of the film and on every rerun.

How a character's voice is chosen, deterministically:

1. **Override.** ``FilmRequest.voices`` may name a voice per character (or ``narrator``): ``"joe"`` is the
   engine voice unshaped, ``"joe:high"`` that voice with the ``high`` preset of :data:`PRESETS`. An unknown
   voice, preset or character name is an error naming the character, before any sound is made.
2. **Base voice.** With several engine voices, characters take them in turn (seeded order), the narrator
   the first; with one voice (Piper's joe) everyone shares it and shaping makes them distinct.
3. **Shaping from the notes.** Age sets a starting pitch and formant (a child is higher and smaller, an
   elder a little lower and slower); words in the timbre ('deep', 'gravelly', 'bright', 'squeaky'...) move
   them; the character's kind and build too (a small creature is brighter, a broad or tall one darker);
   the manner sets the tempo ('quick', 'excited' faster, 'slow', 'measured' slower). A seeded jitter
   (film seed + character name) makes two characters with the same notes still differ.
4. **Distinct.** Characters sharing a base voice are kept at least :data:`MIN_SEMITONES_APART` apart in
   pitch from each other and from the narrator (pushed up or down, in order of first appearance).

The narrator stays unshaped unless overridden: it is the voice model as recorded.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence

from filmstitch.models import Character, FilmPlan, VoiceCasting, derive_seed

NARRATOR = "narrator"
#: Named shapings for overrides ("joe:high"): (semitones, formant, tempo).
PRESETS: dict[str, tuple[float, float, float]] = {
    "plain": (0.0, 1.0, 1.0),
    "high": (4.0, 1.10, 1.0),
    "low": (-3.0, 0.92, 1.0),
    "deep": (-5.5, 0.85, 0.95),
    "bright": (2.5, 1.06, 1.04),
    "child": (7.0, 1.22, 1.05),
    "small": (5.5, 1.16, 1.06),
    "elder": (-2.0, 0.95, 0.9),
    "giant": (-7.0, 0.8, 0.9),
}
MIN_SEMITONES_APART = 2.5
_AGE = {"child": (6.5, 1.18), "young": (2.0, 1.05), "adult": (-1.0, 0.98), "elder": (-2.5, 0.94)}
#: Words of a timbre or role and how they move (semitones, formant).
_TIMBRE_WORDS = {
    r"\b(deep|booming|bass|low)\b": (-2.5, -0.05),
    r"\b(gravelly|gruff|husky|rough|raspy|hoarse)\b": (-1.5, -0.03),
    r"\b(dark|rich|warm|mellow)\b": (-0.5, -0.01),
    r"\b(bright|light|clear|crisp)\b": (1.0, 0.03),
    r"\b(high|squeaky|shrill|piping|tiny|thin)\b": (2.5, 0.06),
    r"\b(breathy|soft|gentle)\b": (0.5, 0.0),
}
_MANNER_WORDS = {
    r"\b(quick|fast|excited|eager|nervous|rapid|chirpy|bubbly)\b": 0.06,
    r"\b(slow|measured|calm|wry|deliberate|weary|sad|solemn|grave)\b": -0.05,
}
_KIND = {"robot": (-1.0, -0.03), "animal": (1.5, 0.05), "bird": (4.0, 0.1), "sea_creature": (-1.0, 0.0),
         "creature": (-2.0, -0.05), "object": (1.0, 0.03), "element": (-3.5, -0.08), "person": (0.0, 0.0)}
_BUILD = {"small": (1.5, 0.05), "slim": (0.5, 0.01), "average": (0.0, 0.0), "broad": (-1.5, -0.04),
          "tall": (-1.0, -0.03)}


class CastingError(ValueError):
    """A voice override that cannot be honoured (the message names the character)."""


def _clamp(value: float, low: float, high: float) -> float:
    return round(min(high, max(low, value)), 3)


def parse_voice_id(voice_id: str, engine_voices: Sequence[str], who: str) -> tuple[str, tuple[float, float, float]]:
    """('joe', preset shaping) of an override like 'joe' or 'joe:high'; a clear error for anything else."""
    base, _, preset = voice_id.partition(":")
    if base not in engine_voices:
        raise CastingError(f"voice {voice_id!r} for {who} does not exist (voices: {', '.join(engine_voices)}; "
                           f"presets: {', '.join(PRESETS)}, e.g. '{engine_voices[0]}:high')")
    if preset and preset not in PRESETS:
        raise CastingError(f"voice {voice_id!r} for {who}: no preset {preset!r} (presets: {', '.join(PRESETS)})")
    return base, PRESETS[preset or "plain"]


def shaped_from_notes(notes: VoiceCasting, character: Character, seed: int) -> tuple[float, float, float]:
    """(semitones, formant, tempo) from a character's casting notes, kind and build, plus a seeded jitter."""
    semitones, formant = _AGE[notes.age]
    tempo = 1.0
    words = f"{notes.timbre} {notes.manner} {character.role}".lower()
    for pattern, (dst, dformant) in _TIMBRE_WORDS.items():
        if re.search(pattern, words):
            semitones, formant = semitones + dst, formant + dformant
    for pattern, dtempo in _MANNER_WORDS.items():
        if re.search(pattern, notes.manner.lower()):
            tempo += dtempo
    for dst, dformant in (_KIND[character.kind], _BUILD[character.build]):
        semitones, formant = semitones + dst, formant + dformant
    rng = random.Random(seed)
    semitones += rng.uniform(-1.5, 1.5)
    formant += rng.uniform(-0.03, 0.03)
    return _clamp(semitones, -7.0, 7.5), _clamp(formant, 0.8, 1.25), _clamp(tempo, 0.9, 1.1)


def _keep_apart(pitch: float, taken: list[float]) -> float:
    """The nearest pitch to ``pitch`` (stepping outwards, up first) at least MIN_SEMITONES_APART from all taken."""
    for step in range(40):
        for candidate in (pitch + 0.5 * step, pitch - 0.5 * step):
            if -7.5 <= candidate <= 7.5 and all(abs(candidate - t) >= MIN_SEMITONES_APART for t in taken):
                return round(candidate, 3)
    return pitch


def check_overrides(plan: FilmPlan, overrides: Mapping[str, str], engine_voices: Sequence[str]) -> None:
    """Every override names a character of the film (or the narrator) and a voice that exists."""
    names = [c.name for c in plan.characters]
    for who, voice_id in overrides.items():
        if who != NARRATOR and who not in names:
            raise CastingError(f"voices names {who!r}, who is not in the film (characters: {', '.join(names)}; "
                               f"or '{NARRATOR}')")
        parse_voice_id(voice_id, engine_voices, "the narrator" if who == NARRATOR else who)


def cast_voices(plan: FilmPlan, overrides: Mapping[str, str] | None = None,
                engine_voices: Sequence[str] = ("joe",)) -> FilmPlan:
    """The plan with a concrete voice for the narrator and every character (see the module docstring).

    ``overrides`` defaults to ``plan.request.voices``. Deterministic: the same plan and overrides give the
    same casting. Raises :class:`CastingError` naming the character for an unknown voice or name.
    """
    overrides = dict(plan.request.voices if overrides is None else overrides)
    voices = list(engine_voices)
    if not voices:
        raise CastingError("the voice engine offers no voices")
    check_overrides(plan, overrides, voices)
    order = random.Random(derive_seed(plan.request.seed, "voice order")).sample(voices, len(voices))

    def concrete(notes: VoiceCasting, base: str, shaping: tuple[float, float, float]) -> VoiceCasting:
        semitones, formant, tempo = shaping
        return notes.model_copy(update={"voice": base, "pitch_semitones": semitones, "formant": formant,
                                        "tempo": tempo})

    if NARRATOR in overrides:
        narrator = concrete(plan.narrator, *parse_voice_id(overrides[NARRATOR], voices, "the narrator"))
    else:
        narrator = concrete(plan.narrator, order[0], PRESETS["plain"])
    taken: dict[str | None, list[float]] = {narrator.voice: [narrator.pitch_semitones]}  # voices taken, cast
    ordered = sorted(plan.characters, key=lambda c: _first_appearance(plan, c.name))
    cast: dict[str, VoiceCasting] = {}
    for number, character in enumerate(ordered, start=1):
        if character.name in overrides:
            cast[character.name] = concrete(character.voice, *parse_voice_id(overrides[character.name], voices,
                                                                              character.name))
        else:
            base = order[number % len(order)]
            semitones, formant, tempo = shaped_from_notes(character.voice, character,
                                                          derive_seed(plan.request.seed, "voice", character.name))
            semitones = _keep_apart(semitones, taken.get(base, []))
            cast[character.name] = concrete(character.voice, base, (semitones, formant, tempo))
        taken.setdefault(cast[character.name].voice, []).append(cast[character.name].pitch_semitones)
    characters = [c.model_copy(update={"voice": cast[c.name]}) for c in plan.characters]
    return plan.model_copy(update={"narrator": narrator, "characters": characters})


def _first_appearance(plan: FilmPlan, name: str) -> int:
    names = plan.script.character_names
    return names.index(name) if name in names else len(names)


def casting_for(plan: FilmPlan, speaker: str) -> VoiceCasting:
    """The cast voice of a speaker ('narrator' or a character name); casting must have run."""
    casting = plan.narrator if speaker == NARRATOR else plan.character(speaker).voice
    if casting.voice is None:
        raise CastingError(f"{speaker} has no voice yet: cast_voices(plan) first")
    return casting


def describe_casting(plan: FilmPlan) -> dict[str, str]:
    """Speaker -> 'joe +4.0 st, formant 1.10, tempo 1.00' (the film summary lists these)."""
    def words(casting: VoiceCasting) -> str:
        if casting.pitch_semitones == 0 and casting.formant == 1 and casting.tempo == 1:
            return f"{casting.voice} (unshaped)"
        return (f"{casting.voice} {casting.pitch_semitones:+.1f} st, formant {casting.formant:.2f}, "
                f"tempo {casting.tempo:.2f}")
    return {NARRATOR: words(plan.narrator), **{c.name: words(c.voice) for c in plan.characters}}
