"""Drawing kit of the animatic renderer: colours, looks, posable figures, scenery, text.

Every function here is pure: the same arguments give the same pixels, with no global random
state, so renders are reproducible and safe to run from several threads at once.

Units. The world is measured in *wide-frame heights*: a wide shot shows ``v`` from 0 (top)
to 1 (bottom) and ``u`` over ``aspect`` units. The set is two wide shots across. Figures are
drawn in *figure units* (1.0 = the figure's standing height) and scaled to pixels at the end.
"""

from __future__ import annotations

import colorsys
import math
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, NamedTuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from filmstitch.models import Character, Environment, derive_seed

RGB = tuple[int, int, int]
Facing = Literal["left", "right", "camera"]

#: Where every figure's feet touch the ground, in world units (see module docstring).
FEET_V = 0.86
#: The set is this many wide shots across, so the camera can pan.
SET_SPAN = 2.0

# --------------------------------------------------------------------------- colours


def hex_rgb(value: str) -> RGB:
    value = value.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def mix(a: RGB, b: RGB, t: float) -> RGB:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def shade(c: RGB, factor: float) -> RGB:
    return (min(255, round(c[0] * factor)), min(255, round(c[1] * factor)), min(255, round(c[2] * factor)))


def adjust(c: RGB, hue_deg: float = 0.0, sat: float = 1.0, val: float = 1.0) -> RGB:
    """Rotate the hue and scale saturation/value (used for per-variant colour shifts)."""
    h, s, v = colorsys.rgb_to_hsv(c[0] / 255, c[1] / 255, c[2] / 255)
    r, g, b = colorsys.hsv_to_rgb((h + hue_deg / 360) % 1.0, min(1.0, s * sat), min(1.0, v * val))
    return (round(r * 255), round(g * 255), round(b * 255))


def luminance(c: RGB) -> float:
    return (0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]) / 255


def _words(*texts: str) -> str:
    return " ".join(texts).lower()


def _has(text: str, *words: str) -> bool:
    """Whether any of `words` occurs as a whole word (plurals included): 'wood' is not 'wooden'."""
    return any(re.search(rf"\b{re.escape(word)}(?:s|es)?\b", text) for word in words)


# --------------------------------------------------------------------------- character looks

HUMAN_HEADWEAR = ("hair_short", "hair_long", "hair_bun", "hair_spiky", "cap", "beanie", "brim_hat")
ASTRONAUT_HEADWEAR = ("helmet_round", "helmet_visor", "helmet_antenna")
ROBOT_HEADWEAR = ("antenna", "dome", "ear_bolts")
ANIMAL_EARS = ("ears_pointed", "ears_round", "ears_floppy", "ears_long")
HUMAN_ACCESSORIES = ("scarf", "satchel", "backpack", "belt", "none")
ASTRONAUT_ACCESSORIES = ("backpack", "oxygen_tank", "belt")
ROBOT_ACCESSORIES = ("chest_light", "belt", "backpack")
ANIMAL_ACCESSORIES = ("scarf", "collar", "satchel")
SKIN_TONES: tuple[RGB, ...] = ((241, 204, 178), (224, 172, 138), (198, 134, 98), (150, 98, 66), (104, 68, 48))
HAIR_WORDS: dict[str, RGB] = {
    "red": (176, 62, 34),
    "ginger": (196, 96, 40),
    "auburn": (140, 60, 40),
    "copper": (184, 90, 44),
    "blond": (226, 196, 110),
    "golden": (218, 176, 80),
    "black": (34, 30, 32),
    "dark": (52, 40, 36),
    "brown": (104, 70, 44),
    "grey": (168, 168, 170),
    "gray": (168, 168, 170),
    "silver": (198, 200, 206),
    "white": (232, 232, 228),
    "blue": (60, 100, 200),
    "green": (60, 150, 90),
    "pink": (230, 120, 170),
    "purple": (120, 70, 160),
}
#: Species -> (ears, tail, default fur). Tails: bushy (tip lighter), thin, stub.
ANIMALS: dict[str, tuple[str, str, RGB]] = {
    "fox": ("ears_pointed", "bushy", (196, 92, 42)),
    "wolf": ("ears_pointed", "bushy", (140, 140, 146)),
    "cat": ("ears_pointed", "thin", (150, 150, 156)),
    "kitten": ("ears_pointed", "thin", (214, 170, 100)),
    "dog": ("ears_floppy", "thin", (140, 96, 60)),
    "puppy": ("ears_floppy", "thin", (214, 170, 100)),
    "rabbit": ("ears_long", "stub", (236, 232, 226)),
    "bunny": ("ears_long", "stub", (236, 232, 226)),
    "bear": ("ears_round", "stub", (120, 80, 50)),
    "mouse": ("ears_round", "thin", (160, 156, 160)),
    "raccoon": ("ears_round", "bushy", (120, 118, 120)),
    "squirrel": ("ears_pointed", "bushy", (170, 96, 50)),
    "otter": ("ears_round", "thin", (110, 76, 50)),
    "creature": ("ears_round", "bushy", (120, 150, 110)),
    "animal": ("ears_round", "thin", (150, 120, 90)),
}
FUR_WORDS: dict[str, RGB] = {
    "red": (196, 92, 42),
    "rust": (190, 88, 40),
    "ginger": (206, 110, 50),
    "orange": (220, 120, 50),
    "brown": (120, 80, 50),
    "grey": (150, 150, 156),
    "gray": (150, 150, 156),
    "silver": (190, 192, 198),
    "black": (48, 46, 50),
    "white": (236, 236, 232),
    "golden": (214, 170, 100),
    "sandy": (214, 180, 120),
}
BUILDS: dict[str, tuple[float, float, float]] = {
    # build: (standing height in world units, torso girth / height, head diameter / height)
    "slim": (0.30, 0.20, 0.21),
    "average": (0.30, 0.25, 0.22),
    "broad": (0.31, 0.33, 0.21),
    "small": (0.22, 0.25, 0.27),
    "tall": (0.35, 0.21, 0.19),
}
WHITE: RGB = (240, 240, 242)


@dataclass(frozen=True)
class CharacterLook:
    """Everything needed to draw one character the same way in every frame."""

    name: str
    kind: Literal["human", "astronaut", "robot", "animal"]
    body: RGB
    legs: RGB
    accent: RGB
    skin: RGB  # face and hands; fur for animals, metal for robots
    hair: RGB
    outline: RGB
    headwear: str  # hair or hat, helmet, robot top, or an animal's ears
    accessory: str
    height: float
    girth: float
    head: float
    tail: str = "none"
    stripe: RGB | None = None  # suit stripes on the upper arms (astronauts)


def _kind(text: str) -> tuple[str, str | None]:
    """What sort of figure a description calls for, and the species for animals."""
    species = next((name for name in ANIMALS if _has(text, name)), None)
    if _has(text, "robot", "android", "droid", "automaton", "machine"):
        return "robot", None
    if _has(text, "astronaut", "spacesuit", "space suit", "space-suit", "helmet", "cosmonaut", "eva suit"):
        return "astronaut", None
    if species and not _has(text, "person", "man", "woman", "boy", "girl", "child", "kid"):
        return "animal", species
    return "human", None


def character_look(character: Character, variant: int, seed: int) -> CharacterLook:
    """Derive a character's look from its plan entry and one reference variant.

    The kind of figure (person, astronaut, robot, animal), the palette and the build come
    from the plan, so every variant is recognisably the same character. Headwear and
    accessory come from a per-character permutation indexed by the variant (so variants
    0..2 always differ), colour and proportion jitter from the variant's seed.
    """
    text = _words(character.name, character.role, character.description)
    kind, species = _kind(text)
    subject_rng = np.random.default_rng(derive_seed(0, "look", character.name))
    variant_rng = np.random.default_rng([seed, variant, derive_seed(0, character.name)])
    palette = [hex_rgb(c) for c in character.palette]
    body = palette[0]
    legs = palette[1] if len(palette) > 1 else shade(body, 0.62)
    accent = palette[2] if len(palette) > 2 else adjust(body, 150, 1.1, 1.05)
    # Variant 0 keeps the written palette; later variants shift the accent and tweak values.
    if variant:
        accent = adjust(accent, float(variant_rng.uniform(25, 60)) * (-1) ** variant, 1.0, 1.0)
        body = adjust(body, float(variant_rng.uniform(-8, 8)), 1.0, float(variant_rng.uniform(0.9, 1.08)))
    height, girth, head = BUILDS[character.build]
    skin, hair, stripe, tail = _skin_tone(text, subject_rng), _hair_colour(text, subject_rng), None, "none"
    options = {
        "human": (HUMAN_HEADWEAR, HUMAN_ACCESSORIES),
        "astronaut": (ASTRONAUT_HEADWEAR, ASTRONAUT_ACCESSORIES),
        "robot": (ROBOT_HEADWEAR, ROBOT_ACCESSORIES),
        "animal": (ANIMAL_EARS, ANIMAL_ACCESSORIES),
    }[kind]
    headwear = options[0][int(subject_rng.permutation(len(options[0]))[variant % len(options[0])])]
    if kind == "robot":
        skin = mix(body, (190, 196, 204), 0.55)
    elif kind == "astronaut" and (_has(text, "white") or luminance(body) > 0.8):
        # A white suit: the palette's main colour becomes its stripes, the second its trim.
        stripe, accent = body, (legs if variant == 0 else accent)
        body, legs = mix(body, WHITE, 0.88), mix(body, WHITE, 0.8)
    elif kind == "animal":
        assert species is not None
        ears, tail, fur = ANIMALS[species]
        headwear = ears
        match = re.search(r"\b([a-z]+)(?:[- ][a-z]+)?[- ]fur\b", text)
        fur = next((FUR_WORDS[w] for w in (match.groups() if match else ()) if w in FUR_WORDS), fur)
        if variant:
            fur = adjust(fur, float(variant_rng.uniform(-6, 6)), 1.0, float(variant_rng.uniform(0.88, 1.1)))
        accent = body  # the palette colour is what the animal wears (bandana, collar)
        skin, hair, body, legs = fur, mix(fur, WHITE, 0.75), fur, shade(fur, 0.82)
    return CharacterLook(
        name=character.name,
        kind=kind,  # type: ignore[arg-type]
        body=body,
        legs=legs,
        accent=accent,
        skin=skin,
        hair=hair,
        outline=shade(mix(body, (30, 30, 40), 0.7), 0.6),
        headwear=headwear,
        accessory=options[1][int(subject_rng.permutation(len(options[1]))[variant % len(options[1])])],
        height=height * float(variant_rng.uniform(0.95, 1.05)),
        girth=girth * float(variant_rng.uniform(0.88, 1.12)),
        head=head * float(variant_rng.uniform(0.92, 1.08)),
        tail=tail,
        stripe=stripe,
    )


def _skin_tone(text: str, rng: np.random.Generator) -> RGB:
    for words, tone in ((("pale", "fair"), 0), (("olive", "tan"), 2), (("brown skin", "dark skin", "deep"), 4)):
        if _has(text, *words):
            return SKIN_TONES[tone]
    return SKIN_TONES[int(rng.integers(len(SKIN_TONES)))]


def _hair_colour(text: str, rng: np.random.Generator) -> RGB:
    match = re.search(r"\b([a-z]+)[- ](?:hair|haired|curls|braid|ponytail|beard|bun|waves|mop)\b", text)
    word = match.group(1) if match else ""
    for candidate in (word, word.rstrip("e")):
        if candidate in HAIR_WORDS:
            return HAIR_WORDS[candidate]
    return list(HAIR_WORDS.values())[int(rng.integers(8))]


# --------------------------------------------------------------------------- poses


class Limbs(NamedTuple):
    """Joint angles of a figure in degrees. 0 points straight down, positive points forward.

    Limb 1 is the near side (drawn in front in profile); knees bend back, elbows forward.
    `head` tilts the face up; `seat` > 0.5 puts a seat under a sitting figure.
    """

    lean: float = 0.0
    thigh1: float = 3.0
    knee1: float = 0.0
    thigh2: float = -3.0
    knee2: float = 0.0
    arm1: float = 8.0
    elbow1: float = 10.0
    arm2: float = -8.0
    elbow2: float = 10.0
    head: float = 0.0
    seat: float = 0.0

    def blend(self, other: Limbs, t: float) -> Limbs:
        if t <= 0.0:
            return self
        if t >= 1.0:
            return other
        return Limbs(*(a + (b - a) * t for a, b in zip(self, other, strict=True)))


POSES: dict[str, Limbs] = {
    "stand": Limbs(),
    "walk": Limbs(3, 22, 8, -20, 26, -18, 15, 20, 15, 0, 0),
    "run": Limbs(12, 40, 25, -35, 75, -45, 80, 45, 80, 0, 0),
    "kneel": Limbs(6, 88, 88, -4, 94, 30, 30, -5, 20, -5, 0),
    "sit": Limbs(-6, 85, 85, 78, 80, 28, 40, 22, 40, 0, 1),
    "reach": Limbs(10, 10, 4, -12, 14, 145, 10, 25, 20, 18, 0),
    "look_up": Limbs(-6, 3, 0, -3, 0, 10, 10, -10, 10, 32, 0),
    "wave": Limbs(0, 3, 0, -3, 0, 158, 25, -8, 10, 6, 0),
}


def gait(phase: float, run: float) -> Limbs:
    """One moment of a walk (run=0) or run (run=1) cycle; `phase` in radians."""
    s, c = math.sin(phase), math.cos(phase)
    leg, knee, arm = 24 + 16 * run, 32 + 45 * run, 20 + 28 * run
    return Limbs(
        lean=3 + 10 * run,
        thigh1=leg * s,
        knee1=6 + knee * max(0.0, c),  # a knee bends while its leg swings forward
        thigh2=-leg * s,
        knee2=6 + knee * max(0.0, -c),
        arm1=-arm * s,
        elbow1=15 + 60 * run,
        arm2=arm * s,
        elbow2=15 + 60 * run,
        head=0.0,
        seat=0.0,
    )


# --------------------------------------------------------------------------- figures

# Segment lengths in figure units before normalising by the look's head size.
THIGH, SHIN, TORSO, NECK, UPPER_ARM, FOREARM, LIMB_W = 0.235, 0.225, 0.30, 0.02, 0.17, 0.16, 0.072
SHADOW_W = 0.3  # half-width of the contact shadow


class Skeleton(NamedTuple):
    """Joint positions in figure units (hip at the origin, y down) plus sizes."""

    hips: tuple[tuple[float, float], tuple[float, float]]
    legs: tuple[list[tuple[float, float]], list[tuple[float, float]]]
    shoulders: tuple[tuple[float, float], tuple[float, float]]
    arms: tuple[list[tuple[float, float]], list[tuple[float, float]]]
    neck: tuple[float, float]
    head: tuple[float, float]
    head_r: float
    ground: float
    scale: float
    direction: int


def _limb_vector(angle: float, length: float, direction: int, side: int) -> tuple[float, float]:
    a = math.radians(angle)
    if direction:
        return direction * math.sin(a) * length, math.cos(a) * length
    # Facing the camera: forward is foreshortened, limbs splay slightly outward.
    return side * (0.3 * math.sin(a) + 0.12) * length, math.cos(a) * length


def skeleton(look: CharacterLook, limbs: Limbs, facing: Facing) -> Skeleton:
    """Forward kinematics: joint angles -> joint positions, feet (or knees) on the ground."""
    k = 1.0 / (THIGH + SHIN + TORSO + NECK + look.head)
    direction = {"right": 1, "left": -1, "camera": 0}[facing]
    hip_w = 0.0 if direction else look.girth * 0.28
    shoulder_w = 0.0 if direction else look.girth * 0.42
    lean = math.radians(limbs.lean)
    lean_x = (direction or 0) * math.sin(lean)
    shoulder_c = (lean_x * TORSO * k, -math.cos(lean) * TORSO * k)
    hips = ((hip_w, 0.0), (-hip_w, 0.0))
    shoulders = ((shoulder_c[0] + shoulder_w, shoulder_c[1]), (shoulder_c[0] - shoulder_w, shoulder_c[1]))
    legs, arms = [], []
    for side, (thigh, knee, arm, elbow) in (
        (1, (limbs.thigh1, limbs.knee1, limbs.arm1, limbs.elbow1)),
        (-1, (limbs.thigh2, limbs.knee2, limbs.arm2, limbs.elbow2)),
    ):
        hip = hips[0 if side == 1 else 1]
        kx, ky = _limb_vector(thigh, THIGH * k, direction, side)
        fx, fy = _limb_vector(thigh - knee, SHIN * k, direction, side)
        legs.append([hip, (hip[0] + kx, hip[1] + ky), (hip[0] + kx + fx, hip[1] + ky + fy)])
        sh = shoulders[0 if side == 1 else 1]
        ex, ey = _limb_vector(arm, UPPER_ARM * k, direction, side)
        hx, hy = _limb_vector(arm + elbow, FOREARM * k, direction, side)
        arms.append([sh, (sh[0] + ex, sh[1] + ey), (sh[0] + ex + hx, sh[1] + ey + hy)])
    head_r = look.head * k / 2
    neck = (shoulder_c[0] + lean_x * NECK * k, shoulder_c[1] - NECK * k)
    head = (neck[0] + lean_x * head_r * 0.5, neck[1] - head_r * 0.92)
    lowest = max(max(p[1] for p in leg[1:]) for leg in legs) + LIMB_W * k * 0.5
    if limbs.seat > 0.5:
        lowest = max(lowest, 0.0)
    return Skeleton(
        hips=hips,
        legs=(legs[0], legs[1]),
        shoulders=shoulders,
        arms=(arms[0], arms[1]),
        neck=neck,
        head=head,
        head_r=head_r,
        ground=lowest,
        scale=k,
        direction=direction,
    )


class _Pen:
    """Draws figure-unit shapes onto a supersampled sprite."""

    def __init__(self, draw: ImageDraw.ImageDraw, origin: tuple[float, float], px: float, outline: RGB) -> None:
        self.draw, self.ox, self.oy, self.px, self.outline = draw, origin[0], origin[1], px, outline
        self.ow = max(1.0, px * 0.011)

    def p(self, point: tuple[float, float]) -> tuple[float, float]:
        return (self.ox + point[0] * self.px, self.oy + point[1] * self.px)

    def _round_line(self, points: list[tuple[float, float]], width: float, colour: RGB) -> None:
        self.draw.line(points, fill=colour, width=max(1, round(width)), joint="curve")
        r = width / 2
        for x, y in (points[0], points[-1]):
            self.draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)

    def capsule(self, points: list[tuple[float, float]], width: float, fill: RGB) -> None:
        """A limb or torso: a rounded thick polyline with a dark outline."""
        pts = [self.p(q) for q in points]
        w = width * self.px
        self._round_line(pts, w + 2 * self.ow, self.outline)
        self._round_line(pts, w, fill)

    def ellipse(self, centre: tuple[float, float], rx: float, ry: float, fill: RGB, outline: bool = True) -> None:
        x, y = self.p(centre)
        box = (x - rx * self.px, y - ry * self.px, x + rx * self.px, y + ry * self.px)
        self.draw.ellipse(box, fill=fill, outline=self.outline if outline else None, width=round(self.ow))

    def polygon(self, points: list[tuple[float, float]], fill: RGB, outline: bool = True) -> None:
        self.draw.polygon(
            [self.p(q) for q in points], fill=fill, outline=self.outline if outline else None, width=round(self.ow)
        )

    def rect(self, box: tuple[float, float, float, float], fill: RGB, radius: float = 0.0) -> None:
        x0, y0 = self.p((box[0], box[1]))
        x1, y1 = self.p((box[2], box[3]))
        self.draw.rounded_rectangle(
            (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)),
            radius=radius * self.px,
            fill=fill,
            outline=self.outline,
            width=round(self.ow),
        )


def figure_sprite(
    look: CharacterLook,
    limbs: Limbs,
    facing: Facing,
    height_px: float,
    frac: tuple[float, float] = (0.0, 0.0),
    alpha: float = 1.0,
) -> tuple[Image.Image, int, int]:
    """Draw a posed figure; returns (RGBA sprite, anchor x, anchor y).

    The anchor is the integer pixel of the sprite that sits on the ground under the hips;
    `frac` is the sub-pixel part of the target position, drawn into the sprite so slow
    movements glide instead of stepping a pixel at a time.
    """
    bones = skeleton(look, limbs, facing)
    ss = 2 if height_px < 320 else 1  # supersample small figures (cheap), big ones are smooth enough
    left, top, right = _extent(bones, look)
    ax, ay = math.ceil(-left * height_px) + 2, math.ceil((bones.ground - top) * height_px) + 2
    size = (ax + math.ceil(right * height_px) + 3, ay + math.ceil(0.04 * height_px) + 3)
    sprite = Image.new("RGBA", (size[0] * ss, size[1] * ss), (*look.outline, 0))
    draw = ImageDraw.Draw(sprite)
    origin = ((ax + frac[0]) * ss, (ay + frac[1] - bones.ground * height_px) * ss)
    pen = _Pen(draw, origin, height_px * ss, look.outline)
    _draw_figure(pen, look, limbs, bones)
    if ss > 1:
        # Average 2x2 blocks without premultiplying alpha: every transparent pixel already has
        # the outline's colour, so edges come out right and the costly conversions are skipped.
        raw = Image.frombuffer("RGBa", sprite.size, sprite.tobytes(), "raw", "RGBa", 0, 1).reduce(ss)
        sprite = Image.frombuffer("RGBA", raw.size, raw.tobytes(), "raw", "RGBA", 0, 1)
    if alpha < 1.0:
        sprite.putalpha(sprite.getchannel("A").point(lambda a: round(a * alpha)))
    return sprite, ax, ay


def _extent(bones: Skeleton, look: CharacterLook) -> tuple[float, float, float]:
    """Left, top and right edge of everything drawn for a skeleton (figure units, hip at 0)."""
    xs = [p[0] for part in (*bones.arms, *bones.legs) for p in part]
    pad = LIMB_W * bones.scale + 0.03  # limb half-widths, feet, hands and outlines
    hx, hy = bones.head
    reach = bones.head_r * 1.9  # helmets, hats, hair and antennas stick out of the head
    tail = 0.47 if look.tail != "none" else 0.0  # tails reach back beside the hips
    left = min(-SHADOW_W, min(xs) - pad, hx - reach, -0.24, -tail)  # -0.24: backpacks, seats, satchels
    right = max(SHADOW_W, max(xs) + pad, hx + reach, 0.24, tail)
    top = min(hy - bones.head_r * 2.5, min(p[1] for arm in bones.arms for p in arm) - pad, -tail * 0.7)
    return left, top, right


def _draw_figure(pen: _Pen, look: CharacterLook, limbs: Limbs, bones: Skeleton) -> None:
    k, d = bones.scale, bones.direction
    limb_w, torso_w = LIMB_W * k, look.girth * (0.78 if d else 1.0)
    sx, sy = pen.p((0.0, bones.ground))
    pen.draw.ellipse(
        (sx - SHADOW_W * pen.px, sy - 0.025 * pen.px, sx + SHADOW_W * pen.px, sy + 0.025 * pen.px),
        fill=(0, 0, 0, 70),
    )
    if limbs.seat > 0.5:
        seat_top, seat_x = bones.hips[0][1] + limb_w * 0.6, -d * 0.04
        pen.rect((seat_x - 0.17, seat_top, seat_x + 0.17, bones.ground), (120, 110, 100), 0.03)
    boots, hands = _extremities(look)
    near, far = 0, 1  # limb 1 is the near limb in profile
    back_tint = 0.78 if d else 1.0
    if look.tail != "none":
        _tail(pen, look, bones)
    if d:
        _arm(pen, look, bones.arms[far], limb_w, shade(look.body, back_tint), shade(hands, back_tint))
    if look.accessory in ("backpack", "oxygen_tank"):
        _backpack(pen, look, bones, torso_w)
    if look.headwear == "hair_long" and look.kind == "human":
        _long_hair_back(pen, look, bones)
    for leg, tint in ((bones.legs[far], back_tint), (bones.legs[near], 1.0)):
        pen.capsule(leg, limb_w * 1.12, shade(look.legs, tint))
        _foot(pen, leg[-1], limb_w, d, shade(boots, tint))
    hip_c = (0.0, 0.0)
    shoulder_c = ((bones.shoulders[0][0] + bones.shoulders[1][0]) / 2, bones.shoulders[0][1])
    pen.capsule([hip_c, shoulder_c], torso_w, look.body)
    _torso_details(pen, look, bones, torso_w, hip_c, shoulder_c)
    if not d:
        for arm in bones.arms:
            _arm(pen, look, arm, limb_w, look.body, hands)
    _head(pen, look, limbs, bones)
    if d:
        _arm(pen, look, bones.arms[near], limb_w, look.body, hands)
    if look.accessory == "scarf":
        _scarf(pen, look, bones)


def _extremities(look: CharacterLook) -> tuple[RGB, RGB]:
    """Colours of the feet and hands: boots and skin, suit gloves, metal, or paws."""
    if look.kind == "human":
        return shade(look.legs, 0.45), look.skin
    if look.kind == "animal":
        return shade(look.skin, 0.6), shade(look.skin, 0.7)
    return mix(look.body, WHITE, 0.4), mix(look.body, WHITE, 0.5)


def _arm(pen: _Pen, look: CharacterLook, arm: list[tuple[float, float]], width: float, sleeve: RGB, hand: RGB) -> None:
    pen.capsule(arm, width, sleeve)
    if look.stripe is not None:  # a suit band just below the shoulder
        (x0, y0), (x1, y1) = arm[0], arm[1]
        band = [(x0 + (x1 - x0) * 0.3, y0 + (y1 - y0) * 0.3), (x0 + (x1 - x0) * 0.5, y0 + (y1 - y0) * 0.5)]
        pen.capsule(band, width * 0.98, look.stripe)
    pen.ellipse(arm[-1], width * 0.62, width * 0.62, hand)


def _tail(pen: _Pen, look: CharacterLook, bones: Skeleton) -> None:
    """Behind the hips, curving up and away from where the animal faces."""
    back = -(bones.direction or 1)
    hip = (back * 0.06, -0.02)
    if look.tail == "stub":
        pen.ellipse((back * 0.13, -0.03), 0.06, 0.06, look.hair)
        return
    width = 0.09 if look.tail == "bushy" else 0.035
    points = [hip, (back * 0.2, 0.02), (back * 0.32, -0.1), (back * 0.36, -0.24)]
    pen.capsule(points, width, look.body)
    if look.tail == "bushy":
        pen.capsule(points[-2:], width * 0.9, look.hair)


def _foot(pen: _Pen, ankle: tuple[float, float], width: float, direction: int, colour: RGB) -> None:
    if direction:
        centre = (ankle[0] + direction * width * 0.55, ankle[1] + width * 0.1)
        pen.ellipse(centre, width * 1.05, width * 0.5, colour)
    else:
        pen.ellipse((ankle[0], ankle[1] + width * 0.1), width * 0.7, width * 0.5, colour)


def _torso_details(
    pen: _Pen,
    look: CharacterLook,
    bones: Skeleton,
    width: float,
    hip: tuple[float, float],
    shoulder: tuple[float, float],
) -> None:
    """Belt, satchel strap, chest light: small accent-coloured marks that tell variants apart."""
    d = bones.direction
    mid = (hip[0] + (shoulder[0] - hip[0]) * 0.15, hip[1] + (shoulder[1] - hip[1]) * 0.15)
    if look.accessory == "belt":
        pen.rect((mid[0] - width * 0.52, mid[1] - 0.018, mid[0] + width * 0.52, mid[1] + 0.018), look.accent)
    elif look.accessory == "satchel":
        strap_top = (shoulder[0] + (width * 0.3 if not d else 0), shoulder[1])
        bag = (hip[0] - (d or 1) * width * 0.45, hip[1] - 0.01)
        pen.capsule([strap_top, bag], 0.016, shade(look.accent, 0.8))
        pen.rect((bag[0] - 0.06, bag[1] - 0.04, bag[0] + 0.06, bag[1] + 0.05), look.accent, 0.015)
    elif look.accessory == "collar":
        nx, ny = bones.neck
        pen.capsule([(nx - 0.045, ny + 0.015), (nx + 0.045, ny + 0.015)], 0.035, look.accent)
        pen.ellipse((nx + d * 0.02, ny + 0.05), 0.018, 0.018, (230, 190, 70))
    elif look.accessory == "chest_light":
        c = (shoulder[0] + d * width * 0.2, shoulder[1] + 0.08)
        pen.ellipse(c, 0.035, 0.035, look.accent)
    if look.kind == "astronaut" and not d:
        c = (shoulder[0], shoulder[1] + 0.09)
        pen.rect((c[0] - 0.05, c[1] - 0.03, c[0] + 0.05, c[1] + 0.03), look.accent, 0.01)


def _backpack(pen: _Pen, look: CharacterLook, bones: Skeleton, torso_w: float) -> None:
    d = bones.direction
    top, height = bones.shoulders[0][1] + 0.01, (0.2 if look.accessory == "backpack" else 0.26)
    colour = shade(look.accent, 0.9) if look.accessory == "backpack" else mix(look.body, (235, 235, 240), 0.5)
    if d:
        x = bones.shoulders[0][0] - d * (torso_w * 0.5 + 0.045)
        pen.rect((x - 0.06, top, x + 0.06, top + height), colour, 0.03)
    else:
        half = torso_w * 0.62
        pen.rect((-half, top, half, top + height), colour, 0.03)


def _scarf(pen: _Pen, look: CharacterLook, bones: Skeleton) -> None:
    nx, ny = bones.neck
    d = bones.direction
    pen.capsule([(nx - 0.05, ny + 0.01), (nx + 0.05, ny + 0.01)], 0.045, look.accent)
    tail_x = nx - (d or 1) * 0.09
    pen.capsule([(nx, ny + 0.02), (tail_x, ny + 0.12)], 0.035, look.accent)


def _long_hair_back(pen: _Pen, look: CharacterLook, bones: Skeleton) -> None:
    cx, cy = bones.head
    r = bones.head_r
    back = -bones.direction * r * 0.3
    pen.rect((cx + back - r * 1.05, cy - r * 0.3, cx + back + r * 1.05, cy + r * 1.9), look.hair, r * 0.8)


def _head(pen: _Pen, look: CharacterLook, limbs: Limbs, bones: Skeleton) -> None:
    cx, cy = bones.head
    r, d = bones.head_r, bones.direction
    tilt = limbs.head / 90.0  # looking up moves the face up
    if look.kind == "robot":
        pen.rect((cx - r, cy - r * 0.95, cx + r, cy + r * 0.95), look.skin, r * 0.3)
        ex = cx + d * r * 0.45
        eye_y = cy - r * (0.1 + 0.4 * tilt)
        if d:
            pen.rect((ex - r * 0.2, eye_y - r * 0.14, ex + r * 0.35, eye_y + r * 0.14), look.accent, r * 0.08)
        else:
            for side in (-1, 1):
                pen.rect(
                    (
                        cx + side * r * 0.45 - r * 0.2,
                        eye_y - r * 0.14,
                        cx + side * r * 0.45 + r * 0.2,
                        eye_y + r * 0.14,
                    ),
                    look.accent,
                    r * 0.08,
                )
        _robot_top(pen, look, cx, cy, r)
        return
    if look.kind == "astronaut":
        _helmet(pen, look, cx, cy, r, d, tilt)
        return
    if look.kind == "animal":
        _animal_head(pen, look, cx, cy, r, d, tilt)
        return
    if d:  # a nose in profile, drawn first so the head's outline joins it
        pen.ellipse((cx + d * r * 0.93, cy + r * 0.12 - r * 0.3 * tilt), r * 0.16, r * 0.14, look.skin)
    pen.ellipse((cx, cy), r, r * 1.02, look.skin)
    _face(pen, cx, cy, r, d, tilt)
    _human_top(pen, look, cx, cy, r, d)


def _animal_head(pen: _Pen, look: CharacterLook, cx: float, cy: float, r: float, d: int, tilt: float) -> None:
    """Ears, a round head, a lighter muzzle that points where the animal looks, a dark nose."""
    fur, light = look.skin, look.hair
    ears = look.headwear
    for side in (-1, 1) if not d else (-d * 0.3, 0.45):
        ex = cx + side * r * (0.6 if not d else 1.0)
        if ears == "ears_pointed":
            pen.polygon(
                [(ex - r * 0.35, cy - r * 0.55), (ex + r * 0.35, cy - r * 0.55), (ex + side * r * 0.1, cy - r * 1.5)],
                fur,
            )
        elif ears == "ears_long":
            pen.ellipse((ex, cy - r * 1.35), r * 0.22, r * 0.7, fur)
        elif ears == "ears_floppy":
            pen.ellipse((ex + side * r * 0.35, cy - r * 0.1), r * 0.28, r * 0.55, shade(fur, 0.75))
        else:
            pen.ellipse((ex, cy - r * 0.8), r * 0.3, r * 0.3, fur)
    pen.ellipse((cx, cy), r, r * 0.95, fur)
    lift = r * 0.3 * tilt
    if d:
        mx = cx + d * r * 0.75
        pen.ellipse((mx, cy + r * 0.25 - lift), r * 0.5, r * 0.36, light)
        pen.ellipse((mx + d * r * 0.45, cy + r * 0.15 - lift), r * 0.14, r * 0.12, (30, 28, 36), outline=False)
        pen.ellipse((cx + d * r * 0.25, cy - r * 0.2 - lift), r * 0.11, r * 0.13, (30, 28, 36), outline=False)
    else:
        pen.ellipse((cx, cy + r * 0.38 - lift), r * 0.5, r * 0.38, light)
        pen.ellipse((cx, cy + r * 0.22 - lift), r * 0.15, r * 0.11, (30, 28, 36), outline=False)
        for side in (-1, 1):
            pen.ellipse((cx + side * r * 0.38, cy - r * 0.15 - lift), r * 0.11, r * 0.13, (30, 28, 36), outline=False)


def _face(pen: _Pen, cx: float, cy: float, r: float, d: int, tilt: float) -> None:
    eye_y = cy - r * (0.02 + 0.35 * tilt)
    dark = (30, 28, 36)
    if d:
        pen.ellipse((cx + d * r * 0.5, eye_y), r * 0.11, r * 0.13, dark, outline=False)
    else:
        for side in (-1, 1):
            pen.ellipse((cx + side * r * 0.34, eye_y), r * 0.11, r * 0.13, dark, outline=False)
        mouth_y = cy + r * (0.42 - 0.3 * tilt)
        pen.capsule([(cx - r * 0.16, mouth_y), (cx + r * 0.16, mouth_y)], r * 0.02, (120, 60, 60))


def _human_top(pen: _Pen, look: CharacterLook, cx: float, cy: float, r: float, d: int) -> None:
    """Hair or hat: the most visible difference between a human character's variants."""
    hw = look.headwear
    hair = look.hair
    cap_pts = [
        (cx + r * math.cos(a) * 1.06, cy - r * 0.1 + r * math.sin(a) * 1.06)
        for a in np.linspace(math.pi, 2 * math.pi, 12)
    ]
    back = -d * r * 0.15
    if hw in ("hair_short", "hair_long", "hair_bun", "hair_spiky"):
        pen.polygon([(x + back, y) for x, y in cap_pts], hair)
        if hw == "hair_bun":
            pen.ellipse((cx - d * r * 0.7, cy - r * 0.95), r * 0.38, r * 0.38, hair)
        if hw == "hair_spiky":
            spikes = []
            for i, a in enumerate(np.linspace(math.pi * 1.05, math.pi * 1.95, 9)):
                reach = 1.45 if i % 2 else 1.0
                spikes.append((cx + back + r * math.cos(a) * reach, cy - r * 0.1 + r * math.sin(a) * reach))
            pen.polygon(spikes, hair)
    elif hw == "cap":
        pen.polygon(cap_pts, look.accent)
        if d:
            pen.rect((cx, cy - r * 0.2, cx + d * r * 1.5, cy - r * 0.06), shade(look.accent, 0.8), r * 0.05)
        else:
            pen.ellipse((cx, cy - r * 0.14), r * 0.95, r * 0.16, shade(look.accent, 0.8))
    elif hw == "beanie":
        tall = [(x, cy - r * 0.1 + (y - cy + r * 0.1) * 1.35) for x, y in cap_pts]
        pen.polygon(tall, look.accent)
        pen.rect((cx - r * 1.08, cy - r * 0.3, cx + r * 1.08, cy - r * 0.05), shade(look.accent, 0.75), r * 0.1)
        pen.ellipse((cx, cy - r * 1.5), r * 0.25, r * 0.25, mix(look.accent, (255, 255, 255), 0.5))
    elif hw == "brim_hat":
        pen.ellipse((cx, cy - r * 0.45), r * 1.7, r * 0.22, shade(look.accent, 0.85))
        pen.rect((cx - r * 0.85, cy - r * 1.35, cx + r * 0.85, cy - r * 0.45), look.accent, r * 0.2)


def _helmet(pen: _Pen, look: CharacterLook, cx: float, cy: float, r: float, d: int, tilt: float) -> None:
    shell = mix(look.body, (245, 245, 248), 0.55)
    hr = r * 1.3
    if look.headwear == "helmet_antenna":
        pen.capsule(
            [(cx - (d or 1) * hr * 0.5, cy - hr * 0.7), (cx - (d or 1) * hr * 0.9, cy - hr * 1.6)], r * 0.06, shell
        )
        pen.ellipse((cx - (d or 1) * hr * 0.9, cy - hr * 1.6), r * 0.15, r * 0.15, look.accent)
    pen.ellipse((cx, cy), hr, hr, shell)
    if look.headwear == "helmet_visor":
        vx = cx + d * hr * 0.25
        pen.rect(
            (vx - hr * 0.72, cy - hr * 0.45 - hr * 0.2 * tilt, vx + hr * 0.72, cy + hr * 0.35 - hr * 0.2 * tilt),
            look.accent,
            hr * 0.3,
        )
        pen.ellipse(
            (vx - hr * 0.38, cy - hr * 0.25 - hr * 0.2 * tilt), hr * 0.12, hr * 0.07, (255, 255, 255), outline=False
        )
        return
    glass = mix(look.accent, (20, 30, 60), 0.55)
    gx = cx + d * hr * 0.2
    pen.ellipse((gx, cy + hr * 0.02), hr * 0.78, hr * 0.74, glass)
    pen.ellipse((gx + d * hr * 0.05, cy + hr * 0.08), r * 0.62, r * 0.66, look.skin, outline=False)
    _face(pen, gx + d * hr * 0.05, cy + hr * 0.08, r * 0.62, d, tilt)
    pen.ellipse((gx - hr * 0.4, cy - hr * 0.38), hr * 0.16, hr * 0.09, (255, 255, 255), outline=False)


def _robot_top(pen: _Pen, look: CharacterLook, cx: float, cy: float, r: float) -> None:
    if look.headwear == "antenna":
        pen.capsule([(cx, cy - r), (cx, cy - r * 1.7)], r * 0.08, shade(look.skin, 0.7))
        pen.ellipse((cx, cy - r * 1.75), r * 0.2, r * 0.2, look.accent)
    elif look.headwear == "dome":
        pen.polygon(
            [
                (cx + r * 0.7 * math.cos(a), cy - r * 0.9 + r * 0.6 * math.sin(a))
                for a in np.linspace(math.pi, 2 * math.pi, 10)
            ],
            look.accent,
        )
    else:
        for side in (-1, 1):
            pen.ellipse((cx + side * r * 1.08, cy), r * 0.2, r * 0.35, look.accent)


# --------------------------------------------------------------------------- environment looks

PROP_WORDS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("moon", "lunar", "crater", "regolith", "asteroid", "mars", "martian"), ("rock", "rock", "boulder")),
    (
        (
            "plant",
            "flower",
            "garden",
            "nature",
            "bloom",
            "blossom",
            "moss",
            "mossy",
            "grass",
            "meadow",
            "fern",
            "vine",
            "sprout",
            "life",
            "oasis",
        ),
        ("flower", "fern", "grass", "flower"),
    ),
    (("tree", "forest", "woods", "jungle", "orchard", "park", "grove"), ("tree", "pine", "bush")),
    (("city", "street", "town", "building", "tower", "alley", "market", "village"), ("building", "lamp")),
    (("desert", "dune", "canyon"), ("cactus", "rock")),
    (("snow", "snowfield", "glacier", "ice", "arctic", "frozen"), ("pine", "rock", "crystal")),
    (("crystal", "alien", "cave"), ("crystal",)),
    (("beach", "sea", "ocean", "shore", "coast", "lake"), ("rock",)),
)
RIDGE_WORDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("beach", "sea", "ocean", "shore", "coast", "lake"), "flat"),
    (("city", "street", "town", "building", "skyline"), "skyline"),
    (("forest", "woods", "jungle", "tree", "grove"), "treeline"),
    (("desert", "dune"), "dunes"),
    (("moon", "lunar", "crater", "mountain", "peak", "rock", "cliff", "canyon", "mars", "alien", "planet"), "jagged"),
)
LANDMARK_WORDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("lander", "rocket", "spaceship", "capsule", "stranded"), "lander"),
    (("lighthouse",), "lighthouse"),
    (("hut", "cabin", "cottage"), "hut"),
    (("lone tree",), "big_tree"),
)


@dataclass(frozen=True)
class EnvironmentLook:
    """The world's colours, sky, terrain and props for one environment reference variant."""

    name: str
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
    ridge: str
    props: tuple[str, ...]
    craters: bool
    water: bool
    landmark: str
    density: int
    layout_seed: int


def environment_look(env: Environment, variant: int, seed: int, context: str = "") -> EnvironmentLook:
    """Derive the world's look from the plan's environment and one reference variant.

    Keywords of the description pick the terrain, props and sky (`context`, the film's
    idea, may add props: an idea about discovering nature plants flowers); the palette gives
    the colours. Variant 0 keeps the written palette, later ones shift it; every variant
    lays out terrain and props from its own seed.
    """
    text = _words(env.name, env.description, env.lighting, env.materials, env.atmosphere)
    story = _words(text, context)
    rng = np.random.default_rng([seed, variant, derive_seed(0, "environment", env.name)])
    hue, val = (
        (0.0, 1.0) if variant == 0 else (float(rng.uniform(6, 14)) * (-1) ** variant, float(rng.uniform(0.9, 1.1)))
    )
    palette = [adjust(hex_rgb(c), hue, 1.0, val) for c in env.palette]
    sky, horizon_c, ground = palette[0], palette[1], palette[2]
    accents = tuple(palette[3:]) or (adjust(ground, 120, 1.4, 1.2), adjust(ground, 220, 1.4, 1.2))
    props: list[str] = []
    for words, kinds in PROP_WORDS:
        if _has(story, *words):
            props.extend(kinds)
    ridge = next((kind for words, kind in RIDGE_WORDS if _has(text, *words)), "rolling")
    dark_sky = luminance(sky) < 0.3
    if _has(text, "moon", "lunar", "space", "asteroid", "orbit"):
        body = "planet"
    elif _has(text, "night", "midnight", "starlit", "moonlit"):
        body = "moon"
    elif _has(text, "sun", "sunlight", "sunny", "dawn", "dusk", "golden", "day", "daylight", "noon", "bright"):
        body = "sun"
    else:
        body = "none"
    greens = [c for c in accents if c[1] > c[0] and c[1] > c[2]]
    return EnvironmentLook(
        name=env.name,
        sky_top=sky,
        sky_low=horizon_c,
        ground_far=mix(ground, horizon_c, 0.3),
        ground_near=shade(ground, 0.82),
        ridge_far=mix(mix(ground, horizon_c, 0.55), sky, 0.25),
        ridge_near=shade(mix(ground, horizon_c, 0.25), 0.85),
        plant=greens[0] if greens else (74, 158, 84),
        accents=accents,
        light=_light_tint(text),
        horizon=float(rng.uniform(0.53, 0.6)),
        stars=_has(text, "night", "star", "starlit", "space") or (dark_sky and body in ("planet", "moon", "none")),
        sky_body=body,
        body_u=float(rng.uniform(0.15, 0.85)),
        ridge=ridge,
        props=tuple(props) or ("rock", "bush", "grass"),
        craters=_has(text, "moon", "lunar", "crater", "asteroid"),
        water=ridge == "flat",
        landmark=_landmark(story, space=body == "planet"),
        density=(14, 22, 30, 18)[variant % 4],
        layout_seed=int(rng.integers(2**31)),
    )


def _landmark(text: str, space: bool) -> str:
    """One bigger set piece the story calls for (a lander only where there is no air)."""
    for words, landmark in LANDMARK_WORDS:
        if _has(text, *words) and (landmark != "lander" or space):
            return landmark
    return "none"


def _light_tint(text: str) -> tuple[float, float, float]:
    """Colour of the light, read from the environment's words."""
    if _has(text, "sunset", "golden", "dusk", "warm", "amber", "candle", "fire"):
        return (1.08, 0.98, 0.84)
    if _has(text, "harsh", "stark", "glaring"):
        return (1.04, 1.04, 1.04)
    if _has(text, "night", "moonlit", "cold", "blue", "icy", "twilight"):
        return (0.88, 0.95, 1.08)
    if _has(text, "green", "toxic", "alien"):
        return (0.95, 1.06, 0.96)
    return (1.0, 1.0, 1.0)


# --------------------------------------------------------------------------- scenery layers


@dataclass(frozen=True)
class SetLayers:
    """The pre-rendered set: a far layer (sky, ridges) and a near layer (ground, props).

    Both span the whole set; the camera crops and scales them per frame. The near layer has
    a mask (the far layer shows through it) and two resolutions, like mip-maps, so wide
    shots do not scale much down and close shots do not turn to mush. `near_top` and
    `near_solid` bound the mask's soft band in world v: above `near_top` only the far layer
    shows, below `near_solid` only the near layer, so each frame composites just that band.
    """

    far: Image.Image
    far_scale: float
    near: tuple[tuple[float, Image.Image, Image.Image], ...]  # (px per world unit, RGB, mask)
    span: float
    near_top: float
    near_solid: float


#: Layers are drawn larger than they are kept and scaled down, which smooths their edges.
SUPERSAMPLE, MAX_DRAW_PX = 4, 8192


@lru_cache(maxsize=4)
def set_layers(look: EnvironmentLook, width: int, height: int) -> SetLayers:
    """Draw the set once per (look, frame size); cached because every clip of a film shares it.

    The far layer is kept at 1 px per frame pixel of a wide shot, the near layer at 1x and 2x
    (close shots magnify it). Both are drawn supersampled and scaled down, for smooth edges.
    """
    span = SET_SPAN * width / height

    def drawn(draw_layer, keep: float, extra: float) -> Image.Image:
        scale = min(keep * extra, MAX_DRAW_PX / span)
        return draw_layer(look, span, scale)

    def kept(image: Image.Image, scale: float) -> Image.Image:
        return image.resize((math.ceil(span * scale), math.ceil(scale)), Image.Resampling.BOX)

    far_scale = float(height)
    far = kept(drawn(_far_layer, far_scale, 2), far_scale)
    # Premultiply once, so scaling the big near layer twice does not convert it twice.
    near = drawn(_near_layer, height * 2.0, SUPERSAMPLE / 2).convert("RGBa")
    levels = []
    for scale in (height * 1.0, height * 2.0):
        image = kept(near, scale).convert("RGBA")
        levels.append((scale, image.convert("RGB"), image.getchannel("A")))
    tops, solids = [], []
    for scale, _, mask in levels:
        alpha = np.asarray(mask)
        rows = np.flatnonzero(alpha.max(axis=1) > 0)
        tops.append(rows[0] / scale if rows.size else 1.0)
        soft = np.flatnonzero(alpha.min(axis=1) < 255)
        solids.append((soft[-1] + 1) / scale if soft.size else 0.0)
    return SetLayers(
        far=far, far_scale=far_scale, near=tuple(levels), span=span, near_top=min(tops), near_solid=max(solids)
    )


def _gradient(size: tuple[int, int], stops: list[tuple[float, RGB]]) -> Image.Image:
    """A vertical gradient through colour stops at fractions of the height."""
    ys = np.linspace(0.0, 1.0, size[1])
    pos = [p for p, _ in stops]
    column = np.stack([np.interp(ys, pos, [c[i] for _, c in stops]) for i in range(3)], axis=1)
    column = np.clip(np.round(column), 0, 255).astype(np.uint8)
    return Image.fromarray(column[:, None, :]).resize(size, Image.Resampling.NEAREST)


def _ridge_profile(kind: str, xs: np.ndarray, rng: np.random.Generator, base: float, amp: float) -> np.ndarray:
    """Heights (world v, smaller = higher) of a ridge line across the set."""
    heights = np.zeros_like(xs)
    octaves = {
        "jagged": (3, 9, 22),
        "rolling": (1.2, 3, 6),
        "dunes": (1.5, 3.5),
        "treeline": (2, 5),
        "skyline": (2,),
        "flat": (1,),
    }[kind]
    for i, freq in enumerate(octaves):
        phase = rng.uniform(0, 2 * math.pi)
        heights += np.sin(xs * freq + phase) / (i + 1) ** (0.8 if kind == "jagged" else 1.4)
    if kind == "jagged":
        heights = np.abs(heights) * 1.2
    heights = (heights - heights.min()) / max(1e-6, np.ptp(heights))
    scale = {"flat": 0.08, "dunes": 0.45, "skyline": 0.4}.get(kind, 1.0)
    return base - amp * scale * heights


def _far_layer(look: EnvironmentLook, span: float, scale: float) -> Image.Image:
    size = (math.ceil(span * scale), math.ceil(scale))
    h = look.horizon
    image = _gradient(
        size,
        [
            (0.0, look.sky_top),
            (h * 0.55, mix(look.sky_top, look.sky_low, 0.45)),
            (h, look.sky_low),
            (1.0, look.ridge_far),
        ],
    )
    draw = ImageDraw.Draw(image, "RGBA")
    rng = np.random.default_rng([look.layout_seed, 1])
    if look.stars:
        for _ in range(int(span * 90)):
            x, y = rng.uniform(0, size[0]), rng.uniform(0, h * 0.85) * scale
            r = rng.choice([0.6, 0.9, 1.4]) * scale / 600
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 240, int(rng.integers(120, 255))))
    _sky_body(draw, look, span, scale)
    xs = np.linspace(0, span * 2 * math.pi / 3, 400)
    for colour, base, amp, kind in (
        (look.ridge_far, h + 0.005, 0.17, look.ridge),
        (look.ridge_near, h + 0.01, 0.09, "rolling" if look.ridge == "skyline" else look.ridge),
    ):
        profile = _ridge_profile(kind, xs, rng, base, amp)
        if kind == "skyline":
            _skyline(draw, look, colour, span, scale, base, rng)
            continue
        points = [(x / xs[-1] * size[0], y * scale) for x, y in zip(xs, profile, strict=True)]
        draw.polygon(points + [(size[0], size[1]), (0, size[1])], fill=colour)
        if kind == "treeline":
            for x, y in points[::3]:
                r = rng.uniform(0.012, 0.03) * scale
                draw.ellipse((x - r, y - r * 0.8, x + r, y + r * 1.2), fill=colour)
    return image


def _sky_body(draw: ImageDraw.ImageDraw, look: EnvironmentLook, span: float, scale: float) -> None:
    x, y = look.body_u * span * scale, look.horizon * 0.38 * scale
    if look.sky_body == "sun":
        for i, glow in enumerate((0.16, 0.11, 0.075)):
            r = glow * scale
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 240, 200, 40 + 30 * i))
        r = 0.05 * scale
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 250, 225, 255))
    elif look.sky_body == "moon":
        r = 0.045 * scale
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(236, 236, 226, 255))
        draw.ellipse((x - r * 0.4, y - r * 0.3, x, y + r * 0.1), fill=(210, 210, 200, 255))
    elif look.sky_body == "planet":
        r = 0.075 * scale
        draw.ellipse((x - r * 1.25, y - r * 1.25, x + r * 1.25, y + r * 1.25), fill=(120, 170, 255, 40))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(62, 118, 206, 255))
        for dx, dy, s in ((-0.35, -0.2, 0.45), (0.3, 0.25, 0.35), (0.1, -0.5, 0.25)):
            cx, cy = x + dx * r, y + dy * r
            draw.ellipse((cx - s * r, cy - s * r * 0.7, cx + s * r, cy + s * r * 0.7), fill=(86, 160, 92, 255))
        draw.chord((x - r, y - r, x + r, y + r), 300, 120, fill=(10, 14, 30, 150))
        draw.ellipse((x - r * 0.6, y - r * 0.9, x + r * 0.2, y - r * 0.5), fill=(255, 255, 255, 90))


def _skyline(
    draw: ImageDraw.ImageDraw,
    look: EnvironmentLook,
    colour: RGB,
    span: float,
    scale: float,
    base: float,
    rng: np.random.Generator,
) -> None:
    x = 0.0
    while x < span:
        w, hgt = rng.uniform(0.06, 0.16), rng.uniform(0.06, 0.24)
        draw.rectangle((x * scale, (base - hgt) * scale, (x + w) * scale, scale), fill=colour)
        for wy in np.arange(base - hgt + 0.015, base - 0.01, 0.03):
            for wx in np.arange(x + 0.012, x + w - 0.012, 0.025):
                if rng.random() < 0.4:
                    draw.rectangle(
                        (wx * scale, wy * scale, (wx + 0.008) * scale, (wy + 0.012) * scale),
                        fill=(*look.accents[0], 200),
                    )
        x += w + rng.uniform(0.0, 0.03)


def depth_scale(look: EnvironmentLook, v: float) -> float:
    """How big something standing at world height `v` looks, relative to one at the feet line."""
    return 0.25 + 0.75 * (v - look.horizon) / (FEET_V - look.horizon)


def _near_layer(look: EnvironmentLook, span: float, scale: float) -> Image.Image:
    size = (math.ceil(span * scale), math.ceil(scale))
    top = round(look.horizon * scale)
    ground = _gradient((size[0], size[1] - top), [(0.0, look.ground_far), (1.0, look.ground_near)])
    image = Image.new("RGBA", size, (*look.sky_low, 0))
    image.paste(ground, (0, top))
    draw = ImageDraw.Draw(image, "RGBA")
    rng = np.random.default_rng([look.layout_seed, 2])
    figure = 0.3 * scale  # a standing figure's height in px at the feet line
    if look.water:
        draw.rectangle((0, top, size[0], top + 0.05 * scale), fill=(*mix(look.sky_low, look.accents[0], 0.4), 255))
        for _ in range(int(span * 40)):
            x, y = rng.uniform(0, size[0]), top + rng.uniform(0.005, 0.045) * scale
            draw.line((x, y, x + rng.uniform(0.01, 0.04) * scale, y), fill=(255, 255, 255, 110), width=2)
    for _ in range(int(span * 160)):  # ground speckle, flattened by perspective
        v = look.horizon + (1 - look.horizon) * rng.random() ** 1.6
        x, y, s = rng.uniform(0, size[0]), v * scale, depth_scale(look, v) * figure * rng.uniform(0.01, 0.05)
        tone = shade(look.ground_near if v > 0.75 else look.ground_far, float(rng.uniform(0.75, 1.2)))
        draw.ellipse((x - s, y - s * 0.35, x + s, y + s * 0.35), fill=(*tone, 255))
    if look.craters:
        for _ in range(int(span * 5)):
            v = float(rng.uniform(look.horizon + 0.03, 0.98))
            x, s = rng.uniform(0, size[0]), depth_scale(look, v) * figure * rng.uniform(0.25, 0.6)
            y = v * scale
            draw.ellipse((x - s, y - s * 0.3, x + s, y + s * 0.3), fill=(*shade(look.ground_near, 1.18), 255))
            draw.ellipse(
                (x - s * 0.85, y - s * 0.22, x + s * 0.85, y + s * 0.24), fill=(*shade(look.ground_near, 0.7), 255)
            )
    placements = sorted(
        (
            float(rng.uniform(look.horizon + 0.01, FEET_V - 0.05)),
            float(rng.uniform(0, span)),
            str(rng.choice(look.props)),
        )
        for _ in range(round(look.density * span / 3))
    )
    if look.landmark != "none":
        placements.append((look.horizon + 0.08, float(rng.uniform(0.3, 0.7)) * span, look.landmark))
        placements.sort()
    for v, u, kind in placements:
        PROPS[kind](draw, look, u * scale, v * scale, depth_scale(look, v) * figure, rng)
    return image


def _rock(
    draw: ImageDraw.ImageDraw,
    look: EnvironmentLook,
    x: float,
    y: float,
    s: float,
    rng: np.random.Generator,
    big: float = 1.0,
) -> None:
    w, h = s * rng.uniform(0.18, 0.32) * big, s * rng.uniform(0.12, 0.22) * big
    angles = np.linspace(math.pi, 2 * math.pi, 7)
    pts = [(x + math.cos(a) * w * rng.uniform(0.8, 1.1), y + math.sin(a) * h * rng.uniform(0.75, 1.1)) for a in angles]
    base = shade(mix(look.ground_near, (90, 90, 96), 0.35), 0.8)
    draw.polygon(pts, fill=(*base, 255))
    draw.polygon([pts[1], pts[2], pts[3], (x, y - h * 0.3)], fill=(*shade(base, 1.35), 255))


def _boulder(
    draw: ImageDraw.ImageDraw, look: EnvironmentLook, x: float, y: float, s: float, rng: np.random.Generator
) -> None:
    _rock(draw, look, x, y, s, rng, big=2.0)


def _flower(
    draw: ImageDraw.ImageDraw, look: EnvironmentLook, x: float, y: float, s: float, rng: np.random.Generator
) -> None:
    for i in range(int(rng.integers(2, 5))):
        fx, stem = x + (i - 1.5) * s * 0.07 + rng.uniform(-0.02, 0.02) * s, s * rng.uniform(0.12, 0.3)
        draw.line((x, y, fx, y - stem), fill=(*look.plant, 255), width=max(1, round(s * 0.015)))
        colour = look.accents[int(rng.integers(len(look.accents)))]
        r = s * 0.03
        for a in np.linspace(0, 2 * math.pi, 6)[:-1]:
            px, py = fx + math.cos(a) * r, y - stem + math.sin(a) * r
            draw.ellipse((px - r * 0.8, py - r * 0.8, px + r * 0.8, py + r * 0.8), fill=(*colour, 255))
        draw.ellipse((fx - r * 0.6, y - stem - r * 0.6, fx + r * 0.6, y - stem + r * 0.6), fill=(250, 220, 90, 255))


def _fern(
    draw: ImageDraw.ImageDraw, look: EnvironmentLook, x: float, y: float, s: float, rng: np.random.Generator
) -> None:
    colour = (*shade(look.plant, float(rng.uniform(0.75, 1.1))), 255)
    for a in np.linspace(-1.1, 1.1, 7):
        length = s * rng.uniform(0.2, 0.35) * (1.2 - abs(a) * 0.3)
        tip = (x + math.sin(a) * length, y - math.cos(a) * length)
        draw.line((x, y, *tip), fill=colour, width=max(1, round(s * 0.025)))
        for t in (0.4, 0.65, 0.85):
            lx, ly = x + (tip[0] - x) * t, y + (tip[1] - y) * t
            r = s * 0.025
            draw.ellipse((lx - r, ly - r * 0.6, lx + r, ly + r * 0.6), fill=colour)


def _grass(
    draw: ImageDraw.ImageDraw, look: EnvironmentLook, x: float, y: float, s: float, rng: np.random.Generator
) -> None:
    colour = (*shade(look.plant, float(rng.uniform(0.7, 1.0))), 255)
    for _ in range(8):
        bx, h, lean = x + rng.uniform(-0.08, 0.08) * s, s * rng.uniform(0.08, 0.18), rng.uniform(-0.05, 0.05) * s
        draw.polygon([(bx - s * 0.012, y), (bx + s * 0.012, y), (bx + lean, y - h)], fill=colour)


def _clump(
    draw: ImageDraw.ImageDraw,
    look: EnvironmentLook,
    x: float,
    y: float,
    size: tuple[float, float],
    blobs: tuple[tuple[float, float, float], ...],
    rng: np.random.Generator,
) -> None:
    """Foliage: overlapping discs in shades of the plant colour, at offsets scaled by `size`."""
    for dx, dy, r in blobs:
        cx, cy, rr = x + dx * size[0], y + dy * size[1], r * size[0] * rng.uniform(0.85, 1.15)
        draw.ellipse(
            (cx - rr, cy - rr, cx + rr, cy + rr), fill=(*shade(look.plant, float(rng.uniform(0.6, 0.92))), 255)
        )


def _bush(
    draw: ImageDraw.ImageDraw, look: EnvironmentLook, x: float, y: float, s: float, rng: np.random.Generator
) -> None:
    _clump(draw, look, x, y, (s, s), ((-0.12, -0.08, 0.11), (0.1, -0.08, 0.1), (0.0, -0.15, 0.13)), rng)


def _tree(
    draw: ImageDraw.ImageDraw, look: EnvironmentLook, x: float, y: float, s: float, rng: np.random.Generator
) -> None:
    h = s * rng.uniform(1.1, 1.6)
    draw.rectangle((x - s * 0.04, y - h * 0.6, x + s * 0.04, y), fill=(96, 66, 44, 255))
    _clump(draw, look, x, y, (s, h), ((-0.15, -0.62, 0.22), (0.15, -0.64, 0.2), (0.0, -0.85, 0.26)), rng)


def _pine(
    draw: ImageDraw.ImageDraw, look: EnvironmentLook, x: float, y: float, s: float, rng: np.random.Generator
) -> None:
    h = s * rng.uniform(1.2, 1.8)
    draw.rectangle((x - s * 0.035, y - h * 0.25, x + s * 0.035, y), fill=(90, 60, 40, 255))
    colour = (*shade(look.plant, 0.6), 255)
    for i in range(3):
        base, tip, w = y - h * (0.18 + i * 0.22), y - h * (0.55 + i * 0.2), s * (0.28 - i * 0.06)
        draw.polygon([(x - w, base), (x + w, base), (x, tip)], fill=colour)


def _building(
    draw: ImageDraw.ImageDraw, look: EnvironmentLook, x: float, y: float, s: float, rng: np.random.Generator
) -> None:
    w, h = s * rng.uniform(0.5, 0.9), s * rng.uniform(1.2, 2.6)
    wall = mix(look.ground_far, (120, 120, 130), 0.5)
    draw.rectangle((x - w / 2, y - h, x + w / 2, y), fill=(*shade(wall, float(rng.uniform(0.8, 1.1))), 255))
    for wy in np.arange(y - h + s * 0.12, y - s * 0.15, s * 0.22):
        for wx in np.arange(x - w / 2 + s * 0.08, x + w / 2 - s * 0.1, s * 0.18):
            lit = look.accents[0] if rng.random() < 0.5 else shade(wall, 0.6)
            draw.rectangle((wx, wy, wx + s * 0.08, wy + s * 0.1), fill=(*lit, 255))


def _lamp(
    draw: ImageDraw.ImageDraw, look: EnvironmentLook, x: float, y: float, s: float, rng: np.random.Generator
) -> None:
    h = s * 1.2
    draw.line((x, y, x, y - h), fill=(60, 60, 66, 255), width=max(1, round(s * 0.03)))
    r = s * 0.06
    draw.ellipse((x - r * 2.5, y - h - r * 2.5, x + r * 2.5, y - h + r * 2.5), fill=(*look.accents[0], 60))
    draw.ellipse((x - r, y - h - r, x + r, y - h + r), fill=(255, 240, 200, 255))


def _cactus(
    draw: ImageDraw.ImageDraw, look: EnvironmentLook, x: float, y: float, s: float, rng: np.random.Generator
) -> None:
    colour, w, h = (*shade(look.plant, 0.8), 255), s * 0.07, s * rng.uniform(0.5, 0.8)
    draw.rounded_rectangle((x - w, y - h, x + w, y), radius=w, fill=colour)
    for side in (-1, 1):
        ax, ay = x + side * s * 0.14, y - h * rng.uniform(0.45, 0.7)
        draw.rounded_rectangle(
            (min(x, ax) - w * 0.6, ay - w * 0.6, max(x, ax) + w * 0.6, ay + w * 0.6), radius=w * 0.6, fill=colour
        )
        draw.rounded_rectangle((ax - w * 0.6, ay - h * 0.3, ax + w * 0.6, ay + w * 0.6), radius=w * 0.6, fill=colour)


def _crystal(
    draw: ImageDraw.ImageDraw, look: EnvironmentLook, x: float, y: float, s: float, rng: np.random.Generator
) -> None:
    colour = look.accents[int(rng.integers(len(look.accents)))]
    for lean in (-0.35, 0.0, 0.3):
        h, w = s * rng.uniform(0.2, 0.45), s * 0.05
        tip = (x + math.sin(lean) * h + lean * s * 0.1, y - math.cos(lean) * h)
        base_x = x + lean * s * 0.1
        draw.polygon([(base_x - w, y), (base_x + w, y), tip], fill=(*colour, 230))
        draw.polygon([(base_x, y), (base_x + w, y), tip], fill=(*shade(colour, 1.3), 230))


def _lander(
    draw: ImageDraw.ImageDraw, look: EnvironmentLook, x: float, y: float, s: float, rng: np.random.Generator
) -> None:
    """A small landing craft: the stranded traveller's way home (drawn once per set)."""
    w, h = s * 0.9, s * 0.45
    foil, grey = (206, 168, 64, 255), (188, 190, 196, 255)
    for side in (-1, 1):
        draw.line((x + side * w * 0.4, y - h * 0.9, x + side * w * 0.75, y), fill=grey, width=max(2, round(s * 0.03)))
        draw.ellipse(
            (x + side * w * 0.75 - s * 0.06, y - s * 0.02, x + side * w * 0.75 + s * 0.06, y + s * 0.02), fill=grey
        )
    draw.rectangle((x - w * 0.45, y - h * 1.35, x + w * 0.45, y - h * 0.75), fill=foil)
    draw.polygon(
        [
            (x - w * 0.38, y - h * 1.35),
            (x + w * 0.38, y - h * 1.35),
            (x + w * 0.28, y - h * 2.1),
            (x - w * 0.3, y - h * 2.05),
        ],
        fill=grey,
    )
    draw.ellipse((x - s * 0.07, y - h * 1.85, x + s * 0.07, y - h * 1.65), fill=(40, 50, 80, 255))
    draw.line((x + w * 0.55, y, x + w * 0.55, y - h * 2.4), fill=(220, 220, 220, 255), width=max(1, round(s * 0.015)))
    draw.rectangle((x + w * 0.55, y - h * 2.4, x + w * 0.85, y - h * 2.1), fill=(*look.accents[0], 255))


def _lighthouse(
    draw: ImageDraw.ImageDraw, look: EnvironmentLook, x: float, y: float, s: float, rng: np.random.Generator
) -> None:
    w0, w1, h = s * 0.32, s * 0.2, s * 2.4
    bands = 6
    for i in range(bands):  # a striped tower, narrowing upward
        t0, t1 = i / bands, (i + 1) / bands
        wa, wb = w0 + (w1 - w0) * t0, w0 + (w1 - w0) * t1
        colour = (236, 236, 230, 255) if i % 2 == 0 else (*shade(look.accents[-1], 0.9), 255)
        draw.polygon(
            [(x - wa, y - h * t0), (x + wa, y - h * t0), (x + wb, y - h * t1), (x - wb, y - h * t1)], fill=colour
        )
    draw.rectangle((x - w1 * 0.9, y - h - s * 0.25, x + w1 * 0.9, y - h), fill=(250, 232, 160, 255))
    draw.polygon(
        [(x - w1 * 1.2, y - h - s * 0.25), (x + w1 * 1.2, y - h - s * 0.25), (x, y - h - s * 0.5)],
        fill=(60, 60, 66, 255),
    )


def _hut(
    draw: ImageDraw.ImageDraw, look: EnvironmentLook, x: float, y: float, s: float, rng: np.random.Generator
) -> None:
    w, h = s * 0.8, s * 0.55
    draw.rectangle((x - w / 2, y - h, x + w / 2, y), fill=(122, 84, 56, 255))
    draw.polygon([(x - w * 0.65, y - h), (x + w * 0.65, y - h), (x, y - h - s * 0.45)], fill=(84, 56, 40, 255))
    draw.polygon(
        [(x - w * 0.6, y - h - s * 0.02), (x + w * 0.6, y - h - s * 0.02), (x, y - h - s * 0.42)],
        fill=(*mix(look.ground_near, WHITE, 0.5), 255),
    )
    draw.rectangle((x - w * 0.12, y - h * 0.6, x + w * 0.12, y), fill=(60, 40, 30, 255))
    draw.rectangle((x + w * 0.2, y - h * 0.75, x + w * 0.4, y - h * 0.5), fill=(250, 210, 120, 255))


def _big_tree(
    draw: ImageDraw.ImageDraw, look: EnvironmentLook, x: float, y: float, s: float, rng: np.random.Generator
) -> None:
    _tree(draw, look, x, y, s * 2.2, rng)


PROPS = {
    "rock": _rock,
    "boulder": _boulder,
    "flower": _flower,
    "fern": _fern,
    "grass": _grass,
    "bush": _bush,
    "tree": _tree,
    "pine": _pine,
    "building": _building,
    "lamp": _lamp,
    "cactus": _cactus,
    "crystal": _crystal,
    "lander": _lander,
    "lighthouse": _lighthouse,
    "hut": _hut,
    "big_tree": _big_tree,
}


# --------------------------------------------------------------------------- text

_fonts = threading.local()


def font(size: int) -> ImageFont.FreeTypeFont:
    """Pillow's bundled font at a size; one cache per thread (FreeType faces are not shared)."""
    cache = _fonts.__dict__.setdefault("cache", {})
    if size not in cache:
        cache[size] = ImageFont.load_default(size=size)
    return cache[size]


def wrap(text: str, face: ImageFont.FreeTypeFont, max_width: float, max_lines: int) -> list[str]:
    """Greedy word wrap; an ellipsis marks text that did not fit in `max_lines`."""
    lines: list[str] = []
    for word in text.split():
        if lines and face.getlength(f"{lines[-1]} {word}") <= max_width:
            lines[-1] = f"{lines[-1]} {word}"
        elif len(lines) < max_lines:
            lines.append(word)
        else:
            lines[-1] = lines[-1].rstrip(".,;:") + "…"
            break
    return lines
