"""How the chosen reference images condition a FLUX.1-dev keyframe: ``redux`` (default) or ``clip-blend``.

A keyframe is conditioned on the chosen references of the subjects present at its boundary (its
characters and its location, ``FilmPlan.subjects_at``), each with a weight (characters 1.0, the location
0.6 by default: ``GpuSettings.reference_weight_for``). A reference of weight 0 is not used at all.

``redux``: FLUX.1-Redux's image tokens, next to the text
--------------------------------------------------------
``FluxPriorReduxPipeline`` encodes an image with SigLIP (so400m, 384 px: 27 x 27 patch tokens of 1152
dims) and maps every token with its ``ReduxImageEncoder`` MLP into T5's 4096-dim space, where FLUX's
transformer reads it like text. The pipeline's own multi-image path *adds* the token grids of several
images position by position (a face's patch plus a landscape's patch); here each reference keeps its own
tokens instead:

1. each reference's 27 x 27 token grid is area-pooled to ``redux_tokens_per_side`` (9: 81 tokens), as
   ComfyUI's "Redux advanced" downsampling does: full grids of several references would out-shout the
   prompt (Redux was made for image variation, where the text barely matters) and add 729 tokens each to
   every attention of every step;
2. the pooled tokens are scaled by the reference's weight (Redux's own ``prompt_embeds_scale``);
3. they are appended after the keyframe prompt's T5 tokens, so the text (scene, action, staging) and the
   references (who and where) are read together. The pooled CLIP vector stays the prompt's.

``clip-blend``: the original blend of pooled vectors, kept for comparison
----------------------------------------------------------------------
FLUX's pooled vector is CLIP-L's text ``pooler_output`` (768-d, *before* ``text_projection``);
``CLIPVisionModelWithProjection.image_embeds`` is *after* ``visual_projection``, in the joint image-text
space. So the references are averaged in the joint space (each unit-normalised, weighted by its weight,
re-normalised), mapped into the pooler space with the pseudo-inverse of ``text_projection`` (``P @ r = e``),
rescaled to the prompt's pooled norm, and blended: ``p' = (1 - w) p + w r`` with ``w = reference_weight``.
A pooled vector is one global direction: it nudges colour and mood, it cannot carry a face or a costume.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image
from safetensors import safe_open
from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

from filmstitch.engines import runtime

#: Pooled Redux grids kept per encoder: a film's chosen references, with room for retakes' new picks.
REFERENCE_CACHE_SIZE = 32


def used_references(
    images: Sequence[Image.Image], weights: Sequence[float] | None
) -> tuple[list[Image.Image], list[float]]:
    """The references with a positive weight, and their weights (all 1.0 when none are given)."""
    weights = [1.0] * len(images) if weights is None else list(weights)
    if len(weights) != len(images):
        raise ValueError(f"{len(images)} reference images but {len(weights)} weights")
    for weight in weights:
        if not 0.0 <= weight <= 2.0:
            raise ValueError(f"reference weights must be within [0, 2], got {weight}")
    kept = [(image, weight) for image, weight in zip(images, weights) if weight > 0]
    return [image for image, _ in kept], [weight for _, weight in kept]


# ------------------------------------------------------------------------------------------ redux


class ReduxEncoder:
    """FLUX.1-Redux-dev's SigLIP tower and image embedder: reference images -> tokens in FLUX's T5 space."""

    def __init__(self, prior: object, tokens_per_side: int) -> None:
        self.prior = prior  # a FluxPriorReduxPipeline without text encoders: image_encoder + image_embedder
        self.tokens_per_side = tokens_per_side
        self._pooled: OrderedDict[tuple, torch.Tensor] = OrderedDict()  # see pooled(); used under the engine's lock
        prior.image_encoder.eval().requires_grad_(False)
        prior.image_embedder.eval().requires_grad_(False)

    @classmethod
    def load(cls, redux_dir: str, device: torch.device, dtype: torch.dtype, tokens_per_side: int) -> ReduxEncoder:
        from diffusers import FluxPriorReduxPipeline

        directory = runtime.require_dir(redux_dir, "FLUX.1-Redux-dev", "FILMSTITCH_GPU_REDUX_DIR")
        prior = FluxPriorReduxPipeline.from_pretrained(directory, dtype=dtype).to(device)
        return cls(prior, tokens_per_side)

    @property
    def device(self) -> torch.device:
        return self.prior.image_encoder.device

    @torch.no_grad()
    def tokens(self, images: Sequence[Image.Image], weights: Sequence[float]) -> torch.Tensor:
        """(1, sum of pooled tokens, d_t5): each reference's pooled Redux tokens times its weight, in order."""
        if not images:
            raise ValueError("no reference images to encode")
        pooled = torch.stack([self.pooled(image) for image in images])  # (n, side², d), float32
        scale = torch.tensor(list(weights), dtype=pooled.dtype, device=pooled.device).view(-1, 1, 1)
        return (pooled * scale).reshape(1, -1, pooled.shape[-1]).to(self.prior.image_embedder.dtype)

    def pooled(self, image: Image.Image) -> torch.Tensor:
        """One reference's pooled token grid (side², d_t5) in float32, encoded once per picture: a film's
        keyframes reuse the same few chosen references, and SigLIP costs ~15 ms a picture on an H200. Each picture
        is encoded on its own, so its tokens do not depend on which others shared its first batch."""
        key = (image.size, image.mode, hashlib.blake2b(image.tobytes(), digest_size=16).hexdigest())
        if key in self._pooled:
            self._pooled.move_to_end(key)
            return self._pooled[key]
        hidden = self.prior.encode_image([image], self.device, 1)  # (1, grid*grid, d_siglip)
        embeds = self.prior.image_embedder(hidden).image_embeds  # (1, grid*grid, d_t5)
        _, tokens, dim = embeds.shape
        grid = math.isqrt(tokens)
        if grid * grid != tokens:
            raise ValueError(f"Redux gave {tokens} tokens per image, not a square grid")
        side = min(self.tokens_per_side, grid)
        square = embeds.float().transpose(1, 2).reshape(1, dim, grid, grid)
        pooled = torch.nn.functional.adaptive_avg_pool2d(square, side).flatten(2).transpose(1, 2)[0]  # (side², d)
        self._pooled[key] = pooled
        if len(self._pooled) > REFERENCE_CACHE_SIZE:
            self._pooled.popitem(last=False)
        return pooled


# ------------------------------------------------------------------------------------------ clip-blend


class ReferenceEncoder:
    """CLIP-L vision tower plus the projection algebra that turns reference images into a pooler-space vector."""

    def __init__(
        self,
        vision: CLIPVisionModelWithProjection,
        processor: CLIPImageProcessor,
        text_projection: torch.Tensor,
    ) -> None:
        joint_dim = vision.config.projection_dim
        if text_projection.shape[0] != joint_dim:
            raise ValueError(
                f"text_projection maps into {text_projection.shape[0]} dims but the vision projection into {joint_dim}"
            )
        self.vision = vision.eval().requires_grad_(False)
        self.processor = processor
        self.text_projection = text_projection.float().cpu()
        # pinv(P): joint space -> pooler space, computed once in float32 on the CPU.
        self.to_pooler = torch.linalg.pinv(self.text_projection)

    @property
    def pooler_dim(self) -> int:
        return self.text_projection.shape[1]

    @classmethod
    def load(cls, clip_dir: str, device: torch.device, dtype: torch.dtype) -> ReferenceEncoder:
        directory = runtime.require_dir(clip_dir, "CLIP-L (clip-vit-large-patch14)", "FILMSTITCH_GPU_CLIP_VISION_DIR")
        vision = CLIPVisionModelWithProjection.from_pretrained(directory, torch_dtype=dtype).to(device)
        processor = CLIPImageProcessor.from_pretrained(directory)
        return cls(vision, processor, load_text_projection(directory))

    @torch.no_grad()
    def joint_embedding(self, images: Sequence[Image.Image], weights: Sequence[float] | None = None) -> torch.Tensor:
        """Weighted mean of the unit-normalised CLIP image embeddings, re-normalised (joint space, float32, CPU)."""
        if not images:
            raise ValueError("no reference images to encode")
        device = self.vision.device
        pixels = self.processor(images=list(images), return_tensors="pt").pixel_values
        embeds = self.vision(pixel_values=pixels.to(device, self.vision.dtype)).image_embeds.float().cpu()
        embeds = torch.nn.functional.normalize(embeds, dim=-1)
        w = torch.ones(len(images)) if weights is None else torch.tensor(list(weights), dtype=torch.float32)
        return torch.nn.functional.normalize((w[:, None] * embeds).sum(dim=0), dim=-1)

    def pooler_embedding(self, images: Sequence[Image.Image], weights: Sequence[float] | None = None) -> torch.Tensor:
        """The references as a direction in CLIP-L's text pooler space (float32, CPU, unnormalised)."""
        return self.to_pooler @ self.joint_embedding(images, weights)


def load_text_projection(clip_dir: Path) -> torch.Tensor:
    """CLIP-L's ``text_projection.weight`` (joint x pooler), read straight from the checkpoint's safetensors."""
    for path in sorted(clip_dir.glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as handle:
            if "text_projection.weight" in handle.keys():  # noqa: SIM118 - safe_open is not a dict
                return handle.get_tensor("text_projection.weight")
    raise FileNotFoundError(
        f"no text_projection.weight in {clip_dir}/*.safetensors: download the full openai/clip-vit-large-patch14"
    )


def blend_pooled(pooled: torch.Tensor, reference: torch.Tensor, weight: float) -> torch.Tensor:
    """Blend a pooler-space reference vector into pooled prompt vectors (batch, d): see the module docstring.

    The reference is rescaled to each pooled vector's norm, then ``p + w * (r - p)``.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"reference weight must be within [0, 1], got {weight}")
    if weight == 0.0:
        return pooled
    p = pooled.float()
    r = reference.float().to(p.device).expand_as(p)
    r = r * (p.norm(dim=-1, keepdim=True) / r.norm(dim=-1, keepdim=True).clamp_min(1e-12))
    return torch.lerp(p, r, weight).to(pooled.dtype)
