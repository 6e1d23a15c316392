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

#: Width of a variant's tile in the checkpoint form: two side by side fill the Prefect UI's Resume dialog
#: (its text column is 472 px wide at every window size), each well over 160 px.
TILE_WIDTH = 228
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
    text = f"{label} \u2605" if recommended else label
    font = _font(max(12, width // 11))
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    pad = 4
    draw.rectangle((0, 0, right - left + 2 * pad, bottom - top + 2 * pad), fill=(0, 0, 0))
    draw.text((pad - left, pad - top), text, font=font, fill=RECOMMENDED if recommended else (255, 255, 255))
    if recommended:
        draw.rectangle((0, 0, width - 1, height - 1), outline=RECOMMENDED, width=4)
    return tile


def jpeg(image: Image.Image, quality: int = 80) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def contact_sheet(rows: list[tuple[str, list[Image.Image]]], width: int = TILE_WIDTH) -> bytes:
    """One JPEG with every row (its title, then its labelled tiles side by side): what the terminal user opens."""
    columns = max(len(tiles) for _, tiles in rows)
    tile_h = max(tile.height for _, tiles in rows for tile in tiles)
    gap, title_h = 8, 26
    sheet = Image.new("RGB", (gap + columns * (width + gap), len(rows) * (title_h + tile_h + gap) + gap), (24, 24, 28))
    draw = ImageDraw.Draw(sheet)
    font = _font(16)
    y = gap
    for title, tiles in rows:
        draw.text((gap, y + 4), title, font=font, fill=(235, 235, 235))
        for column, tile in enumerate(tiles):
            sheet.paste(tile, (gap + column * (width + gap), y + title_h))
        y += title_h + tile_h + gap
    return jpeg(sheet, quality=82)
