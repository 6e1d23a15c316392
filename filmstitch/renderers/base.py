"""The renderer interface: reference variants, keyframe variants, clips, and their continuity QC.

Implementations: ``animatic`` (CPU, draws from the plan's staging), ``modal`` and ``local-gpu``
(FLUX.1-dev + LTX-Video engines). Renderers return encoded bytes; tasks store them. QC
(:mod:`filmstitch.renderers.qc`) scores keyframe variants against their references and the film's cuts;
the default here uses plain image statistics any renderer's PNGs and MP4s allow.
"""

from __future__ import annotations

import base64
import binascii
import io
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Literal

from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field

from filmstitch.models import FilmPlan, Keyframe, KeyframeEdit, Subject
from filmstitch.renderers import qc


class RenderedImage(BaseModel):
    """An image variant that has been chosen or is being used as conditioning."""

    model_config = ConfigDict(frozen=True)

    variant: int
    seed: int
    png: bytes


class ClipRender(BaseModel):
    """A rendered clip: its MP4 and, from a video model that makes sound (LTX-2), its WAV."""

    model_config = ConfigDict(frozen=True)

    mp4: bytes
    wav: bytes | None = None


class Restaging(BaseModel):
    """A keyframe edit done by changing the plan: the keyframe re-staged, what changed and what could not be."""

    model_config = ConfigDict(frozen=True)

    keyframe: Keyframe
    done: list[str] = Field(default_factory=list)
    not_done: list[str] = Field(default_factory=list)

    def message(self, renderer: str, can_do: str = "") -> str:
        """What happened, plainly: "Re-staged: ... Could not: ... (the animatic re-stages ...)"."""
        lines = []
        if self.done:
            lines.append("Re-staged: " + "; ".join(self.done) + ".")
        if self.not_done:
            cannot = "; ".join(f"\u201c{item}\u201d" for item in self.not_done)
            lines.append(f"The {renderer} renderer could not do: {cannot}" + (f" (it re-stages {can_do})." if can_do
                                                                             else "."))
        return " ".join(lines)


class Renderer(ABC):
    name: str
    #: Modules whose source shapes the pictures and clips: their hash is part of every render's reuse key.
    code_modules: ClassVar[tuple[str, ...]] = ()
    #: How this renderer edits a keyframe (``KeyframeEdit``): "restage" changes the plan's staging and draws the
    #: keyframe again (the clips follow the new staging); "pixels" edits the picture with an image model.
    edit_mode: ClassVar[Literal["restage", "pixels"]] = "pixels"
    #: What "restage" can change, for messages ("positions, poses, ...").
    restage_abilities: ClassVar[str] = ""
    #: Whether a clip is made from its segment's narration too (a video prompt's mood words): only then is the
    #: narration in the clip's reuse key, so that a changed line is spoken again and not drawn again.
    clip_reads_narration: ClassVar[bool] = False

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
        """An H.264 MP4 whose first frame is `first` (keyframe `segment`), moving towards `last` (keyframe
        `segment + 1`): ``plan.request.frames_per_clip`` frames (F), the next keyframe being the first frame
        of the next clip; the film's last clip has F + 1 frames and ends on `last`. So every boundary frame
        appears once in the film, which has segments x F + 1 frames, and clip i starts at i x F / fps."""

    def clip_with_sound(
        self,
        plan: FilmPlan,
        segment: int,
        first: RenderedImage,
        last: RenderedImage,
        references: dict[str, RenderedImage],
        seed: int,
    ) -> ClipRender:
        """:meth:`clip` and, where the video model makes sound with the picture (LTX-2), the clip's waveform as a WAV
        covering the clip from its opening keyframe (``frames_per_clip + 1`` frames' worth). Silent renderers: None."""
        return ClipRender(mp4=self.clip(plan, segment, first, last, references, seed))

    # ----- keyframe edits -----

    def check_edit(self, plan: FilmPlan, index: int, edit: KeyframeEdit) -> None:
        """Refuse, with a ValueError in words, an edit this renderer cannot make, before any work: a boundary
        that does not exist, a region outside the frame, a mask of the wrong size."""
        if not 0 <= index < len(plan.keyframes):
            raise ValueError(f"keyframe {index} does not exist: the film has keyframes 0..{len(plan.keyframes) - 1}")
        edit_mask(edit, plan.request.width, plan.request.height)

    def restage(self, plan: FilmPlan, index: int, edit: KeyframeEdit) -> Restaging:
        """edit_mode "restage": keyframe `index` with its staging changed as the edit asks."""
        raise NotImplementedError(f"the {self.name} renderer edits pictures, it does not re-stage them")

    def edit_keyframe(
        self, plan: FilmPlan, index: int, picture: RenderedImage, edit: KeyframeEdit, seeds: list[int]
    ) -> list[bytes]:
        """edit_mode "pixels": one edited PNG of `picture` (keyframe `index`) per seed, at the film's size.
        Outside a region or mask the pixels stay exactly the picture's."""
        raise NotImplementedError(f"the {self.name} renderer cannot edit pictures")

    # ----- continuity QC (defaults: plain image statistics, see filmstitch.renderers.qc) -----

    def keyframe_qc(
        self, plan: FilmPlan, index: int, references: dict[str, RenderedImage], variants: list[bytes]
    ) -> qc.KeyframeQc:
        """Scores of every variant of boundary keyframe `index` against the chosen reference of each subject
        present there (``plan.subjects_at(index)``; `references` maps subject id -> chosen reference).

        This default compares colour histograms (labelled as such); renderers with an image-embedding model
        override it.
        """
        present = qc_references(plan, index, references)
        return qc.keyframe_qc(
            index,
            qc.histogram_similarities(variants, {sid: image.png for sid, image in present.items()}),
            qc_weights(plan, present),
            qc.HISTOGRAM_METHOD,
            qc.HISTOGRAM_THRESHOLD,
        )

    def seam_qc(self, plan: FilmPlan, clips: list[bytes]) -> list[qc.SeamQc]:
        """A seam score for every cut of the film, from its clips (MP4 bytes, in segment order)."""
        if len(clips) != len(plan.script.segments):
            raise ValueError(f"the film has {len(plan.script.segments)} segments but {len(clips)} clips were given")
        return qc.seam_scores(clips)


def qc_references(plan: FilmPlan, index: int, references: dict[str, RenderedImage]) -> dict[str, RenderedImage]:
    """The chosen references of the subjects present at keyframe `index` (an absent one is not scored)."""
    if not 0 <= index < len(plan.keyframes):
        raise ValueError(f"keyframe index {index} is outside 0..{len(plan.keyframes) - 1}")
    return {s.id: references[s.id] for s in plan.subjects_at(index) if s.id in references}


def qc_weights(plan: FilmPlan, present: dict[str, RenderedImage]) -> dict[str, float]:
    """How much each subject counts in a variant's score: a character twice the location."""
    kinds = {s.id: s.kind for s in plan.subjects}
    return {sid: 1.0 if kinds.get(sid) == "character" else 0.5 for sid in present}


def edit_mask(edit: KeyframeEdit, width: int, height: int) -> Image.Image | None:
    """The edit's region as a mask image of the frame's size (255: paint again), or None for a whole-picture
    edit. A region outside the frame, or a mask that is unreadable, of another size or empty, is refused."""
    if edit.region is not None:
        edit.region.check_inside(width, height)
        mask = Image.new("L", (width, height), 0)
        mask.paste(255, (edit.region.x0, edit.region.y0, edit.region.x1, edit.region.y1))
        return mask
    if edit.mask is None:
        return None
    try:
        data = base64.b64decode(edit.mask.removeprefix("data:image/png;base64,"), validate=True)
        with Image.open(io.BytesIO(data)) as opened:
            mask = opened.convert("L")
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError):
        raise ValueError("the mask is not a readable image (a PNG, base64-encoded)") from None
    if mask.size != (width, height):
        raise ValueError(f"the mask is {mask.size[0]}x{mask.size[1]}; the film's frames are {width}x{height}")
    mask = mask.point(lambda v: 255 if v >= 128 else 0)
    if mask.getbbox() is None:
        raise ValueError("the mask selects nothing: paint the part to change white")
    return mask
