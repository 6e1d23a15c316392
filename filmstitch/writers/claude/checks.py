"""Cross-checks of the model's answers against the film: what a schema cannot say.

Every function returns a list of problems, each 'where: what' in words the model can act on; the
writer sends them back for a repair turn. The rules, and why they exist:

* counts and indices match what was asked (a chunk writes exactly its segments or keyframes);
* names are spelled one way, and every character, prop and place used is one the film has (beats
  name only characters in the segment and props of the scene's ledger; a location lists every prop
  its beats use);
* the continuity ledger is complete (an outfit for everyone present) and keyframe prompts carry it:
  every colour word of a character's outfit, and at least half of its other words, appear in each
  prompt of the scene (so a planted change of clothes is caught);
* keyframe prompts repeat enough of each character's description to draw the same person twice;
* motion text is what a video model can use: visual, with the camera, no quoted speech or narration;
* the spoken words of a segment fit its length.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from filmstitch.models import Character, Environment, FilmRequest, Keyframe, Scene, Script, Segment, slugify
from filmstitch.pace import SPEAKING_WORDS_PER_SECOND

STOPWORDS = frozenset(
    "a an and are as at be but by for from has have her his in into is it its of on or over she he "
    "that the their them they this those to under up was wear wears wearing which while who with "
    "very about around across behind below beside down each just more most much only other same some "
    "such than then there these also both either neither like looks look".split()
)
COLOURS = frozenset(
    "white black grey gray red orange yellow green blue navy teal purple violet pink brown tan beige gold golden "
    "silver copper bronze crimson scarlet maroon olive cyan turquoise indigo magenta cream ivory amber rust "
    "charcoal khaki lavender mustard coral emerald ochre burgundy lilac mint peach plum sapphire ruby".split()
)
#: Words that show a motion text describes the camera (the video model reads shot and camera moves).
CAMERA_WORDS = frozenset(
    "camera shot close-up closeup close wide medium pan pans panning tilt tilts dolly tracking tracks track zoom "
    "zooms crane handheld static push pull aerial overhead framing frame angle follows orbit".split()
)
#: Speech and narration have no place in a video prompt.
SPEECH_WORDS = frozenset("voice-over voiceover narrator narration narrates says said saying asks replies".split())
QUOTES = re.compile("[\"\u201c\u201d\u201e\u00ab\u00bb\u300c\u300d\u300e\u300f]")
MIN_MOTION_WORDS = 8
#: Spoken words per second of clip that still sound natural (filmstitch.pace; narration is asked at 2.5).
SPEECH_WORDS_PER_SECOND = SPEAKING_WORDS_PER_SECOND


def words_of(text: str) -> list[str]:
    return re.findall(r"[\w'-]+", text.lower())


def distinctive_words(text: str, leave_out: Iterable[str] = ()) -> list[str]:
    """Words that identify a look: lower-case, 4+ letters (colours of any length), no stopwords."""
    skip = STOPWORDS | set(leave_out)
    return list(dict.fromkeys(w for w in words_of(text) if (len(w) >= 4 or w in COLOURS) and w not in skip))


def appearance_words(character: Character) -> list[str]:
    """Distinctive words of a character's description, not counting their name."""
    return distinctive_words(character.description, leave_out=words_of(character.name))


def same_spelling_problems(names: Iterable[str], where: str) -> list[str]:
    slugs: dict[str, str] = {}
    problems = []
    for name in dict.fromkeys(names):
        other = slugs.setdefault(slugify(name, 24), name)
        if other != name:
            problems.append(f"{where}: {other!r} and {name!r} look like one name spelled two ways")
    return problems


def prop_key(prop: str) -> str:
    return " ".join(words_of(prop))


# --- The outline -----------------------------------------------------------------------------------


def outline_problems(request: FilmRequest, scenes: list[Scene], counts: list[int], acts: int) -> list[str]:
    problems = []
    if [s.index for s in scenes] != list(range(len(scenes))):
        problems.append(f"scenes: indices must run 0..{len(scenes) - 1} in order")
    if sum(counts) != request.segments:
        problems.append(f"scenes: their segments add up to {sum(counts)}; exactly {request.segments} are needed")
    for scene in scenes:
        where = f"scenes.{scene.index}"
        if scene.act >= acts:
            problems.append(f"{where}.act: act {scene.act} does not exist (acts 0..{acts - 1})")
        ledger = scene.continuity
        missing = [name for name in scene.present if name not in ledger.wardrobe]
        if missing:
            problems.append(f"{where}.continuity.wardrobe: no outfit for {missing}, who are present")
        for what, names in (("wardrobe", ledger.wardrobe), ("injuries", ledger.injuries)):
            strangers = [name for name in names if name not in scene.present]
            if strangers:
                problems.append(f"{where}.continuity.{what}: {strangers} are not present in the scene")
    problems += same_spelling_problems((n for s in scenes for n in s.present), "scenes.present")
    cast = {name for scene in scenes for name in scene.present}
    if len(cast) > 12:
        problems.append(f"scenes.present: {len(cast)} characters in all; at most 12")
    places = list(dict.fromkeys(scene.location for scene in scenes))
    if len(places) > 24:
        problems.append(f"scenes.location: {len(places)} locations; at most 24")
    for place in places:
        props = {prop_key(p) for s in scenes if s.location == place for p in s.continuity.props}
        if len(props) > 8:
            problems.append(f"location {place!r}: its scenes' ledgers use {len(props)} different props; at most 8")
    return problems


# --- Segments --------------------------------------------------------------------------------------


def motion_problems(segment: Segment) -> list[str]:
    where = f"segments.{segment.index}.motion"
    words = words_of(segment.motion)
    problems = []
    if len(words) < MIN_MOTION_WORDS:
        problems.append(f"{where}: {len(words)} words; describe the whole movement in at least {MIN_MOTION_WORDS}")
    if QUOTES.search(segment.motion):
        problems.append(f"{where}: contains quotation marks; motion is purely visual (no quoted speech)")
    spoken = sorted(SPEECH_WORDS.intersection(words))
    if spoken:
        problems.append(f"{where}: mentions speech or narration ({', '.join(spoken)}); describe only what is seen")
    if not CAMERA_WORDS.intersection(words):
        problems.append(f"{where}: says nothing about the camera (shot size, pan, tilt, dolly, tracking, static...)")
    return problems


def speech_limit(request: FilmRequest) -> int:
    return max(8, math.floor(request.seconds_per_segment * SPEECH_WORDS_PER_SECOND))


def speech_problems(segment: Segment, request: FilmRequest) -> list[str]:
    spoken = len(words_of(segment.narration)) + sum(len(words_of(line.line)) for line in segment.dialogue)
    limit = speech_limit(request)
    if spoken <= limit:
        return []
    return [(f"segments.{segment.index}: narration and dialogue have {spoken} words; at most {limit} fit a "
            f"{request.seconds_per_segment:g}-second clip")]


def segment_problems(segment: Segment, scene: Scene, request: FilmRequest) -> list[str]:
    """A segment against its scene: place, who is present, props in play, motion, speech."""
    where = f"segments.{segment.index}"
    problems = []
    if segment.scene != scene.index:
        problems.append(f"{where}.scene: is {segment.scene}; this segment belongs to scene {scene.index}")
    if segment.location != scene.location:
        problems.append(f"{where}.location: is {segment.location!r}; scene {scene.index} is at {scene.location!r}")
    absent = [name for name in segment.characters if name not in scene.present]
    if absent:
        problems.append(f"{where}.characters: {absent} are not present in scene {scene.index} ({scene.present})")
    props = {prop_key(p) for p in scene.continuity.props}
    for i, beat in enumerate(segment.beats):
        if beat.prop is not None and prop_key(beat.prop) not in props:
            problems.append(f"{where}.beats.{i}.prop: {beat.prop!r} is not a prop of scene {scene.index}'s ledger "
                            f"({scene.continuity.props})")
    return problems + motion_problems(segment) + speech_problems(segment, request)


# --- Characters and locations ----------------------------------------------------------------------

NEEDS_SPECIES = frozenset({"animal", "bird", "sea_creature", "creature"})


def character_problems(character: Character, i: int) -> list[str]:
    where = f"characters.{i}"
    problems = []
    if character.kind in NEEDS_SPECIES and not (character.species or "").strip():
        problems.append(f"{where}.species: {character.name!r} is a {character.kind}; say which species")
    described = set(appearance_words(character)) | set(words_of(character.description))
    short = distinctive_words(character.appearance, leave_out=words_of(character.name))
    unknown = [w for w in short if w not in described]
    if short and len(unknown) * 2 > len(short):
        problems.append(f"{where}.appearance: most of its words ({', '.join(unknown[:6])}) are not in the "
                        "description; it must be the same look, shorter")
    return problems


def beat_props_by_location(script: Script) -> dict[str, list[str]]:
    props: dict[str, dict[str, str]] = {}
    for segment in script.segments:
        for beat in segment.beats:
            if beat.prop is not None:
                props.setdefault(segment.location, {}).setdefault(prop_key(beat.prop), beat.prop)
    return {place: list(found.values()) for place, found in props.items()}


def environment_problems(environment: Environment, i: int, needed_props: list[str]) -> list[str]:
    listed = {prop_key(p) for p in environment.props}
    missing = [p for p in needed_props if prop_key(p) not in listed]
    if missing:
        return [f"environments.{i}.props: missing {missing}, used by beats at {environment.id!r}"]
    return []


# --- Keyframes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppearanceRule:
    """A keyframe prompt must repeat `share` of a character's distinctive words (at most `cap` are required)."""

    share: float
    cap: int = 12

    def required(self, words: list[str]) -> int:
        return min(self.cap, math.ceil(self.share * len(words)))

    def text(self) -> str:
        return (
            f"repeat at least {round(self.share * 100)}% of the distinctive words of their description "
            f"(clothing, colours, hair, face, build; never more than {self.cap} are required)"
        )

    def problems(self, keyframe: Keyframe, characters: dict[str, Character]) -> list[str]:
        prompt = keyframe.prompt.lower()
        prompt_words = set(words_of(prompt))
        problems = []
        for name in keyframe.characters:
            if not re.search(rf"(?<!\w){re.escape(name.lower())}(?!\w)", prompt):
                problems.append(f"keyframes.{keyframe.index}.prompt: does not name {name!r}, who is in the frame")
            if name not in characters:
                continue  # reported by the boundary check
            words = appearance_words(characters[name])
            found = [w for w in words if w in prompt_words]
            if len(found) < self.required(words):
                missing = [w for w in words if w not in prompt_words][:8]
                problems.append(
                    f"keyframes.{keyframe.index}.prompt: repeats {len(found)} of {len(words)} distinctive "
                    f"appearance words of {name!r} (needs {self.required(words)}); missing e.g. {', '.join(missing)}"
                )
        return problems


def ledger_problems(keyframe: Keyframe, ledgers: dict[str, Scene]) -> list[str]:
    """The prompt carries the scene's continuity: each character's outfit and visible marks.

    `ledgers` maps each character in the frame to the scene whose ledger describes them at this boundary.
    """
    prompt_words = set(words_of(keyframe.prompt))
    problems = []
    for name in keyframe.characters:
        scene = ledgers.get(name)
        if scene is None:
            continue
        where = f"keyframes.{keyframe.index}.prompt"
        notes = [("outfit", scene.continuity.wardrobe.get(name)), ("marks", scene.continuity.injuries.get(name))]
        for what, text in notes:
            if not text:
                continue
            words = distinctive_words(text)
            colours = [w for w in words if w in COLOURS]
            missing_colours = [w for w in colours if w not in prompt_words]
            found = [w for w in words if w in prompt_words]
            if missing_colours or len(found) * 2 < len(words):
                problems.append(
                    f"{where}: {name!r}'s {what} in scene {scene.index} is {text!r} (continuity ledger), but the "
                    f"prompt misses {', '.join(missing_colours or [w for w in words if w not in prompt_words][:6])}"
                )
    return problems
