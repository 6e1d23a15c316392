"""Text on pictures: the chapter chip of a clip and the labels of reference sheets.

The animatic draws no subtitles: the sound stage times them to the real speech and burns them
at assembly only when asked, so the picture stays clean.
"""

from __future__ import annotations

import threading

from PIL import Image, ImageDraw, ImageFont

from filmstitch.models import FilmPlan

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
    return lines or [""]


def text_box(text: str, font_px: int, max_width: float, max_lines: int) -> Image.Image:
    """White text on a translucent dark rounded box."""
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


def chapter_title(plan: FilmPlan, segment: int) -> str:
    """The chip of a clip: its number and its segment's title."""
    return f"{segment + 1} · {plan.script.segments[segment].title}"


def chapter_chip(text: str, size: tuple[int, int]) -> tuple[Image.Image, tuple[int, int]]:
    """A one-line chip, top left, and where to paste it."""
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
