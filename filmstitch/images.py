"""Small image helpers: thumbnails for the checkpoint forms and the pictures' statistics for auto-picking."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

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
