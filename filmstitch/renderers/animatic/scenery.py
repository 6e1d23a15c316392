"""Scenery: one drawn set per location, pre-rendered once and cropped by the camera every frame.

The set comes from the location's look (looks.py): a backdrop (open sky, space, an interior
wall, the water of the deep, a cave's rock), a ridge line, a ground, scattered dressing and one
landmark; a castle's walls stand on its horizon. Rain, storm and snow (weather.py) fall over the set
every frame. Units: the world is measured in *wide-frame heights*: a wide shot shows ``v`` from 0
(top) to 1 (bottom) and ``u`` over ``aspect`` units; the set is SET_SPAN wide shots across, so
the camera can pan. Every figure's feet touch the ground at FEET_V.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from filmstitch.renderers.animatic.looks import RGB, WHITE, EnvironmentLook, mix, shade

#: Where every figure's feet touch the ground, in world units.
FEET_V = 0.86
#: The set is this many wide shots across, so the camera can pan.
SET_SPAN = 2.0


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
    weather: str = "none"  # what falls over the set each frame (looks.Weather; weather.py draws it)
    weather_seed: int = 0
    sea_line: float | None = None  # world v of the strip of sea on a shore's or a deck's horizon, if it has one


#: Layers are drawn larger than they are kept and scaled down, which smooths their edges.
SUPERSAMPLE, MAX_DRAW_PX = 4, 8192


@lru_cache(maxsize=8)
def set_layers(look: EnvironmentLook, width: int, height: int, wide_only: bool = False) -> SetLayers:
    """Draw the set once per (look, frame size); cached because every clip of a film shares it.

    The far layer is kept at 1 px per frame pixel of a wide shot, the near layer at 1x and 2x
    (close shots magnify it). Both are drawn supersampled and scaled down, for smooth edges.
    `wide_only` (reference sheets, which only show a wide shot) keeps the near layer at 1x and
    draws it at a quarter of the pixels: most of a location's variants are never filmed.
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
    near = (drawn(_near_layer, height * 1.0, SUPERSAMPLE / 2) if wide_only else
            drawn(_near_layer, height * 2.0, SUPERSAMPLE / 2)).convert("RGBa")
    levels = []
    for scale in (height * 1.0,) if wide_only else (height * 1.0, height * 2.0):
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
        far=far, far_scale=far_scale, near=tuple(levels), span=span, near_top=min(tops), near_solid=max(solids),
        weather=look.weather, weather_seed=look.layout_seed,
        sea_line=look.horizon - 0.01 if look.style.water else None,
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
    """Backdrop: sky (or space, a wall, deep water, cave rock), the sky body and the ridge lines."""
    size = (math.ceil(span * scale), math.ceil(scale))
    h = look.horizon
    backdrop = look.style.backdrop
    stops = [(0.0, look.sky_top), (h * 0.55, mix(look.sky_top, look.sky_low, 0.45)), (h, look.sky_low),
             (1.0, look.ridge_far)]
    image = _gradient(size, stops)
    draw = ImageDraw.Draw(image, "RGBA")
    rng = np.random.default_rng([look.layout_seed, 1])
    if look.stars and backdrop in ("sky", "space"):
        for _ in range(int(span * 90)):
            x, y = rng.uniform(0, size[0]), rng.uniform(0, h * 0.85) * scale
            r = rng.choice([0.6, 0.9, 1.4]) * scale / 600
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 240, int(rng.integers(120, 255))))
    if backdrop in ("sky", "space"):
        _sky_body(draw, look, span, scale)
    if backdrop == "wall":
        _wall(draw, look, span, scale, rng)
    elif backdrop == "water":
        _deep_water(draw, look, span, scale, rng)
    elif backdrop == "rock":
        _cave_wall(draw, look, span, scale, rng)
    ridge = look.style.ridge
    if ridge == "none":
        return image
    xs = np.linspace(0, span * 2 * math.pi / 3, 400)
    if ridge == "clouds":
        for _ in range(int(span * 14)):
            x, y, r = rng.uniform(0, size[0]), rng.uniform(h - 0.06, h + 0.02) * scale, rng.uniform(0.03, 0.08) * scale
            draw.ellipse((x - r * 1.6, y - r, x + r * 1.6, y + r), fill=(*mix(look.sky_low, WHITE, 0.6), 255))
        return image
    for colour, base, amp, kind in (
        (look.ridge_far, h + 0.005, 0.17, "rolling" if ridge == "castle" else ridge),
        (look.ridge_near, h + 0.01, 0.09, "rolling" if ridge in ("skyline", "houses") else ridge),
    ):
        if kind == "castle":
            _castle(draw, look, span, scale, base)
            continue
        if kind == "skyline":
            _skyline(draw, look, colour, span, scale, base, rng)
            continue
        if kind == "houses":
            _houses(draw, look, colour, span, scale, base, rng)
            continue
        profile = _ridge_profile(kind, xs, rng, base, amp)
        points = [(x / xs[-1] * size[0], y * scale) for x, y in zip(xs, profile, strict=True)]
        draw.polygon(points + [(size[0], size[1]), (0, size[1])], fill=colour)
        if kind == "treeline":
            for x, y in points[::3]:
                r = rng.uniform(0.012, 0.03) * scale
                draw.ellipse((x - r, y - r * 0.8, x + r, y + r * 1.2), fill=colour)
    if look.style.water:
        top = h * scale
        draw.rectangle((0, top - 0.04 * scale, size[0], top + 0.02 * scale), fill=(*mix(look.sky_low,
                                                                                          look.accents[0], 0.5), 255))
        for _ in range(int(span * 30)):
            x, y = rng.uniform(0, size[0]), top + rng.uniform(-0.035, 0.015) * scale
            draw.line((x, y, x + rng.uniform(0.01, 0.04) * scale, y), fill=(255, 255, 255, 110), width=2)
    return image


def _wall(draw: ImageDraw.ImageDraw, look: EnvironmentLook, span: float, scale: float,
          rng: np.random.Generator) -> None:
    """An interior: plastered wall, a wainscot, windows onto the weather, shelves."""
    h = look.horizon
    wall = mix(look.sky_top, look.sky_low, 0.5)
    draw.rectangle((0, 0, span * scale, h * scale), fill=(*wall, 255))
    draw.rectangle((0, (h - 0.12) * scale, span * scale, h * scale), fill=(*shade(look.ground_far, 0.8), 255))
    outside = {"night": (30, 40, 80), "dusk": (240, 150, 90), "dawn": (240, 190, 170)}.get(look.time, (150, 200, 235))
    for i in range(3):
        x = (0.25 + i * 0.75 + rng.uniform(-0.05, 0.05)) * span / 2.2
        draw.rectangle((x * scale, 0.12 * scale, (x + 0.22) * scale, 0.34 * scale), fill=(*outside, 255),
                       outline=(*shade(wall, 0.6), 255), width=max(2, round(scale * 0.008)))
        draw.line((x * scale + 0.11 * scale, 0.12 * scale, x * scale + 0.11 * scale, 0.34 * scale),
                  fill=(*shade(wall, 0.6), 255), width=max(2, round(scale * 0.006)))
    for i in range(4):  # shelves between the windows
        x = rng.uniform(0.1, max(0.1, span - 0.3))  # a tall narrow frame's wall is under 0.4 wide: shelves at its edge
        y = rng.uniform(0.38, h - 0.16)
        draw.rectangle((x * scale, y * scale, (x + 0.22) * scale, (y + 0.012) * scale), fill=(*shade(wall, 0.5), 255))
        for j in range(5):
            c = look.accents[j % len(look.accents)]
            bx = x + 0.02 + j * 0.04
            draw.rounded_rectangle((bx * scale, (y - 0.045) * scale, (bx + 0.03) * scale, y * scale),
                                   radius=scale * 0.008, fill=(*c, 255))


def _deep_water(draw: ImageDraw.ImageDraw, look: EnvironmentLook, span: float, scale: float,
                rng: np.random.Generator) -> None:
    """Under the sea: shafts of light from the surface, distant rocks, floating motes."""
    for _ in range(int(span * 4)):
        x = rng.uniform(0, span) * scale
        w = rng.uniform(0.03, 0.08) * scale
        draw.polygon([(x, 0), (x + w, 0), (x + w * 3, look.horizon * scale), (x + w * 1.5, look.horizon * scale)],
                     fill=(255, 255, 230, 28))
    for _ in range(int(span * 60)):
        x, y, r = rng.uniform(0, span) * scale, rng.uniform(0, 1) * scale, rng.uniform(0.6, 1.8) * scale / 600
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(230, 250, 255, 90))
    for _ in range(int(span * 3)):
        x, w = rng.uniform(0, span) * scale, rng.uniform(0.1, 0.3) * scale
        top = (look.horizon - rng.uniform(0.03, 0.12)) * scale
        draw.ellipse((x - w, top, x + w, (look.horizon + 0.1) * scale), fill=(*shade(look.sky_low, 0.7), 255))


def _cave_wall(draw: ImageDraw.ImageDraw, look: EnvironmentLook, span: float, scale: float,
               rng: np.random.Generator) -> None:
    x = 0.0
    while x < span:  # stalactites
        w, hgt = rng.uniform(0.02, 0.06), rng.uniform(0.05, 0.22)
        draw.polygon([(x * scale, 0), ((x + w) * scale, 0), ((x + w / 2) * scale, hgt * scale)],
                     fill=(*shade(look.sky_top, 1.3), 255))
        x += w + rng.uniform(0.02, 0.1)
    for _ in range(int(span * 8)):
        cx, cy = rng.uniform(0, span) * scale, rng.uniform(0.2, look.horizon) * scale
        r = rng.uniform(0.005, 0.012) * scale
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(*look.accents[0], 200))


def _houses(draw: ImageDraw.ImageDraw, look: EnvironmentLook, colour: RGB, span: float, scale: float, base: float,
            rng: np.random.Generator) -> None:
    """A row of low houses with tiled roofs and lit windows (a street)."""
    x = 0.0
    while x < span:
        w, hgt = rng.uniform(0.12, 0.22), rng.uniform(0.1, 0.2)
        wall = shade(mix(colour, look.accents[0], 0.15), float(rng.uniform(0.85, 1.1)))
        draw.rectangle((x * scale, (base - hgt) * scale, (x + w) * scale, scale), fill=(*wall, 255))
        draw.polygon([((x - 0.01) * scale, (base - hgt) * scale), ((x + w + 0.01) * scale, (base - hgt) * scale),
                      ((x + w / 2) * scale, (base - hgt - 0.06) * scale)], fill=(*shade(colour, 0.55), 255))
        for wx in np.arange(x + 0.02, x + w - 0.03, 0.05):
            lit = look.accents[-1] if rng.random() < 0.5 else shade(wall, 0.6)
            draw.rectangle((wx * scale, (base - hgt + 0.04) * scale, (wx + 0.025) * scale, (base - hgt + 0.07) * scale),
                           fill=(*lit, 255))
        x += w + rng.uniform(0.0, 0.02)


def _castle(draw: ImageDraw.ImageDraw, look: EnvironmentLook, span: float, scale: float, base: float) -> None:
    """A curtain wall with battlements across the set, towers along it and a gatehouse in the middle."""
    stone = mix(look.ridge_near, (150, 148, 156), 0.55)
    joint, dark = (*shade(stone, 0.82), 255), shade(stone, 0.72)
    lit = look.time in ("dusk", "night")  # candlelight in the windows after sundown
    window = (255, 196, 104, 255) if lit else (*shade(stone, 0.4), 255)
    roof = (*shade(mix(look.accents[0], (70, 60, 80), 0.5), 0.8), 255)
    flag = (*look.accents[-1], 255)

    def box(x0: float, y0: float, x1: float, y1: float, fill) -> None:
        draw.rectangle((x0 * scale, y0 * scale, x1 * scale, y1 * scale), fill=fill)

    def battlements(x0: float, x1: float, top: float, fill) -> None:
        x = x0
        while x < x1 - 0.012:
            box(x, top - 0.018, min(x1, x + 0.02), top, fill)
            x += 0.036

    def tower(x: float, w: float, top: float, cone: bool) -> None:
        box(x - w / 2, top, x + w / 2, base + 0.05, (*shade(stone, 1.06), 255))
        for v in np.arange(top + 0.03, base, 0.03):  # courses of stone
            draw.line((((x - w / 2) * scale, v * scale), ((x + w / 2) * scale, v * scale)), fill=joint, width=1)
        for v in (top + 0.05, top + 0.12):  # arrow slits
            box(x - 0.006, v, x + 0.006, v + 0.035, window)
        if cone:
            draw.polygon([((x - w * 0.62) * scale, top * scale), ((x + w * 0.62) * scale, top * scale),
                          (x * scale, (top - w * 1.2) * scale)], fill=roof)
            draw.line(((x * scale, (top - w * 1.2) * scale), (x * scale, (top - w * 1.2 - 0.05) * scale)),
                      fill=(60, 56, 60, 255), width=max(1, round(scale * 0.003)))
            pole = top - w * 1.2 - 0.05
            draw.polygon([(x * scale, pole * scale), ((x + 0.04) * scale, (pole + 0.01) * scale),
                          (x * scale, (pole + 0.022) * scale)], fill=flag)
        else:
            box(x - w / 2 - 0.006, top - 0.006, x + w / 2 + 0.006, top + 0.004, (*stone, 255))
            battlements(x - w / 2 - 0.006, x + w / 2 + 0.006, top - 0.006, (*stone, 255))

    wall_top = base - 0.13
    box(0, wall_top, span, base + 0.05, (*stone, 255))
    battlements(0, span, wall_top, (*stone, 255))
    for v in np.arange(wall_top + 0.025, base, 0.025):
        draw.line(((0, v * scale), (span * scale, v * scale)), fill=joint, width=1)
    gate = span / 2
    for i, x in enumerate(np.arange(0.2, span, 0.55)):
        if abs(x - gate) > 0.25:
            tower(float(x), 0.1, base - 0.25 - 0.03 * (i % 2), cone=i % 2 == 0)
    box(gate - 0.12, base - 0.2, gate + 0.12, base + 0.05, (*shade(stone, 1.06), 255))  # the gatehouse
    battlements(gate - 0.12, gate + 0.12, base - 0.2, (*shade(stone, 1.06), 255))
    for side in (-1, 1):
        tower(gate + side * 0.13, 0.09, base - 0.3, cone=True)
    arch_w, arch_top = 0.07, base - 0.12
    draw.rectangle(((gate - arch_w) * scale, (arch_top + arch_w * 0.6) * scale, (gate + arch_w) * scale,
                    (base + 0.05) * scale), fill=(*dark, 255))
    draw.ellipse(((gate - arch_w) * scale, arch_top * scale, (gate + arch_w) * scale,
                  (arch_top + arch_w * 1.2) * scale),
                 fill=(*dark, 255))
    inside = (40, 32, 30, 255) if not lit else (120, 76, 40, 255)
    draw.rectangle(((gate - arch_w * 0.8) * scale, (arch_top + arch_w * 0.6) * scale, (gate + arch_w * 0.8) * scale,
                    (base + 0.05) * scale), fill=inside)
    for x in np.linspace(gate - arch_w * 0.7, gate + arch_w * 0.7, 6):  # the raised portcullis
        draw.line(((x * scale, (arch_top + 0.04) * scale), (x * scale, (arch_top + 0.075) * scale)),
                  fill=(50, 46, 44, 255), width=max(1, round(scale * 0.003)))


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
    _ground_texture(draw, look, span, scale, top, rng)
    if look.style.craters:
        for _ in range(int(span * 5)):
            v = float(rng.uniform(look.horizon + 0.03, 0.98))
            x, s = rng.uniform(0, size[0]), depth_scale(look, v) * figure * rng.uniform(0.25, 0.6)
            y = v * scale
            draw.ellipse((x - s, y - s * 0.3, x + s, y + s * 0.3), fill=(*shade(look.ground_near, 1.18), 255))
            draw.ellipse((x - s * 0.85, y - s * 0.22, x + s * 0.85, y + s * 0.24),
                         fill=(*shade(look.ground_near, 0.7), 255))
    placements = sorted(
        (float(rng.uniform(look.horizon + 0.01, FEET_V - 0.05)), float(rng.uniform(0, span)),
         str(rng.choice(look.dressing)))
        for _ in range(round(look.density * span / 3))
    )
    if look.landmark != "none":
        placements.append((look.horizon + 0.08, float(rng.uniform(0.3, 0.7)) * span, look.landmark))
        placements.sort()
    for v, u, kind in placements:
        PROP_DRAWINGS.get(kind, _rock)(draw, look, u * scale, v * scale, depth_scale(look, v) * figure, rng)
    return image


def _ground_texture(draw: ImageDraw.ImageDraw, look: EnvironmentLook, span: float, scale: float, top: int,
                    rng: np.random.Generator) -> None:
    """Planks, cobbles, salt cracks, sand ripples, speckle: what the ground is made of."""
    kind = look.style.ground
    width = span * scale
    if kind in ("planks", "floor"):
        for i in range(14):
            v = look.horizon + (1 - look.horizon) * (i / 14) ** 1.4
            draw.line((0, v * scale, width, v * scale), fill=(*shade(look.ground_near, 0.75), 200),
                      width=max(1, round(scale * 0.003)))
        return
    if kind == "flagstones":  # a courtyard of big stones, rows staggered, smaller with distance
        for i in range(12):
            v0 = look.horizon + (1 - look.horizon) * (i / 12) ** 1.5
            v1 = look.horizon + (1 - look.horizon) * ((i + 1) / 12) ** 1.5
            step = 0.05 + 0.14 * depth_scale(look, v1)
            x = -rng.uniform(0, step)
            while x < span:
                tone = shade(look.ground_near, float(rng.uniform(0.88, 1.08)))
                draw.rectangle((x * scale, v0 * scale, (x + step) * scale, v1 * scale), fill=(*tone, 255),
                               outline=(*shade(look.ground_near, 0.7), 255), width=max(1, round(scale * 0.002)))
                x += step
        return
    if kind == "street":
        for i in range(10):
            v = look.horizon + (1 - look.horizon) * (i / 10) ** 1.3
            draw.line((0, v * scale, width, v * scale), fill=(*shade(look.ground_near, 0.8), 160), width=1)
            for x in np.arange(rng.uniform(0, 0.05), span, 0.05 + 0.1 * (i / 10)):
                draw.line((x * scale, v * scale, x * scale, (v + 0.02) * scale),
                          fill=(*shade(look.ground_near, 0.8), 140), width=1)
        return
    if kind == "salt":
        for _ in range(int(span * 70)):
            v = look.horizon + (1 - look.horizon) * rng.random() ** 1.3
            x, r = rng.uniform(0, width), depth_scale(look, v) * scale * 0.05
            pts = [(x + r * math.cos(a), v * scale + r * 0.3 * math.sin(a)) for a in np.linspace(0, 2 * math.pi, 7)]
            draw.line(pts, fill=(*shade(look.ground_near, 0.85), 200), width=1)
        return
    if kind == "cloud":
        for _ in range(int(span * 40)):
            v = look.horizon + (1 - look.horizon) * rng.random()
            x, r = rng.uniform(0, width), depth_scale(look, v) * scale * rng.uniform(0.03, 0.08)
            draw.ellipse((x - r * 1.5, v * scale - r, x + r * 1.5, v * scale + r), fill=(255, 255, 255, 120))
        return
    for _ in range(int(span * 160)):  # speckle, flattened by perspective
        v = look.horizon + (1 - look.horizon) * rng.random() ** 1.6
        x, y = rng.uniform(0, width), v * scale
        s = depth_scale(look, v) * 0.3 * scale * rng.uniform(0.01, 0.05)
        tone = shade(look.ground_near if v > 0.75 else look.ground_far, float(rng.uniform(0.75, 1.2)))
        draw.ellipse((x - s, y - s * 0.35, x + s, y + s * 0.35), fill=(*tone, 255))


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


def _kelp(draw, look, x, y, s, rng) -> None:
    colour = (*shade(look.plant, float(rng.uniform(0.6, 0.9))), 255)
    h = s * rng.uniform(0.8, 1.6)
    pts = [(x + math.sin(i * 0.9) * s * 0.05, y - h * i / 6) for i in range(7)]
    draw.line(pts, fill=colour, width=max(2, round(s * 0.05)), joint="curve")


def _coral(draw, look, x, y, s, rng) -> None:
    colour = (*look.accents[int(rng.integers(len(look.accents)))], 255)
    for a in (-0.6, -0.2, 0.25, 0.6):
        tip = (x + math.sin(a) * s * 0.3, y - math.cos(a) * s * 0.35)
        draw.line((x, y, *tip), fill=colour, width=max(2, round(s * 0.05)))
        draw.ellipse((tip[0] - s * 0.03, tip[1] - s * 0.03, tip[0] + s * 0.03, tip[1] + s * 0.03), fill=colour)


def _wreck(draw, look, x, y, s, rng) -> None:
    """The broken hull of a sunken ship, tilted in the silt."""
    wood = (*shade(mix(look.ground_near, (90, 60, 40), 0.6), 0.8), 255)
    w, h = s * 2.4, s * 0.9
    draw.polygon([(x - w / 2, y - h * 0.2), (x + w / 2, y - h * 0.6), (x + w * 0.4, y), (x - w * 0.45, y)], fill=wood)
    for i in range(5):
        px = x - w * 0.4 + i * w * 0.2
        draw.line((px, y - h * (0.25 + 0.08 * i), px + s * 0.05, y), fill=(*shade(wood[:3], 0.7), 255),
                  width=max(1, round(s * 0.02)))
    draw.line((x + w * 0.05, y - h * 0.4, x + w * 0.2, y - h * 1.8), fill=wood, width=max(2, round(s * 0.05)))


def _mast(draw, look, x, y, s, rng) -> None:
    wood = (120, 84, 56, 255)
    draw.line((x, y, x, y - s * 2.6), fill=wood, width=max(3, round(s * 0.07)))
    draw.polygon([(x + s * 0.05, y - s * 2.4), (x + s * 0.9, y - s * 1.6), (x + s * 0.05, y - s * 0.9)],
                 fill=(238, 232, 214, 255))
    draw.line((x - s * 1.5, y - s * 0.2, x + s * 1.5, y - s * 0.2), fill=wood, width=max(2, round(s * 0.04)))


def _barrel(draw, look, x, y, s, rng) -> None:
    draw.rounded_rectangle((x - s * 0.1, y - s * 0.28, x + s * 0.1, y), radius=s * 0.05, fill=(140, 96, 60, 255))
    draw.line((x - s * 0.1, y - s * 0.2, x + s * 0.1, y - s * 0.2), fill=(70, 60, 50, 255),
              width=max(1, round(s * 0.02)))


def _rope(draw, look, x, y, s, rng) -> None:
    draw.ellipse((x - s * 0.14, y - s * 0.06, x + s * 0.14, y + s * 0.02), outline=(200, 170, 120, 255),
                 width=max(2, round(s * 0.03)))


def _lantern_post(draw, look, x, y, s, rng) -> None:
    draw.line((x, y, x, y - s * 0.9), fill=(60, 50, 46, 255), width=max(1, round(s * 0.03)))
    draw.ellipse((x - s * 0.08, y - s * 1.05, x + s * 0.08, y - s * 0.85), fill=(*look.accents[0], 255))


def _pot_plant(draw, look, x, y, s, rng) -> None:
    draw.rectangle((x - s * 0.07, y - s * 0.12, x + s * 0.07, y), fill=(170, 100, 70, 255))
    _clump(draw, look, x, y - s * 0.1, (s * 0.5, s * 0.5), ((-0.1, -0.1, 0.12), (0.1, -0.1, 0.11)), rng)


def _salt_mound(draw, look, x, y, s, rng) -> None:
    draw.chord((x - s * 0.2, y - s * 0.12, x + s * 0.2, y + s * 0.12), 180, 360,
               fill=(*mix(look.ground_near, WHITE, 0.6),
                                                                                      255))


def _cloud_puff(draw, look, x, y, s, rng) -> None:
    for dx in (-0.15, 0.0, 0.15):
        draw.ellipse((x + (dx - 0.12) * s, y - 0.15 * s, x + (dx + 0.12) * s, y + 0.05 * s), fill=(252, 252, 255, 230))


def _shelf(draw, look, x, y, s, rng) -> None:
    wood = (*shade(look.ground_near, 0.7), 255)
    draw.rectangle((x - s * 0.3, y - s * 0.9, x + s * 0.3, y), outline=wood, width=max(2, round(s * 0.03)))
    for row in (0.3, 0.6):
        draw.line((x - s * 0.3, y - s * row * 1.5, x + s * 0.3, y - s * row * 1.5), fill=wood,
                  width=max(2, round(s * 0.03)))
        for j in range(4):
            bx = x - s * 0.25 + j * s * 0.13
            draw.ellipse((bx, y - s * row * 1.5 - s * 0.1, bx + s * 0.1, y - s * row * 1.5),
                         fill=(200, 140, 70, 255) if look.set == "bakery" else (*look.accents[j % len(look.accents)],
                                                                                255))


def _table(draw, look, x, y, s, rng) -> None:
    wood = (*shade(look.ground_near, 0.6), 255)
    draw.rectangle((x - s * 0.35, y - s * 0.4, x + s * 0.35, y - s * 0.36), fill=wood)
    for lx in (-0.3, 0.3):
        draw.line((x + lx * s, y - s * 0.36, x + lx * s, y), fill=wood, width=max(2, round(s * 0.03)))


def _counter(draw, look, x, y, s, rng) -> None:
    draw.rectangle((x - s * 0.5, y - s * 0.42, x + s * 0.5, y), fill=(*shade(look.ground_near, 0.65), 255))
    draw.rectangle((x - s * 0.55, y - s * 0.46, x + s * 0.55, y - s * 0.4), fill=(236, 228, 210, 255))
    for j in range(3):
        draw.ellipse((x - s * 0.4 + j * s * 0.3, y - s * 0.56, x - s * 0.2 + j * s * 0.3, y - s * 0.45),
                     fill=(200, 140, 70, 255))


def _sack(draw, look, x, y, s, rng) -> None:
    draw.rounded_rectangle((x - s * 0.1, y - s * 0.25, x + s * 0.1, y), radius=s * 0.06, fill=(226, 214, 186, 255))


def _oven(draw, look, x, y, s, rng) -> None:
    brick = (168, 84, 56, 255)
    draw.chord((x - s * 0.8, y - s * 1.4, x + s * 0.8, y + s * 0.2), 180, 360, fill=brick)
    draw.rectangle((x - s * 0.8, y - s * 0.6, x + s * 0.8, y), fill=brick)
    draw.chord((x - s * 0.35, y - s * 0.75, x + s * 0.35, y + s * 0.05), 180, 360, fill=(255, 150, 50, 255))
    draw.rectangle((x - s * 0.1, y - s * 2.0, x + s * 0.1, y - s * 0.9), fill=brick)


def _window(draw, look, x, y, s, rng) -> None:
    draw.rectangle((x - s * 0.3, y - s * 0.1, x + s * 0.3, y), fill=(*shade(look.ground_near, 0.6), 255))


def _arch(draw, look, x, y, s, rng) -> None:
    stone = (*shade(look.ground_near, 0.85), 255)
    draw.rectangle((x - s * 0.7, y - s * 1.1, x - s * 0.45, y), fill=stone)
    draw.rectangle((x + s * 0.45, y - s * 1.1, x + s * 0.7, y), fill=stone)
    draw.chord((x - s * 0.7, y - s * 1.6, x + s * 0.7, y - s * 0.7), 180, 360, fill=stone)


def _cairn(draw, look, x, y, s, rng) -> None:
    for i, w in enumerate((0.25, 0.2, 0.14, 0.09)):
        draw.ellipse((x - w * s, y - (i + 1) * 0.12 * s, x + w * s, y - i * 0.12 * s),
                     fill=(*shade((140, 140, 146), 0.8 + 0.1 * i), 255))


def _station(draw, look, x, y, s, rng) -> None:
    draw.rectangle((x - s * 0.9, y - s * 0.5, x + s * 0.9, y), fill=(200, 204, 210, 255))
    for px in (-1.5, 1.5):
        draw.rectangle((x + px * s - s * 0.5, y - s * 0.4, x + px * s + s * 0.5, y - s * 0.15), fill=(40, 70, 140, 255))


def _pool(draw, look, x, y, s, rng) -> None:
    draw.ellipse((x - s * 1.0, y - s * 0.12, x + s * 1.0, y + s * 0.12), fill=(*mix(look.accents[0], (20, 30, 60), 0.5),
                                                                              255))


def _panel(draw, look, x, y, s, rng) -> None:
    draw.rectangle((x - s * 0.2, y - s * 0.02, x + s * 0.2, y + s * 0.02), fill=(*shade(look.ground_near, 0.8), 255))


def _stalagmite(draw, look, x, y, s, rng) -> None:
    draw.polygon([(x - s * 0.08, y), (x + s * 0.08, y), (x, y - s * rng.uniform(0.3, 0.6))],
                 fill=(*shade(look.ground_near, 1.2), 255))


def _lamp_stand(draw, look, x, y, s, rng) -> None:
    _lamp(draw, look, x, y, s * 0.6, rng)


def _candle(draw, look, x, y, s, rng) -> None:
    """A cluster of candles on the ground, lit after sundown (a warm halo round each flame)."""
    lit = look.time in ("dusk", "night")
    for dx, tall in ((-0.06, 0.22), (0.0, 0.32), (0.06, 0.17)):
        cx, top = x + dx * s, y - tall * s * rng.uniform(0.85, 1.15)
        w = s * 0.022
        if lit:
            r = s * 0.1
            draw.ellipse((cx - r, top - r * 1.3, cx + r, top + r * 0.7), fill=(255, 196, 96, 80))
        draw.rectangle((cx - w, top, cx + w, y), fill=(244, 236, 214, 255))
        draw.line((cx, top, cx, top - s * 0.02), fill=(50, 40, 36, 255), width=max(1, round(s * 0.006)))
        if lit:
            draw.ellipse((cx - w * 0.8, top - s * 0.07, cx + w * 0.8, top - s * 0.005), fill=(255, 214, 96, 255))
            draw.ellipse((cx - w * 0.35, top - s * 0.04, cx + w * 0.35, top - s * 0.01), fill=(255, 250, 220, 255))


def _banner(draw, look, x, y, s, rng) -> None:
    pole = (90, 70, 52, 255)
    draw.line((x, y, x, y - s * 1.1), fill=pole, width=max(1, round(s * 0.025)))
    draw.line((x - s * 0.16, y - s * 1.05, x + s * 0.16, y - s * 1.05), fill=pole, width=max(1, round(s * 0.02)))
    colour = (*look.accents[int(rng.integers(len(look.accents)))], 255)
    draw.polygon([(x - s * 0.14, y - s * 1.05), (x + s * 0.14, y - s * 1.05), (x + s * 0.14, y - s * 0.62),
                  (x, y - s * 0.52), (x - s * 0.14, y - s * 0.62)], fill=colour)


def _torch(draw, look, x, y, s, rng) -> None:
    draw.line((x, y, x, y - s * 0.75), fill=(70, 56, 46, 255), width=max(1, round(s * 0.03)))
    r = s * 0.12
    draw.ellipse((x - r, y - s * 0.85 - r, x + r, y - s * 0.85 + r), fill=(255, 170, 70, 50))
    draw.polygon([(x - s * 0.04, y - s * 0.76), (x + s * 0.04, y - s * 0.76), (x, y - s * 0.92)],
                 fill=(255, 160, 50, 255))


def _well(draw, look, x, y, s, rng) -> None:
    """A round stone well with a little roof: the courtyard's landmark."""
    stone = (*shade(mix(look.ground_near, (150, 148, 156), 0.5), 0.95), 255)
    draw.rectangle((x - s * 0.32, y - s * 0.3, x + s * 0.32, y), fill=stone)
    draw.ellipse((x - s * 0.34, y - s * 0.38, x + s * 0.34, y - s * 0.22), fill=(*shade(stone[:3], 1.1), 255))
    draw.ellipse((x - s * 0.26, y - s * 0.35, x + s * 0.26, y - s * 0.25), fill=(30, 30, 36, 255))
    for side in (-1, 1):
        draw.line((x + side * s * 0.28, y - s * 0.3, x + side * s * 0.28, y - s * 0.8), fill=(100, 74, 52, 255),
                  width=max(1, round(s * 0.04)))
    draw.polygon([(x - s * 0.42, y - s * 0.78), (x + s * 0.42, y - s * 0.78), (x, y - s * 1.05)],
                 fill=(*shade(look.accents[0], 0.7), 255))


PROP_DRAWINGS = {
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
    "kelp": _kelp, "coral": _coral, "wreck": _wreck, "mast": _mast, "barrel": _barrel, "rope": _rope,
    "lantern_post": _lantern_post, "pot_plant": _pot_plant, "salt_mound": _salt_mound, "cloud_puff": _cloud_puff,
    "shelf": _shelf, "table": _table, "counter": _counter, "sack": _sack, "oven": _oven, "window": _window,
    "arch": _arch, "cairn": _cairn, "station": _station, "pool": _pool, "panel": _panel,
    "stalagmite": _stalagmite, "lamp_stand": _lamp_stand, "candle": _candle, "banner": _banner, "torch": _torch,
    "well": _well,
}
