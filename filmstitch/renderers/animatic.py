"""The animatic renderer: storyboard-style pictures and moving clips drawn on the CPU.

It needs no model: everything comes from the plan's structured data.

* A **look** (colours, headwear, props, terrain...) is derived from a subject and one
  reference variant's ``(variant, seed)``. Keyframes and clips re-derive looks from the
  chosen references' seeds, never from their pixels, so a character is drawn the same way
  in every shot.
* A **frame state** says where the camera is (pan, height, zoom), how the light falls and
  where each character stands in which pose. A keyframe's state comes from its staging plus
  the keyframe variant's framing, jitter and tint.
* A **clip** interpolates between the two keyframe states with easing: the camera pans and
  zooms, characters walk (legs swing, body bobs) from one mark to the next, enter and leave
  by walking in and out of frame, and change pose. Its first and last frames are the chosen
  keyframe images themselves.

Speed: the set (sky, ridges, ground, props) is drawn once per environment look and frame
size and cached; each frame only crops and scales it and draws the figures.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageDraw

from filmstitch.models import Character, Environment, FilmPlan, Subject, derive_seed
from filmstitch.renderers._drawing import (
    FEET_V,
    POSES,
    SET_SPAN,
    CharacterLook,
    EnvironmentLook,
    Facing,
    Limbs,
    SetLayers,
    character_look,
    environment_look,
    figure_sprite,
    font,
    gait,
    set_layers,
    wrap,
)
from filmstitch.renderers.base import RenderedImage, Renderer
from filmstitch.video import encode_mp4

#: Shot size -> (zoom, camera height in world units). Zoom 1 shows the whole height of the set.
SHOTS: dict[str, tuple[float, float]] = {"wide": (1.0, 0.5), "medium": (1.75, 0.62), "close": (3.2, 0.625)}
#: Keyframe variant -> (zoom factor, pan in view widths): variants always differ in framing.
FRAMINGS: tuple[tuple[float, float], ...] = ((1.0, 0.0), (1.15, -0.08), (0.88, 0.09), (1.07, 0.05))
#: Keyframe variant -> light tint (neutral, warm, cool, magenta).
TINTS: tuple[tuple[float, float, float], ...] = (
    (1.0, 1.0, 1.0),
    (1.07, 1.0, 0.88),
    (0.9, 0.98, 1.09),
    (1.02, 0.93, 1.04),
)
#: How much the far layer (sky, ridges) follows a camera pan: less than the ground, so it feels far.
PARALLAX = 0.35


class AnimaticError(ValueError):
    """Input the animatic renderer cannot draw (missing reference, wrong index, bad image)."""


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
    facing: Facing


@dataclass(frozen=True)
class FrameState:
    """Everything that changes from frame to frame; the set itself is fixed per environment look."""

    camera: Camera
    light: tuple[float, float, float]
    actors: tuple[Actor, ...]


# --------------------------------------------------------------------------- composing a frame


def clamp_camera(camera: Camera, aspect: float) -> Camera:
    """Keep the view inside the set (the set spans SET_SPAN wide shots and the full height)."""
    zoom = max(1.0, camera.zoom)
    half_w, half_h = aspect / zoom / 2, 0.5 / zoom
    span = SET_SPAN * aspect
    return Camera(min(max(camera.x, half_w), span - half_w), min(max(camera.y, half_h), 1 - half_h), zoom)


def _crop(
    image: Image.Image,
    scale: float,
    cam: Camera,
    view: tuple[float, float],
    size: tuple[int, int],
    rows: tuple[int, int],
) -> Image.Image:
    """Rows `rows` of the camera's view of a layer, scaled to the frame's width.

    Cropping a band of rows samples exactly the pixels the full view would, so bands
    from different layers meet without seams.
    """
    left, top = (cam.x - view[0] / 2) * scale, (cam.y - view[1] / 2) * scale
    row_h = view[1] * scale / size[1]
    # The camera is clamped to the set; max/min only absorb float rounding (Pillow refuses a box
    # even 1e-12 outside the image).
    box = (
        max(0.0, left),
        max(0.0, top + rows[0] * row_h),
        min(float(image.width), left + view[0] * scale),
        min(float(image.height), top + rows[1] * row_h),
    )
    return image.resize((size[0], rows[1] - rows[0]), Image.Resampling.BILINEAR, box=box)


def compose(layers: SetLayers, state: FrameState, size: tuple[int, int]) -> Image.Image:
    """Draw one frame: far layer (with parallax), near layer, figures, then the light.

    Only the rows where the near layer is see-through are composited; above them the far
    layer is copied, below them the near layer: three cheap bands instead of two full layers.
    """
    width, height = size
    cam = state.camera
    view = (width / height / cam.zoom, 1.0 / cam.zoom)

    def row(v: float) -> float:
        return ((v - cam.y) * cam.zoom + 0.5) * height

    top = min(height, max(0, math.floor(row(layers.near_top)) - 2))
    solid = min(height, max(top, math.ceil(row(layers.near_solid)) + 2))
    frame = Image.new("RGB", size)
    if solid > 0:
        far_cam = Camera(layers.span / 2 + (cam.x - layers.span / 2) * PARALLAX, cam.y, cam.zoom)
        frame.paste(_crop(layers.far, layers.far_scale, far_cam, view, size, (0, solid)), (0, 0))
    # Use the coarse near layer until it would be magnified by more than 1.3x.
    scale, rgb, mask = next((lvl for lvl in layers.near if lvl[0] * 1.3 >= cam.zoom * height), layers.near[-1])
    if solid > top:
        band = (top, solid)
        frame.paste(_crop(rgb, scale, cam, view, size, band), (0, top), _crop(mask, scale, cam, view, size, band))
    if height > solid:
        frame.paste(_crop(rgb, scale, cam, view, size, (solid, height)), (0, solid))
    for actor in state.actors:
        _draw_actor(frame, actor, cam, size)
    return frame.point(_light_table(state.light))


def _draw_actor(frame: Image.Image, actor: Actor, cam: Camera, size: tuple[int, int]) -> None:
    width, height = size
    sx = ((actor.x - cam.x) * cam.zoom + width / height / 2) * height
    sy = ((FEET_V - cam.y) * cam.zoom + 0.5) * height
    figure_px = actor.look.height * cam.zoom * height
    if abs(sx - width / 2) > width / 2 + figure_px or sy - figure_px * 1.3 > height:
        return  # entirely out of frame
    sprite, ax, ay = figure_sprite(actor.look, actor.limbs, actor.facing, figure_px, (sx % 1.0, sy % 1.0))
    frame.paste(sprite, (math.floor(sx) - ax, math.floor(sy) - ay), sprite)


def _light_table(gains: tuple[float, float, float]) -> list[int]:
    return [min(255, round(i * gain)) for gain in gains for i in range(256)]


# --------------------------------------------------------------------------- keyframe states


def keyframe_state(
    plan: FilmPlan, index: int, variant: int, seed: int, looks: dict[str, CharacterLook], env: EnvironmentLook
) -> FrameState:
    """Where camera, light and characters are in keyframe `index`, variant (`variant`, `seed`).

    The staging's camera fixes where characters stand in the world; the variant then
    reframes (zoom, pan), nudges the marks and tints the light, so variants differ while
    the story stays the same.
    """
    request = plan.request
    aspect = request.width / request.height
    staging = plan.keyframes[index].staging
    # Separate random streams, so adding a character never reframes the shot.
    rng = np.random.default_rng([seed, variant, index])
    zoom, cam_y = SHOTS[staging.shot]
    span = SET_SPAN * aspect
    staged = clamp_camera(Camera(span / 2 + (staging.camera_x - 0.5) * (span - aspect), cam_y, zoom), aspect)
    staged_view = aspect / staged.zoom
    actors = tuple(
        Actor(
            look=looks[p.character],
            x=staged.x + (p.x + _nudge(seed, variant, index, p.character) - 0.5) * staged_view,
            limbs=POSES[p.pose],
            facing=p.facing,
        )
        for p in staging.placements
    )
    zoom_factor, pan = FRAMINGS[variant % len(FRAMINGS)]
    zoom = staged.zoom * zoom_factor * float(rng.uniform(0.97, 1.03))
    pan_x = (pan + float(rng.uniform(-0.02, 0.02))) * aspect / zoom
    camera = clamp_camera(Camera(staged.x + pan_x, staged.y + float(rng.uniform(-0.01, 0.01)), zoom), aspect)
    tint = TINTS[variant % len(TINTS)]
    wobble = float(rng.uniform(0.97, 1.03))
    red, green, blue = (staging.light * env.light[i] * tint[i] * wobble for i in range(3))
    return FrameState(camera=camera, light=(red, green, blue), actors=actors)


def _nudge(seed: int, variant: int, index: int, name: str) -> float:
    """A keyframe variant's small shift of one character's mark (fraction of the frame width)."""
    return float(np.random.default_rng([seed, variant, index, derive_seed(0, name)]).uniform(-0.03, 0.03))


# --------------------------------------------------------------------------- motion between keyframes


def ease(t: float) -> float:
    """Smoothstep: starts and ends at rest."""
    return t * t * (3 - 2 * t)


def lerp(a: float, b: float, t: float) -> float:
    """Linear blend that returns `a` and `b` exactly at t=0 and t=1 (keyframes are met to the bit)."""
    return a * (1 - t) + b * t


def _window(t: float, start: float, length: float) -> float:
    return ease(min(1.0, max(0.0, (t - start) / length)))


@dataclass(frozen=True)
class Track:
    """One character's journey through a clip, from mark to mark (or from/to off-screen)."""

    look: CharacterLook
    x0: float
    x1: float
    limbs0: Limbs
    limbs1: Limbs
    facing0: Facing
    facing1: Facing
    wave0: float
    wave1: float

    @property
    def direction(self) -> Facing:
        return "right" if self.x1 >= self.x0 else "left"


#: Words of a segment's action -> the pose its first-named character strikes mid-clip.
ACTION_POSES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("kneel", ("kneel", "kneels", "kneeling", "crouch", "crouches", "crouching")),
    ("look_up", ("looks up", "look up", "gazes up", "glances up", "stares up", "looking up")),
    ("reach", ("reaches", "reaching", "touches", "grabs", "picks up")),
    ("wave", ("waves", "waving")),
    ("sit", ("sits", "sitting", "sits down")),
)


def action_beats(plan: FilmPlan, segment: int) -> dict[str, Limbs]:
    """The mid-clip gesture the action text asks of its first-named character, if any.

    "Mira freezes, kneels, then looks up" -> Mira kneels halfway through the clip. Only the
    first gesture is played, between the two keyframe poses.
    """
    seg = plan.script.segments[segment]
    text = seg.action.lower()
    named = [(text.find(name.lower()), name) for name in seg.characters if name.lower() in text]
    found = [
        (match.start(), pose)
        for pose, words in ACTION_POSES
        for word in words
        if (match := re.search(rf"\b{re.escape(word)}\b", text))
    ]
    if not named or not found:
        return {}
    return {min(named)[1]: POSES[min(found)[1]]}


class Motion:
    """The interpolated staging of one clip: `state(t)` for t in [0, 1]."""

    def __init__(
        self,
        a: FrameState,
        b: FrameState,
        plan: FilmPlan,
        seconds: float,
        seed: int,
        beats: dict[str, Limbs] | None = None,
    ) -> None:
        self.a, self.b, self.seconds = a, b, seconds
        self.beats = beats or {}
        self.aspect = plan.request.width / plan.request.height
        rng = np.random.default_rng([seed, 11])
        self.drift_phase = float(rng.uniform(0, 2 * math.pi))
        self.push = float(rng.uniform(0.02, 0.05))  # gentle push-in mid-clip keeps static shots alive
        self.waves = max(2, 2 * round(seconds * 0.8))  # even number of wave swings: zero at both ends
        self.tracks = self._tracks(plan)

    def _tracks(self, plan: FilmPlan) -> list[Track]:
        """Pair up characters of both keyframes; the missing end of an entrance or exit is off-screen."""
        start = {actor.look.name: actor for actor in self.a.actors}
        end = {actor.look.name: actor for actor in self.b.actors}
        # Plan order, so characters overlap the same way in every frame.
        return [self._track(start.get(c.name), end.get(c.name)) for c in plan.characters if c.name in start | end]

    def _track(self, first: Actor | None, last: Actor | None) -> Track:
        if first is None and last is None:
            raise ValueError("a track needs at least one end")
        if first is None:  # an entrance: walk in from the nearer edge of the opening shot
            first = Actor(last.look, self._offscreen(self.a.camera, last.x, last.look), POSES["walk"], "camera")
            first = replace(first, facing="right" if last.x >= first.x else "left")
        if last is None:  # an exit: walk out at the nearer edge of the closing shot
            last = Actor(first.look, self._offscreen(self.b.camera, first.x, first.look), POSES["walk"], "camera")
            last = replace(last, facing="right" if last.x >= first.x else "left")
        return Track(
            look=first.look,
            x0=first.x,
            x1=last.x,
            limbs0=first.limbs,
            limbs1=last.limbs,
            facing0=first.facing,
            facing1=last.facing,
            wave0=float(first.limbs == POSES["wave"]),
            wave1=float(last.limbs == POSES["wave"]),
        )

    def _offscreen(self, camera: Camera, toward: float, look: CharacterLook) -> float:
        """A world position just outside the camera's view, on the side nearest `toward`."""
        side = -1.0 if toward < camera.x else 1.0
        return camera.x + side * (self.aspect / camera.zoom / 2 + look.height * 0.6)

    def camera(self, t: float) -> Camera:
        a, b, e = self.a.camera, self.b.camera, ease(t)
        if t <= 0.0 or t >= 1.0:
            return a if t <= 0.0 else b
        arc = math.sin(math.pi * t)  # zero at both ends: push-in and drift never move a keyframe
        zoom = math.exp(lerp(math.log(a.zoom), math.log(b.zoom), e)) * (1 + self.push * arc)
        drift = 0.012 * arc * math.sin(2 * math.pi * 0.7 * t + self.drift_phase) * self.aspect / zoom
        return clamp_camera(Camera(lerp(a.x, b.x, e) + drift, lerp(a.y, b.y, e), zoom), self.aspect)

    def actor(self, track: Track, t: float) -> Actor:
        distance = track.x1 - track.x0
        e = ease(t)
        height = track.look.height
        peak = abs(distance) * 1.5 / self.seconds / height  # top speed in figure heights per second
        stride = 0.85 * height  # world distance of one full walk cycle
        phase = 2 * math.pi * abs(distance) * e / stride
        gait_weight = self._gait_weight(track, t)
        run = min(1.0, max(0.0, (peak - 1.3) / 0.8))
        pose_t = _window(t, 0.35, 0.4)
        limbs = track.limbs0.blend(track.limbs1, pose_t)
        beat = self.beats.get(track.look.name)
        if beat is not None and peak < 0.5:  # a gesture, for someone who mostly stays on their mark
            limbs = limbs.blend(beat, _window(t, 0.2, 0.2) * (1 - _window(t, 0.62, 0.2)))
        limbs = limbs.blend(gait(phase, run), gait_weight)
        wave = (track.wave0 + (track.wave1 - track.wave0) * pose_t) * (1 - gait_weight)
        if wave and 0.0 < t < 1.0:
            swing = math.sin(math.pi * self.waves * t)
            limbs = limbs._replace(elbow1=limbs.elbow1 + 28 * wave * swing, arm1=limbs.arm1 + 6 * wave * swing)
        return Actor(look=track.look, x=lerp(track.x0, track.x1, e), limbs=limbs, facing=self.facing(track, t))

    def _gait_weight(self, track: Track, t: float) -> float:
        """How much of a walk cycle a character shows at t: 0 at rest, 1 at walking speed."""
        speed = abs(track.x1 - track.x0) * 6 * t * (1 - t) / self.seconds / track.look.height
        return min(1.0, speed / 0.35)

    def facing(self, track: Track, t: float) -> Facing:
        """Where a character faces: where they walk, else their keyframe facing.

        A turn from left to right (or back) passes through the front view for a moment,
        instead of flipping between two frames.
        """

        def plain(u: float) -> Facing:
            if self._gait_weight(track, u) > 0.25 and abs(track.x1 - track.x0) > 1e-3:
                return track.direction
            return track.facing0 if u < 0.5 else track.facing1

        now = plain(t)
        if t <= 0.0 or t >= 1.0 or now == "camera":
            return now
        turn = 0.12 / self.seconds  # seconds of front view on each side of a flip
        around = {plain(max(0.0, t - turn)), plain(min(1.0, t + turn)), now}
        return "camera" if {"left", "right"} <= around else now

    def state(self, t: float) -> FrameState:
        e = ease(t)
        red, green, blue = (lerp(la, lb, e) for la, lb in zip(self.a.light, self.b.light, strict=True))
        return FrameState(
            camera=self.camera(t),
            light=(red, green, blue),
            actors=tuple(self.actor(track, t) for track in self.tracks),
        )


# --------------------------------------------------------------------------- subtitles


def subtitle_cues(plan: FilmPlan, segment: int) -> list[str]:
    """Dialogue lines (``Name: line``), or the narration in a few sentence-sized pieces."""
    seg = plan.script.segments[segment]
    if seg.dialogue:
        return [f"{line.speaker}: {line.line}" for line in seg.dialogue]
    sentences = [s.strip() for s in seg.narration.replace("!", ".").replace("?", ".").split(".") if s.strip()]
    cues: list[str] = []
    for sentence in sentences:
        if cues and len(cues[-1]) + len(sentence) < 90:
            cues[-1] = f"{cues[-1]}. {sentence}"
        else:
            cues.append(sentence)
    return [cue + "." for cue in cues[:3]]


def text_box(text: str, font_px: int, max_width: float, max_lines: int) -> Image.Image:
    """White text on a translucent dark rounded box (subtitles, captions, labels)."""
    face = font(max(8, font_px))
    lines = wrap(text, face, max_width, max_lines)
    line_h = round(face.size * 1.25)
    box_w = round(max(face.getlength(line) for line in lines) + face.size * 1.2)
    box_h = line_h * len(lines) + round(face.size * 0.6)
    box = Image.new("RGBA", (box_w, box_h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(box)
    draw.rounded_rectangle((0, 0, box_w - 1, box_h - 1), radius=face.size // 2, fill=(10, 10, 16, 165))
    for i, line in enumerate(lines):
        x = (box_w - face.getlength(line)) / 2
        draw.text((x, round(face.size * 0.3) + i * line_h), line, font=face, fill=(250, 250, 245, 255))
    return box


def subtitle_overlay(text: str, size: tuple[int, int]) -> tuple[Image.Image, tuple[int, int]]:
    """A subtitle of up to two lines, bottom centre, and where to paste it."""
    width, height = size
    box = text_box(text, round(height / 24), width * 0.8, 2)
    return box, ((width - box.width) // 2, height - box.height - round(height * 0.05))


def keyframe_caption(plan: FilmPlan, index: int) -> str:
    """A storyboard caption: the number and title of the segment that starts here, or the end."""
    segments = plan.script.segments
    return f"{index + 1} · {segments[index].title}" if index < len(segments) else "The end"


def caption_overlay(text: str, size: tuple[int, int]) -> tuple[Image.Image, tuple[int, int]]:
    """A one-line caption, top left, and where to paste it."""
    width, height = size
    margin = round(height * 0.03)
    return text_box(text, round(height / 28), width * 0.6, 1), (margin, margin)


def paste_faded(frame: Image.Image, overlay: tuple[Image.Image, tuple[int, int]], alpha: float) -> None:
    """Paste an RGBA overlay with its transparency scaled by `alpha` (0 = invisible)."""
    image, position = overlay
    if alpha >= 1.0:
        frame.paste(image, position, image)
    elif alpha > 0.0:
        frame.paste(image, position, image.getchannel("A").point(lambda a: round(a * alpha)))


def _cue_schedule(cues: Sequence[str], frames: int) -> list[tuple[int, int, str]]:
    """(first frame, last frame, text) per cue, inside the clip's middle 80%: never on an end frame.

    Cues share the window equally; in a clip too short for all of them the later ones are dropped.
    """
    start, stop = max(1, round(frames * 0.1)), min(frames - 2, round(frames * 0.9))
    usable = stop - start + 1
    cues = list(cues)[: max(0, usable)]
    if not cues:
        return []
    bounds = [start + i * usable // len(cues) for i in range(len(cues) + 1)]
    gap = 1 if usable // len(cues) >= 4 else 0  # a blank frame between cues when there is room
    return [(bounds[i], bounds[i + 1] - 1 - gap, cue) for i, cue in enumerate(cues)]


# --------------------------------------------------------------------------- reference sheets


def character_sheet(look: CharacterLook, character: Character, size: tuple[int, int]) -> Image.Image:
    """A model sheet: front view and walking profile on a studio backdrop, name and colours."""
    width, height = size
    floor = 0.8
    backdrop = np.linspace(0.0, 1.0, height)[:, None]
    column = np.where(backdrop < floor, 238 - 24 * backdrop / floor, 206 - 26 * (backdrop - floor) / (1 - floor))
    tones = np.broadcast_to(np.stack([column, column + 1, column + 5], axis=-1), (height, width, 3))
    sheet = Image.fromarray(np.clip(tones, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(sheet)
    figure_px = min(0.7, 0.58 * look.height / 0.3) * height
    floor_y = floor * height
    for y in (floor_y, floor_y - figure_px):  # height guides, like a turnaround sheet
        draw.line((width * 0.05, y, width * 0.95, y), fill=(170, 174, 184), width=1)
    views: tuple[tuple[float, Limbs, Facing], ...] = ((0.32, POSES["stand"], "camera"), (0.7, POSES["walk"], "right"))
    for fx, limbs, facing in views:
        sprite, ax, ay = figure_sprite(look, limbs, facing, figure_px)
        sheet.paste(sprite, (round(width * fx) - ax, round(floor_y) - ay), sprite)
    title, small = font(max(10, round(height / 13))), font(max(8, round(height / 26)))
    draw.text((width * 0.04, height * 0.035), character.name, font=title, fill=(28, 28, 36))
    subtitle = wrap(f"{character.role} · {character.build}", small, width * 0.9, 1)
    draw.text((width * 0.04, height * 0.04 + title.size * 1.15), subtitle[0], font=small, fill=(80, 80, 92))
    swatch = max(6, round(height * 0.05))
    for i, colour in enumerate((look.body, look.legs, look.accent, look.skin, look.hair)):
        x0, y0 = round(width * 0.04) + i * (swatch + 4), round(height * 0.9)
        draw.rectangle((x0, y0, x0 + swatch, y0 + swatch), fill=colour, outline=(60, 60, 70))
    return sheet


def environment_sheet(look: EnvironmentLook, environment: Environment, size: tuple[int, int]) -> Image.Image:
    """The empty set in a wide shot, in its own light, with the world's name."""
    width, height = size
    layers = set_layers(look, width, height)
    state = FrameState(Camera(layers.span / 2, 0.5, 1.0), look.light, ())
    sheet = compose(layers, state, size)
    label = text_box(environment.name, round(height / 18), width * 0.8, 1)
    margin = round(height * 0.03)
    sheet.paste(label, (margin, margin), label)
    return sheet


# --------------------------------------------------------------------------- the renderer


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=3)  # fast; Pillow writes no timestamps
    return buffer.getvalue()


def _check_seeds(seeds: list[int]) -> None:
    if not seeds:
        raise AnimaticError("no seeds given: one seed per variant is needed")
    bad = [s for s in seeds if not isinstance(s, int) or isinstance(s, bool) or s < 0]
    if bad:
        raise AnimaticError(f"seeds must be non-negative integers, got {bad}")


class AnimaticRenderer(Renderer):
    """CPU storyboard renderer: stylised figures on a drawn set, moving between keyframes."""

    name = "animatic"
    code_modules = ("filmstitch.renderers.animatic", "filmstitch.renderers._drawing")

    def __init__(self, subtitles: bool = True, captions: bool = True) -> None:
        """`subtitles`: dialogue or narration mid-clip. `captions`: each keyframe's segment title,
        which fades out at the start of a clip and the next one fades in at its end."""
        self.subtitles = subtitles
        self.captions = captions

    # -- looks from chosen references

    def _environment_look(
        self, plan: FilmPlan, env: Environment, references: dict[str, RenderedImage], where: str
    ) -> EnvironmentLook:
        ref = references.get(env.subject_id)
        if ref is None:
            raise AnimaticError(f"{where}: no reference image for location {env.name!r} (subject id {env.subject_id!r})")
        return environment_look(env, ref.variant, ref.seed, plan.request.idea)

    def _character_looks(
        self, plan: FilmPlan, names: Sequence[str], references: dict[str, RenderedImage], where: str
    ) -> dict[str, CharacterLook]:
        looks = {}
        for name in names:
            character = plan.character(name)
            ref = references.get(character.subject_id)
            if ref is None:
                raise AnimaticError(
                    f"{where}: no reference image for character {name!r} (subject id {character.subject_id!r}); "
                    f"got references for {sorted(references)}"
                )
            looks[name] = character_look(character, ref.variant, ref.seed)
        return looks

    def _keyframe_state(
        self, plan: FilmPlan, index: int, image: RenderedImage, looks: dict[str, CharacterLook], env: EnvironmentLook
    ) -> FrameState:
        return keyframe_state(plan, index, image.variant, image.seed, looks, env)

    # -- the Renderer interface

    def reference_variants(self, plan: FilmPlan, subject: Subject, seeds: list[int]) -> list[bytes]:
        _check_seeds(seeds)
        size = (plan.request.width, plan.request.height)
        env = next((e for e in plan.environments if e.subject_id == subject.id), None)
        if subject.kind == "environment" and env is not None:
            looks = [environment_look(env, v, s, plan.request.idea) for v, s in enumerate(seeds)]
            return [_png(environment_sheet(look, env, size)) for look in looks]
        character = next((c for c in plan.characters if c.subject_id == subject.id), None)
        if subject.kind != "character" or character is None:
            known = [s.id for s in plan.subjects]
            raise AnimaticError(f"subject {subject.id!r} is not in this plan (known: {known})")
        return [_png(character_sheet(character_look(character, v, s), character, size)) for v, s in enumerate(seeds)]

    def keyframe_variants(
        self, plan: FilmPlan, index: int, references: dict[str, RenderedImage], seeds: list[int]
    ) -> list[bytes]:
        _check_seeds(seeds)
        if not 0 <= index < len(plan.keyframes):
            raise AnimaticError(f"keyframe {index} does not exist: the plan has keyframes 0..{len(plan.keyframes) - 1}")
        where = f"keyframe {index}"
        env = self._environment_look(plan, plan.keyframe_environment(index), references, where)
        looks = self._character_looks(plan, plan.keyframes[index].characters, references, where)
        size = (plan.request.width, plan.request.height)
        layers = set_layers(env, *size)
        # The same drawing as a clip's end frame: the scene plus this boundary's caption.
        overlays: list[Overlay] = []
        if self.captions:
            overlays.append((caption_overlay(keyframe_caption(plan, index), size), lambda t: 1.0))
        return [
            _png(draw_frame(layers, keyframe_state(plan, index, variant, seed, looks, env), size, overlays, 0.0))
            for variant, seed in enumerate(seeds)
        ]

    def clip(
        self,
        plan: FilmPlan,
        segment: int,
        first: RenderedImage,
        last: RenderedImage,
        references: dict[str, RenderedImage],
        seed: int,
    ) -> bytes:
        request = plan.request
        if not 0 <= segment < len(plan.script.segments):
            raise AnimaticError(
                f"segment {segment} does not exist: the plan has segments 0..{len(plan.script.segments) - 1}"
            )
        _check_seeds([seed])
        size = (request.width, request.height)
        where = f"clip {segment}"
        names = list(dict.fromkeys(plan.keyframes[segment].characters + plan.keyframes[segment + 1].characters))
        env = self._environment_look(plan, plan.segment_environment(segment), references, where)
        looks = self._character_looks(plan, names, references, where)
        first_px = _decode(first, size, f"{where}: first keyframe")
        last_px = _decode(last, size, f"{where}: last keyframe")
        a = self._keyframe_state(plan, segment, first, looks, env)
        b = self._keyframe_state(plan, segment + 1, last, looks, env)
        motion = Motion(a, b, plan, request.seconds_per_segment, seed, action_beats(plan, segment))
        overlays = _overlays(plan, segment, request.frames_per_clip, size, self.subtitles, self.captions)
        frames = _clip_frames(set_layers(env, *size), motion, first_px, last_px, request.frames_per_clip, overlays)
        return encode_mp4(frames, request.fps)


def _decode(image: RenderedImage, size: tuple[int, int], what: str) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(image.png)) as opened:
            pixels = np.asarray(opened.convert("RGB"))
    except Exception as exc:  # Pillow raises several types for bad data
        raise AnimaticError(f"{what} is not a readable image: {exc}") from None
    if (pixels.shape[1], pixels.shape[0]) != size:
        raise AnimaticError(f"{what} is {pixels.shape[1]}x{pixels.shape[0]}, the film is {size[0]}x{size[1]}")
    return pixels


#: An overlay of a clip: the picture, where it goes, and its opacity at time t.
Overlay = tuple[tuple[Image.Image, tuple[int, int]], Callable[[float], float]]


def _overlays(
    plan: FilmPlan, segment: int, frames: int, size: tuple[int, int], subtitles: bool, captions: bool
) -> list[Overlay]:
    """Captions fading out / in at the ends (the keyframes carry them) and subtitles in the middle."""
    overlays: list[Overlay] = []
    if captions:
        fade = 0.5 / max(1.0, plan.request.seconds_per_segment)  # half a second
        overlays.append((caption_overlay(keyframe_caption(plan, segment), size), lambda t: 1 - _window(t, 0, fade)))
        overlays.append(
            (caption_overlay(keyframe_caption(plan, segment + 1), size), lambda t: _window(t, 1 - fade, fade))
        )
    cues = subtitle_cues(plan, segment) if subtitles else []
    step = 1 / (frames - 1)  # one frame in clip time
    fade = max(step, 0.2 / max(1.0, plan.request.seconds_per_segment))  # subtitles fade in and out
    for start, stop, text in _cue_schedule(cues, frames):
        shown = (start * step, stop * step)

        def opacity(t: float, shown: tuple[float, float] = shown) -> float:
            if not shown[0] <= t <= shown[1]:
                return 0.0
            return min(1.0, (min(t - shown[0], shown[1] - t) + step) / fade)

        overlays.append((subtitle_overlay(text, size), opacity))
    return overlays


def draw_frame(layers: SetLayers, state: FrameState, size: tuple[int, int], overlays: list[Overlay], t: float):
    """A finished clip frame: the scene, then each overlay at its opacity for time t."""
    frame = compose(layers, state, size)
    for overlay, opacity in overlays:
        paste_faded(frame, overlay, opacity(t))
    return frame


def _clip_frames(
    layers: SetLayers, motion: Motion, first: np.ndarray, last: np.ndarray, count: int, overlays: list[Overlay]
) -> Iterator[np.ndarray]:
    """The clip's frames, lazily (the encoder consumes them as they are drawn).

    The end frames are the keyframe images themselves, pixel for pixel.
    """
    size = (first.shape[1], first.shape[0])
    yield first
    for k in range(1, count - 1):
        t = k / (count - 1)
        yield np.asarray(draw_frame(layers, motion.state(t), size, overlays, t))
    yield last
