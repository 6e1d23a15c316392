"""Props in hand: what a character holds, drawn so it can be recognised, moving with the hand that holds it.

A prop is named in plain words (an action beat's prop, or a keyframe edit: "give her a lantern"). Its
last known noun picks a drawing (PROP_SHAPES; plurals count: "candles" are a candelabra), and a colour
word in it ("a red umbrella") its colour. Most props sit in the hand. A person holds a few with the
whole body (:func:`draw_held`):

    umbrella     open over the head, wide enough to shelter two figures side by side
    violin       under the chin with the bow across the strings while it is played (the violin hand
                 raised: figures.PROP_GESTURES makes "hold up a violin" play it), else hanging in the hand
    sword        the blade along the forearm; a shield on the forearm; a fishing rod held forward with
                 its line and float; a paintbrush, a candle, a candelabra, a torch, a lantern

Everything is in figure units (1.0 = the figure's height, y down) and a pure function of its arguments.
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

from PIL import ImageColor

from filmstitch.renderers.animatic.looks import RGB, WHITE, mix, shade
from filmstitch.renderers.animatic.pen import Pen

Point = tuple[float, float]

PROP_SHAPES = {"pearl": "orb", "orb": "orb", "gem": "orb", "crystal": "orb", "egg": "egg", "letter": "letter",
               "envelope": "letter", "postcard": "letter", "parcel": "box", "package": "box", "gift": "box",
               "present": "box", "box": "box", "chest": "box", "treasure": "box", "map": "scroll", "scroll": "scroll",
               "key": "key", "book": "book", "diary": "book", "journal": "book", "flower": "sprout",
               "flowers": "sprout", "shoots": "sprout", "seed": "sprout", "seedling": "sprout", "plant": "sprout",
               "sapling": "sprout", "lantern": "lantern", "lamp": "lantern", "crown": "crown", "shell": "shell",
               "seashell": "shell", "bread": "loaf", "loaf": "loaf", "loaves": "loaf", "baguette": "loaf",
               "cake": "loaf", "kite": "kite", "star": "orb", "compass": "orb", "bottle": "bottle",
               "message": "bottle", "feather": "feather", "stone": "egg", "coin": "orb",
               "umbrella": "umbrella", "parasol": "umbrella", "violin": "violin", "fiddle": "violin",
               "viola": "violin", "sword": "sword", "sabre": "sword", "saber": "sword", "blade": "sword",
               "shield": "shield", "candle": "candle", "candlestick": "candle", "candles": "candles",
               "candelabra": "candles", "torch": "torch", "rod": "rod", "fishing_rod": "rod", "brush": "brush",
               "paintbrush": "brush"}
#: A prop's colour when its words name none (None: the holder's accent colour).
COLOURS: dict[str, RGB | None] = {"violin": (170, 88, 38), "sword": (214, 220, 230), "candle": (244, 236, 214),
                                  "candles": (244, 236, 214), "torch": (120, 84, 50), "rod": (120, 84, 50),
                                  "loaf": (200, 140, 70)}
#: How far a prop reaches beyond the hand (figure units): the sprite is made big enough to hold it.
REACH = {"sword": 0.45, "rod": 0.8, "violin": 0.34, "shield": 0.2, "brush": 0.2, "torch": 0.3, "candle": 0.18,
         "candles": 0.18, "lantern": 0.16}
#: The open umbrella: half its width and its height (figure units).
CANOPY_R, CANOPY_H = 0.68, 0.3
FLAME: RGB = (255, 196, 70)
#: How big a prop in the hand is drawn (figure units across).
HAND_SIZE = 0.12


class Grip(NamedTuple):
    """Where a person's body is, for props drawn from more than the hand (figure units)."""

    hand: Point  # the hand that holds the prop
    elbow: Point  # that arm's elbow
    other: Point  # the other hand (it draws a violin's bow)
    head: Point
    head_r: float
    shoulder_y: float
    d: float  # facing, -1..1


def prop_shape(prop: str) -> str:
    """The drawing of a prop named in words: its last noun that has one, singular or plural; else an orb."""
    words = prop.lower().replace("-", " ").split()
    words = [*words, "_".join(words[-2:])] if len(words) > 1 else words  # "fishing rod" as one word too
    for word in reversed(words):
        for form in (word, word[:-1] if word.endswith("s") else "", word[:-2] if word.endswith("es") else ""):
            if form in PROP_SHAPES:
                return PROP_SHAPES[form]
    return "orb"


def prop_colour(prop: str, shape: str, accent: RGB) -> RGB:
    """The colour a prop's words name ("a red umbrella"), else its own (a violin is wood), else the holder's."""
    for word in prop.lower().replace("-", " ").split():
        try:
            return ImageColor.getrgb(word)[:3]
        except ValueError:
            continue
    return COLOURS.get(shape) or accent


def playing(grip: Grip) -> float:
    """How far a violin is lifted to the chin (0: hanging in the hand .. 1: played), from the hand's height."""
    return min(1.0, max(0.0, (grip.shoulder_y + 0.06 - grip.hand[1]) / 0.12))


def umbrella_canopy(grip: Grip) -> Point:
    """Where the open umbrella's rim is centred: above the head, a little towards where the holder faces."""
    hx, hy = grip.hand
    top = grip.head[1] - grip.head_r * 1.35
    return hx * 0.4 + grip.head[0] * 0.6 + grip.d * 0.1, min(top - 0.04, hy - 0.12)


def prop_reach(shape: str) -> float:
    """How far sideways from the feet a prop held by a person can reach (figure heights)."""
    if shape == "umbrella":
        return CANOPY_R + 0.3
    return 0.35 + REACH.get(shape, 0.12)


def held_extent(shape: str, grip: Grip) -> tuple[float, float, float]:
    """(left, top, right) the prop reaches to (figure units), so the sprite holds it whole."""
    if shape == "umbrella":
        cx, rim = umbrella_canopy(grip)
        return cx - CANOPY_R - 0.03, rim - CANOPY_H - 0.08, cx + CANOPY_R + 0.03
    reach = REACH.get(shape, 0.12)
    hx, hy = grip.hand
    return hx - reach, hy - reach, hx + reach


# --------------------------------------------------------------------------- held by a person


def draw_held(pen: Pen, shape: str, grip: Grip, colour: RGB, clock: float, opening: float = 1.0) -> None:
    """A prop a person holds, drawn from the hand (and, for some, the head and the other hand); `opening`: how
    far an umbrella is open (it opens as it is picked up, so it does not appear all at once)."""
    if shape == "umbrella":
        _umbrella(pen, grip, colour, opening)
    elif shape == "violin":
        _violin(pen, grip, colour, clock)
    elif shape == "sword":
        _sword(pen, grip.hand, _unit(grip.hand[0] - grip.elbow[0], grip.hand[1] - grip.elbow[1]), colour)
    elif shape == "shield":
        ex, ey = grip.elbow
        hx, hy = grip.hand
        _shield(pen, ((ex + hx) / 2 + grip.d * 0.02, (ey + hy) / 2), colour)
    elif shape == "rod":
        _rod(pen, grip.hand, 1 if grip.d >= 0 else -1, colour, clock)
    else:
        draw_prop(pen, shape, grip.hand, HAND_SIZE, colour, clock)


def _unit(x: float, y: float) -> Point:
    length = math.hypot(x, y) or 1.0
    return x / length, y / length


def _umbrella(pen: Pen, grip: Grip, colour: RGB, opening: float) -> None:
    hx, hy = grip.hand
    cx, rim = umbrella_canopy(grip)
    s = 1 if grip.d >= 0 else -1
    top = (cx, rim - CANOPY_H)
    radius = CANOPY_R * (0.08 + 0.92 * opening)  # furled: a slim cone round the shaft
    dark = shade(colour, 0.7)
    pen.capsule([(hx - s * 0.035, hy + 0.05), (hx - s * 0.035, hy + 0.07), (hx, hy + 0.07), (hx, hy)], 0.018,
                (70, 52, 40))  # the crook of the handle, under the hand
    pen.capsule([(hx, hy), top], 0.016, (70, 64, 66))
    ribs = 6
    arc = [(cx + radius * math.cos(math.pi + math.pi * i / 24), rim - CANOPY_H * math.sin(math.pi * i / 24))
           for i in range(25)]
    tips = [(cx - radius + 2 * radius * i / ribs, rim) for i in range(ribs + 1)]
    scallops = []  # the rim sags between the rib tips
    for a, b in itertools.pairwise(tips):
        scallops += [a, ((a[0] + b[0]) / 2, rim - 0.035 * opening)]
    pen.polygon(arc + scallops[::-1][:-1] + [tips[0]], colour)
    for i, tip in enumerate(tips[1:-1]):
        pen.capsule([top, (tip[0], tip[1] - 0.005)], 0.008, dark if i % 2 else shade(colour, 0.85), outline=False)
    pen.capsule([top, (cx, rim - CANOPY_H - 0.05)], 0.02, (70, 64, 66))


def _violin(pen: Pen, grip: Grip, colour: RGB, clock: float) -> None:
    """In the hand by its neck, or (while played) body under the chin, neck to the raised hand, bow across."""
    w = playing(grip)
    hx, hy = grip.hand
    cx, cy = grip.head
    chin = (cx + grip.d * grip.head_r * 0.25, cy + grip.head_r * 0.95)
    rest = (hx, hy + 0.11)
    centre = (rest[0] + (chin[0] + grip.d * 0.03 - rest[0]) * w, rest[1] + (chin[1] + 0.03 - rest[1]) * w)
    to_hand = _unit(hx - centre[0], hy - centre[1])
    axis = _unit(0.0 * (1 - w) + to_hand[0] * w, -1.0 * (1 - w) + to_hand[1] * w)  # body -> scroll
    side = (-axis[1], axis[0])

    def at(u: float, v: float) -> Point:  # violin units: 0.3 figure heights from the bottom to the scroll
        u, v = u * 1.2, v * 1.2
        return centre[0] + axis[0] * u + side[0] * v, centre[1] + axis[1] * u + side[1] * v

    outline = [(-0.1, 0.0), (-0.095, 0.04), (-0.07, 0.055), (-0.035, 0.05), (-0.015, 0.03), (0.01, 0.03),
               (0.03, 0.045), (0.06, 0.04), (0.075, 0.0)]
    body = [at(u, v) for u, v in outline] + [at(u, -v) for u, v in reversed(outline)]
    pen.capsule([at(0.07, 0.0), at(0.2, 0.0)], 0.024, (52, 36, 30))  # the neck
    pen.ellipse(at(0.215, 0.0), 0.018, 0.018, (52, 36, 30))  # the scroll
    pen.polygon(body, colour)
    for v in (-0.02, 0.02):  # f-holes
        pen.capsule([at(-0.03, v), at(0.01, v)], 0.005, shade(colour, 0.45), outline=False)
    pen.capsule([at(-0.075, 0.0), at(0.2, 0.0)], 0.004, (236, 228, 200), outline=False)  # strings
    ox, oy = grip.other
    cross = at(-0.045, 0.0)  # where a played bow crosses the strings
    hang = _unit((1 if grip.d >= 0 else -1) * 0.15, 1.0)
    into = _unit(cross[0] - ox, cross[1] - oy)
    direction = _unit(hang[0] * (1 - w) + into[0] * w, hang[1] * (1 - w) + into[1] * w)
    start = (ox - direction[0] * 0.03, oy - direction[1] * 0.03)
    end = (ox + direction[0] * 0.42, oy + direction[1] * 0.42)
    pen.capsule([start, end], 0.009, (70, 48, 34))
    normal = (-direction[1] * 0.012, direction[0] * 0.012)
    pen.capsule([(start[0] + normal[0], start[1] + normal[1]), (end[0] + normal[0], end[1] + normal[1])], 0.004,
                (240, 236, 224), outline=False)


def _sword(pen: Pen, hand: Point, direction: Point, colour: RGB) -> None:
    """A sword along the forearm: pommel, grip in the hand, crossguard, blade."""
    hx, hy = hand
    dx, dy = direction
    px, py = -dy, dx
    guard = (hx + dx * 0.035, hy + dy * 0.035)
    pen.capsule([guard, (hx + dx * 0.4, hy + dy * 0.4)], 0.028, colour)
    pen.capsule([(hx - dx * 0.035, hy - dy * 0.035), guard], 0.022, (92, 60, 40))
    pen.capsule([(guard[0] - px * 0.055, guard[1] - py * 0.055), (guard[0] + px * 0.055, guard[1] + py * 0.055)],
                0.02, (176, 146, 70))
    pen.ellipse((hx - dx * 0.05, hy - dy * 0.05), 0.017, 0.017, (176, 146, 70))


def _shield(pen: Pen, at: Point, colour: RGB) -> None:
    """A heater shield: flat top, curved sides to a point, a cross on its face."""
    x, y = at
    pen.polygon([(x - 0.1, y - 0.12), (x + 0.1, y - 0.12), (x + 0.1, y + 0.0), (x + 0.07, y + 0.08), (x, y + 0.14),
                 (x - 0.07, y + 0.08), (x - 0.1, y + 0.0)], colour)
    mark = mix(colour, WHITE, 0.6)
    pen.rect((x - 0.015, y - 0.1, x + 0.015, y + 0.1), mark, 0.005, outline=False)
    pen.rect((x - 0.08, y - 0.05, x + 0.08, y - 0.02), mark, 0.005, outline=False)


def _rod(pen: Pen, hand: Point, s: int, colour: RGB, clock: float) -> None:
    """A fishing rod held forward and up, its line hanging to a float."""
    hx, hy = hand
    tip = (hx + s * 0.52, hy - 0.52)
    pen.capsule([(hx - s * 0.05, hy + 0.05), tip], 0.014, colour)
    pen.ellipse((hx - s * 0.02, hy + 0.03), 0.022, 0.022, (150, 150, 158))  # the reel
    float_at = (tip[0] + s * 0.03, hy + 0.28 + 0.015 * math.sin(clock * 1.7))
    pen.capsule([tip, float_at], 0.004, (230, 230, 230), outline=False)
    pen.ellipse(float_at, 0.022, 0.022, (220, 50, 40))
    pen.ellipse((float_at[0], float_at[1] - 0.008), 0.02, 0.01, (250, 250, 250), outline=False)


def _flame(pen: Pen, x: float, y: float, size: float, clock: float, phase: float = 0.0) -> None:
    """A small flame standing on (x, y), with a warm halo; it flickers with the clock."""
    tall = size * (1.0 + 0.12 * math.sin(clock * 11 + phase) + 0.06 * math.sin(clock * 17 + phase))
    pen.ellipse((x, y - tall * 0.5), size * 1.3, size * 1.3, (255, 214, 120, 55), outline=False)
    pen.polygon([(x - size * 0.35, y - tall * 0.25), (x, y - tall * 1.1), (x + size * 0.35, y - tall * 0.25),
                 (x, y + size * 0.05)], FLAME, outline=False)
    pen.ellipse((x, y - tall * 0.28), size * 0.14, size * 0.22, (255, 250, 220), outline=False)


# --------------------------------------------------------------------------- in the hand


def draw_prop(pen: Pen, shape: str, at: Point, size: float, colour: RGB, clock: float) -> None:
    """A prop in the hand at `at` (figure units), about `size` across (long props reach further)."""
    x, y = at
    r = size / 2
    if shape == "orb":
        glow = 60 + int(30 * math.sin(clock * 4))
        pen.ellipse((x, y), r * 1.8, r * 1.8, (255, 250, 220, glow), outline=False)
        pen.ellipse((x, y), r, r, (246, 244, 236))
    elif shape == "egg":
        pen.ellipse((x, y), r * 0.8, r, mix(colour, WHITE, 0.6))
    elif shape == "letter":
        pen.rect((x - r * 1.3, y - r * 0.85, x + r * 1.3, y + r * 0.85), (244, 238, 220), r * 0.1)
        pen.polygon([(x - r * 1.3, y - r * 0.85), (x, y + r * 0.1), (x + r * 1.3, y - r * 0.85)], (214, 200, 170))
        pen.ellipse((x, y + r * 0.1), r * 0.2, r * 0.2, (180, 40, 40), outline=False)  # the seal
    elif shape == "box":
        pen.rect((x - r, y - r, x + r, y + r), colour, r * 0.1)
        pen.rect((x - r * 0.15, y - r, x + r * 0.15, y + r), mix(colour, WHITE, 0.5), 0, outline=False)
    elif shape == "scroll":
        pen.rect((x - r * 1.3, y - r * 0.7, x + r * 1.3, y + r * 0.7), (232, 214, 170), r * 0.2)
    elif shape == "key":
        pen.ellipse((x - r * 0.6, y), r * 0.45, r * 0.45, (216, 184, 72))
        pen.capsule([(x - r * 0.2, y), (x + r * 1.2, y)], r * 0.25, (216, 184, 72))
    elif shape == "book":
        pen.rect((x - r, y - r * 1.2, x + r, y + r * 1.2), colour, r * 0.1)
    elif shape == "sprout":
        pen.capsule([(x, y + r), (x, y - r * 0.4)], r * 0.2, (60, 150, 70), outline=False)
        pen.ellipse((x + r * 0.45, y - r * 0.5), r * 0.5, r * 0.25, (90, 190, 90))
        pen.ellipse((x - r * 0.45, y - r * 0.3), r * 0.45, r * 0.22, (90, 190, 90))
    elif shape == "lantern":  # hanging from the hand by its ring, glowing
        pen.capsule([(x, y), (x, y + r * 0.6)], r * 0.12, (60, 52, 48))
        pen.ellipse((x, y + r * 1.6), r * 1.7, r * 1.7, (255, 214, 120, 50), outline=False)
        pen.polygon([(x - r * 0.8, y + r * 0.95), (x, y + r * 0.5), (x + r * 0.8, y + r * 0.95)], (90, 70, 50))
        pen.rect((x - r * 0.6, y + r * 0.95, x + r * 0.6, y + r * 2.3), (190, 150, 70), r * 0.1)
        glow = 210 + int(30 * math.sin(clock * 7))
        pen.rect((x - r * 0.42, y + r * 1.1, x + r * 0.42, y + r * 2.15), (255, glow, 110), r * 0.1, outline=False)
    elif shape == "crown":
        pen.polygon([(x - r, y + r * 0.5), (x - r, y - r * 0.5), (x - r * 0.4, y), (x, y - r * 0.7), (x + r * 0.4, y),
                     (x + r, y - r * 0.5), (x + r, y + r * 0.5)], (216, 184, 72))
    elif shape == "shell":
        pen.polygon([(x - r, y + r * 0.4), (x, y - r * 0.8), (x + r, y + r * 0.4)], (246, 200, 190))
    elif shape == "loaf":  # a round loaf with three slashes across its crust
        pen.ellipse((x, y), r * 1.5, r * 0.85, colour)
        for dx in (-0.6, 0.0, 0.6):
            pen.capsule([(x + r * (dx - 0.2), y - r * 0.35), (x + r * (dx + 0.2), y + r * 0.25)], r * 0.14,
                        mix(colour, WHITE, 0.45), outline=False)
    elif shape == "bottle":
        pen.rect((x - r * 0.4, y - r, x + r * 0.4, y + r), (140, 200, 190), r * 0.2)
    elif shape == "feather":
        pen.ellipse((x, y), r * 0.3, r * 1.2, mix(colour, WHITE, 0.3))
    elif shape == "candle":  # a candle on a little dish, lit
        pen.ellipse((x, y + r * 0.2), r * 0.9, r * 0.3, (176, 146, 70))
        pen.rect((x - r * 0.3, y - r * 1.9, x + r * 0.3, y + r * 0.15), colour, r * 0.08)
        _flame(pen, x, y - r * 1.95, r * 0.75, clock)
    elif shape == "candles":  # a three-branched candelabra, every candle lit
        brass = (190, 156, 72)
        pen.capsule([(x, y + r * 0.3), (x, y - r * 1.0)], r * 0.25, brass)
        pen.capsule([(x - r * 1.3, y - r * 1.3), (x - r * 1.3, y - r * 0.8), (x + r * 1.3, y - r * 0.8),
                     (x + r * 1.3, y - r * 1.3)], r * 0.2, brass)
        for i, cx in enumerate((x - r * 1.3, x, x + r * 1.3)):
            top = y - r * (2.6 if cx == x else 2.3)
            pen.rect((cx - r * 0.22, top, cx + r * 0.22, y - r * (1.0 if cx == x else 1.3)), colour, r * 0.06)
            _flame(pen, cx, top - r * 0.05, r * 0.6, clock, phase=i * 2.1)
    elif shape == "torch":
        pen.capsule([(x, y + r * 0.8), (x, y - r * 2.2)], r * 0.35, colour)
        pen.rect((x - r * 0.45, y - r * 2.6, x + r * 0.45, y - r * 2.1), (90, 70, 60), r * 0.1)
        _flame(pen, x, y - r * 2.6, r * 1.3, clock)
    elif shape == "brush":  # a paintbrush: wooden handle, metal ferrule, a painted tip
        pen.capsule([(x - r * 0.2, y + r * 0.6), (x + r * 0.5, y - r * 2.0)], r * 0.3, (150, 104, 60))
        pen.capsule([(x + r * 0.5, y - r * 2.0), (x + r * 0.62, y - r * 2.45)], r * 0.36, (190, 192, 200))
        pen.polygon([(x + r * 0.45, y - r * 2.45), (x + r * 0.8, y - r * 2.4), (x + r * 0.85, y - r * 3.2)], colour)
    elif shape == "umbrella":  # a small open umbrella (held by an animal or an object: above its head)
        pen.capsule([(x, y), (x, y - r * 4)], r * 0.2, (70, 64, 66))
        pen.polygon([(x + r * 3 * math.cos(math.pi + math.pi * i / 12), y - r * 3.4 - r * 1.6 *
                      math.sin(math.pi * i / 12)) for i in range(13)], colour)
    elif shape == "violin":
        pen.ellipse((x, y + r * 1.4), r * 0.8, r * 1.3, colour)
        pen.capsule([(x, y + r * 0.4), (x, y - r * 1.2)], r * 0.25, (52, 36, 30))
    elif shape == "sword":
        _sword(pen, at, (0.0, -1.0), colour)
    elif shape == "shield":
        _shield(pen, (x, y + 0.05), colour)
    elif shape == "rod":
        _rod(pen, at, 1, colour, clock)
    else:  # kite
        pen.polygon([(x, y - r), (x + r * 0.7, y), (x, y + r), (x - r * 0.7, y)], colour)
