"""Looks: how a character or a location is drawn, derived from the plan's structured fields only.

A character's look comes from its kind, species, palette, build, hair, skin and role, and the
garments its short appearance names ("steel armour, violet tabard": a list of nouns, looked up
in GARMENT_WORDS); a location's from its set kind, time of day, palette, props and ambience
(rain, storm). Nothing else is read out of prose.
A reference variant ``(variant, seed)`` picks accessories and proportions, never other colours:
every variant wears the character's own palette.

Units: the world is measured in *wide-frame heights* (see scenery.py); a look's `height` is
the figure's standing height in those units.
"""

from __future__ import annotations

import colorsys
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

from filmstitch.models import Character, CharacterKind, Environment, SetKind, TimeOfDay, derive_seed
from filmstitch.writers.offline.data_files import species

RGB = tuple[int, int, int]
WHITE: RGB = (240, 240, 242)


def hex_rgb(value: str) -> RGB:
    value = value.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def mix(a: RGB, b: RGB, t: float) -> RGB:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def shade(c: RGB, factor: float) -> RGB:
    return (min(255, round(c[0] * factor)), min(255, round(c[1] * factor)), min(255, round(c[2] * factor)))


def adjust(c: RGB, hue_deg: float = 0.0, sat: float = 1.0, val: float = 1.0) -> RGB:
    h, s, v = colorsys.rgb_to_hsv(c[0] / 255, c[1] / 255, c[2] / 255)
    r, g, b = colorsys.hsv_to_rgb((h + hue_deg / 360) % 1.0, min(1.0, s * sat), min(1.0, v * val))
    return (round(r * 255), round(g * 255), round(b * 255))


def luminance(c: RGB) -> float:
    return (0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]) / 255


# --------------------------------------------------------------------------- characters

#: Which body a kind (and some species) is drawn with.
Plan = Literal["humanoid", "quadruped", "bird", "tentacled", "fish", "blob", "object", "cloud", "flame", "swirl",
               "ribbon", "wave", "disc", "snail", "insect", "train"]
#: The species' own bodies, sizes, ears, tails and wings are in the one species table the writer reads too.
SPECIES_PLANS: dict[str, Plan] = {name: facts["body"] for name, facts in species().items() if "body" in facts}
KIND_PLANS: dict[CharacterKind, Plan] = {"person": "humanoid", "robot": "humanoid", "creature": "humanoid",
                                         "animal": "quadruped", "bird": "bird", "sea_creature": "fish",
                                         "object": "object", "element": "cloud"}
#: Standing height (world units) and girth by kind and build; elements and whales are big, cats small.
HEIGHTS: dict[str, float] = {"slim": 0.30, "average": 0.30, "broad": 0.31, "small": 0.22, "tall": 0.35}
KIND_SCALE: dict[CharacterKind, float] = {"person": 1.0, "robot": 0.9, "creature": 1.0, "animal": 0.62,
                                          "bird": 0.62, "sea_creature": 0.85, "object": 0.6, "element": 1.15}
#: Species much bigger or smaller than their kind.
SPECIES_SCALE: dict[str, float] = {name: facts["scale"] for name, facts in species().items() if "scale" in facts}
GIRTH: dict[str, float] = {"slim": 0.20, "average": 0.25, "broad": 0.33, "small": 0.25, "tall": 0.21}
HEAD: dict[str, float] = {"slim": 0.21, "average": 0.22, "broad": 0.21, "small": 0.27, "tall": 0.19}
#: A few costumes read from the role's last word (a label, not prose).
COSTUMES = {"astronaut": "helmet", "cosmonaut": "helmet", "diver": "mask", "queen": "crown", "king": "crown",
            "princess": "crown", "prince": "crown", "witch": "pointed_hat", "wizard": "pointed_hat",
            "baker": "headscarf", "chef": "chef_hat", "knight": "helmet_knight", "pirate": "tricorn",
            "detective": "brim_hat", "captain": "cap", "keeper": "beanie"}
HUMAN_HEADWEAR = ("hair_short", "hair_long", "hair_bun", "hair_spiky", "cap", "beanie", "brim_hat")
HUMAN_ACCESSORIES = ("scarf", "satchel", "backpack", "belt", "none")
ROBOT_HEADWEAR = ("antenna", "dome", "ear_bolts")
#: Words of a character's short appearance that name something the figure can wear. Garments are drawn
#: over the figure; a headwear word replaces the variant's headwear (a role's costume, "witch": a pointed hat,
#: wins over a plain "black hat"; a two-word phrase wins over both).
GARMENT_WORDS = {"armour": "armour", "armor": "armour", "chainmail": "armour", "mail": "armour",
                 "tabard": "tabard", "surcoat": "tabard", "cloak": "cloak", "cape": "cloak",
                 "mantle": "cloak", "apron": "apron", "smock": "apron"}
HEADWEAR_WORDS = {"crown": "crown", "tiara": "crown", "fedora": "brim_hat", "hat": "brim_hat",
                  "tricorn": "tricorn", "beret": "beanie", "beanie": "beanie", "cap": "cap", "headscarf": "headscarf",
                  "spacesuit": "helmet", "eva": "helmet"}
#: Two-word headwear, read before the single words ("a pointed hat" is not a brimmed hat).
HEADWEAR_PHRASES = {"pointed hat": "pointed_hat", "witch's hat": "pointed_hat", "space suit": "helmet",
                    "chef's hat": "chef_hat", "top hat": "brim_hat"}
ANIMAL_ACCESSORIES = ("collar", "scarf", "none")
#: Ears and tails of four-legged species.
EARS: dict[str, str] = {name: facts["ears"] for name, facts in species().items() if "ears" in facts}
TAILS: dict[str, str] = {name: facts["tail"] for name, facts in species().items() if "tail" in facts}
#: Insects with wings (big painted ones, or small clear ones that beat fast): they fly, off the ground.
BIG_WINGED = {name for name, facts in species().items() if facts.get("wings") == "big"}
SMALL_WINGED = {name for name, facts in species().items() if facts.get("wings") == "small"}
LONG_LEGGED_BIRDS = {name for name, facts in species().items() if facts.get("long_legs")}
SKIN_TONES: tuple[RGB, ...] = ((241, 204, 178), (224, 172, 138), (198, 134, 98), (150, 98, 66), (104, 68, 48))
HAIR_TONES: tuple[RGB, ...] = ((34, 30, 32), (104, 70, 44), (176, 62, 34), (226, 196, 110), (52, 40, 36))


@dataclass(frozen=True)
class CharacterLook:
    """Everything needed to draw one character the same way in every frame."""

    name: str
    plan: Plan
    species: str
    body: RGB  # palette[0]: outfit, fur, feathers, shell, metal or cloud
    legs: RGB  # palette[1]
    accent: RGB  # palette[2] or a shade of the body
    skin: RGB
    hair: RGB
    outline: RGB
    headwear: str
    accessory: str
    height: float
    girth: float
    head: float
    tail: str = "none"
    ears: str = "round"
    floats: float = 0.0  # how high above the ground it hovers (figure heights)
    robot: bool = False
    clockwork: bool = False
    long_legs: bool = False
    garments: frozenset[str] = frozenset()  # armour, tabard, cloak, apron (GARMENT_WORDS)

    @property
    def face_height(self) -> float:
        """How high above the ground its face is (world units): where a close shot aims."""
        return self.height * (0.85 + self.floats)


def character_look(character: Character, variant: int, seed: int) -> CharacterLook:
    """A character's look from its plan entry and one reference variant (accessories, proportions)."""
    subject_rng = np.random.default_rng(derive_seed(0, "look", character.name))
    variant_rng = np.random.default_rng([seed, variant, derive_seed(0, character.name)])
    species = (character.species or "").lower()
    plan = SPECIES_PLANS.get(species) or SPECIES_PLANS.get(species.split(" ")[-1] if species else "") or \
        KIND_PLANS[character.kind]
    if character.kind == "element" and plan not in ("cloud", "flame", "swirl", "ribbon", "wave", "disc"):
        plan = "cloud"
    palette = [hex_rgb(c) for c in character.palette]
    body = palette[0]
    legs = palette[1] if len(palette) > 1 else shade(body, 0.62)
    accent = palette[2] if len(palette) > 2 else (legs if plan != "humanoid" else mix(legs, WHITE, 0.35))
    height = HEIGHTS[character.build] * KIND_SCALE[character.kind] * SPECIES_SCALE.get(species, 1.0)
    if plan == "bird" and species in LONG_LEGGED_BIRDS:
        height *= 1.5
    if plan == "fish" and species in ("whale", "orca", "shark"):
        height *= 1.6
    role = character.role.lower().split()[-1] if character.role else ""
    garments, named_headwear = worn(character.appearance)
    costume = COSTUMES.get(role)
    if "armour" in garments and costume is None:
        costume = "helmet_knight"
    robot = character.kind == "robot"
    headwear = "none"
    if plan == "humanoid":
        options = ROBOT_HEADWEAR if robot else HUMAN_HEADWEAR
        headwear = options[int(subject_rng.permutation(len(options))[variant % len(options)])]
        if costume and not robot:
            headwear = costume
        if named_headwear and not robot and (named_headwear[1] or not costume):
            headwear = named_headwear[0]
    accessories = ANIMAL_ACCESSORIES if plan in ("quadruped", "bird") else HUMAN_ACCESSORIES
    accessory = accessories[int(subject_rng.permutation(len(accessories))[variant % len(accessories)])]
    if plan not in ("humanoid", "quadruped", "bird"):
        accessory = ("none", "spots", "stripes", "glow")[variant % 4]
    skin = hex_rgb(character.skin) if character.skin else SKIN_TONES[int(subject_rng.integers(len(SKIN_TONES)))]
    hair = hex_rgb(character.hair) if character.hair else HAIR_TONES[int(subject_rng.integers(len(HAIR_TONES)))]
    if plan != "humanoid" or robot:
        skin, hair = body, mix(body, WHITE, 0.55)
    if robot:
        skin = mix(body, (190, 196, 204), 0.55)
    floats = {"cloud": 0.2, "swirl": 0.15, "ribbon": 0.6, "disc": 0.5, "blob": 0.12, "tentacled": 0.05,
              "fish": 0.3, "flame": 0.0, "wave": 0.0}.get(plan, 0.0)
    if plan == "insect" and species.split()[-1] in BIG_WINGED | SMALL_WINGED:
        floats = 0.35
    return CharacterLook(
        name=character.name,
        plan=plan,
        species=species or character.kind,
        body=body,
        legs=legs,
        accent=accent,
        skin=skin,
        hair=hair,
        outline=shade(mix(body, (30, 30, 40), 0.7), 0.6),
        headwear=headwear,
        accessory=accessory,
        height=height * float(variant_rng.uniform(0.96, 1.04)),
        girth=GIRTH[character.build] * float(variant_rng.uniform(0.9, 1.1)),
        head=HEAD[character.build] * float(variant_rng.uniform(0.94, 1.06)),
        tail=TAILS.get(species, "thin" if plan == "quadruped" else "none"),
        ears=EARS.get(species, "round"),
        floats=floats,
        robot=robot,
        clockwork="clockwork" in species or "mechanical" in species,
        long_legs=species in LONG_LEGGED_BIRDS,
        garments=frozenset(garments) if plan == "humanoid" and not robot else frozenset(),
    )


def worn(appearance: str) -> tuple[set[str], tuple[str, bool] | None]:
    """The garments and the headwear a short appearance names, the headwear as (headwear, named by a phrase):
    "steel armour, violet tabard" -> ({"armour", "tabard"}, None); "a pointed hat" -> (set(), ("pointed_hat", True))."""
    text = appearance.lower().replace("-", " ")
    words = re.findall(r"[a-z']+", text)
    garments = {GARMENT_WORDS[w] for w in words if w in GARMENT_WORDS}
    phrase = next((hw for phrase, hw in HEADWEAR_PHRASES.items() if phrase in text), None)
    if phrase is not None:
        return garments, (phrase, True)
    word = next((HEADWEAR_WORDS[w] for w in words if w in HEADWEAR_WORDS), None)
    return garments, (word, False) if word else None


# --------------------------------------------------------------------------- locations


@dataclass(frozen=True)
class SetStyle:
    """How a kind of set is drawn: its backdrop, terrain and dressing."""

    backdrop: Literal["sky", "wall", "water", "rock", "space"]
    ridge: Literal["jagged", "rolling", "dunes", "treeline", "skyline", "flat", "houses", "none", "clouds",
                   "castle"]
    ground: Literal["dust", "grass", "sand", "snow", "stone", "planks", "salt", "seabed", "cloud", "floor",
                    "metal", "street", "flagstones"]
    dressing: tuple[str, ...]  # prop drawings scattered over the ground
    landmark: str  # one set piece
    craters: bool = False
    water: bool = False  # a strip of sea on the horizon
    horizon: float = 0.56  # where the ground meets the backdrop (world v)


STYLES: dict[SetKind, SetStyle] = {
    "moon": SetStyle("space", "jagged", "dust", ("rock", "rock", "boulder"), "lander", craters=True),
    "space": SetStyle("space", "none", "metal", ("panel",), "station"),
    "forest": SetStyle("sky", "treeline", "grass", ("tree", "pine", "fern", "bush", "grass"), "big_tree"),
    "coast": SetStyle("sky", "flat", "sand", ("rock", "grass", "rock"), "none", water=True),
    "underwater": SetStyle("water", "none", "seabed", ("kelp", "coral", "rock", "kelp"), "wreck", horizon=0.6),
    "ship": SetStyle("sky", "flat", "planks", ("barrel", "rope"), "mast", water=True, horizon=0.62),
    "city": SetStyle("sky", "skyline", "street", ("lamp", "building"), "none"),
    "street": SetStyle("sky", "houses", "street", ("lamp", "lantern_post", "pot_plant"), "none", horizon=0.6),
    "desert": SetStyle("sky", "dunes", "sand", ("cactus", "rock"), "arch"),
    "snow": SetStyle("sky", "jagged", "snow", ("pine", "rock", "crystal"), "hut"),
    "mountains": SetStyle("sky", "jagged", "grass", ("pine", "rock", "boulder"), "cairn"),
    "plains": SetStyle("sky", "rolling", "grass", ("grass", "flower", "bush", "rock"), "big_tree"),
    "salt_flats": SetStyle("sky", "flat", "salt", ("salt_mound",), "none", horizon=0.55),
    "sky": SetStyle("sky", "clouds", "cloud", ("cloud_puff",), "none", horizon=0.66),
    "interior": SetStyle("wall", "none", "floor", ("shelf", "table", "lamp_stand"), "window", horizon=0.62),
    "bakery": SetStyle("wall", "none", "floor", ("shelf", "counter", "sack"), "oven", horizon=0.62),
    "cave": SetStyle("rock", "none", "stone", ("crystal", "rock", "stalagmite"), "pool", horizon=0.6),
    "castle": SetStyle("sky", "castle", "flagstones", ("barrel", "banner", "torch"), "well", horizon=0.6),
}
#: Props of a location (its own words) that are scattered over its ground as dressing, by last word.
PROP_DRESSING = {"candle": "candle", "candles": "candle", "candlestick": "candle", "candlesticks": "candle",
                 "candelabra": "candle", "banner": "banner", "banners": "banner", "torch": "torch", "torches": "torch"}
#: What falls from the sky of an open-air set: read from the location's ambience (and a snow set's snow).
Weather = Literal["none", "rain", "storm", "snow"]
#: Light tint of a time of day, and the sky body it shows.
TIME_LIGHT: dict[TimeOfDay, tuple[float, float, float]] = {
    "dawn": (1.06, 0.97, 0.92), "day": (1.0, 1.0, 1.0), "dusk": (1.08, 0.95, 0.82), "night": (0.86, 0.93, 1.1),
}
#: Props of a location (its own words) that the set can draw as a landmark, by last word.
PROP_LANDMARKS = {"lighthouse": "lighthouse", "craft": "lander", "lander": "lander", "oven": "oven", "hut": "hut",
                  "hull": "wreck", "wreck": "wreck", "tree": "big_tree", "arch": "arch", "cairn": "cairn",
                  "mast": "mast", "window": "window", "station": "station", "pool": "pool"}


@dataclass(frozen=True)
class EnvironmentLook:
    """A location's colours, sky, terrain and props for one environment reference variant."""

    name: str
    set: SetKind
    style: SetStyle
    time: TimeOfDay
    sky_top: RGB
    sky_low: RGB
    ground_far: RGB
    ground_near: RGB
    ridge_far: RGB
    ridge_near: RGB
    plant: RGB
    accents: tuple[RGB, ...]
    light: tuple[float, float, float]
    horizon: float
    stars: bool
    sky_body: Literal["sun", "moon", "planet", "none"]
    body_u: float
    dressing: tuple[str, ...]
    landmark: str
    density: int
    layout_seed: int
    weather: Weather = "none"


def environment_look(env: Environment, variant: int, seed: int) -> EnvironmentLook:
    """A location's look from its set kind, time of day, palette and props, and one reference variant.

    Variant 0 keeps the written palette exactly; later ones shift its value a little and lay the
    terrain and props out from their own seed (a location stays recognisably itself).
    """
    style = STYLES[env.set]
    rng = np.random.default_rng([seed, variant, derive_seed(0, "environment", env.id)])
    val = 1.0 if variant == 0 else float(rng.uniform(0.94, 1.06))
    palette = [adjust(hex_rgb(c), 0.0, 1.0, val) for c in env.palette]
    sky, horizon_c, ground = palette[0], palette[1], palette[2]
    accents = tuple(palette[3:]) or (adjust(ground, 120, 1.4, 1.2), adjust(ground, 220, 1.4, 1.2))
    greens = [c for c in accents if c[1] > c[0] and c[1] > c[2]]
    time = env.time_of_day
    if env.set in ("moon", "space"):
        body = "planet"
    elif style.backdrop in ("wall", "water", "rock"):
        body = "none"
    else:
        body = "moon" if time == "night" else "sun"
    landmark = style.landmark
    for prop in env.props:
        last = prop.lower().split()[-1] if prop.split() else ""
        if last in PROP_LANDMARKS:
            landmark = PROP_LANDMARKS[last]
            break
    # The props the location names are scattered among the set's own dressing (twice, so they show).
    named = [PROP_DRESSING[w] for p in env.props if (w := (p.lower().split() or [""])[-1]) in PROP_DRESSING]
    dressing = style.dressing + tuple(named) * 2
    weather: Weather = "none"
    if style.backdrop == "sky":  # rain and snow fall where there is sky, not in a room or a cave
        weather = "storm" if "storm" in env.ambience else "rain" if "rain" in env.ambience else \
            "snow" if env.set == "snow" else "none"
    if weather != "none":  # an overcast sky: no sun or moon, the sky greyed towards the horizon's colour
        body = "none"
        grey = (128, 132, 140) if weather != "snow" else (200, 204, 210)
        sky, horizon_c = mix(sky, grey, 0.35), mix(horizon_c, grey, 0.3)
    return EnvironmentLook(
        name=env.name,
        set=env.set,
        style=style,
        time=time,
        sky_top=sky,
        sky_low=horizon_c,
        ground_far=mix(ground, horizon_c, 0.3),
        ground_near=shade(ground, 0.82),
        ridge_far=mix(mix(ground, horizon_c, 0.55), sky, 0.25),
        ridge_near=shade(mix(ground, horizon_c, 0.25), 0.85),
        plant=greens[0] if greens else (74, 158, 84),
        accents=accents,
        light=TIME_LIGHT[time],
        horizon=style.horizon + float(rng.uniform(-0.02, 0.02)),
        stars=env.set in ("moon", "space") or time == "night",
        sky_body=body,  # type: ignore[arg-type]
        body_u=float(rng.uniform(0.15, 0.85)),
        dressing=dressing,
        landmark=landmark,
        density=(14, 22, 30, 18)[variant % 4],
        layout_seed=int(rng.integers(2**31)),
        weather=weather,
    )
