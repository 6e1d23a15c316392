"""Small image helpers: thumbnails for the checkpoint forms and the pictures' statistics for auto-picking."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

THUMB_WIDTH = 192


def thumbnail_jpeg(png: bytes, width: int = THUMB_WIDTH, quality: int = 72) -> bytes:
    """A small JPEG for the resume form (keeps the form's markdown small)."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    height = max(1, round(image.height * width / image.width))
    out = io.BytesIO()
    image.resize((width, height), Image.Resampling.LANCZOS).save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()


def as_array(image_bytes: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(image_bytes)).convert("RGB"), dtype=np.float32) / 255.0


def sharpness(image_bytes: bytes) -> float:
    """Variance of a Laplacian of the luminance: higher means more detail and contrast."""
    luma = as_array(image_bytes).mean(axis=2)
    laplacian = 4 * luma[1:-1, 1:-1] - luma[:-2, 1:-1] - luma[2:, 1:-1] - luma[1:-1, :-2] - luma[1:-1, 2:]
    return float(laplacian.var())


def distance(a: bytes, b: bytes) -> float:
    """Mean colour distance of two same-sized images (for continuity between keyframes)."""
    return float(np.abs(as_array(a) - as_array(b)).mean())


# --------------------------------------------------------------------------- checkpoint pictures

#: Width of a variant's tile in the checkpoint form. The Prefect UI's Resume dialog has a text column 472 px
#: wide at every window size and shows each image on a line of its own, so a tile takes (nearly) the width.
TILE_WIDTH = 456
RECOMMENDED = (255, 200, 40)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def labelled(image_bytes: bytes, label: str, recommended: bool, width: int = TILE_WIDTH) -> Image.Image:
    """A variant as a person sees it at a checkpoint: scaled to `width`, its answer label ("3:1") in the
    corner, and a gold frame and star on the recommended one."""
    image = Image.open(io.BytesIO(image_bytes)).convert("RGB")
    height = max(1, round(image.height * width / image.width))
    tile = image.resize((width, height), Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(tile)
    font = _font(min(24, max(12, width // 11)))
    left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
    pad, text_h = 4, bottom - top
    star_w = text_h + pad if recommended else 0
    draw.rectangle((0, 0, right - left + 2 * pad + star_w, text_h + 2 * pad), fill=(0, 0, 0))
    draw.text((pad - left, pad - top), label, font=font, fill=RECOMMENDED if recommended else (255, 255, 255))
    if recommended:  # drawn, not a glyph: the bundled font has no star
        _star(draw, (right - left + 2 * pad + text_h / 2, pad + text_h / 2), text_h / 2, RECOMMENDED)
        draw.rectangle((0, 0, width - 1, height - 1), outline=RECOMMENDED, width=4)
    return tile


def _star(draw: ImageDraw.ImageDraw, centre: tuple[float, float], radius: float, fill: tuple[int, int, int]) -> None:
    import math

    cx, cy = centre
    points = [
        (cx + r * math.sin(math.pi * k / 5), cy - r * math.cos(math.pi * k / 5))
        for k, r in zip(range(10), [radius, radius * 0.45] * 5)
    ]
    draw.polygon(points, fill=fill)


def jpeg(image: Image.Image, quality: int = 80) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def contact_sheet(rows: list[tuple[str, list[Image.Image]]], width: int = 256) -> bytes:
    """One JPEG with every row (its title, then its labelled tiles side by side): what the terminal user opens."""
    columns = max(len(tiles) for _, tiles in rows)
    tile_h = max(round(tile.height * width / tile.width) for _, tiles in rows for tile in tiles)
    gap, title_h = 8, 26
    sheet = Image.new("RGB", (gap + columns * (width + gap), len(rows) * (title_h + tile_h + gap) + gap), (24, 24, 28))
    draw = ImageDraw.Draw(sheet)
    font = _font(16)
    y = gap
    for title, tiles in rows:
        draw.text((gap, y + 4), title, font=font, fill=(235, 235, 235))
        for column, tile in enumerate(tiles):
            small = tile.resize((width, round(tile.height * width / tile.width)), Image.Resampling.LANCZOS)
            sheet.paste(small, (gap + column * (width + gap), y + title_h))
        y += title_h + tile_h + gap
    return jpeg(sheet, quality=82)
