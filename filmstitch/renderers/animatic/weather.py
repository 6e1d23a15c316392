"""Weather: rain, storm and snow falling over a set, drawn on every frame (cheaply: a few hundred strokes).

A location's look says what falls (looks.Weather, from its ambience). Rain is thin slanted streaks in two
depths: far streaks behind the figures, fainter and slower, near ones in front. A storm is heavier rain
and, now and then, a flash of lightning: the whole frame brightens over a few frames and fades, so no
frame jumps. Snow is soft flakes drifting down and sideways. Everything is a pure function of the film's
clock (seconds), so a keyframe and the clip frame after it continue the same fall, and renders are
reproducible. Positions are in frame fractions: weather is close to the lens and does not pan with the set.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

#: Streaks per layer: (count, speed in frame heights per second, length in frame heights, alpha, width in px at
#: 512 rows). Subtle on purpose: rain alone changes well under 2% of a frame's pixels from one frame to the next.
RAIN = {"far": (70, (1.0, 1.3), (0.03, 0.045), 60, 1.0), "near": (30, (1.7, 2.1), (0.06, 0.085), 95, 1.6)}
STORM = {"far": (100, (1.2, 1.5), (0.035, 0.05), 65, 1.0), "near": (42, (2.0, 2.4), (0.07, 0.095), 100, 1.6)}
SNOW = {"far": (70, (0.06, 0.1), (0.0022, 0.0035), 170, 0.0), "near": (35, (0.11, 0.16), (0.004, 0.006), 215, 0.0)}
#: Rain falls slanted: x moves this much per unit of fall.
SLANT = -0.22
#: Lightning: one flash per this many seconds (at a seeded moment in each period), how much brighter, how fast.
FLASH_PERIOD, FLASH_GAIN, FLASH_RISE, FLASH_FADE = 6.5, 0.22, 0.12, 0.3


@lru_cache(maxsize=16)
def _drops(kind: str, layer: str, seed: int) -> np.ndarray:
    """Per drop: x (frame widths), phase (0..1), speed, length; fixed for a set, so the fall is continuous."""
    table = {"rain": RAIN, "storm": STORM, "snow": SNOW}[kind]
    count, speed, length, _, _ = table[layer]
    rng = np.random.default_rng([seed, 31, len(layer)])
    return np.stack([rng.uniform(-0.05, 1.2, count), rng.uniform(0, 1, count), rng.uniform(*speed, count),
                     rng.uniform(*length, count)], axis=1)


def draw_weather(frame: Image.Image, kind: str, seed: int, clock: float, layer: str) -> None:
    """Draw the `layer` ("far": behind the figures, "near": in front) of the weather `kind` onto `frame`."""
    if kind == "none":
        return
    width, height = frame.size
    table = {"rain": RAIN, "storm": STORM, "snow": SNOW}[kind]
    _, _, _, alpha, stroke = table[layer]
    drops = _drops(kind, layer, seed)
    draw = ImageDraw.Draw(frame, "RGBA")
    if kind == "snow":
        for i, (x, phase, speed, size) in enumerate(drops):
            y = (phase + clock * speed) % 1.1 - 0.05
            sway = 0.012 * math.sin(clock * 1.3 + i * 0.7)
            r = max(1.0, size * height)
            cx, cy = (x - 0.05 + sway) * width, y * height
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(250, 252, 255, alpha))
        return
    line = max(1, round(stroke * height / 512))
    colour = (206, 216, 232, alpha)
    for x, phase, speed, length in drops:
        fall = (phase + clock * speed) % 1.2 - 0.1  # the streak's head, in frame heights
        x0 = (x + SLANT * fall * height / width) * width
        y0 = fall * height
        y1 = y0 - length * height
        draw.line((x0, y0, x0 - SLANT * length * height, y1), fill=colour, width=line)


def flash(kind: str, seed: int, clock: float) -> float:
    """How much brighter a storm's frame is at `clock` (0 most of the time; at most FLASH_GAIN)."""
    if kind != "storm":
        return 0.0
    period = math.floor(clock / FLASH_PERIOD)
    gain = 0.0
    for k in (period - 1, period):  # a flash late in one period may still be fading early in the next
        if k < 0:
            continue
        start = k * FLASH_PERIOD + float(np.random.default_rng([seed, 47, k]).uniform(0.5, FLASH_PERIOD - 1.5))
        s = clock - start
        if 0.0 <= s < FLASH_RISE:
            gain = max(gain, s / FLASH_RISE)
        elif s >= FLASH_RISE:
            gain = max(gain, math.exp(-(s - FLASH_RISE) / FLASH_FADE))
    return FLASH_GAIN * gain
