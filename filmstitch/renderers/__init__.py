"""Renderers draw references, keyframes and clips. ``get_renderer`` picks one by name."""

from __future__ import annotations

from filmstitch.renderers.base import RenderedImage, Renderer


def get_renderer(name: str) -> Renderer:
    if name == "animatic":
        from filmstitch.renderers.animatic import AnimaticRenderer

        return AnimaticRenderer()
    if name == "local-gpu":
        from filmstitch.renderers.gpu import LocalGpuRenderer

        return LocalGpuRenderer()
    if name == "modal":
        from filmstitch.renderers.gpu import ModalRenderer

        return ModalRenderer()
    raise ValueError(f"unknown renderer {name!r}: choose 'animatic', 'local-gpu' or 'modal'")


__all__ = ["RenderedImage", "Renderer", "get_renderer"]
