"""Continuity QC: how well each keyframe variant matches its references, and how clean each cut is.

Two measures, for any renderer:

* **Keyframe variants** against the chosen reference of every subject present at the boundary
  (``FilmPlan.subjects_at``: its characters and its location). A renderer with an image-embedding model
  scores by embedding cosine (``local-gpu`` / ``modal``: CLIP-L or DINOv2, ``filmstitch.engines.qc``).
  Without one (the animatic) the honest measure plain pixels allow is colour: the intersection of the
  variant's and the reference's colour histograms (1 = the same colours in the same amounts). It says
  whether a variant uses the reference's palette, not whether it shows the same face: the label says so.
  A variant's ``score`` is the weighted mean over the subjects (characters weigh more than the location,
  as in the conditioning); the recommended pick is the best score; a boundary whose best score is under
  the measure's ``threshold`` is worth one re-render (``--auto``).
* **Seams**: between the last frame of clip ``i`` and the first frame of clip ``i + 1`` (adjacent frames
  of the film), the structural similarity (SSIM, 1 = identical) and the colour shift (CIE76 delta E of the
  mean CIELAB colour: under ~2 invisible, over ~10 obvious). Plain pixel statistics: the same for every
  renderer.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path

import ffmpeg
import imageio_ffmpeg
import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

#: Bins per RGB channel of the colour histogram (8^3 = 512 colours).
HISTOGRAM_BINS = 8
#: Below this colour-histogram overlap a variant has drifted from its references' palette (shown in the form).
#: It never calls for a retry: a keyframe shows the whole set, a reference sheet a figure on a plain ground,
#: so most animatic keyframes overlap their references by under a third (10 of the default film's 11 did),
#: and another take of the same figures has the same colours.
HISTOGRAM_THRESHOLD = 0.35
HISTOGRAM_METHOD = "colour-histogram intersection (no image model: shared colours, not identity)"
SEAM_METHOD = "SSIM and mean-colour delta E (CIELAB) between the frames either side of the cut"


class VariantQc(BaseModel):
    model_config = ConfigDict(frozen=True)

    variant: int
    similarity: dict[str, float] = Field(description="Subject id -> score against its chosen reference.")
    score: float | None = Field(description="Weighted mean over the subjects; None when no reference is present.")


class KeyframeQc(BaseModel):
    """Scores of every variant of one boundary keyframe."""

    model_config = ConfigDict(frozen=True)

    index: int
    method: str
    identity: bool = Field(False, description="The score measures who and what is shown (an image-embedding "
                           "model): it ranks the variants and can call for a retry. A colour measure (the "
                           "animatic's) is shown for information only.")
    threshold: float | None = Field(description="Under this best score the boundary is worth one re-render.")
    variants: list[VariantQc]

    @property
    def best(self) -> int | None:
        """The variant to recommend: the highest score (None when nothing could be scored)."""
        scored = [v for v in self.variants if v.score is not None]
        return max(scored, key=lambda v: v.score or 0.0).variant if scored else None  # (scored: never None)

    @property
    def needs_retry(self) -> bool:
        best = self.best
        if best is None or self.threshold is None or not self.identity:
            return False
        score = self.variants[best].score
        return score is not None and score < self.threshold

    def caption(self, variant: int, names: dict[str, str] | None = None) -> str:
        """One line for a checkpoint form, under the variant's picture, e.g.
        ``continuity 0.71 (Mira 0.80, Lunar garden 0.55), recommended``. `names`: subject id -> display name."""
        row = self.variants[variant]
        if row.score is None:
            return "continuity: not scored (no reference present)"
        parts = ", ".join(f"{(names or {}).get(sid, sid)} {value:.2f}" for sid, value in row.similarity.items())
        flag = ", recommended" if variant == self.best else ""
        under = self.threshold is not None and row.score < self.threshold
        low = (" (below the retry threshold)" if self.identity else " (palette drifted)") if under else ""
        return f"continuity {row.score:.2f} ({parts}){flag}{low}"


class SeamQc(BaseModel):
    model_config = ConfigDict(frozen=True)

    cut: int = Field(description="The cut between clip `cut` and clip `cut + 1`.")
    ssim: float
    colour_shift: float
    method: str = SEAM_METHOD


def qc_artifact(keyframes: Sequence[KeyframeQc], seams: Sequence[SeamQc]) -> dict:
    """The run's QC record (JSON-able): every boundary's variant scores, its recommended pick, every seam."""
    return {
        "keyframes": [{**k.model_dump(), "best": k.best, "needs_retry": k.needs_retry} for k in keyframes],
        "seams": [s.model_dump() for s in seams],
    }


def keyframe_qc(
    index: int,
    similarities: Sequence[dict[str, float]],
    weights: dict[str, float],
    method: str,
    threshold: float | None,
    identity: bool = False,
) -> KeyframeQc:
    """Scores per variant (subject id -> similarity) turned into a :class:`KeyframeQc` with weighted means."""
    variants = []
    for k, row in enumerate(similarities):
        total = sum(weights.get(name, 1.0) for name in row)
        score = None
        if row and total > 0:
            score = round(sum(weights.get(name, 1.0) * value for name, value in row.items()) / total, 4)
        variants.append(VariantQc(variant=k, similarity=dict(row), score=score))
    return KeyframeQc(index=index, method=method, identity=identity, threshold=threshold, variants=variants)


# ------------------------------------------------------------------------------- plain image statistics


def read_rgb(data: bytes) -> np.ndarray:
    with Image.open(BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def colour_histogram(pixels: np.ndarray, bins: int = HISTOGRAM_BINS) -> np.ndarray:
    """Normalised joint RGB histogram (bins^3 cells summing to 1)."""
    cells = (pixels.reshape(-1, 3).astype(np.int64) * bins) // 256
    index = (cells[:, 0] * bins + cells[:, 1]) * bins + cells[:, 2]
    counts = np.bincount(index, minlength=bins**3).astype(np.float64)
    return counts / counts.sum()


def histogram_similarities(variant_pngs: Sequence[bytes], reference_pngs: dict[str, bytes]) -> list[dict[str, float]]:
    """For each variant, its colour-histogram intersection with each reference (subject id -> [0, 1])."""
    references = {name: colour_histogram(read_rgb(data)) for name, data in reference_pngs.items()}
    rows = []
    for data in variant_pngs:
        histogram = colour_histogram(read_rgb(data))
        rows.append({name: round(float(np.minimum(histogram, ref).sum()), 4) for name, ref in references.items()})
    return rows


def seam(before: np.ndarray, after: np.ndarray, cut: int) -> SeamQc:
    """SSIM and mean-colour shift between two adjacent frames of the film."""
    from skimage.color import rgb2lab
    from skimage.metrics import structural_similarity

    if before.shape != after.shape:
        raise ValueError(f"cut {cut}: frames of {before.shape} and {after.shape} cannot be compared")
    side = min(before.shape[:2])
    ssim = structural_similarity(before, after, channel_axis=2, data_range=255, win_size=min(7, side - (side + 1) % 2))
    lab_before = rgb2lab(before).reshape(-1, 3).mean(axis=0)
    lab_after = rgb2lab(after).reshape(-1, 3).mean(axis=0)
    return SeamQc(cut=cut, ssim=round(float(ssim), 4),
                  colour_shift=round(float(np.linalg.norm(lab_before - lab_after)), 3))


def _frame(path: Path, last: bool) -> np.ndarray:
    """The first or the last frame of an MP4 (the last by decoding only its final half second)."""
    meta_reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(meta_reader)
    width, height = meta["size"]
    if not last:
        frame = next(meta_reader)
        meta_reader.close()
        return np.frombuffer(frame, np.uint8).reshape(height, width, 3)
    meta_reader.close()
    out, _ = (
        ffmpeg.input(str(path), sseof=-0.5)
        .output("pipe:", format="rawvideo", pix_fmt="rgb24")
        .global_args("-loglevel", "error", "-nostdin")
        .run(cmd=imageio_ffmpeg.get_ffmpeg_exe(), capture_stdout=True, capture_stderr=True)
    )
    frames = np.frombuffer(out, np.uint8).reshape(-1, height, width, 3)
    return frames[-1]


def seam_scores(clips: Sequence[bytes]) -> list[SeamQc]:
    """A :class:`SeamQc` for every cut of a film whose clips (MP4 bytes) are given in order."""
    with tempfile.TemporaryDirectory(prefix="filmstitch-qc-") as tmp:
        paths = []
        for i, data in enumerate(clips):
            path = Path(tmp) / f"clip{i:02d}.mp4"
            path.write_bytes(data)
            paths.append(path)
        return [seam(_frame(paths[i], last=True), _frame(paths[i + 1], last=False), i) for i in range(len(paths) - 1)]
