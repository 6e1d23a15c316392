"""Renderers draw references, keyframes and clips. ``get_renderer`` makes one by name (filmstitch.backends)."""

from __future__ import annotations

from filmstitch import backends
from filmstitch.renderers.base import RenderedImage, Renderer


def get_renderer(name: str) -> Renderer:
    renderer: Renderer = backends.renderer(name).load()()
    return renderer


__all__ = ["RenderedImage", "Renderer", "get_renderer"]
