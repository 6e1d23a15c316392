"""Figures: every character kind drawn with its own silhouette, posable and turnable.

One entry point, :func:`figure_sprite`, draws a look in a pose (:class:`Limbs`), turned by
`facing` (a number: -1 profile left, 0 front, +1 profile right, anything between while turning,
so a turn is animated over many frames instead of snapping), at a moment `clock` (seconds, for
flickers and waves). Body plans:

    humanoid   people, robots, most creatures: a jointed skeleton (forward kinematics)
    quadruped  cats, dogs, foxes, dragons...: body, four legs, head with ears, tail
    bird       crows, herons (long legs), clockwork birds: body, wings, beak
    tentacled  octopus, squid, jellyfish: mantle and waving arms
    fish       fish, whales, dolphins: body, tail fin, fins
    blob       ghosts, spirits, sprouts: a floating rounded body with a face
    object     lanterns, teapots, clocks, books...: the object with eyes and a mouth
    snail      snails (slugs without the shell): a soft foot, a spiral shell, eye stalks
    insect     butterflies and moths (painted wings), bees, wasps, fireflies (small wings), ants,
               ladybirds and beetles (a spotted dome), spiders: segments, legs, antennae
    train      trains, trams, locomotives: an engine with a face pulling two carriages
    cloud, flame, swirl, ribbon, wave, disc   weather and forces, with a face

People wear what their appearance names (armour, a tabard, a cloak, an apron: looks.GARMENT_WORDS)
and hold props (props.py) in their first hand.

Everything is pure (same arguments, same pixels), so renders are reproducible and thread-safe.
Figure units: 1.0 = the figure's height; x right, y down, the ground under the figure at y=0.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw

from filmstitch.renderers.animatic.looks import BIG_WINGED, RGB, SMALL_WINGED, WHITE, CharacterLook, mix, shade
from filmstitch.renderers.animatic.pen import Pen
from filmstitch.renderers.animatic.props import (
    HAND_SIZE,
    Grip,
    draw_held,
    draw_prop,
    held_extent,
    playing,
    prop_colour,
    prop_reach,
    prop_shape,
)
from filmstitch.writers.offline.data_files import species

DARK: RGB = (30, 28, 36)
#: Armour's steel, light and dark.
STEEL: RGB = (178, 184, 196)
STEEL_DARK: RGB = (118, 124, 138)


class Limbs(NamedTuple):
    """Joint angles of a figure in degrees (0 points down, positive forward); every plan reads them.

    Humanoids use them as joints. Other plans read the same numbers as: thigh1/thigh2 the swing of
    legs, arm1 a raised limb (a paw, a wing, a tentacle), head a look up, seat > 0.5 sitting, lift a
    hop or flight above the ground (figure heights).
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
    lift: float = 0.0

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
    "reach": Limbs(10, 10, 4, -12, 14, 95, 10, 25, 20, 12, 0),
    "look_up": Limbs(-6, 3, 0, -3, 0, 10, 10, -10, 10, 32, 0),
    "wave": Limbs(0, 3, 0, -3, 0, 150, 25, -8, 10, 6, 0),
}
#: Gestures of the plan's action beats, as poses (played over a window around the beat's time).
GESTURES: dict[str, Limbs] = {
    "point": Limbs(4, 5, 0, -5, 0, 88, 0, -10, 10, 4, 0),
    "reach": POSES["reach"],
    "touch": Limbs(18, 20, 10, -8, 20, 70, 10, -10, 20, -8, 0),
    "pick_up": Limbs(8, 88, 88, -4, 94, 45, 20, -5, 20, -10, 0),
    "hold_up": Limbs(0, 3, 0, -3, 0, 118, 40, -118, 40, 20, 0),
    "give": Limbs(6, 5, 0, -5, 0, 75, 5, -10, 10, 0, 0),
    "wave": POSES["wave"],
    "hug": Limbs(8, 5, 0, -5, 0, 80, 60, 80, 60, 0, 0),
    "jump": Limbs(4, 30, 60, -20, 60, 140, 20, -140, 20, 10, 0, 0.35),
    "look_around": Limbs(0, 3, 0, -3, 0, 8, 10, -8, 10, 12, 0),
    "nod": Limbs(0, 3, 0, -3, 0, 8, 10, -8, 10, -14, 0),
    "kneel": POSES["kneel"],
    "sit": POSES["sit"],
    "turn": POSES["stand"],
    "fly": Limbs(-4, 10, 10, -10, 10, 120, 20, -120, 20, 20, 0, 0.6),
    "swim": Limbs(30, 30, 20, -30, 20, 100, 10, -100, 10, 10, 0, 0.1),
    "dance": Limbs(-8, 35, 40, -10, 10, 130, 30, -60, 30, 8, 0),
    "shiver": Limbs(10, 8, 10, -8, 10, 40, 90, -40, 90, -12, 0),
    "laugh": Limbs(-10, 3, 0, -3, 0, 20, 60, -20, 60, 25, 0),
}
#: Gestures that mean something else with a prop in hand: holding up a violin plays it (arm1 raises the
#: violin to the chin, arm2 bows; props.py draws it so). Keyed by prop shape, then gesture.
PROP_GESTURES: dict[str, dict[str, Limbs]] = {
    "violin": {"hold_up": Limbs(-4, 3, 0, -3, 0, 120, -20, 40, 80, -8, 0)},
}
#: How the bow arm's elbow saws while a violin is played (degrees, radians per second of the clock).
BOWING = (14.0, 5.5)


def gait(phase: float, run: float) -> Limbs:
    """One moment of a walk (run=0) or run (run=1) cycle; `phase` in radians."""
    s, c = math.sin(phase), math.cos(phase)
    leg, knee, arm = 24 + 16 * run, 32 + 45 * run, 20 + 28 * run
    return Limbs(
        lean=3 + 10 * run, thigh1=leg * s, knee1=6 + knee * max(0.0, c), thigh2=-leg * s,
        knee2=6 + knee * max(0.0, -c), arm1=-arm * s, elbow1=15 + 60 * run, arm2=arm * s, elbow2=15 + 60 * run,
    )


# --------------------------------------------------------------------------- faces


def face(pen: Pen, cx: float, cy: float, r: float, d: float, tilt: float = 0.0, eye: RGB = DARK,
         mouth: bool = True) -> None:
    """Two eyes (one in profile) and a small mouth that slide as the figure turns."""
    eye_y = cy - r * (0.02 + 0.35 * tilt)
    shift = d * r * 0.45
    sides = (-1, 1) if abs(d) < 0.55 else ((1,) if d > 0 else (-1,))
    for side in sides:
        ex = cx + shift + side * r * 0.34 * (1 - abs(d) * 0.6)
        pen.ellipse((ex, eye_y), r * 0.12, r * 0.14, eye, outline=False)
    if mouth:
        my = cy + r * (0.42 - 0.3 * tilt)
        mx = cx + shift * 1.1
        pen.capsule([(mx - r * 0.15 * (1 - abs(d) * 0.5), my), (mx + r * 0.15 * (1 - abs(d) * 0.5), my)], r * 0.04,
                    (120, 60, 60), outline=False)


# --------------------------------------------------------------------------- humanoids

THIGH, SHIN, TORSO, NECK, UPPER_ARM, FOREARM, LIMB_W = 0.235, 0.225, 0.30, 0.02, 0.17, 0.16, 0.072
SHADOW_W = 0.3


class Skeleton(NamedTuple):
    hips: tuple[tuple[float, float], tuple[float, float]]
    legs: tuple[list[tuple[float, float]], list[tuple[float, float]]]
    shoulders: tuple[tuple[float, float], tuple[float, float]]
    arms: tuple[list[tuple[float, float]], list[tuple[float, float]]]
    neck: tuple[float, float]
    head: tuple[float, float]
    head_r: float
    ground: float
    scale: float
    d: float  # facing, -1..1

    @property
    def profile(self) -> bool:
        return abs(self.d) > 0.5

    @property
    def side(self) -> int:
        return 1 if self.d >= 0 else -1


def _limb(angle: float, length: float, d: float, side: int) -> tuple[float, float]:
    """A limb vector turned by d: the profile swing and the front view's splay, blended."""
    a = math.radians(angle)
    turn = abs(d)
    profile_x = (1 if d >= 0 else -1) * math.sin(a) * length
    front_x = side * (0.3 * math.sin(a) + 0.12) * length
    return turn * profile_x + (1 - turn) * front_x, math.cos(a) * length


def skeleton(look: CharacterLook, limbs: Limbs, d: float) -> Skeleton:
    k = 1.0 / (THIGH + SHIN + TORSO + NECK + look.head)
    front = 1 - abs(d)
    hip_w, shoulder_w = look.girth * 0.28 * front, look.girth * 0.42 * front
    lean = math.radians(limbs.lean)
    lean_x = d * math.sin(lean)
    shoulder_c = (lean_x * TORSO * k, -math.cos(lean) * TORSO * k)
    hips = ((hip_w, 0.0), (-hip_w, 0.0))
    shoulders = ((shoulder_c[0] + shoulder_w, shoulder_c[1]), (shoulder_c[0] - shoulder_w, shoulder_c[1]))
    legs, arms = [], []
    for side, (thigh, knee, arm, elbow) in ((1, (limbs.thigh1, limbs.knee1, limbs.arm1, limbs.elbow1)),
                                            (-1, (limbs.thigh2, limbs.knee2, limbs.arm2, limbs.elbow2))):
        hip = hips[0 if side == 1 else 1]
        kx, ky = _limb(thigh, THIGH * k, d, side)
        fx, fy = _limb(thigh - knee, SHIN * k, d, side)
        legs.append([hip, (hip[0] + kx, hip[1] + ky), (hip[0] + kx + fx, hip[1] + ky + fy)])
        sh = shoulders[0 if side == 1 else 1]
        ex, ey = _limb(arm, UPPER_ARM * k, d, side)
        hx, hy = _limb(arm + elbow, FOREARM * k, d, side)
        arms.append([sh, (sh[0] + ex, sh[1] + ey), (sh[0] + ex + hx, sh[1] + ey + hy)])
    head_r = look.head * k / 2
    neck = (shoulder_c[0] + lean_x * NECK * k, shoulder_c[1] - NECK * k)
    head = (neck[0] + lean_x * head_r * 0.5, neck[1] - head_r * 0.92)
    lowest = max(max(p[1] for p in leg[1:]) for leg in legs) + LIMB_W * k * 0.5
    if limbs.seat > 0.5:
        lowest = max(lowest, 0.0)
    return Skeleton(hips, (legs[0], legs[1]), shoulders, (arms[0], arms[1]), neck, head, head_r, lowest, k, d)


def _humanoid(pen: Pen, look: CharacterLook, limbs: Limbs, bones: Skeleton, clock: float) -> None:
    k, d = bones.scale, bones.d
    limb_w, torso_w = LIMB_W * k, look.girth * (1 - 0.22 * abs(d))
    if limbs.seat > 0.5:
        seat_top, seat_x = bones.hips[0][1] + limb_w * 0.6, -d * 0.04
        pen.rect((seat_x - 0.17, seat_top, seat_x + 0.17, bones.ground), (120, 110, 100), 0.03)
    boots, hands = (shade(look.legs, 0.45), look.skin) if not look.robot else (mix(look.body, WHITE, 0.4),
                                                                               mix(look.body, WHITE, 0.5))
    armour = "armour" in look.garments
    sleeve, trousers, torso = look.body, look.legs, look.body
    if armour:  # steel limbs and breastplate; the outfit's colour goes to the tabard (or the belt)
        sleeve, trousers, torso = STEEL, shade(STEEL, 0.9), STEEL
        boots, hands = STEEL_DARK, shade(STEEL, 0.82)
    near, far = (0, 1) if d >= 0 else (1, 0)  # the limb nearer the camera in profile
    back_tint = 1 - 0.22 * abs(d)
    if "cloak" in look.garments:
        _cloak(pen, look, bones, torso_w, clock)
    if bones.profile:
        _arm(pen, bones.arms[far], limb_w, shade(sleeve, back_tint), shade(hands, back_tint))
    if look.accessory == "backpack" or look.headwear == "helmet":
        half = torso_w * 0.62
        top = bones.shoulders[0][1] + 0.01
        x = bones.shoulders[0][0] - d * (torso_w * 0.5 + 0.045)
        pen.rect((x - half * (1 - abs(d) * 0.6), top, x + half * (1 - abs(d) * 0.6), top + 0.22),
                 mix(look.body, (235, 235, 240), 0.4) if look.headwear == "helmet" else shade(look.accent, 0.9), 0.03)
    if look.headwear == "hair_long":
        cx, cy = bones.head
        r = bones.head_r
        pen.rect((cx - d * r * 0.3 - r * 1.05, cy - r * 0.3, cx - d * r * 0.3 + r * 1.05, cy + r * 1.9), look.hair,
                 r * 0.8)
    if look.robot:  # treads instead of feet
        pen.rect((-0.2, bones.ground - 0.13, 0.2, bones.ground), shade(look.legs, 0.8), 0.06)
        for x in (-0.12, 0.0, 0.12):
            pen.ellipse((x, bones.ground - 0.065), 0.04, 0.04, shade(look.legs, 0.55))
    for index in (far, near) if not look.robot else ():
        leg = bones.legs[index]
        tint = back_tint if index == far else 1.0
        pen.capsule(leg, limb_w * 1.12, shade(trousers, tint))
        ankle = leg[-1]
        pen.ellipse((ankle[0] + d * limb_w * 0.55, ankle[1] + limb_w * 0.1), limb_w * (0.7 + 0.35 * abs(d)),
                    limb_w * 0.5, shade(boots, tint))
    hip_c = (0.0, 0.0)
    shoulder_c = ((bones.shoulders[0][0] + bones.shoulders[1][0]) / 2, bones.shoulders[0][1])
    if look.robot:  # a box of a body on short legs, a wide square head: nobody mistakes it for a person
        box_w = torso_w * 1.7
        pen.rect((-box_w * 0.18, 0.0, box_w * 0.18, bones.ground - 0.12), shade(look.legs, 0.7), 0.02)
        pen.rect((shoulder_c[0] - box_w / 2, shoulder_c[1] - 0.02, shoulder_c[0] * 0.3 + box_w / 2, 0.05),
                 look.body, 0.03)
        pen.rect((shoulder_c[0] * 0.6 - box_w * 0.3, shoulder_c[1] + 0.08, shoulder_c[0] * 0.6 + box_w * 0.3,
                  shoulder_c[1] + 0.16), shade(look.body, 0.8), 0.02)
    else:
        pen.capsule([hip_c, shoulder_c], torso_w, torso)
    mid = (shoulder_c[0] * 0.15, shoulder_c[1] * 0.15)
    if armour:
        _breastplate(pen, look, shoulder_c, torso_w, d)
    if look.accessory == "belt":
        pen.rect((mid[0] - torso_w * 0.52, mid[1] - 0.018, mid[0] + torso_w * 0.52, mid[1] + 0.018), look.accent)
    elif look.accessory == "satchel":
        bag = (-(d or 1) * torso_w * 0.45, -0.01)
        pen.capsule([(shoulder_c[0] + torso_w * 0.3 * (1 - abs(d)), shoulder_c[1]), bag], 0.016,
                    shade(look.accent, 0.8))
        pen.rect((bag[0] - 0.06, bag[1] - 0.04, bag[0] + 0.06, bag[1] + 0.05), look.accent, 0.015)
    if look.headwear in ("headscarf", "chef_hat") or "apron" in look.garments:  # an apron over the front
        pen.rect((shoulder_c[0] * 0.4 - torso_w * 0.4 * (1 - abs(d) * 0.5), shoulder_c[1] * 0.55,
                  shoulder_c[0] * 0.4 + torso_w * 0.4 * (1 - abs(d) * 0.5), 0.04), (240, 238, 232), 0.02)
    if look.robot:
        pen.ellipse((shoulder_c[0] + d * torso_w * 0.2, shoulder_c[1] + 0.08), 0.035, 0.035, look.accent)
    if not bones.profile:
        for arm in bones.arms:
            if arm[-1][1] > bones.head[1] + bones.head_r:  # arms at rest go behind the head: draw them now
                _arm(pen, arm, limb_w, sleeve, hands)
    raised = [i for i in (near, far) if bones.arms[i][-1][1] < bones.head[1] + bones.head_r]
    if bones.profile and near in raised:
        _arm(pen, bones.arms[near], limb_w, sleeve, hands)  # a raised near arm goes behind the face
    _head(pen, look, limbs, bones)
    if not bones.profile:
        for arm in bones.arms:
            if arm[-1][1] <= bones.head[1] + bones.head_r:
                _arm(pen, arm, limb_w, sleeve, hands)
    if bones.profile and near not in raised:
        _arm(pen, bones.arms[near], limb_w, sleeve, hands)
    if armour:  # pauldrons over the shoulders (the near one only in profile)
        for i in ((near,) if bones.profile else (0, 1)):
            pen.ellipse(bones.arms[i][0], limb_w * 0.95, limb_w * 0.75, shade(STEEL, 1.05))
    if look.accessory == "scarf":
        nx, ny = bones.neck
        pen.capsule([(nx - 0.05, ny + 0.01), (nx + 0.05, ny + 0.01)], 0.045, look.accent)
        pen.capsule([(nx, ny + 0.02), (nx - bones.side * 0.09, ny + 0.12)], 0.035, look.accent)


def _cloak(pen: Pen, look: CharacterLook, bones: Skeleton, torso_w: float, clock: float) -> None:
    """A cloak hanging from the shoulders behind the body, flaring to the calves and swaying a little."""
    d = bones.d
    sx, sy = (bones.shoulders[0][0] + bones.shoulders[1][0]) / 2, bones.shoulders[0][1]
    back = -d * torso_w * 0.45  # in profile it hangs behind the back
    hem = min(bones.ground - 0.05, 0.34)
    sway = 0.015 * math.sin(clock * 1.8)
    top_w, hem_w = torso_w * (0.75 - 0.35 * abs(d)), torso_w * (1.25 - 0.55 * abs(d))
    flare = -d * 0.1 + sway
    colour = look.legs if "armour" in look.garments else look.body
    pen.polygon([(sx + back - top_w, sy + 0.01), (sx + back + top_w, sy + 0.01),
                 (back + flare + hem_w, hem), (back + flare - hem_w, hem + 0.02 * d)], shade(colour, 0.9))


def _breastplate(pen: Pen, look: CharacterLook, shoulder_c: tuple[float, float], torso_w: float, d: float) -> None:
    """Over the steel torso: a shine on the breastplate, then the tabard (the outfit's colour) or a belt."""
    sx, sy = shoulder_c
    pen.ellipse((sx * 0.6 - d * torso_w * 0.15, sy * 0.6), torso_w * 0.22, torso_w * 0.4, shade(STEEL, 1.2),
                outline=False)
    if "tabard" in look.garments:
        half = torso_w * 0.36 * (1 - 0.3 * abs(d))
        pen.polygon([(sx * 0.92 - half, sy * 0.82), (sx * 0.92 + half, sy * 0.82), (half * 1.1, 0.14),
                     (-half * 1.1, 0.14)], look.body)
        pen.rect((sx * 0.2 - half * 1.05, sy * 0.2 - 0.016, sx * 0.2 + half * 1.05, sy * 0.2 + 0.016),
                 shade(look.legs, 0.8), 0.005)
    else:
        pen.rect((sx * 0.2 - torso_w * 0.5, sy * 0.2 - 0.018, sx * 0.2 + torso_w * 0.5, sy * 0.2 + 0.018), look.body)


def _arm(pen: Pen, arm: list[tuple[float, float]], width: float, sleeve: RGB, hand: RGB) -> None:
    pen.capsule(arm, width, sleeve)
    pen.ellipse(arm[-1], width * 0.62, width * 0.62, hand)


def _head(pen: Pen, look: CharacterLook, limbs: Limbs, bones: Skeleton) -> None:
    cx, cy = bones.head
    r, d = bones.head_r, bones.d
    tilt = limbs.head / 90.0
    if look.robot:
        r *= 1.25
        pen.rect((cx - r, cy - r * 0.8, cx + r, cy + r * 0.8), look.skin, r * 0.15)
        eye_y = cy - r * (0.1 + 0.4 * tilt)
        for side in ((-1, 1) if abs(d) < 0.55 else ((1,) if d > 0 else (-1,))):
            ex = cx + d * r * 0.4 + side * r * 0.45 * (1 - abs(d) * 0.6)
            pen.rect((ex - r * 0.18, eye_y - r * 0.14, ex + r * 0.18, eye_y + r * 0.14), look.accent, r * 0.08)
        if look.headwear == "antenna":
            pen.capsule([(cx, cy - r), (cx, cy - r * 1.7)], r * 0.08, shade(look.skin, 0.7))
            pen.ellipse((cx, cy - r * 1.75), r * 0.2, r * 0.2, look.accent)
        elif look.headwear == "dome":
            pen.polygon([(cx + r * 0.7 * math.cos(a), cy - r * 0.9 + r * 0.6 * math.sin(a))
                         for a in np.linspace(math.pi, 2 * math.pi, 10)], look.accent)
        else:
            for side in (-1, 1):
                pen.ellipse((cx + side * r * 1.08 * (1 - abs(d) * 0.5), cy), r * 0.2, r * 0.35, look.accent)
        return
    if look.headwear == "helmet":
        hr = r * 1.3
        shell = mix(look.body, (245, 245, 248), 0.55)
        pen.ellipse((cx, cy), hr, hr, shell)
        gx = cx + d * hr * 0.2
        pen.ellipse((gx, cy + hr * 0.02), hr * 0.78, hr * 0.74, mix(look.accent, (20, 30, 60), 0.55))
        pen.ellipse((gx + d * hr * 0.05, cy + hr * 0.08), r * 0.62, r * 0.66, look.skin, outline=False)
        face(pen, gx + d * hr * 0.05, cy + hr * 0.08, r * 0.62, d, tilt)
        pen.ellipse((gx - hr * 0.4, cy - hr * 0.38), hr * 0.16, hr * 0.09, (255, 255, 255), outline=False)
        return
    if abs(d) > 0.3:  # a nose, drawn first so the head's outline joins it
        pen.ellipse((cx + d * r * 0.93, cy + r * 0.12 - r * 0.3 * tilt), r * 0.16 * abs(d), r * 0.14, look.skin)
    pen.ellipse((cx, cy), r, r * 1.02, look.skin)
    face(pen, cx, cy, r, d, tilt)
    _headwear(pen, look, cx, cy, r, d)


def _headwear(pen: Pen, look: CharacterLook, cx: float, cy: float, r: float, d: float) -> None:
    hw, hair = look.headwear, look.hair
    cap = [(cx + r * math.cos(a) * 1.06, cy - r * 0.1 + r * math.sin(a) * 1.06)
           for a in np.linspace(math.pi, 2 * math.pi, 12)]
    back = -d * r * 0.15
    if hw in ("hair_short", "hair_long", "hair_bun", "hair_spiky", "mask", "crown", "pointed_hat", "headscarf",
              "tricorn", "beanie", "chef_hat", "brim_hat", "cap"):
        pen.polygon([(x + back, y) for x, y in cap], hair)
    if hw == "hair_bun":
        pen.ellipse((cx - d * r * 0.7, cy - r * 0.95), r * 0.38, r * 0.38, hair)
    elif hw == "hair_spiky":
        spikes = [(cx + back + r * math.cos(a) * (1.45 if i % 2 else 1.0), cy - r * 0.1 + r * math.sin(a) *
                   (1.45 if i % 2 else 1.0)) for i, a in enumerate(np.linspace(math.pi * 1.05, math.pi * 1.95, 9))]
        pen.polygon(spikes, hair)
    elif hw == "cap":
        pen.polygon(cap, look.accent)
        pen.rect((cx - r * 0.2 + d * r * 0.6, cy - r * 0.2, cx + d * r * 1.5 + r * 0.2 * (1 - abs(d)), cy - r * 0.06),
                 shade(look.accent, 0.8), r * 0.05)
    elif hw == "beanie":
        tall = [(x, cy - r * 0.1 + (y - cy + r * 0.1) * 1.35) for x, y in cap]
        pen.polygon(tall, look.accent)
        pen.rect((cx - r * 1.08, cy - r * 0.3, cx + r * 1.08, cy - r * 0.05), shade(look.accent, 0.75), r * 0.1)
    elif hw in ("brim_hat", "tricorn"):
        pen.ellipse((cx, cy - r * 0.45), r * 1.7, r * 0.22, shade(look.legs, 0.85))
        pen.rect((cx - r * 0.85, cy - r * 1.35, cx + r * 0.85, cy - r * 0.45), look.legs, r * 0.2)
    elif hw == "crown":
        pts = [(cx - r * 0.7, cy - r * 0.8), (cx - r * 0.7, cy - r * 1.35), (cx - r * 0.35, cy - r * 1.05),
               (cx, cy - r * 1.45), (cx + r * 0.35, cy - r * 1.05), (cx + r * 0.7, cy - r * 1.35),
               (cx + r * 0.7, cy - r * 0.8)]
        pen.polygon(pts, (216, 184, 72))
    elif hw == "pointed_hat":
        pen.ellipse((cx, cy - r * 0.55), r * 1.5, r * 0.2, look.accent)
        pen.polygon([(cx - r * 0.8, cy - r * 0.55), (cx + r * 0.8, cy - r * 0.55), (cx - d * r * 0.5, cy - r * 2.3)],
                    look.accent)
    elif hw == "headscarf":
        pen.polygon([(x, y - r * 0.05) for x, y in cap], look.legs)
        back = -(1 if d >= 0 else -1) * r * (0.95 + 0.15 * (1 - abs(d)))  # the knot hangs behind, never over the face
        pen.capsule([(cx + back, cy - r * 0.1), (cx + back * 1.3, cy + r * 0.5)], r * 0.2, look.legs)
    elif hw == "chef_hat":
        pen.rect((cx - r * 0.75, cy - r * 1.5, cx + r * 0.75, cy - r * 0.6), (246, 246, 244), r * 0.35)
    elif hw == "mask":
        pen.rect((cx - r * 0.8, cy - r * 0.95, cx + r * 0.8, cy - r * 0.55), (190, 150, 70), r * 0.15)
    elif hw == "helmet_knight":  # an open-faced steel helm: dome, brow band, neck guard and a plume
        s, turn = (1 if d >= 0 else -1), abs(d)
        up = (1 - turn) * r  # seen from the front the plume stands up; in profile it streams back
        plume = [(cx - d * r * 0.2, cy - r * 1.1), (cx - d * r * 0.55, cy - r * 1.55 - up * 0.1),
                 (cx - d * r * 1.15, cy - r * 1.2 - up * 0.5)]
        pen.capsule(plume, r * 0.32, look.accent)
        for side in (-1, 1):  # cheek guards: the near one narrows away in profile, the far one becomes the neck guard
            outer = cx + side * r * 1.12
            inner = cx + side * r * (0.78 - 0.23 * turn) if side != s else outer - side * r * 0.34 * (1 - turn)
            if abs(outer - inner) > r * 0.02:
                pen.rect((min(inner, outer), cy - r * 0.35, max(inner, outer), cy + r * 0.5), STEEL_DARK, r * 0.12)
        dome = [(cx + r * math.cos(a) * 1.12, cy - r * 0.15 + r * math.sin(a) * 1.1) for a in
                np.linspace(math.pi, 2 * math.pi, 14)]
        pen.polygon(dome, STEEL)
        pen.rect((cx - r * 1.14, cy - r * 0.36, cx + r * 1.14, cy - r * 0.14), shade(STEEL, 0.85), r * 0.08)
        pen.ellipse((cx - d * r * 0.3 - r * 0.35, cy - r * 0.8), r * 0.22, r * 0.12, shade(STEEL, 1.25),
                    outline=False)


# --------------------------------------------------------------------------- animals and birds


def _quadruped(pen: Pen, look: CharacterLook, limbs: Limbs, d: float, clock: float) -> None:
    """A four-legged body seen from the side, narrowing as it turns to the camera."""
    turn = abs(d)
    s = 1 if d >= 0 else -1
    length = 0.2 + 0.18 * turn  # half body length, shorter seen from the front
    body_y, leg_h = -0.42, 0.36
    sitting = limbs.seat > 0.5 or limbs.thigh1 > 70
    fur, light = look.body, mix(look.body, WHITE, 0.5)
    swing = (limbs.thigh1 - 3) / 40  # -1..1 in a walk cycle
    legs = [(-length * 0.75, swing), (length * 0.75, -swing)] if turn > 0.3 else [(-0.12, 0.0), (0.12, 0.0)]
    if look.tail != "none":
        tail_w = 0.09 if look.tail in ("bushy", "spiked") else 0.04
        base = (-s * length, body_y - 0.02)
        wag = 0.05 * math.sin(clock * 6)
        pen.capsule([base, (-s * (length + 0.15), body_y - 0.18 + wag), (-s * (length + 0.2), body_y - 0.36)],
                    tail_w, fur)
        if look.tail == "bushy":
            pen.ellipse((-s * (length + 0.2), body_y - 0.36), 0.06, 0.06, light)
    for lx, sw in legs:  # far legs, darker
        pen.capsule([(lx * turn - 0.03 * s, body_y), (lx * turn - 0.03 * s + sw * 0.1 * s, body_y + leg_h * (0.5 if
                     sitting and lx * s < 0 else 1))], 0.07, shade(fur, 0.75))
    if look.species in ("dragon", "griffin"):
        flap = math.sin(clock * 3) * 0.1 + limbs.arm1 / 300
        pen.polygon([(0, body_y - 0.1), (-s * 0.2, body_y - 0.5 - flap), (s * 0.15, body_y - 0.35 - flap)],
                    look.legs)
    pen.ellipse((0, body_y - (0.08 if sitting else 0)), length + 0.05, 0.17, fur)
    if look.accessory == "spots" or look.species in ("leopard", "cheetah", "giraffe", "cow"):
        for x in (-0.15, 0.05, 0.2):
            pen.ellipse((x * turn, body_y - 0.04), 0.04, 0.03, shade(fur, 0.6), outline=False)
    for lx, sw in legs:  # near legs
        pen.capsule([(lx * turn + 0.03 * s, body_y + 0.05), (lx * turn + 0.03 * s - sw * 0.1 * s, body_y + leg_h
                     * (0.5 if sitting and lx * s < 0 else 1))], 0.075, fur)
        pen.ellipse((lx * turn + 0.03 * s - sw * 0.1 * s + 0.02 * s, body_y + leg_h * (0.5 if sitting and lx * s < 0
                     else 1)), 0.05, 0.03, shade(fur, 0.6))
    hx = s * (length + 0.06) * turn
    hy = body_y - 0.22 - limbs.head / 200 - (0.1 if sitting else 0)
    r = 0.16
    ears = look.ears
    for side in (-1, 1):
        ex = hx + side * r * 0.6 * (1 - turn * 0.6) - s * turn * r * 0.2
        if ears == "pointed":
            pen.polygon([(ex - r * 0.35, hy - r * 0.55), (ex + r * 0.35, hy - r * 0.55), (ex, hy - r * 1.5)], fur)
        elif ears == "long":
            pen.ellipse((ex, hy - r * 1.35), r * 0.22, r * 0.7, fur)
        elif ears == "floppy":
            pen.ellipse((ex + side * r * 0.4, hy), r * 0.28, r * 0.55, shade(fur, 0.75))
        elif ears in ("horns", "horn"):
            if ears == "horns" or side == 1:
                pen.polygon([(ex - r * 0.12, hy - r * 0.7), (ex + r * 0.12, hy - r * 0.7), (ex + side * r * 0.3,
                             hy - r * 1.6)], (236, 226, 200))
        else:
            pen.ellipse((ex, hy - r * 0.8), r * 0.3, r * 0.3, fur)
    pen.ellipse((hx, hy), r, r * 0.92, fur)
    pen.ellipse((hx + d * r * 0.6, hy + r * 0.3), r * 0.48, r * 0.34, light)
    pen.ellipse((hx + d * r * 0.95, hy + r * 0.18), r * 0.14, r * 0.11, DARK, outline=False)
    face(pen, hx + d * r * 0.2, hy - r * 0.1, r * 0.85, d, limbs.head / 90, mouth=False)
    if look.accessory in ("collar", "scarf"):
        pen.capsule([(hx - s * r * 0.3 * turn - r * 0.5 * (1 - turn), hy + r * 0.85),
                     (hx - s * r * 0.3 * turn + r * 0.5 * (1 - turn), hy + r * 0.95)], 0.04, look.legs)


def _bird(pen: Pen, look: CharacterLook, limbs: Limbs, d: float, clock: float) -> None:
    turn = abs(d)
    s = 1 if d >= 0 else -1
    leg_h = 0.45 if look.long_legs else 0.18
    body_y = -leg_h - 0.16
    feathers, wing = look.body, look.legs
    for side in (-1, 1):  # legs
        lx = side * 0.05 * (1 - turn) + (limbs.thigh1 / 300) * side * turn
        pen.capsule([(lx, body_y + 0.1), (lx, -0.01)], 0.025, (200, 150, 60) if not look.clockwork else
                    (150, 120, 60), outline=False)
    pen.polygon([(-s * 0.22 * turn, body_y), (-s * 0.42 * turn - 0.05 * (1 - turn), body_y - 0.04),
                 (-s * 0.4 * turn + 0.05 * (1 - turn), body_y + 0.06)], shade(wing, 0.85))  # tail
    pen.ellipse((0, body_y), 0.18 + 0.06 * turn, 0.14, feathers)
    raised = max(0.0, (limbs.arm1 - 20) / 130)  # a raised "arm" lifts the wings
    flap = raised * (0.6 + 0.4 * math.sin(clock * 14)) if raised > 0.3 else raised
    for side in ((-1, 1) if turn < 0.6 else (-s,)):
        tip = (side * (0.12 + 0.3 * flap) - s * 0.1 * turn, body_y - 0.02 - 0.35 * flap)
        pen.polygon([(side * 0.04, body_y - 0.06), tip, (side * 0.02 - s * 0.15 * turn, body_y + 0.08)], wing)
    if look.clockwork:
        for gx in (-0.05, 0.06):
            pen.ellipse((gx, body_y), 0.04, 0.04, shade(feathers, 0.7))
    neck = 0.12 if look.long_legs else 0.05
    hx, hy = s * 0.14 * turn, body_y - 0.14 - neck - limbs.head / 300
    if neck > 0.1:
        pen.capsule([(s * 0.08 * turn, body_y - 0.08), (hx, hy)], 0.05, feathers)
    pen.ellipse((hx, hy), 0.09, 0.09, feathers)
    beak = 0.16 if look.long_legs else 0.08
    pen.polygon([(hx + d * 0.07, hy - 0.02), (hx + d * 0.07, hy + 0.03), (hx + d * (0.07 + beak) + (1 - turn) * 0.0,
                 hy + 0.01 + (1 - turn) * 0.05)], (224, 176, 60))
    face(pen, hx, hy, 0.08, d, limbs.head / 90, eye=(250, 190, 60) if look.clockwork else DARK, mouth=False)


# --------------------------------------------------------------------------- sea creatures


def _tentacled(pen: Pen, look: CharacterLook, limbs: Limbs, d: float, clock: float) -> None:
    body, light = look.body, mix(look.body, WHITE, 0.45)
    jelly = look.species == "jellyfish"
    arms = 8 if not jelly else 6
    lift = limbs.arm1 / 180
    for i in range(arms):  # arms curl under the mantle and wave
        x0 = (i - (arms - 1) / 2) * 0.06
        wave = math.sin(clock * 3 + i * 0.9) * 0.05
        reach = (lift * 0.3) if i == arms - 1 else 0.0
        pts = [(x0, -0.32), (x0 * 1.8 + wave, -0.16 - reach), (x0 * 2.6 - wave, -0.03 - reach * 1.5),
               (x0 * 3.0 + wave * 0.5 + (0.12 if x0 > 0 else -0.12), -0.01 - reach * 2)]
        pen.capsule(pts, 0.05 if not jelly else 0.015, shade(body, 0.85) if not jelly else light)
    pen.ellipse((d * 0.03, -0.5), 0.24, 0.24 if not jelly else 0.18, body)
    if not jelly:
        for x in (-0.1, 0.08):
            pen.ellipse((x + d * 0.03, -0.38), 0.03, 0.02, light, outline=False)
    face(pen, d * 0.06, -0.48, 0.18, d, limbs.head / 90, eye=(240, 200, 70) if not jelly else DARK)


def _fish(pen: Pen, look: CharacterLook, limbs: Limbs, d: float, clock: float) -> None:
    turn = abs(d)
    s = 1 if d >= 0 else -1
    body, fin = look.body, look.legs
    length = 0.2 + 0.25 * turn
    y = -0.35 + 0.03 * math.sin(clock * 2)
    flick = math.sin(clock * 5) * 0.06
    pen.polygon([(-s * length * 0.9, y), (-s * (length + 0.2) * max(0.3, turn), y - 0.14 + flick),
                 (-s * (length + 0.2) * max(0.3, turn), y + 0.14 + flick)], fin)
    pen.ellipse((0, y), length + 0.05 * (1 - turn), 0.17, body)
    pen.ellipse((0, y + 0.07), length * 0.8, 0.07, mix(body, WHITE, 0.5), outline=False)
    pen.polygon([(-s * 0.05, y - 0.15), (s * 0.08, y - 0.15), (-s * 0.08, y - 0.3)], fin)
    face(pen, s * length * 0.55 * turn, y - 0.03, 0.12, d, 0.0)


# --------------------------------------------------------------------------- small creatures


def _snail(pen: Pen, look: CharacterLook, limbs: Limbs, d: float, clock: float) -> None:
    """A snail: a long soft foot, a spiral shell on its back, two eye stalks that wave (a slug: no shell)."""
    turn = abs(d)
    s = 1 if d >= 0 else -1
    stretch = 1 + 0.06 * math.sin(math.radians(limbs.thigh1) * 3)  # the foot ripples as it crawls
    length = (0.22 + 0.26 * turn) * stretch
    foot = mix((222, 206, 186), look.body, 0.25)
    rise = limbs.head / 300 + max(0.0, limbs.arm1 - 20) / 900  # looking up or reaching lifts the head
    head = (d * length, -0.2 - rise)  # straight out in front: over the middle seen from the front
    pen.capsule([(-d * length, -0.05), (d * length * 0.6, -0.07), head], 0.14, foot)
    if look.species != "slug":
        cx, cy, r = -d * 0.08, -0.44, 0.3
        pen.ellipse((cx, cy), r * (0.6 + 0.4 * turn), r * 0.97, look.body)  # a disc: edge-on from the front
        spiral = [(cx + d * r * 0.85 * (1 - a / 14) * math.cos(a), cy + r * 0.85 * (1 - a / 14) * math.sin(a))
                  for a in np.linspace(0.0, 12.0, 40)]
        pen.capsule(spiral, 0.035, look.legs, outline=False)
        pen.capsule([(d * length * 0.3, -0.06), head], 0.14, foot)  # the head end comes out in front of the shell
    hx, hy = head
    wave = math.sin(clock * 1.7) * 0.03
    for side in ((-1, 1) if turn < 0.6 else (1, -1)):
        base = (hx + side * 0.04 * (1 - turn), hy - 0.05)
        tip = (hx + s * 0.1 * turn + side * (0.11 * (1 - turn) + 0.03 * turn) + wave * side,
               hy - 0.36 - (rise if side == 1 else 0.0) + 0.02 * side * turn)
        pen.capsule([base, tip], 0.03, foot)
        pen.ellipse(tip, 0.05, 0.05, (250, 250, 246))
        pen.ellipse((tip[0] + d * 0.018, tip[1] + 0.005 - limbs.head / 900), 0.024, 0.026, DARK, outline=False)
    pen.capsule([(hx + s * 0.04 * turn - 0.03 * (1 - turn), hy + 0.02), (hx + s * 0.07 * turn + 0.03 * (1 - turn),
                 hy + 0.02)], 0.012, (120, 60, 60), outline=False)


#: Insects by what their bodies have besides wings (looks.BIG_WINGED, SMALL_WINGED): stripes, a spotted dome.
STRIPED = {name for name, facts in species().items() if facts.get("markings") == "striped"}
DOMED = {name for name, facts in species().items() if facts.get("markings") == "domed"}


#: Insects are drawn in units this much smaller than the figure's height (their bodies are long, not tall).
INSECT_SCALE = 1.6


def _insect(pen: Pen, look: CharacterLook, limbs: Limbs, d: float, clock: float) -> None:
    """Head, thorax and abdomen in a row, six legs (a spider eight), antennae, and wings that beat."""
    outline_w = pen.ow
    pen = Pen(pen.draw, (pen.ox, pen.oy), pen.px * INSECT_SCALE, pen.outline)
    pen.ow = outline_w
    turn = abs(d)
    s = 1 if d >= 0 else -1
    species = look.species.split()[-1]
    body, trim = look.body, look.legs
    y = -0.2
    along = 0.19 * d  # head ahead, abdomen behind: the length foreshortens to nothing seen from the front
    spider = species == "spider"
    if species in BIG_WINGED or species in SMALL_WINGED:  # wings behind the body, beating
        big = species in BIG_WINGED
        beat = 0.5 + 0.5 * math.sin(clock * (5.0 if big else 14.0) + (limbs.arm1 - 8) / 60)
        span = 0.42 if big else 0.24
        colour = look.legs if big else (232, 242, 252)
        for side in ((-1, 1) if turn < 0.6 else (-s, s)):
            # Seen from the front the wings spread left and right; from the side they fold up into a fan whose
            # height shrinks as they open towards and away from the camera. Every point blends the two views.
            front = [(0.0, y - 0.03), (side * span * (0.35 + 0.65 * beat), y - span * (0.95 - 0.45 * beat)),
                     (side * span * (0.45 + 0.6 * beat), y - span * 0.3 * (1 - beat) + 0.02), (side * 0.03, y + 0.02)]
            fold = 0.55 + 0.45 * (1 - beat)
            profile = [(0.0, y - 0.03), (-s * 0.22, y - span * fold * 0.95), (s * 0.13, y - span * fold),
                       (s * 0.05, y)]
            wing = [(fx * (1 - turn) + px * turn, fy * (1 - turn) + py * turn)
                    for (fx, fy), (px, py) in zip(front, profile)]
            tint = 0.8 if turn >= 0.6 and side == -s else 1.0  # the far wing, in profile
            if big:  # the hind wing under the fore wing, and a spot on each
                hind_front = [(0.0, y), (side * span * 0.8 * (0.4 + 0.6 * beat), y + 0.02 - span * 0.1),
                              (side * span * 0.35, y + 0.14)]
                hind_side = [(0.0, y), (-s * 0.17, y - span * 0.35 * fold), (-s * 0.02, y + 0.1)]
                pen.polygon([(fx * (1 - turn) + px * turn, fy * (1 - turn) + py * turn) for (fx, fy), (px, py) in
                             zip(hind_front, hind_side)], shade(trim, 0.8 * tint))
            pen.polygon(wing, shade(colour, tint))
            if big:
                spot = ((wing[1][0] + wing[2][0] + wing[0][0]) / 3, (wing[1][1] + wing[2][1] + wing[0][1]) / 3)
                pen.ellipse(spot, 0.035, 0.035, body, outline=False)
    legs = 4 if spider else 3
    swing = limbs.thigh1 / 100
    limb = DARK if species in BIG_WINGED else trim  # a butterfly's second colour is on its wings
    for i in range(legs):  # legs: thin bent lines under the thorax, walking in alternation
        base_x = (i - (legs - 1) / 2) * 0.05 * d
        for side in (-1, 1):  # left and right legs, overlapping in profile
            step = swing * (1 if (i + (side > 0)) % 2 else -1) * 0.05
            knee = (base_x + side * 0.1 * (1 - turn) + (i - 1) * 0.04 * d, y - 0.08)
            foot = (base_x + side * 0.15 * (1 - turn) + (i - 1) * 0.08 * d + step, -0.005)
            pen.capsule([(base_x, y + 0.02), knee, foot], 0.018, limb, outline=False)
    abdomen = (-along * 1.1, y - 0.02)
    if species in DOMED:  # a round spotted shell over the whole body
        pen.ellipse((-along * 0.5, y - 0.04), 0.15 + 0.05 * turn, 0.13, body)
        pen.capsule([(-along * 0.5, y - 0.16), (-along * 0.5, y + 0.08)], 0.01, DARK, outline=False)
        for dx, dy in ((-0.06, -0.07), (0.05, -0.05), (-0.03, 0.0), (0.08, 0.02)):
            pen.ellipse((-along * 0.5 + dx * (0.6 + 0.4 * turn), y + dy), 0.022, 0.022, DARK, outline=False)
    else:
        pen.ellipse(abdomen, 0.09 + 0.05 * turn, 0.085, body)
        if species in STRIPED:
            for k in (-1, 0, 1):
                cx = abdomen[0] + k * 0.04 * turn
                pen.capsule([(cx, y - 0.08), (cx, y + 0.05)], 0.018, trim, outline=False)
        if species == "firefly":
            glow = 120 + int(80 * (0.5 + 0.5 * math.sin(clock * 3)))
            pen.ellipse((abdomen[0] - d * 0.04, y), 0.08, 0.07, (255, 240, 120, glow), outline=False)
        pen.ellipse((0.0, y - 0.03), 0.06, 0.055, shade(body, 0.8))  # thorax
    hx, hy = along, y - 0.06 - limbs.head / 400
    for side in (-1, 1):  # antennae
        tip = (hx + d * 0.08 + side * 0.08 * (1 - turn), hy - 0.2 + 0.015 * math.sin(clock * 2 + side))
        pen.capsule([(hx + side * 0.02, hy - 0.05), tip], 0.012, limb, outline=False)
        pen.ellipse(tip, 0.018, 0.018, limb, outline=False)
    pen.ellipse((hx, hy), 0.075, 0.07, shade(body, 0.9) if species not in DOMED else DARK)
    face(pen, hx + d * 0.01, hy, 0.07, d, limbs.head / 90, eye=(250, 250, 246) if species in DOMED else DARK)


# --------------------------------------------------------------------------- vehicles


def _train(pen: Pen, look: CharacterLook, limbs: Limbs, d: float, clock: float) -> None:
    """A locomotive with a face on its nose pulling two carriages; turned to the camera, the nose alone.

    Every length is the profile's times `d` blended with the front view, so a turn shortens the train
    smoothly until the carriages hide behind the engine.
    """
    turn = abs(d)
    body, stripe = look.body, look.legs
    roof, floor = -0.78, -0.16
    rock = 0.006 * math.sin(math.radians(limbs.thigh1) * 4 + clock * 9)  # a little bounce on the rails
    window = (210, 232, 246)
    spin = math.radians(limbs.thigh1) * 4 + clock * 2  # the wheels turn
    iron = (60, 60, 66)

    def wheels(lo: float, hi: float) -> None:
        for wx in (lo + (hi - lo) * 0.15, hi - (hi - lo) * 0.15):
            pen.ellipse((wx, -0.07), 0.075, 0.075, iron)
            pen.capsule([(wx + 0.05 * math.cos(spin), -0.07 + 0.05 * math.sin(spin)),
                         (wx - 0.05 * math.cos(spin), -0.07 - 0.05 * math.sin(spin))], 0.015, (150, 150, 158),
                        outline=False)

    for k in (2, 1):  # the carriages trail behind the engine
        x1 = (0.45 - (k - 1) * 0.9) * d
        lo, hi = sorted((x1, x1 - 0.82 * d))  # seen from the front: nothing, behind the engine
        pen.rect((lo, roof + 0.06 + rock, hi, floor + rock), shade(body, 0.95), min(0.05, (hi - lo) / 3))
        pen.rect((lo, floor - 0.14 + rock, hi, floor - 0.1 + rock), stripe, 0.0, outline=False)
        for j in range(3):
            wx = lo + (hi - lo) * (0.12 + 0.28 * j)
            pen.rect((wx, roof + 0.14 + rock, wx + (hi - lo) * 0.18, roof + 0.32 + rock), window, 0.02 * turn)
        wheels(lo, hi)
        pen.capsule([(x1, floor - 0.06), (x1 + 0.1 * d, floor - 0.06)], 0.03, iron)  # the coupling
    # The engine: from the front a box as wide as it is; in profile a long body ending in a rounded nose.
    half = 0.22
    lo = (1 - turn) * -half + turn * min(0.39 * d, 1.2 * d)
    hi = (1 - turn) * half + turn * max(0.39 * d, 1.2 * d)
    pen.rect((lo, roof + rock, hi, floor + rock), body, 0.12 + 0.06 * (1 - turn))
    pen.rect((lo, floor - 0.14 + rock, hi, floor - 0.09 + rock), stripe, 0.0, outline=False)
    fx = d * (1.2 * turn + half * (1 - turn) - 0.18)  # the face on the front end (the middle, from the front)
    pen.rect((fx - 0.12, roof + 0.08 + rock, fx + 0.12, roof + 0.3 + rock), window, 0.05)  # the windscreen
    face(pen, fx + d * 0.02, roof + 0.2 + rock, 0.1, d, limbs.head / 90)
    for side in (-1, 1):  # headlights, meeting on the nose in profile
        pen.ellipse((fx + side * 0.12 * (1 - turn) + d * 0.1, floor - 0.2 + rock), 0.03, 0.03, (255, 240, 180))
    wheels(lo, hi)
    front = half * 1.1 * (1 - turn)  # the buffer beam, seen only from the front
    if front > 0.01:
        pen.rect((fx - front, floor + 0.04, fx + front, floor + 0.08), (80, 80, 86), 0.01)
    pen.capsule([(min(lo, -0.2) + 0.05, -0.005), (max(hi, 0.2) - 0.05, -0.005)], 0.012, (90, 84, 80),
                outline=False)  # the rail


# --------------------------------------------------------------------------- spirits, objects, forces


def _blob(pen: Pen, look: CharacterLook, limbs: Limbs, d: float, clock: float) -> None:
    y = -0.45 + 0.03 * math.sin(clock * 2.2)
    body = look.body
    if look.species in ("ghost", "banshee", "shadow"):  # a bell of cloth flaring to a ragged hem
        hem = [(-0.38 + i * 0.095, -0.08 + (0.07 if i % 2 else 0.0) + 0.03 * math.sin(clock * 4 + i))
               for i in range(9)]
        pen.polygon([(-0.2, y), (-0.38, -0.08), *hem, (0.38, -0.08), (0.2, y)], body)
        pen.ellipse((0, y), 0.2, 0.26, body)
        for side in (-1, 1):
            pen.capsule([(side * 0.17, y + 0.16), (side * 0.3, y + 0.22 + 0.03 * math.sin(clock * 3))], 0.06, body)
    else:
        pen.ellipse((0, y + 0.15), 0.26, 0.24, body)
        if "sprout" in look.species:
            sway = math.sin(clock * 1.5) * 0.04
            pen.capsule([(0, y - 0.08), (sway, y - 0.3)], 0.03, look.legs)
            pen.ellipse((sway + 0.07, y - 0.32), 0.08, 0.04, look.legs)
            pen.ellipse((sway - 0.07, y - 0.28), 0.07, 0.035, look.legs)
    face(pen, d * 0.05, y + 0.1, 0.2, d, limbs.head / 90)


#: The shape an object with a face is drawn as (data/species.toml), by the last word of its species.
OBJECT_SHAPES: dict[str, str] = {name: facts["shape"] for name, facts in species().items() if "shape" in facts}


def _object(pen: Pen, look: CharacterLook, limbs: Limbs, d: float, clock: float) -> None:
    shape = OBJECT_SHAPES.get(look.species.split()[-1] if look.species else "", "box")
    hop = max(0.0, limbs.lift)
    y = -hop
    body, trim = look.body, look.legs
    for side in (-1, 1):  # little feet
        pen.ellipse((side * 0.08, y - 0.02), 0.05, 0.025, shade(trim, 0.7))
    if shape == "lantern":  # a ring handle, a pointed roof, a glass box and a wide base
        pen.ellipse((0.0, y - 0.86), 0.1, 0.1, (0, 0, 0, 0))
        pen.polygon([(-0.2, y - 0.6), (0.0, y - 0.78), (0.2, y - 0.6)], trim)
        pen.rect((-0.13, y - 0.6, 0.13, y - 0.12), body, 0.02)
        pen.rect((-0.22, y - 0.12, 0.22, y - 0.03), trim, 0.02)
        glow = 200 + int(40 * math.sin(clock * 7))
        pen.rect((-0.12, y - 0.52, 0.12, y - 0.13), (255, glow, 90), 0.03, outline=False)
        fx, fy = d * 0.03, y - 0.32
    elif shape == "pot":
        pen.ellipse((0, y - 0.22), 0.26, 0.21, body)
        pen.capsule([(0.24, y - 0.25), (0.38, y - 0.4)], 0.05, body)
        pen.capsule([(-0.25, y - 0.32), (-0.34, y - 0.22), (-0.25, y - 0.12)], 0.03, trim)
        pen.ellipse((0, y - 0.45), 0.12, 0.05, trim)
        fx, fy = d * 0.05, y - 0.22
    elif shape == "clock":
        pen.rect((-0.15, y - 0.8, 0.15, y - 0.02), body, 0.05)
        pen.ellipse((0, y - 0.6), 0.12, 0.12, (240, 232, 210))
        swing = math.sin(clock * 3) * 0.05
        pen.capsule([(0, y - 0.4), (swing, y - 0.15)], 0.015, trim)
        fx, fy = 0.0, y - 0.6
    elif shape == "book":
        flap = abs(math.sin(clock * 2)) * 0.08
        pen.polygon([(-0.2, y - 0.05), (0.0, y - 0.02), (0.0, y - 0.45), (-0.2, y - 0.48 - flap)], body)
        pen.polygon([(0.2, y - 0.05), (0.0, y - 0.02), (0.0, y - 0.45), (0.2, y - 0.48 - flap)], shade(body, 0.85))
        fx, fy = 0.0, y - 0.26
    elif shape == "snowman":
        pen.ellipse((0, y - 0.18), 0.2, 0.18, (246, 248, 250))
        pen.ellipse((0, y - 0.48), 0.14, 0.13, (246, 248, 250))
        pen.capsule([(-0.1, y - 0.36), (0.1, y - 0.36)], 0.05, body)
        fx, fy = d * 0.03, y - 0.5
    else:
        pen.rect((-0.2, y - 0.5, 0.2, y - 0.04), body, 0.06)
        pen.rect((-0.2, y - 0.5, 0.2, y - 0.4), trim, 0.04)
        fx, fy = d * 0.05, y - 0.26
    face(pen, fx, fy, 0.1, d, limbs.head / 90)


def _cloud(pen: Pen, look: CharacterLook, limbs: Limbs, d: float, clock: float) -> None:
    body, inner = look.body, look.legs
    y = -0.55 + 0.02 * math.sin(clock * 1.3)
    for i in range(7):  # rain
        x = -0.3 + i * 0.1
        drop = (clock * 1.4 + i * 0.37) % 1.0
        pen.capsule([(x, y + 0.2 + drop * 0.35), (x - 0.02, y + 0.26 + drop * 0.35)], 0.012, (170, 190, 220),
                    outline=False)
    for dx, dy, r in ((-0.28, 0.05, 0.2), (0.28, 0.05, 0.2), (-0.12, -0.1, 0.25), (0.14, -0.12, 0.24),
                      (0.0, 0.06, 0.26)):
        pen.ellipse((dx, y + dy), r, r * 0.85, body)
    flicker = (math.sin(clock * 9) + math.sin(clock * 5.3)) / 2
    if flicker > 0.3:  # colour flickers inside
        pen.polygon([(-0.05, y - 0.15), (0.04, y - 0.02), (-0.02, y - 0.02), (0.06, y + 0.14), (-0.08, y + 0.01),
                     (-0.01, y + 0.01)], (*inner, 220), outline=False)
    face(pen, d * 0.08, y - 0.02, 0.2, d, limbs.head / 90, eye=(250, 250, 255))


def _flame(pen: Pen, look: CharacterLook, limbs: Limbs, d: float, clock: float) -> None:
    outer, inner = look.body, look.legs
    w = 0.22 + 0.02 * math.sin(clock * 11)
    tip = -0.85 - 0.05 * math.sin(clock * 7)
    pen.polygon([(-w, -0.15), (-w * 0.6, -0.5), (0.0, tip), (w * 0.6, -0.5), (w, -0.15), (0, -0.02)], outer)
    pen.polygon([(-w * 0.5, -0.15), (0.0, tip * 0.7), (w * 0.5, -0.15), (0, -0.05)], inner, outline=False)
    face(pen, d * 0.04, -0.3, 0.12, d, limbs.head / 90)


def _swirl(pen: Pen, look: CharacterLook, limbs: Limbs, d: float, clock: float) -> None:
    for i in range(4):
        phase = clock * 2.5 + i * 1.6
        pts = [(0.3 * math.cos(phase + a) * (0.4 + a / 6), -0.45 - 0.25 * math.sin(phase + a) * (0.4 + a / 6) +
                a * 0.02) for a in np.linspace(0, 4, 9)]
        pen.capsule(pts, 0.03, look.body if i % 2 else look.legs, outline=False)
    face(pen, d * 0.05, -0.45, 0.12, d, limbs.head / 90)


def _ribbon(pen: Pen, look: CharacterLook, limbs: Limbs, d: float, clock: float) -> None:
    for band, colour in enumerate((look.body, look.legs)):
        pts = [(x, -0.55 - band * 0.12 + 0.08 * math.sin(x * 6 + clock * 1.5 + band)) for x in
               np.linspace(-0.5, 0.5, 10)]
        pen.capsule(pts, 0.1, (*colour, 170), outline=False)
    face(pen, d * 0.05, -0.6, 0.1, d, limbs.head / 90)


def _wave(pen: Pen, look: CharacterLook, limbs: Limbs, d: float, clock: float) -> None:
    crest = 0.04 * math.sin(clock * 2)
    pen.polygon([(-0.4, 0.0), (-0.35, -0.4), (-0.1, -0.75 + crest), (0.2, -0.7 + crest), (0.3, -0.55),
                 (0.15, -0.5), (0.35, 0.0)], look.body)
    pen.ellipse((0.05, -0.7 + crest), 0.18, 0.06, look.legs, outline=False)
    face(pen, -0.05 + d * 0.05, -0.42, 0.14, d, limbs.head / 90)


def _disc(pen: Pen, look: CharacterLook, limbs: Limbs, d: float, clock: float) -> None:
    y = -0.5
    for i in range(8):
        a = i * math.pi / 4 + clock * 0.3
        pen.capsule([(0.26 * math.cos(a), y + 0.26 * math.sin(a)), (0.36 * math.cos(a), y + 0.36 * math.sin(a))],
                    0.03, look.legs, outline=False)
    pen.ellipse((0, y), 0.24, 0.24, look.body)
    face(pen, d * 0.05, y, 0.18, d, limbs.head / 90)


PLANS = {"snail": _snail, "insect": _insect, "train": _train,
         "quadruped": _quadruped, "bird": _bird, "tentacled": _tentacled, "fish": _fish, "blob": _blob,
         "object": _object, "cloud": _cloud, "flame": _flame, "swirl": _swirl, "ribbon": _ribbon, "wave": _wave,
         "disc": _disc}


# --------------------------------------------------------------------------- the sprite

#: Extent (left, top, right) in figure units of each plan, padded; humanoids compute theirs.
EXTENTS = {"quadruped": (-0.75, -0.95, 0.75), "bird": (-0.6, -1.1, 0.6), "tentacled": (-0.55, -0.85, 0.55),
           "fish": (-0.75, -0.75, 0.75), "blob": (-0.4, -1.05, 0.4), "object": (-0.45, -0.95, 0.45),
           "cloud": (-0.55, -0.95, 0.55), "flame": (-0.35, -1.0, 0.35), "swirl": (-0.55, -1.0, 0.55),
           "ribbon": (-0.65, -0.9, 0.65), "wave": (-0.5, -0.9, 0.5), "disc": (-0.45, -0.95, 0.45),
           "snail": (-0.55, -0.95, 0.55), "insect": (-0.75, -1.05, 0.75), "train": (-1.4, -0.95, 1.4)}


def _extent(bones: Skeleton, look: CharacterLook, prop: str | None = None) -> tuple[float, float, float]:
    xs = [p[0] for part in (*bones.arms, *bones.legs) for p in part]
    pad = LIMB_W * bones.scale + 0.03
    hx, hy = bones.head
    reach = bones.head_r * 2.4
    left = min(-SHADOW_W, min(xs) - pad, hx - reach, -0.3)
    right = max(SHADOW_W, max(xs) + pad, hx + reach, 0.3)
    top = min(hy - bones.head_r * 3.2, min(p[1] for arm in bones.arms for p in arm) - pad)
    if look.garments & {"cloak"}:
        left, right = min(left, -0.3 - abs(bones.d) * 0.12), max(right, 0.3 + abs(bones.d) * 0.12)
    if prop:
        prop_left, prop_top, prop_right = held_extent(prop, grip(bones))
        left, top, right = min(left, prop_left), min(top, prop_top), max(right, prop_right)
    return left, top, right


def grip(bones: Skeleton) -> Grip:
    """How a person holds a prop: always in the first arm (the one gestures raise, the one that lifts a violin),
    whichever way the figure faces, so a prop never jumps from hand to hand as the figure turns."""
    arm, other = bones.arms[0], bones.arms[1]
    return Grip(arm[-1], arm[1], other[-1], bones.head, bones.head_r, bones.shoulders[0][1], bones.d)


#: Where a non-person holds a prop, facing right (figure units, ground at 0): beside the face, the snail's
#: head, the insect's forelegs, on the engine's roof.
HOLD_POINTS = {"snail": (0.32, -0.36), "insect": (0.3, -0.3), "train": (0.75, -0.95)}


def hand_position(look: CharacterLook, limbs: Limbs, d: float) -> tuple[float, float]:
    """Where a held prop sits (figure units, ground at 0): the first hand, or beside the face (in front of it
    seen from the front, so it never jumps from side to side as the figure turns)."""
    if look.plan == "humanoid":
        bones = skeleton(look, limbs, d)
        hand = grip(bones).hand
        return hand[0], hand[1] - bones.ground
    x, y = HOLD_POINTS.get(look.plan, (0.25, -0.45))
    return x * d, y


def figure_sprite(
    look: CharacterLook,
    limbs: Limbs,
    facing: float,
    height_px: float,
    frac: tuple[float, float] = (0.0, 0.0),
    clock: float = 0.0,
    prop: str | None = None,
    alpha: float = 1.0,
    prop_open: float = 1.0,
) -> tuple[Image.Image, int, int]:
    """Draw a posed figure; returns (RGBA sprite, anchor x, anchor y).

    The anchor is the sprite pixel that sits on the ground under the figure; `frac` is the
    sub-pixel part of the target position, drawn into the sprite so slow moves glide. `prop_open`
    is how far a prop that opens (an umbrella) is open, 0..1.
    """
    d = max(-1.0, min(1.0, facing))
    lift = limbs.lift + look.floats
    shape = prop_shape(prop) if prop else None
    if look.plan == "humanoid":
        bones = skeleton(look, limbs, d)
        if shape == "violin":  # while it is played, the bow arm saws
            amount, speed = BOWING
            saw = amount * playing(grip(bones)) * math.sin(clock * speed)
            limbs = limbs._replace(elbow2=limbs.elbow2 + saw)
            bones = skeleton(look, limbs, d)
        left, top, right = _extent(bones, look, shape)
        ground = bones.ground
    else:
        bones = None
        left, top, right = EXTENTS[look.plan]
        ground = 0.0
    top -= lift
    ss = 2 if height_px < 320 else 1
    ax, ay = math.ceil(-left * height_px) + 2, math.ceil((ground - top) * height_px) + 2
    size = (ax + math.ceil(right * height_px) + 3, ay + math.ceil(0.04 * height_px) + 3)
    sprite = Image.new("RGBA", (size[0] * ss, size[1] * ss), (*look.outline, 0))
    draw = ImageDraw.Draw(sprite, "RGBA")
    shadow = Pen(draw, ((ax + frac[0]) * ss, (ay + frac[1]) * ss), height_px * ss, look.outline)
    shadow_w = SHADOW_W * (0.6 if lift > 0.2 else 1.0)
    sx, sy = shadow.p((0.0, 0.0))
    draw.ellipse((sx - shadow_w * shadow.px, sy - 0.025 * shadow.px, sx + shadow_w * shadow.px,
                  sy + 0.025 * shadow.px), fill=(0, 0, 0, 55 if lift > 0.2 else 70))
    origin = ((ax + frac[0]) * ss, (ay + frac[1] - (ground + lift) * height_px) * ss)
    pen = Pen(draw, origin, height_px * ss, look.outline)
    if bones is not None:
        _humanoid(pen, look, limbs, bones, clock)
    else:
        PLANS[look.plan](pen, look, limbs, d, clock)
    if prop and shape:
        colour = prop_colour(prop, shape, look.accent)
        if bones is not None:
            draw_held(pen, shape, grip(bones), colour, clock, prop_open)
        else:
            draw_prop(pen, shape, hand_position(look, limbs, d), HAND_SIZE, colour, clock)
    if ss > 1:
        raw = Image.frombuffer("RGBa", sprite.size, sprite.tobytes(), "raw", "RGBa", 0, 1).reduce(ss)
        sprite = Image.frombuffer("RGBA", raw.size, raw.tobytes(), "raw", "RGBA", 0, 1)
    if alpha < 1.0:
        sprite.putalpha(sprite.getchannel("A").point(lambda a: round(a * alpha)))
    return sprite, ax, ay


def figure_reach(look: CharacterLook, prop: str | None = None) -> float:
    """How far from its feet a figure (and what it holds) is drawn, sideways (world units): beyond that it is
    off-screen."""
    if look.plan == "humanoid":
        reach = 0.8
    else:
        left, _, right = EXTENTS[look.plan]
        reach = max(0.8, -left, right)
    if prop and look.plan == "humanoid":
        reach = max(reach, prop_reach(prop_shape(prop)))
    return look.height * reach


#: Half the ground a plan's figure covers in profile (figure heights), where its drawing's extent says too much
#: or too little: the train's nose reaches 1.2 heights from its middle.
FOOTPRINTS = {"train": 1.2}


def figure_width(look: CharacterLook) -> float:
    """Half the width a figure takes on the ground, in world units (for spacing characters)."""
    if look.plan == "humanoid":
        return look.height * 0.32
    left, _, right = EXTENTS[look.plan]
    return look.height * FOOTPRINTS.get(look.plan, max(-left, right) * 0.7)
