"""The animatic renderer: storyboard pictures and moving clips drawn on the CPU, from the plan alone.

* A **look** (looks.py) comes from a character's or location's structured fields and one chosen
  reference variant ``(variant, seed)``; keyframes and clips re-derive looks from the chosen
  references' seeds, never their pixels, so a character is drawn the same in every shot.
* A **frame state** (motion.py) says where the camera is, how the light falls and where each
  character stands in which pose; clips interpolate between two keyframe states.
* Composing a frame crops the pre-drawn set of its location (scenery.py) and draws the
  figures (figures.py) on it; a clip between two locations wipes from one set to the other.

The picture is clean: no subtitles (the sound stage times and burns them). A clip carries its
own chapter chip (number and title), faded in after its first frame and out well before its last,
so a chip never shows in another segment's frames and keyframes stay clean.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Sequence

import numpy as np
from PIL import Image, ImageDraw

from filmstitch.models import Character, Environment, FilmPlan, KeyframeEdit, Subject
from filmstitch.renderers.animatic.figures import POSES, figure_reach, figure_sprite
from filmstitch.renderers.animatic.looks import CharacterLook, EnvironmentLook, character_look, environment_look
from filmstitch.renderers.animatic.motion import Actor, Camera, FrameState, Motion, holdings, keyframe_state, window
from filmstitch.renderers.animatic.restage import CAN_DO, restage
from filmstitch.renderers.animatic.scenery import FEET_V, SetLayers, set_layers
from filmstitch.renderers.animatic.text import chapter_chip, chapter_title, font, paste_faded, text_box, wrap
from filmstitch.renderers.animatic.weather import draw_weather, flash
from filmstitch.renderers.base import RenderedImage, Renderer, Restaging
from filmstitch.video import encode_mp4

#: How much the far layer (sky, ridges) follows a camera pan: less than the ground, so it feels far.
PARALLAX = 0.35
#: The chapter chip: seconds after the clip starts that it is fully in, starts out, is gone.
CHIP_TIMES = (0.4, 2.6, 3.1)


class AnimaticError(ValueError):
    """Input the animatic renderer cannot draw (missing reference, wrong index, bad image)."""


# --------------------------------------------------------------------------- composing a frame


def _crop(image: Image.Image, scale: float, cam: Camera, view: tuple[float, float], size: tuple[int, int],
          rows: tuple[int, int]) -> Image.Image:
    """Rows `rows` of the camera's view of a layer, scaled to the frame's width (bands meet seamlessly)."""
    left, top = (cam.x - view[0] / 2) * scale, (cam.y - view[1] / 2) * scale
    row_h = view[1] * scale / size[1]
    box = (max(0.0, left), max(0.0, top + rows[0] * row_h), min(float(image.width), left + view[0] * scale),
           min(float(image.height), top + rows[1] * row_h))
    return image.resize((size[0], rows[1] - rows[0]), Image.Resampling.BILINEAR, box=box)


def compose(layers: SetLayers, state: FrameState, size: tuple[int, int], actors: bool = True) -> Image.Image:
    """One frame: far layer (with parallax), near layer, far weather, figures, near weather, then the light.

    Only the rows where the near layer is see-through are composited; above them the far layer
    is copied, below them the near layer: three cheap bands instead of two full layers.
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
    scale, rgb, mask = next((lvl for lvl in layers.near if lvl[0] * 1.3 >= cam.zoom * height), layers.near[-1])
    if solid > top:
        band = (top, solid)
        frame.paste(_crop(rgb, scale, cam, view, size, band), (0, top), _crop(mask, scale, cam, view, size, band))
    if height > solid:
        frame.paste(_crop(rgb, scale, cam, view, size, (solid, height)), (0, solid))
    draw_weather(frame, layers.weather, layers.weather_seed, state.clock, "far")
    if actors:
        for actor in state.actors:
            _draw_actor(frame, actor, cam, size, layers.sea_line)
    draw_weather(frame, layers.weather, layers.weather_seed, state.clock, "near")
    lightning = 1.0 + flash(layers.weather, layers.weather_seed, state.clock)
    red, green, blue = state.light
    return frame.point(_light_table((red * lightning, green * lightning, blue * lightning)))


#: A swimmer on a set with a strip of sea (a shore, a deck) is out at sea: drawn this much smaller, its body
#: half under the water line, instead of hovering over the sand or the planks.
AT_SEA_SCALE = 0.6
#: How far below the sea line the swimmer's feet point sits (its own heights): the waterline cuts its middle.
AT_SEA_DEPTH = 0.55


def _draw_actor(frame: Image.Image, actor: Actor, cam: Camera, size: tuple[int, int],
                sea_line: float | None = None) -> None:
    width, height = size
    at_sea = sea_line is not None and actor.look.plan == "fish"
    figure_px = actor.look.height * cam.zoom * height * (AT_SEA_SCALE if at_sea else 1.0)
    feet_v = sea_line + AT_SEA_DEPTH * figure_px / (cam.zoom * height) if at_sea and sea_line is not None else FEET_V
    sx = ((actor.x - cam.x) * cam.zoom + width / height / 2) * height
    sy = ((feet_v - cam.y) * cam.zoom + 0.5) * height
    if abs(sx - width / 2) > width / 2 + figure_px * 1.5 or sy - figure_px * 2.2 > height:
        return
    sprite, ax, ay = figure_sprite(actor.look, actor.limbs, actor.facing, figure_px, (sx % 1.0, sy % 1.0),
                                   actor.clock, actor.prop, actor.alpha, actor.prop_open)
    left, top = math.floor(sx) - ax, math.floor(sy) - ay
    if at_sea and sea_line is not None:  # only what is above the water shows
        waterline = math.floor(((sea_line - cam.y) * cam.zoom + 0.5) * height) - top
        if waterline <= 0:
            return
        sprite = sprite.crop((0, 0, sprite.width, min(sprite.height, waterline)))
    frame.paste(sprite, (left, top), sprite)


def _light_table(gains: tuple[float, float, float]) -> list[int]:
    return [min(255, round(i * gain)) for gain in gains for i in range(256)]


def wipe(old: Image.Image, new: Image.Image, amount: float) -> Image.Image:
    """The new set wiping in from the left over the old one, behind a soft edge."""
    width, height = old.size
    edge = amount * (width * 1.2) - width * 0.1
    ramp = np.clip((edge - np.arange(width)) / (width * 0.08) + 0.5, 0.0, 1.0)
    mask = Image.fromarray(np.broadcast_to((ramp * 255).astype(np.uint8), (height, width)).copy(), "L")
    return Image.composite(new, old, mask)


# --------------------------------------------------------------------------- reference sheets

#: A third view on every character sheet, different per variant: variants differ in pose, never colour.
SHEET_POSES = ("wave", "look_up", "reach", "kneel")


def character_sheet(look: CharacterLook, character: Character, variant: int, size: tuple[int, int]) -> Image.Image:
    """A model sheet: front view, walking profile and a pose, on a studio backdrop, with name and colours."""
    width, height = size
    floor = 0.8
    backdrop = np.linspace(0.0, 1.0, height)[:, None]
    column = np.where(backdrop < floor, 238 - 24 * backdrop / floor, 206 - 26 * (backdrop - floor) / (1 - floor))
    tones = np.broadcast_to(np.stack([column, column + 1, column + 5], axis=-1), (height, width, 3))
    sheet = Image.fromarray(np.clip(tones, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(sheet)
    figure_px = min(0.62 / (1 + look.floats), max(0.3, 0.5 * look.height / 0.3)) * height  # a snail is seen too
    figure_px = min(figure_px, width * 0.32 / (2 * figure_reach(look) / look.height))  # a train fits its third
    floor_y = floor * height
    for y in (floor_y, floor_y - figure_px):
        draw.line((width * 0.05, y, width * 0.95, y), fill=(170, 174, 184), width=1)
    views = ((0.22, POSES["stand"], 0.0), (0.5, POSES["walk"], 1.0),
             (0.78, POSES[SHEET_POSES[variant % len(SHEET_POSES)]], -0.6))
    for fx, limbs, facing in views:
        sprite, ax, ay = figure_sprite(look, limbs, facing, figure_px, clock=variant * 0.7)
        sheet.paste(sprite, (round(width * fx) - ax, round(floor_y) - ay), sprite)
    title, small = font(max(10, round(height / 13))), font(max(8, round(height / 26)))
    draw.text((width * 0.04, height * 0.035), character.name, font=title, fill=(28, 28, 36))
    subtitle = wrap(f"{character.role} · {character.kind}", small, width * 0.9, 1)
    draw.text((width * 0.04, height * 0.04 + title.size * 1.15), subtitle[0], font=small, fill=(80, 80, 92))
    swatch = max(6, round(height * 0.05))
    for i, colour in enumerate((look.body, look.legs, look.accent, look.skin, look.hair)):
        x0, y0 = round(width * 0.04) + i * (swatch + 4), round(height * 0.9)
        draw.rectangle((x0, y0, x0 + swatch, y0 + swatch), fill=colour, outline=(60, 60, 70))
    return sheet


def environment_sheet(look: EnvironmentLook, environment: Environment, size: tuple[int, int]) -> Image.Image:
    """The empty set in a wide shot, in its own light, with the location's name."""
    width, height = size
    layers = set_layers(look, width, height, wide_only=True)
    sheet = compose(layers, FrameState(Camera(layers.span / 2, 0.5, 1.0), look.light, ()), size)
    label = text_box(environment.name, round(height / 18), width * 0.8, 1)
    margin = round(height * 0.03)
    sheet.paste(label, (margin, margin), label)
    return sheet


# --------------------------------------------------------------------------- the renderer


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()


def _check_seeds(seeds: list[int]) -> None:
    if not seeds:
        raise AnimaticError("no seeds given: one seed per variant is needed")
    bad = [s for s in seeds if not isinstance(s, int) or isinstance(s, bool) or s < 0]
    if bad:
        raise AnimaticError(f"seeds must be non-negative integers, got {bad}")


class AnimaticRenderer(Renderer):
    """CPU storyboard renderer: stylised figures on a drawn set per location, moving between keyframes."""

    name = "animatic"
    code_modules = ("filmstitch.renderers.animatic",)
    edit_mode = "restage"
    restage_abilities = CAN_DO

    def __init__(self, chapters: bool = True) -> None:
        """`chapters`: each clip shows its segment's number and title for its first seconds."""
        self.chapters = chapters

    def _environment_look(self, env: Environment, references: dict[str, RenderedImage], where: str) -> EnvironmentLook:
        ref = references.get(env.subject_id)
        if ref is None:
            raise AnimaticError(f"{where}: no reference image for location {env.name!r}"
                                f" (subject id {env.subject_id!r})")
        return environment_look(env, ref.variant, ref.seed)

    def _character_looks(self, plan: FilmPlan, names: Sequence[str], references: dict[str, RenderedImage],
                         where: str) -> dict[str, CharacterLook]:
        looks = {}
        for name in names:
            character = plan.character(name)
            ref = references.get(character.subject_id)
            if ref is None:
                raise AnimaticError(
                    f"{where}: no reference image for character {name!r} (subject id {character.subject_id!r}); "
                    f"got references for {sorted(references)}")
            looks[name] = character_look(character, ref.variant, ref.seed)
        return looks

    # -- the Renderer interface

    def reference_variants(self, plan: FilmPlan, subject: Subject, seeds: list[int]) -> list[bytes]:
        _check_seeds(seeds)
        size = (plan.request.width, plan.request.height)
        env = next((e for e in plan.environments if e.subject_id == subject.id), None)
        if subject.kind == "environment" and env is not None:
            return [_png(environment_sheet(environment_look(env, v, s), env, size)) for v, s in enumerate(seeds)]
        character = next((c for c in plan.characters if c.subject_id == subject.id), None)
        if subject.kind != "character" or character is None:
            raise AnimaticError(f"subject {subject.id!r} is not in this plan (known: {[s.id for s in plan.subjects]})")
        return [_png(character_sheet(character_look(character, v, s), character, v, size))
                for v, s in enumerate(seeds)]

    def keyframe_variants(self, plan: FilmPlan, index: int, references: dict[str, RenderedImage],
                          seeds: list[int]) -> list[bytes]:
        _check_seeds(seeds)
        if not 0 <= index < len(plan.keyframes):
            raise AnimaticError(f"keyframe {index} does not exist: the plan has keyframes 0..{len(plan.keyframes) - 1}")
        where = f"keyframe {index}"
        env = self._environment_look(plan.keyframe_environment(index), references, where)
        looks = self._character_looks(plan, plan.keyframes[index].characters, references, where)
        size = (plan.request.width, plan.request.height)
        layers = set_layers(env, *size)
        held = holdings(plan)[index]
        return [_png(compose(layers, keyframe_state(plan, index, variant, seed, looks, env, held), size))
                for variant, seed in enumerate(seeds)]

    # -- keyframe edits: the staging changes, the keyframe is drawn again (restage.py)

    def check_edit(self, plan: FilmPlan, index: int, edit: KeyframeEdit) -> None:
        super().check_edit(plan, index, edit)
        if edit.repaints:
            raise AnimaticError(
                "the animatic renderer cannot paint a region again (it draws from the plan): give an instruction "
                f"instead, it re-stages {CAN_DO}; or make the film with a GPU renderer")
        restaged = self.restage(plan, index, edit)
        if not restaged.done:
            raise AnimaticError(f"the animatic renderer cannot do any of \u201c{edit.instruction}\u201d"
                                f"{' (' + '; '.join(restaged.not_done) + ')' if len(restaged.not_done) > 1 else ''}:"
                                f" it re-stages {CAN_DO}")

    def restage(self, plan: FilmPlan, index: int, edit: KeyframeEdit) -> Restaging:
        restaged = restage(plan.keyframes[index], edit.instruction or "", [c.name for c in plan.characters])
        return Restaging(keyframe=restaged.keyframe, done=restaged.done, not_done=restaged.not_done)

    def clip(self, plan: FilmPlan, segment: int, first: RenderedImage, last: RenderedImage,
             references: dict[str, RenderedImage], seed: int) -> bytes:
        request = plan.request
        frames = self.clip_frames(plan, segment, first, last, references, seed)
        return encode_mp4(frames, request.fps)

    def clip_frames(self, plan: FilmPlan, segment: int, first: RenderedImage, last: RenderedImage,
                    references: dict[str, RenderedImage], seed: int) -> Iterator[np.ndarray]:
        """The clip's frames, lazily (the encoder takes them as they are drawn): F = frames_per_clip frames from
        the first keyframe towards the last, which is the next clip's first frame; the film's last clip also
        ends on it (F + 1 frames). So no boundary frame is shown twice (the Renderer.clip contract)."""
        request = plan.request
        if not 0 <= segment < len(plan.script.segments):
            raise AnimaticError(
                f"segment {segment} does not exist: the plan has segments 0..{len(plan.script.segments) - 1}")
        _check_seeds([seed])
        size = (request.width, request.height)
        where = f"clip {segment}"
        names = list(dict.fromkeys(plan.keyframes[segment].characters + plan.keyframes[segment + 1].characters))
        env_a = self._environment_look(plan.keyframe_environment(segment), references, where)
        env_b = self._environment_look(plan.keyframe_environment(segment + 1), references, where)
        looks = self._character_looks(plan, names, references, where)
        first_px = _decode(first, size, f"{where}: first keyframe")
        last_px = _decode(last, size, f"{where}: last keyframe")
        held = holdings(plan)
        a = keyframe_state(plan, segment, first.variant, first.seed, looks, env_a, held[segment])
        b = keyframe_state(plan, segment + 1, last.variant, last.seed, looks, env_b, held[segment + 1])
        moves = env_a != env_b
        motion = Motion(a, b, plan, segment, request.seconds_per_segment, seed, moves=moves)
        sets = (set_layers(env_a, *size), set_layers(env_b, *size))
        chip = chapter_chip(chapter_title(plan, segment), size) if self.chapters else None
        closing = segment == len(plan.script.segments) - 1
        return _frames(sets, motion, first_px, last_px, request.frames_per_clip, request.seconds_per_segment, chip,
                       closing)


def _decode(image: RenderedImage, size: tuple[int, int], what: str) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(image.png)) as opened:
            pixels = np.asarray(opened.convert("RGB"))
    except Exception as exc:  # noqa: BLE001 - Pillow raises several types for bad data
        raise AnimaticError(f"{what} is not a readable image: {exc}") from None
    if (pixels.shape[1], pixels.shape[0]) != size:
        raise AnimaticError(f"{what} is {pixels.shape[1]}x{pixels.shape[0]}, the film is {size[0]}x{size[1]}")
    return pixels


def chip_opacity(t: float, seconds: float, frames: int) -> float:
    """The chapter chip's opacity at clip time t: never on the first or last frame (the keyframes)."""
    if t <= 0.0 or t >= 1.0:
        return 0.0
    s = t * seconds
    fade_in, hold, gone = (min(c, seconds * 0.45) for c in CHIP_TIMES)
    rise = window(s, 1.0 / max(1, frames) * seconds, max(1e-3, fade_in))
    return rise * (1 - window(s, hold, max(1e-3, gone - hold)))


def draw_frame(sets: tuple[SetLayers, SetLayers], state: FrameState, size: tuple[int, int]) -> Image.Image:
    """The scene at one state: its set and figures, or (mid location change) the wipe between two sets."""
    if state.wipe is None:
        return compose(sets[state.where], state, size)
    old = compose(sets[0], state, size, actors=False)
    new = compose(sets[1], FrameState(state.next_camera or state.camera, state.light, (), clock=state.clock), size,
                  actors=False)
    return wipe(old, new, state.wipe)


def _frames(sets: tuple[SetLayers, SetLayers], motion: Motion, first: np.ndarray, last: np.ndarray, count: int,
            seconds: float, chip, closing: bool) -> Iterator[np.ndarray]:
    """Frame k at clip time k / count: the first keyframe, the drawn frames, and the last keyframe only when the
    clip closes the film."""
    size = (first.shape[1], first.shape[0])
    yield first
    for k in range(1, count):
        t = k / count
        frame = draw_frame(sets, motion.state(t), size)
        if chip is not None:
            paste_faded(frame, chip, chip_opacity(t, seconds, count))
        yield np.asarray(frame)
    if closing:
        yield last
