"""The offline writer: a deterministic story engine, not a language model.

It lets the whole pipeline run with no API key and no network. The idea is read with a few
simple rules (who, where, what they find), then poured into a classic beat structure
(opening image, catalyst, midpoint, all is lost, finale...) stretched over the requested
number of segments. Every choice comes from a seeded random generator, so the same idea and
seed always give the same film. Films made this way say so in their metadata (`LABEL`).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from filmstitch.models import (
    Character,
    DialogueLine,
    Environment,
    FilmRequest,
    Keyframe,
    Placement,
    Script,
    Segment,
    Staging,
    derive_seed,
)
from filmstitch.writers.base import Writer

LABEL = "offline story engine (deterministic, no language model)"
LOCATION_ID = "world"

ARTICLES = {"a", "an", "the", "one", "some"}
PREPOSITIONS = {"on", "in", "at", "under", "inside", "near", "across", "through", "into", "beneath", "above", "from"}
STOP_AFTER_PLACE = {"and", "who", "that", "which", "where", "while", "is", "has", "gets", "walks", "wanders", "runs",
                    "finds", "discovers", "meets", "searches", "looks", "learns", "builds", "escapes", "saves",
                    "rescues", "chases", "explores", "returns", "becomes", "tries", "must", "wants"}
GOAL_VERBS = ("discovers", "discover", "finds", "find", "meets", "meet", "searches for", "looks for", "learns",
              "builds", "escapes", "saves", "rescues", "chases", "explores", "returns to", "becomes")

NAMES = ["Ada", "Milo", "Noor", "Tomas", "Iris", "Kenji", "Lena", "Oskar", "Priya", "Rafa", "Suki", "Yara"]
COMPANION_KINDS = [
    ("a small maintenance robot", "Bolt", "small"),
    ("a curious fox", "Ember", "small"),
    ("an old wanderer", "Orrin", "slim"),
    ("a lost child", "Pip", "small"),
]

COLOURS = {
    "white": "#eef0f2", "orange": "#f08a24", "teal": "#1f9e9a", "crimson": "#b3223b", "mustard": "#d9a821",
    "navy": "#24356b", "olive": "#6b7a2a", "violet": "#7a4fb0", "charcoal": "#3a3d42", "rust": "#a4512b",
    "sky blue": "#6fb6e8", "forest green": "#2f7a46", "coral": "#f07060", "sand": "#d8c39a",
}
HAIR = ["short black curls", "a copper braid", "cropped silver hair", "a messy brown mop", "a tight blonde bun",
        "shoulder-length dark waves"]
FACES = ["a round freckled face", "a narrow face with a sharp nose", "a square jaw and thick brows",
         "wide brown eyes and a gap-toothed smile", "a weathered face with laugh lines"]

OUTFITS = {
    "astronaut": "a white pressurised EVA suit with {accent} shoulder stripes, a gold mirrored visor flipped up "
                 "and scuffed grey moon boots",
    "robot": "a boxy brushed-steel body with {accent} panel lights and round glass lens eyes",
    "knight": "dented steel plate armour over a {accent} tabard, a long cloak and a notched sword",
    "detective": "a long {accent} trench coat, a grey fedora and polished black shoes",
    "scientist": "a white lab coat over a {accent} sweater, safety goggles pushed up on the forehead",
    "sailor": "a {accent} knitted sweater, oilskin trousers and rubber boots",
    "pilot": "a brown leather flight jacket with a {accent} scarf and brass goggles",
    "fox": "rust-red fur with a white-tipped tail and a {accent} bandana",
    "cat": "sleek fur and a {accent} collar with a tiny brass bell",
    "dog": "shaggy fur and a {accent} harness",
    "robotic": "a boxy brushed-steel body with {accent} panel lights and round glass lens eyes",
}
DEFAULT_OUTFIT = "a {accent} hooded jacket over a charcoal shirt, canvas trousers and worn leather boots"


@dataclass(frozen=True)
class World:
    """Look of a kind of place, chosen by keywords in the idea."""

    keywords: tuple[str, ...]
    name: str
    description: str
    lighting: str
    materials: str
    atmosphere: str
    palette: tuple[str, ...]
    settings: tuple[str, ...]


WORLDS = [
    World(("moon", "lunar", "space", "mars", "planet", "asteroid", "crater", "star"), "the lunar surface",
          "An airless grey plain of fine regolith under a black sky, with the blue Earth hanging low on the "
          "horizon, jagged crater rims and long hard shadows.",
          "harsh low-angle sunlight with pitch-black shadows and a faint blue earthshine fill",
          "powdery grey regolith, pitted basalt rock, scratched metal and gold foil",
          "silent, vast and lonely, slowly warming into wonder",
          ("#05070d", "#2b3a55", "#8c8f96", "#c9c6bf", "#3fa34d"),
          ("the landing site", "a crater rim", "the boulder field", "a shadowed rille", "a hidden hollow")),
    World(("forest", "wood", "woods", "jungle", "garden", "tree", "trees", "grove"), "the old forest",
          "A deep old-growth forest of mossy trunks, ferns and shafts of light, with a slow stream winding "
          "through a clearing.",
          "soft green-gold light filtering through the canopy, dappled pools of sun",
          "moss, bark, wet stone, ferns and loam",
          "hushed and alive, mysterious then welcoming",
          ("#1d3b2a", "#4f7f3f", "#2a2119", "#9cc46a", "#f2d06b"),
          ("the forest edge", "a mossy clearing", "the stream crossing", "the hollow oak", "the sunlit glade")),
    World(("sea", "ocean", "beach", "island", "underwater", "ship", "harbour", "harbor", "lighthouse"),
          "the open sea",
          "A windswept coast of dark rocks and pale sand facing a restless ocean, a lighthouse on the headland.",
          "overcast silver light breaking into golden sun",
          "wet rock, pale sand, salt-bleached wood and rope",
          "restless, wide open and hopeful",
          ("#6d8ca8", "#d9e2e8", "#d8c39a", "#2a4d6b", "#f2b04a"),
          ("the shoreline", "the tide pools", "the old pier", "the lighthouse steps", "the headland")),
    World(("city", "street", "town", "neon", "rooftop", "subway", "alley", "tokyo", "london", "paris"),
          "the night city",
          "A rain-slick city of narrow streets, neon signs and rooftop water tanks under a low violet sky.",
          "neon pinks and cyans reflected in puddles, warm window light",
          "wet asphalt, brick, glass, steel and neon tubing",
          "busy, electric and a little lonely",
          ("#1a1433", "#3b2a6b", "#2b2b35", "#ff4fa3", "#36d6e7"),
          ("a rainy street", "the corner market", "a fire escape", "the rooftop", "the empty subway platform")),
    World(("desert", "sand", "dune", "dunes", "canyon", "oasis"), "the red desert",
          "Endless wind-carved dunes and red sandstone canyons under a bleached sky, an oasis hidden beyond.",
          "blazing white noon light turning to deep amber at dusk",
          "rippled sand, cracked clay, sandstone and sun-bleached cloth",
          "parched and immense, then sheltering",
          ("#e9d8b4", "#d99a5b", "#a4512b", "#5a3a2a", "#2f7a46"),
          ("the dune sea", "a canyon mouth", "the dry riverbed", "the stone arch", "the oasis")),
    World(("snow", "ice", "arctic", "mountain", "glacier", "winter", "frozen"), "the frozen peaks",
          "Blue glaciers and snowfields below jagged peaks, a small wooden hut half buried in drifts.",
          "cold blue daylight with a pink alpenglow at the end",
          "powder snow, blue ice, weathered wood and wool",
          "biting, quiet and clean, with warmth found inside",
          ("#cfe3f2", "#8fb4d6", "#f4f7fa", "#3a4a63", "#e8a0b0"),
          ("the snowfield", "the glacier tongue", "the ridge", "the wooden hut", "the summit")),
]
DEFAULT_WORLD = World((), "the wide valley",
                      "A wide green valley of rolling hills, a winding road and a lone tree under a big sky.",
                      "warm late-afternoon sun with long soft shadows",
                      "grass, dirt road, weathered stone walls and wood",
                      "open, gentle and full of possibility",
                      ("#8fc1e3", "#f3d9a4", "#6c9a45", "#3b5a2a", "#e8743b"),
                      ("the road", "the lone tree", "the stone bridge", "the hilltop", "the river bend"))

# (beat name, shot, hero pose at the segment's start, companion pose, light, narration, action, dialogue)
BEATS = [
    ("Opening image", "wide", "stand", "stand", 0.9,
     "{place_cap}. {hero_full} is alone, and the silence is total.",
     "{hero} stands small in a wide frame, then turns slowly to take in {place}."),
    ("Setup", "medium", "walk", "stand", 0.95,
     "Every day is the same routine, checking what is left and hoping for a sign.",
     "{hero} walks a careful circuit of {setting}, checking gear and scanning the horizon."),
    ("Catalyst", "close", "look_up", "stand", 1.0,
     "Then something impossible catches the light: a hint of {goal}.",
     "{hero} freezes, kneels, then looks up at what has just appeared at {setting}."),
    ("Debate", "medium", "stand", "stand", 0.9,
     "To follow it means leaving the only safe place there is.",
     "{hero} hesitates at {setting}, glancing back toward safety, then forward again."),
    ("Into the unknown", "wide", "walk", "walk", 1.0,
     "{hero} sets out, and for the first time is not walking alone.",
     "{hero} strides across {setting} while {companion} falls into step beside {them}."),
    ("Fun and games", "medium", "run", "run", 1.1,
     "The world opens up, stranger and kinder than anyone imagined.",
     "{hero} and {companion} race through {setting}, pointing out wonders to each other."),
    ("Midpoint", "close", "reach", "stand", 1.15,
     "At {setting} the truth is revealed: {goal} is real, and it is alive.",
     "{hero} reaches out slowly and touches the first sign of {goal}."),
    ("Trouble", "wide", "run", "run", 0.8,
     "But the world pushes back, and what was found could be lost.",
     "The light fades at {setting}; {hero} and {companion} run for cover."),
    ("All is lost", "close", "kneel", "kneel", 0.6,
     "In the dark, {hero} almost gives up.",
     "{hero} kneels at {setting}, head bowed, while {companion} waits quietly nearby."),
    ("Finale", "medium", "walk", "walk", 1.05,
     "Together they carry a small piece of {goal} back into the light.",
     "{hero} and {companion} walk side by side across {setting}, carrying something precious."),
    ("Final image", "wide", "wave", "wave", 1.2,
     "{place_cap} is no longer empty. {hero} is home.",
     "{hero} waves from {setting} as the camera pulls back on a transformed world."),
]
DIALOGUE = {
    "Catalyst": [("hero", "Is that... real?")],
    "Into the unknown": [("companion", "You look like someone who needs a guide."), ("hero", "Lead the way.")],
    "Fun and games": [("hero", "Look at this!"), ("companion", "Wait until you see the rest.")],
    "Midpoint": [("hero", "It's been here all along.")],
    "All is lost": [("companion", "Don't stop now. Not here.")],
    "Finale": [("hero", "We take it with us.")],
    "Final image": [("hero", "Home.")],
}
COMPANION_FROM_BEAT = 4  # the companion joins at "Into the unknown"


@dataclass(frozen=True)
class ReadIdea:
    """What the engine understood of the idea."""

    hero_kind: str
    place: str
    goal: str


def read_idea(idea: str) -> ReadIdea:
    """Who, where and what, by simple rules; falls back to neutral words for anything odd."""
    words = re.findall(r"[A-Za-z][A-Za-z'-]*", idea.lower())
    hero: list[str] = []
    rest = words
    for i, word in enumerate(words):
        if word in ARTICLES and not hero:
            continue
        next_word = words[i + 1] if i + 1 < len(words) else ""
        # "a girl crosses the desert": a word in -s right before an article or preposition is the verb
        looks_like_verb = bool(hero) and word.endswith("s") and next_word in ARTICLES | PREPOSITIONS
        if word in PREPOSITIONS or word in STOP_AFTER_PLACE or looks_like_verb or len(hero) == 3:
            rest = words[i:]
            break
        hero.append(word)
        rest = words[i + 1 :]
    place: list[str] = []
    if rest and rest[0] in PREPOSITIONS:
        for word in rest[1:]:
            if word in STOP_AFTER_PLACE or word in PREPOSITIONS:
                break
            if word not in ARTICLES:
                place.append(word)
            if len(place) == 3:
                break
    lowered = " ".join(words)
    goal = ""
    for verb in GOAL_VERBS:
        match = re.search(rf"\b{verb}\b\s+(.*)", lowered)
        if match:
            goal_words = [w for w in match.group(1).split() if w not in ARTICLES][:4]
            goal = " ".join(goal_words)
            break
    return ReadIdea(
        hero_kind=" ".join(hero) or "wanderer",
        place="the " + " ".join(place) if place else "",
        goal=goal or "something worth finding",
    )


def choose_world(idea: str) -> World:
    words = set(re.findall(r"[a-z]+", idea.lower()))
    return next((w for w in WORLDS if words & set(w.keywords)), DEFAULT_WORLD)


def beat_for(segment: int, segments: int) -> tuple:
    """Stretch or squeeze the beat sheet over the number of segments."""
    if segments == 1:
        return BEATS[0]
    return BEATS[round(segment * (len(BEATS) - 1) / (segments - 1))]


class OfflineWriter(Writer):
    name = "offline"
    label = LABEL
    code_modules = ("filmstitch.writers.offline",)

    def _rng(self, request: FilmRequest, stage: str) -> random.Random:
        return random.Random(derive_seed(request.seed, request.idea, stage))

    def _cast(self, request: FilmRequest) -> tuple[str, str, str, str]:
        """(hero name, hero kind, companion name, companion kind)."""
        rng = self._rng(request, "cast")
        hero_name = rng.choice(NAMES)
        kind, companion_name, _ = rng.choice(COMPANION_KINDS)
        return hero_name, read_idea(request.idea).hero_kind, companion_name, kind

    def write_script(self, request: FilmRequest) -> Script:
        idea = read_idea(request.idea)
        world = choose_world(request.idea)
        hero, hero_kind, companion, companion_kind = self._cast(request)
        place = idea.place or world.name
        words = {
            "hero": hero,
            "hero_full": f"{hero}, {with_article(hero_kind)},",
            "companion": companion,
            "goal": idea.goal,
            "place": place,
            "place_cap": place[:1].upper() + place[1:],
            "them": "them",
        }
        segments = []
        joins = COMPANION_FROM_BEAT * (request.segments - 1) / (len(BEATS) - 1) if request.segments > 1 else 99
        for i in range(request.segments):
            name, *_, narration, action = beat_for(i, request.segments)
            setting = world.settings[min(i * len(world.settings) // request.segments, len(world.settings) - 1)]
            cast = [hero, companion] if i >= joins else [hero]
            fill = words | {"setting": setting}
            lines = [
                DialogueLine(speaker=hero if who == "hero" else companion, line=line)
                for who, line in DIALOGUE.get(name, [])
                if who == "hero" or companion in cast
            ]
            segments.append(
                Segment(
                    index=i,
                    title=name,
                    narration=narration.format(**fill),
                    action=action.format(**fill),
                    dialogue=lines,
                    characters=cast,
                    setting=setting,
                    location=LOCATION_ID,
                )
            )
        found = idea.goal != read_idea("").goal
        return Script(
            title=f"{hero} and the {idea.goal.split()[-1].capitalize()}" if found else f"{hero}'s Journey",
            logline=f"From the idea \u201c{request.idea[:300]}\u201d: {hero}, {with_article(hero_kind)} in {place}, "
            f"finds {idea.goal} and a friend in {companion}.",
            segments=segments,
        )

    def describe_characters(self, request: FilmRequest, script: Script) -> list[Character]:
        hero, hero_kind, companion, companion_kind = self._cast(request)
        rng = self._rng(request, "characters")
        accents = rng.sample(sorted(COLOURS), k=4)
        kinds = {hero: (hero_kind, "protagonist", "average"), companion: (companion_kind, "companion", "small")}
        characters = []
        for i, name in enumerate(script.character_names):
            kind, role, build = kinds.get(name, ("stranger", "supporting character", "average"))
            accent, base = accents[2 * i % 4], accents[(2 * i + 1) % 4]
            outfit_key = next((k for k in OUTFITS if k in kind.split()), None)
            outfit = (OUTFITS[outfit_key] if outfit_key else DEFAULT_OUTFIT).format(accent=accent)
            is_person = outfit_key not in ("robot", "robotic", "fox", "cat", "dog")
            person = f"{rng.choice(HAIR)}, {rng.choice(FACES)}, " if is_person else ""
            description = (
                f"{name}, {with_article(kind)}: {person}{build} build, "
                f"wearing {outfit}. Signature colours: {accent} and {base}."
            )
            characters.append(
                Character(
                    name=name,
                    role=role,
                    description=description,
                    palette=[COLOURS[accent], COLOURS[base]],
                    build=build,
                )
            )
        return characters

    def describe_environments(self, request: FilmRequest, script: Script) -> list[Environment]:
        world = choose_world(request.idea)
        place = read_idea(request.idea).place or world.name
        return [Environment(
            id=LOCATION_ID,
            name=place,
            description=world.description,
            lighting=world.lighting,
            materials=world.materials,
            atmosphere=world.atmosphere,
            palette=list(world.palette),
        )]

    def write_keyframes(
        self, request: FilmRequest, script: Script, characters: list[Character], environments: list[Environment]
    ) -> list[Keyframe]:
        environment = environments[0]
        rng = self._rng(request, "keyframes")
        by_name = {c.name: c for c in characters}
        segments = script.segments
        keyframes = []
        for k in range(len(segments) + 1):
            segment = segments[min(k, len(segments) - 1)]
            _, shot, hero_pose, companion_pose, light, *_ = beat_for(min(k, len(segments) - 1), len(segments))
            if k == len(segments):  # the last frame closes the final segment
                hero_pose, companion_pose = "wave", "wave"
            cast = segment.characters
            progress = k / len(segments)
            hero_x = 0.3 + 0.4 * ((k % 2) if len(cast) > 1 else progress)
            placements = []
            for j, name in enumerate(cast):
                x = hero_x if j == 0 else min(0.9, max(0.1, hero_x + (0.25 if hero_x < 0.5 else -0.25)))
                facing = "right" if x < 0.5 else "left"
                pose = hero_pose if j == 0 else companion_pose
                placements.append(Placement(character=name, x=round(x, 3), pose=pose, facing=facing))
            staging = Staging(
                shot=shot,
                camera_x=round(min(1.0, 0.1 + 0.8 * progress + rng.uniform(-0.05, 0.05)), 3),
                light=light,
                placements=placements,
            )
            who = "; ".join(f"{by_name[name].description} ({pose_words(p.pose)})" for name, p in zip(cast, placements))
            prompt = (
                f"Cinematic film still, {shot} shot, at {segment.setting} in {environment.name}. {who}. "
                f"Moment: {segment.action} Setting: {environment.description} Lighting: {environment.lighting}. "
                f"Materials: {environment.materials}. Mood: {environment.atmosphere}. 35mm, shallow depth of field."
            )
            summary = f"{shot} shot, {' and '.join(cast)} at {segment.setting}, {environment.name}, " \
                      f"{environment.lighting}"
            keyframes.append(
                Keyframe(
                    index=k,
                    prompt=prompt[:3000],
                    clip_summary=" ".join(summary.split()[:50]),
                    characters=list(cast),
                    staging=staging,
                )
            )
        return keyframes


def pose_words(pose: str) -> str:
    return {
        "stand": "standing",
        "walk": "walking",
        "run": "running",
        "kneel": "kneeling",
        "sit": "sitting",
        "reach": "reaching out",
        "look_up": "looking up",
        "wave": "waving",
    }[pose]


def with_article(noun_phrase: str) -> str:
    """'astronaut' -> 'an astronaut'; phrases that already have an article are kept."""
    if noun_phrase.split()[0] in ARTICLES:
        return noun_phrase
    return ("an " if noun_phrase[0] in "aeiou" else "a ") + noun_phrase
