"""Continuity scores from an image-embedding model: how much a keyframe variant looks like each reference.

The model is CLIP-L's vision tower (the ``clip_vision_dir`` the clip-blend references already use) or
DINOv2 (a ``facebook/dinov2-*`` folder in ``qc_dir``): both give one vector per image, and the cosine of two
such vectors is high when the images show the same thing. DINOv2 is trained on images alone and tells
individual faces and objects apart better; CLIP is there anyway. Scores are cosines in [-1, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image

from filmstitch.engines import runtime


class EmbeddingScorer:
    """An image-embedding model and the cosines between its embeddings. Thread-safe (no state between calls)."""

    def __init__(self, model: torch.nn.Module, processor: object, name: str) -> None:
        self.model = model.eval().requires_grad_(False)
        self.processor = processor
        self.name = name

    @classmethod
    def load(cls, directory: str, device: torch.device, dtype: torch.dtype) -> EmbeddingScorer:
        from transformers import AutoConfig, AutoImageProcessor, AutoModel, CLIPVisionModelWithProjection

        path = runtime.require_dir(directory, "image-embedding model (CLIP-L or DINOv2)", "FILMSTITCH_GPU_QC_DIR")
        config = AutoConfig.from_pretrained(path)
        if config.model_type == "clip":
            model = CLIPVisionModelWithProjection.from_pretrained(path, torch_dtype=dtype)
        else:
            model = AutoModel.from_pretrained(path, torch_dtype=dtype)
        return cls(model.to(device), AutoImageProcessor.from_pretrained(path), Path(path).name)

    @property
    def method(self) -> str:
        return f"{self.name} image-embedding cosine"

    @torch.no_grad()
    def embed(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """(n, d) unit vectors, float32 on the CPU: CLIP's projected image embedding, or DINOv2's CLS token."""
        pixels = self.processor(images=[image.convert("RGB") for image in images], return_tensors="pt").pixel_values
        output = self.model(pixel_values=pixels.to(self.model.device, self.model.dtype))
        vectors = getattr(output, "image_embeds", None)
        if vectors is None:
            vectors = output.pooler_output
        return torch.nn.functional.normalize(vectors.float().cpu(), dim=-1)

    def similarities(
        self, variants: Sequence[Image.Image], references: dict[str, Image.Image]
    ) -> list[dict[str, float]]:
        """For each variant, the cosine against each reference (subject id -> score)."""
        if not variants:
            return []
        names = list(references)
        vectors = self.embed([*variants, *references.values()])
        cosines = vectors[: len(variants)] @ vectors[len(variants) :].T
        return [{name: round(float(row[j]), 4) for j, name in enumerate(names)} for row in cosines]

    def similarity_pngs(self, variant_pngs: list[bytes], reference_pngs: dict[str, bytes]) -> list[dict[str, float]]:
        """The bytes API (renderers, Modal workers): PNG variants and references in, scores out."""
        variants = [runtime.open_image(data, f"variant {i}") for i, data in enumerate(variant_pngs)]
        references = {name: runtime.open_image(data, f"reference {name}") for name, data in reference_pngs.items()}
        return self.similarities(variants, references)
