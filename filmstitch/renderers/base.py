"""The renderer interface: reference variants, keyframe variants, clips.

Implementations: ``animatic`` (CPU, draws from the plan's staging), ``modal`` and ``local-gpu``
(FLUX.1-dev + LTX-Video engines). Renderers return encoded bytes; tasks store them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from filmstitch.models import FilmPlan, Subject


class RenderedImage(BaseModel):
    """An image variant that has been chosen or is being used as conditioning."""

    model_config = ConfigDict(frozen=True)

    variant: int
    seed: int
    png: bytes


class Renderer(ABC):
    name: str
    #: Modules whose source shapes the pictures and clips: their hash is part of every render's reuse key.
    code_modules: ClassVar[tuple[str, ...]] = ()

    def settings_identity(self) -> dict[str, Any]:
        """Settings that change what the renderer makes (steps, guidance, weights...; never secrets)."""
        return {}

    def identity(self) -> dict[str, Any]:
        """What makes this renderer's output: name, code version and settings (filmstitch.reuse)."""
        from filmstitch.reuse import code_version

        modules = (*self.code_modules, "filmstitch.renderers.base", "filmstitch.video", "filmstitch.images")
        return {"name": self.name, "code": code_version(*modules), "settings": self.settings_identity()}

    @abstractmethod
    def reference_variants(self, plan: FilmPlan, subject: Subject, seeds: list[int]) -> list[bytes]:
        """One PNG per seed showing the subject (a character or the environment)."""

    @abstractmethod
    def keyframe_variants(
        self, plan: FilmPlan, index: int, references: dict[str, RenderedImage], seeds: list[int]
    ) -> list[bytes]:
        """One PNG per seed of boundary keyframe `index`.

        `references` maps subject id -> chosen reference image, for the subjects present at
        that boundary (``plan.subjects_at(index)``).
        """

    @abstractmethod
    def clip(
        self,
        plan: FilmPlan,
        segment: int,
        first: RenderedImage,
        last: RenderedImage,
        references: dict[str, RenderedImage],
        seed: int,
    ) -> bytes:
        """An H.264 MP4 of ``plan.request.frames_per_clip`` frames whose first frame is `first`
        (keyframe `segment`) and whose last frame is `last` (keyframe `segment + 1`)."""
