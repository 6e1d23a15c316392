"""Motion: where the camera and every character are at each moment of a clip.

A clip runs from one keyframe state to the next (its first and last frames are the keyframes
themselves). In between, read from the plan's structured staging:

* the camera eases from one framing to the next, with a gentle push-in and drift;
* characters walk from mark to mark (legs swing, the body bobs), keep their left-to-right
  order, and enter or leave by walking in from, or out to, the side where nobody stands (or
  fade when both sides are taken);
* each ActionBeat of the segment plays its gesture around its time `at`, holding its prop (some gestures
  mean more with a prop in hand: holding up a violin plays it, figures.PROP_GESTURES);
* turns are continuous: facing is a number from -1 (left) to 1 (right), smoothed over half a
  second, so a turn shows the figure rotating through the front view over many frames;
* a clip whose keyframes are in two locations walks everyone off, wipes to the new set and
  walks them in (no single-frame jump).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from filmstitch.models import FilmPlan, Recolourable, derive_seed
from filmstitch.renderers.animatic.figures import (
    GESTURES,
    POSES,
    PROP_GESTURES,
    Limbs,
    figure_reach,
    figure_width,
    gait,
)
from filmstitch.renderers.animatic.looks import CharacterLook, EnvironmentLook, hex_rgb
from filmstitch.renderers.animatic.props import prop_shape
from filmstitch.renderers.animatic.scenery import FEET_V, SET_SPAN

#: Shot size -> (zoom, camera height in world units). Zoom 1 shows the whole height of the set.
SHOTS: dict[str, tuple[float, float]] = {"wide": (1.0, 0.5), "medium": (1.75, 0.62), "close": (3.2, 0.625)}
#: Keyframe variant -> (zoom factor, pan in view widths): variants always differ in framing.
FRAMINGS: tuple[tuple[float, float], ...] = ((1.0, 0.0), (1.15, -0.08), (0.88, 0.09), (1.07, 0.05))
#: Keyframe variant -> light tint (neutral, warm, cool, magenta).
TINTS: tuple[tuple[float, float, float], ...] = ((1.0, 1.0, 1.0), (1.07, 1.0, 0.88), (0.9, 0.98, 1.09),
                                                 (1.02, 0.93, 1.04))
FACINGS = {"left": -1.0, "right": 1.0, "camera": 0.0}
#: A location change: everyone walks off until WIPE[0], the wipe runs to WIPE[1], then they walk in.
WIPE = (0.4, 0.6)
#: Gestures that leave a character holding the beat's prop, and the one that hands it over.
HOLDS = {"pick_up", "hold_up"}
#: Body plans that turn more slowly than half a second: a long train swinging round in a few frames would
#: redraw much of the picture at once.
TURN_SLOWER = {"train": 3}
#: Seconds a prop takes to open once it is picked up (an umbrella), or to close before it is given away.
OPEN_S = 0.5
#: Seconds a gesture that a prop changes (playing a violin) is held, instead of 0.6 s.
PLAYED_S = 2.4
GIVES = {"give"}


@dataclass(frozen=True)
class Camera:
    x: float  # world u at the centre of the frame
    y: float  # world v at the centre of the frame
    zoom: float


@dataclass(frozen=True)
class Actor:
    look: CharacterLook
    x: float  # world u of the feet
    limbs: Limbs
    facing: float  # -1 left .. 0 front .. 1 right
    clock: float = 0.0  # seconds into the film's shot (flickers, tails, waves)
    prop: str | None = None
    alpha: float = 1.0
    prop_open: float = 1.0  # how far the prop is open (an umbrella opens as it is picked up)


@dataclass(frozen=True)
class FrameState:
    """Everything that changes from frame to frame; the sets themselves are fixed per location look."""

    camera: Camera
    light: tuple[float, float, float]
    actors: tuple[Actor, ...]
    where: int = 0  # 0: the opening keyframe's set, 1: the closing keyframe's set
    wipe: float | None = None  # during a location change: how far the new set has wiped in (0..1)
    next_camera: Camera | None = None  # during the wipe: the camera on the new set
    clock: float = 0.0  # seconds into the film (rain falls, storms flash by it)


def ease(t: float) -> float:
    """Smoothstep: starts and ends at rest."""
    return t * t * (3 - 2 * t)


def lerp(a: float, b: float, t: float) -> float:
    """Linear blend that returns `a` and `b` exactly at t=0 and t=1 (keyframes are met to the bit)."""
    return a * (1 - t) + b * t


def window(t: float, start: float, length: float) -> float:
    return ease(min(1.0, max(0.0, (t - start) / length)))


def clamp_camera(camera: Camera, aspect: float) -> Camera:
    """Keep the view inside the set (the set spans SET_SPAN wide shots and the full height)."""
    zoom = max(1.0, camera.zoom)
    half_w, half_h = aspect / zoom / 2, 0.5 / zoom
    span = SET_SPAN * aspect
    return Camera(min(max(camera.x, half_w), span - half_w), min(max(camera.y, half_h), 1 - half_h), zoom)


# --------------------------------------------------------------------------- props held


def holdings(plan: FilmPlan) -> list[dict[str, str]]:
    """Who holds which prop at each keyframe boundary (walking the beats of every segment in order)."""
    held: dict[str, str] = {}
    at_boundary = [dict(held)]
    for segment in plan.script.segments:
        for beat in sorted(segment.beats, key=lambda b: b.at):
            if beat.prop and beat.gesture in HOLDS:
                held[beat.character] = beat.prop
            elif beat.prop and beat.gesture in GIVES:
                held.pop(beat.character, None)
        at_boundary.append({name: prop for name, prop in held.items() if name in segment.characters})
    return at_boundary


# --------------------------------------------------------------------------- keyframe states


def keyframe_state(
    plan: FilmPlan, index: int, variant: int, seed: int, looks: dict[str, CharacterLook], env: EnvironmentLook,
    held: dict[str, str] | None = None,
) -> FrameState:
    """Camera, light and characters of keyframe `index`, variant (`variant`, `seed`).

    The staging's camera fixes where characters stand; the variant then reframes (zoom, pan),
    nudges the marks and tints the light, so variants differ while the story stays the same.
    """
    request = plan.request
    aspect = request.width / request.height
    staging = plan.keyframes[index].staging
    rng = np.random.default_rng([seed, variant, index])
    zoom, cam_y = SHOTS[staging.shot]
    tallest = max((looks[p.character].face_height for p in staging.placements), default=0.0)
    if staging.shot != "wide" and tallest > 0.27:  # aim a tall figure's face, not its feet
        cam_y = min(cam_y, FEET_V - tallest * (0.72 if staging.shot == "close" else 0.6))
    span = SET_SPAN * aspect
    staged = clamp_camera(Camera(span / 2 + (staging.camera_x - 0.5) * (span - aspect), cam_y, zoom), aspect)
    view = aspect / staged.zoom
    held = held if held is not None else holdings(plan)[index]
    placements = sorted(staging.placements, key=lambda p: p.x)
    widths = [figure_width(looks[p.character]) for p in placements]
    marks = spread([staged.x + (p.x + _nudge(seed, variant, index, p.character) - 0.5) * view for p in placements],
                   widths)
    props = [p.prop or held.get(p.character) for p in placements]
    marks = shelter(marks, widths, props)
    clock = index * request.seconds_per_segment  # the film's time at this keyframe: clips continue from it
    actors = tuple(
        Actor(look=recoloured(looks[p.character], p.colours), x=x, limbs=POSES[p.pose], facing=FACINGS[p.facing],
              clock=clock, prop=prop)
        for p, x, prop in zip(placements, marks, props)
    )
    zoom_factor, pan = FRAMINGS[variant % len(FRAMINGS)]
    zoom = staged.zoom * zoom_factor * float(rng.uniform(0.97, 1.03))
    pan_x = (pan + float(rng.uniform(-0.02, 0.02))) * aspect / zoom
    camera = clamp_camera(Camera(staged.x + pan_x, staged.y + float(rng.uniform(-0.01, 0.01)), zoom), aspect)
    tint = TINTS[variant % len(TINTS)]
    wobble = float(rng.uniform(0.97, 1.03))
    light = tuple(staging.light * env.light[i] * tint[i] * wobble for i in range(3))
    return FrameState(camera=camera, light=light, actors=actors, clock=clock)  # type: ignore[arg-type]


def recoloured(look: CharacterLook, colours: dict[Recolourable, str]) -> CharacterLook:
    """The look with a keyframe's colour changes (an edit: "make her coat red"); the clip that starts at that
    keyframe keeps them, the next keyframe's own colours take over from there."""
    if not colours:
        return look
    changes = {"outfit": "body", "legs": "legs", "hair": "hair"}
    fields: dict[str, Any] = {changes[part]: hex_rgb(value) for part, value in colours.items()}
    return dataclasses.replace(look, **fields)


def spread(xs: list[float], half_widths: list[float], gap: float = 0.015) -> list[float]:
    """Marks (in order) moved apart just enough that footprints do not overlap, centred where they were."""
    if len(xs) < 2:
        return xs
    out = [xs[0]]
    for x, w, w_prev in zip(xs[1:], half_widths[1:], half_widths):
        out.append(max(x, out[-1] + w_prev + w + gap))
    shift = (sum(xs) - sum(out)) / len(xs)
    return [x + shift for x in out]


#: How close a figure under another's umbrella stands: its centre this fraction of the two half widths away.
SHELTER_CLOSENESS = 0.85


def shelters(prop: str | None) -> bool:
    """Whether a held prop is an umbrella, which its holder shares with the neighbour beside it."""
    return prop_shape(prop) == "umbrella" if prop else False


def closest(left_width: float, right_width: float, sheltered: bool) -> float:
    """How close two neighbours' centres may come: footprints apart, or huddled under one umbrella."""
    if sheltered:
        return SHELTER_CLOSENESS * (left_width + right_width)
    return left_width + right_width + 0.01


def shelter(xs: list[float], half_widths: list[float], props: list[str | None]) -> list[float]:
    """Marks (in order) with whoever holds an umbrella standing close beside its neighbour (the next one, or the
    one before at the right-hand end), around where the pair stood, so the open canopy covers both: two robots
    who share one umbrella share it."""
    out = list(xs)
    for i, prop in enumerate(props):
        if not shelters(prop) or len(out) < 2:
            continue
        j = i + 1 if i + 1 < len(out) else i - 1
        lo, hi = min(i, j), max(i, j)
        middle, half = (out[lo] + out[hi]) / 2, closest(half_widths[lo], half_widths[hi], sheltered=True) / 2
        out[lo], out[hi] = middle - half, middle + half
    return out


def _nudge(seed: int, variant: int, index: int, name: str) -> float:
    """A keyframe variant's small shift of one character's mark (fraction of the frame width)."""
    return float(np.random.default_rng([seed, variant, index, derive_seed(0, name)]).uniform(-0.02, 0.02))


# --------------------------------------------------------------------------- one character's clip


@dataclass(frozen=True)
class Track:
    """One character's journey through a clip, from mark to mark (or from/to off-screen)."""

    look: CharacterLook
    x0: float
    x1: float
    limbs0: Limbs
    limbs1: Limbs
    facing0: float
    facing1: float
    prop0: str | None = None
    prop1: str | None = None
    fade: str = ""  # "in" or "out": an entrance or exit with nowhere to walk from or to

    @property
    def direction(self) -> float:
        return 1.0 if self.x1 >= self.x0 else -1.0


@dataclass(frozen=True)
class PerformedGesture:
    """A gesture of the plan as a figure performs it: its limb positions, when in the shot, what it holds."""

    name: str
    limbs: Limbs
    at: float
    prop: str | None
    holds: bool
    gives: bool


class Motion:
    """The interpolated staging of one clip: `state(t)` for t in [0, 1]."""

    def __init__(self, a: FrameState, b: FrameState, plan: FilmPlan, segment: int, seconds: float, seed: int,
                 moves: bool = False) -> None:
        self.a, self.b, self.seconds, self.moves = a, b, seconds, moves
        self.aspect = plan.request.width / plan.request.height
        self.start_clock = segment * seconds
        rng = np.random.default_rng([seed, 11])
        self.drift_phase = float(rng.uniform(0, 2 * math.pi))
        self.push = float(rng.uniform(0.02, 0.05))
        self.waves = max(2, 2 * round(seconds * 0.8))
        order = {c.name: i for i, c in enumerate(plan.characters)}
        self.rank = order  # left-to-right order of the cast, kept in every frame
        self.gestures = self._gestures(plan, segment)
        self.tracks = self._tracks(order)
        if moves:  # everyone walks the same distance, so nobody overtakes anybody
            # Far enough to be wholly off-screen (props and all) where the camera has followed them to (it drifts
            # 0.3 views with them: camera()), before the wipe draws the sets without them.
            tallest = max((max(track.look.height, figure_reach(track.look, track.prop0), figure_reach(track.look,
                          track.prop1)) for track in self.tracks), default=0.3)
            a_cam, b_cam = a.camera, b.camera
            starts = [tr.x0 for tr in self.tracks if not math.isnan(tr.x0)]
            ends = [tr.x1 for tr in self.tracks if not math.isnan(tr.x1)]
            a_edge = a_cam.x + (0.3 + 0.5) * self.aspect / a_cam.zoom
            b_edge = b_cam.x - (0.3 + 0.5) * self.aspect / b_cam.zoom
            self.exit_shift = (a_edge + tallest - min(starts)) if starts else 0.0
            self.enter_shift = (max(ends) - (b_edge - tallest)) if ends else 0.0

    # -- setup

    def _gestures(self, plan: FilmPlan, segment: int) -> dict[str, list[PerformedGesture]]:
        found: dict[str, list[PerformedGesture]] = {}
        for beat in sorted(plan.script.segments[segment].beats, key=lambda b: b.at):
            found.setdefault(beat.character, []).append(
                PerformedGesture(beat.gesture, GESTURES[beat.gesture], min(0.85, max(0.15, beat.at)), beat.prop,
                        beat.gesture in HOLDS, beat.gesture in GIVES))
        return found

    def _tracks(self, order: dict[str, int]) -> list[Track]:
        start = {actor.look.name: actor for actor in self.a.actors}
        end = {actor.look.name: actor for actor in self.b.actors}
        names = sorted(set(start) | set(end), key=lambda n: order.get(n, 99))
        if self.moves:  # a location change: off to the right in the old set, in from the left in the new
            return [self._travel(start.get(n), end.get(n)) for n in names]
        spans = {n: (min(s.x, e.x), max(s.x, e.x), s.look) for n in names
                 if (s := start.get(n)) is not None and (e := end.get(n)) is not None}
        tracks = []
        for name in names:
            first, last = start.get(name), end.get(name)
            if first is None or last is None:
                others = {n: span for n, span in spans.items() if n != name}
                others.update({n: (a.x, a.x, a.look) for n, a in (end if first is None else start).items()
                               if n != name and n not in spans})
                tracks.append(self._entrance_or_exit(first, last, others))
            else:
                tracks.append(Track(first.look, first.x, last.x, first.limbs, last.limbs, first.facing, last.facing,
                                    first.prop, last.prop))
        return tracks

    def _entrance_or_exit(self, first: Actor | None, last: Actor | None,
                          others: dict[str, tuple[float, float, CharacterLook]]) -> Track:
        """Walk in from (or out to) the edge with nobody in the way; fade if both ways are blocked.

        `others` holds, for everyone else, the span of x they cover during the clip.
        """
        present = last if first is None else first
        assert present is not None
        camera = self.a.camera if first is None else self.b.camera
        rank = self.rank.get(present.look.name, 99)
        left_clear = all(self.rank.get(look.name, 99) > rank for *_, look in others.values())
        right_clear = all(self.rank.get(look.name, 99) < rank for *_, look in others.values())
        if not (left_clear or right_clear):
            track = Track(present.look, present.x, present.x, present.limbs, present.limbs, present.facing,
                          present.facing, present.prop, present.prop, fade="in" if first is None else "out")
            return track
        side = (-1.0 if present.x < camera.x else 1.0) if left_clear and right_clear else (-1.0 if left_clear else 1.0)
        off = camera.x + side * (self.aspect / camera.zoom / 2 + figure_reach(present.look, present.prop))
        walking = POSES["walk"]
        if first is None:
            return Track(present.look, off, present.x, walking, present.limbs, -side, present.facing, present.prop,
                         present.prop)
        return Track(present.look, present.x, off, present.limbs, walking, present.facing, side, present.prop,
                     present.prop)

    def _travel(self, first: Actor | None, last: Actor | None) -> Track:
        """Across a location change: x0/x1 are the marks in the two sets; `state` walks them off and on."""
        look = (first or last).look  # type: ignore[union-attr]
        x0 = first.x if first else None
        x1 = last.x if last else None
        return Track(look, x0 if x0 is not None else math.nan, x1 if x1 is not None else math.nan,
                     first.limbs if first else POSES["walk"], last.limbs if last else POSES["walk"],
                     first.facing if first else 1.0, last.facing if last else 1.0,
                     first.prop if first else None, last.prop if last else None)

    # -- the camera

    def camera(self, t: float) -> Camera:
        a, b = self.a.camera, self.b.camera
        if t <= 0.0 or t >= 1.0:
            return a if t <= 0.0 else b
        if self.moves:  # each set keeps its own framing; the camera follows the walkers off and on
            if t < WIPE[1]:
                u = min(1.0, t / WIPE[0])
                return clamp_camera(Camera(a.x + 0.3 * ease(u) * self.aspect / a.zoom, a.y, a.zoom), self.aspect)
            u = (t - WIPE[1]) / (1 - WIPE[1])
            return clamp_camera(Camera(b.x - 0.3 * (1 - ease(u)) * self.aspect / b.zoom, b.y, b.zoom), self.aspect)
        e = ease(t)
        arc = math.sin(math.pi * t)
        zoom = math.exp(lerp(math.log(a.zoom), math.log(b.zoom), e)) * (1 + self.push * arc)
        drift = 0.012 * arc * math.sin(2 * math.pi * 0.7 * t + self.drift_phase) * self.aspect / zoom
        return clamp_camera(Camera(lerp(a.x, b.x, e) + drift, lerp(a.y, b.y, e), zoom), self.aspect)

    # -- one character

    def _gait_weight(self, distance: float, t: float, height: float) -> float:
        speed = abs(distance) * 6 * t * (1 - t) / self.seconds / height
        return min(1.0, speed / 0.35)

    def _walk(self, track: Track, x0: float, x1: float, t: float, limbs0: Limbs, limbs1: Limbs) -> tuple[float, Limbs]:
        distance = x1 - x0
        e = ease(t)
        height = track.look.height
        peak = abs(distance) * 1.5 / self.seconds / height
        phase = 2 * math.pi * abs(distance) * e / (0.85 * height)
        weight = self._gait_weight(distance, t, height)
        run = min(1.0, max(0.0, (peak - 1.3) / 0.8))
        limbs = limbs0.blend(limbs1, window(t, 0.35, 0.4))
        limbs = limbs.blend(gait(phase, run), weight)
        return lerp(x0, x1, e), limbs

    def _gesture(self, track: Track, t: float, limbs: Limbs, moving: float) -> tuple[Limbs, str | None, float]:
        """Play the segment's beats for this character; returns the limbs, the prop in hand and how far it is
        open (a prop opens over OPEN_S after it is picked up and closes before it is given away)."""
        prop = track.prop0
        opening = 1.0
        unfold = OPEN_S / self.seconds
        rise = 0.45 / self.seconds  # seconds to strike a gesture
        for g in self.gestures.get(track.look.name, []):
            held = g.prop or prop  # the prop in hand as the gesture is struck
            target = PROP_GESTURES.get(prop_shape(held), {}).get(g.name, g.limbs) if held else g.limbs
            hold = (PLAYED_S if target is not g.limbs else 0.6) / self.seconds  # a tune lasts longer than a wave
            start, stop = g.at - rise, max(g.at, min(g.at + hold, 1.0 - rise - 1e-3))  # released by the end
            weight = window(t, start, rise) * (1 - window(t, stop, rise)) * (1 - moving)
            if t <= 0.0 or t >= 1.0:
                weight = 0.0
            limbs = limbs.blend(target, weight)
            if g.prop and g.holds and t >= g.at:
                if prop != g.prop:
                    opening = window(t, g.at, unfold)
                prop = g.prop
            if g.prop and g.gives and t >= stop - unfold:
                opening = 1 - window(t, stop - unfold, unfold)
            if g.prop and g.gives and t >= stop:
                prop = None
        if t >= 1.0:
            prop, opening = track.prop1, 1.0
        return limbs, prop, opening

    def _facing(self, track: Track, t: float, distance: float) -> float:
        """Continuous facing: where they walk, else their keyframe facing, smoothed over half a second."""

        def intent(u: float) -> float:
            if abs(distance) > 1e-3 and self._gait_weight(distance, u, track.look.height) > 0.25:
                return 1.0 if distance > 0 else -1.0
            return track.facing0 if u < 0.5 else track.facing1

        if t <= 0.0:
            return track.facing0
        if t >= 1.0:
            return track.facing1
        slower = TURN_SLOWER.get(track.look.plan, 1)
        if slower == 1:
            half = min(0.25 / self.seconds, t, 1 - t)  # the window shrinks to nothing at the keyframes
            samples = [intent(min(1.0, max(0.0, t + half * k / 4))) for k in range(-4, 5)]
            return sum(samples) / len(samples)
        # A slow turner keeps its whole window (a shrinking one would swing it round in the clip's first frames)
        # and eases from its keyframe facing into the smoothed one, and out of it into the next keyframe's.
        half = 0.25 * slower / self.seconds
        n = 4 * slower  # samples as far apart as a normal turn's, so a slow turn is as smooth
        samples = [intent(min(1.0, max(0.0, t + half * k / n))) for k in range(-n, n + 1)]
        smoothed = sum(samples) / len(samples)
        facing = lerp(track.facing0, smoothed, ease(min(1.0, t / (2 * half))))
        return lerp(track.facing1, facing, ease(min(1.0, (1 - t) / (2 * half))))

    def actor(self, track: Track, t: float) -> Actor | None:
        clock = self.start_clock + t * self.seconds
        if self.moves:
            return self._travel_actor(track, t, clock)
        x, limbs = self._walk(track, track.x0, track.x1, t, track.limbs0, track.limbs1)
        moving = self._gait_weight(track.x1 - track.x0, t, track.look.height)
        limbs, prop, opening = self._gesture(track, t, limbs, moving)
        alpha = 1.0
        if track.fade == "in":
            alpha = window(t, 0.2, 0.4)
        elif track.fade == "out":
            alpha = 1 - window(t, 0.4, 0.4)
        if alpha <= 0.0:
            return None
        if t >= 1.0 and track.fade == "":
            return Actor(track.look, track.x1, track.limbs1, track.facing1, clock, track.prop1)
        if t <= 0.0:
            return Actor(track.look, track.x0, track.limbs0, track.facing0, clock, track.prop0)
        return Actor(track.look, x, limbs, self._facing(track, t, track.x1 - track.x0), clock, prop, alpha, opening)

    def _travel_actor(self, track: Track, t: float, clock: float) -> Actor | None:
        """Walk off to the right in the old set, then in from the left to the mark in the new one."""
        if t < WIPE[0] and not math.isnan(track.x0):
            off = track.x0 + self.exit_shift
            u = t / WIPE[0]
            x, limbs = self._walk(track, track.x0, off, u, track.limbs0, POSES["walk"])
            face = 1.0 if u > 0 else track.facing0
            facing = lerp(track.facing0, 1.0, window(u, 0.0, 0.15)) if u > 0 else face
            return Actor(track.look, x, limbs, facing, clock, track.prop0)
        if t > WIPE[1] and not math.isnan(track.x1):
            off = track.x1 - self.enter_shift
            u = (t - WIPE[1]) / (1 - WIPE[1])
            x, limbs = self._walk(track, off, track.x1, u, POSES["walk"], track.limbs1)
            if u >= 1.0:
                return Actor(track.look, track.x1, track.limbs1, track.facing1, clock, track.prop1)
            facing = lerp(1.0, track.facing1, window(u, 0.85, 0.15))
            return Actor(track.look, x, limbs, facing, clock, track.prop1)
        return None

    def _kept_apart(self, actors: tuple[Actor, ...], t: float) -> tuple[Actor, ...]:
        """Hold the cast's left-to-right order and spacing in every frame (nobody walks through anybody).

        Keyframes already satisfy it, so this changes nothing at the ends; between them it nudges a
        character who would otherwise pass through a neighbour. It eases out near both ends, so a plan
        whose keyframes break the order still meets them exactly.
        """
        if len(actors) < 2:
            return actors
        ranked = sorted(actors, key=lambda a: self.rank.get(a.look.name, 99))
        xs = [a.x for a in ranked]
        least = [closest(figure_width(a.look), figure_width(b.look), shelters(a.prop) or shelters(b.prop))
                 for a, b in itertools.pairwise(ranked)]
        if all(b.x - a.x >= gap - 1e-9 for a, b, gap in zip(ranked, ranked[1:], least)):
            return actors  # already apart and in order
        apart = [xs[0]]
        for a, gap in zip(ranked[1:], least):
            apart.append(max(a.x, apart[-1] + gap))
        weight = min(1.0, 8 * t, 8 * (1 - t))
        centre = (sum(xs) - sum(apart)) / len(xs)  # spread around where they were, not only to the right
        moved = {id(a): lerp(a.x, x + centre, weight) for a, x in zip(ranked, apart)}
        return tuple(dataclasses.replace(a, x=moved[id(a)]) for a in actors)

    # -- the whole frame

    def state(self, t: float) -> FrameState:
        if t <= 0.0:
            return self.a
        if t >= 1.0:
            return self.b
        light = tuple(lerp(la, lb, ease(t)) for la, lb in zip(self.a.light, self.b.light, strict=True))
        if self.moves:
            light = self.a.light if t < WIPE[0] else self.b.light if t > WIPE[1] else light
        actors = self._kept_apart(tuple(actor for track in self.tracks if (actor := self.actor(track, t)) is not None),
                                  t)
        where, wipe = 0, None
        if self.moves:
            if t >= WIPE[1]:
                where = 1
            elif t > WIPE[0]:
                wipe = ease((t - WIPE[0]) / (WIPE[1] - WIPE[0]))
        next_camera = self.camera(WIPE[1] + 1e-9) if wipe is not None else None
        clock = self.start_clock + t * self.seconds
        return FrameState(self.camera(t), light, actors, where, wipe, next_camera, clock)  # type: ignore[arg-type]


def spacing(actors: tuple[Actor, ...]) -> float:
    """The smallest gap between two neighbouring characters' ground footprints (world units)."""
    shown = sorted((a for a in actors if a.alpha > 0.5), key=lambda a: a.x)
    gaps = [(b.x - figure_width(b.look)) - (a.x + figure_width(a.look)) for a, b in itertools.pairwise(shown)]
    return min(gaps) if gaps else math.inf
