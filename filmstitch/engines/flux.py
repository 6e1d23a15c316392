"""FLUX.1-dev image engine: reference variants and keyframe variants with multi-reference conditioning.

The story of one call:

1. **Prompts.** FLUX has two text encoders. T5-XXL reads the full, detailed prompt (up to 512 tokens)
   and gives the per-token embeddings; CLIP-L reads a short prompt (77 tokens at most, so the plan's
   <=50-word ``clip_summary``) and gives one pooled vector. ``FluxPipeline.encode_prompt`` is called
   once per distinct prompt pair (``prompt`` -> CLIP, ``prompt_2`` -> T5); the result is cached and
   repeated for every variant, so three variants cost one text-encoding pass, not three.
2. **References** (keyframes only). The chosen reference images of the subjects present at the boundary
   (its characters and the environment) go through the CLIP-L *vision* tower. Their embeddings are
   averaged and blended into the pooled text vector with ``reference_weight`` (default 0.3).
3. **Variants.** One batched pipeline call renders every variant, with one seeded generator per variant,
   so variant ``k`` re-renders exactly from its recorded seed.

Which space the blend happens in
--------------------------------
FLUX's pooled vector is CLIP-L's text ``pooler_output``: the final-layer-normed EOS token, 768-d,
*before* ``text_projection``. ``CLIPVisionModelWithProjection.image_embeds`` is *after*
``visual_projection``, in the joint image-text space. The two are different coordinate systems, so
adding them directly would be meaningless. We therefore:

* average the references in the joint space, where CLIP compares images and texts: each ``image_embeds``
  is unit-normalised (CLIP's similarity is a cosine), averaged, and re-normalised;
* map that joint-space vector back into the pooler space with the Moore-Penrose pseudo-inverse of
  CLIP-L's ``text_projection`` (P, shape joint x pooler): ``r = pinv(P) @ e`` is the least-squares
  pooler vector whose text projection is ``e`` (for CLIP-L P is 768x768 and invertible, so ``P @ r == e``);
* rescale ``r`` to the norm of the prompt's pooled vector ``p`` (the transformer expects pooled vectors
  of that size; the blend should turn the direction, not change the magnitude);
* blend: ``p' = (1 - w) * p + w * r``, i.e. ``p' - p = w * (r - p)``: the pooled embedding moves by exactly
  the weight ``w`` towards the references; ``w = 0`` leaves it untouched.

``text_projection`` is read from the same openai/clip-vit-large-patch14 checkpoint as the vision tower
(``GpuSettings.clip_vision_dir``); FLUX's own ``text_encoder`` is that checkpoint's text tower.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import FluxPipeline
from PIL import Image
from safetensors import safe_open
from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

from filmstitch.engines import GpuSettings
from filmstitch.engines import runtime as rt

log = logging.getLogger(__name__)

#: Memory kept free beside the resident weights for activations and the VAE decode of a batch.
ACTIVATION_HEADROOM_BYTES = 6 * 1024**3
#: Extra memory of FLUX's VAE decoding a whole batch at once, per output pixel (H100: 1.98 GiB for 3 x 768x512,
#: 2.97 GiB for 3 x 1024x576). One image at a time needs a third as much and takes ~35% longer.
VAE_DECODE_BYTES_PER_PIXEL = 1800


@dataclass(frozen=True)
class PromptEmbeds:
    """One prompt pair encoded once: T5 token embeddings (1, seq, d_t5) and CLIP pooled vector (1, d_clip)."""

    t5: torch.Tensor
    pooled: torch.Tensor


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
        directory = rt.require_dir(clip_dir, "CLIP-L (clip-vit-large-patch14)", "FILMSTITCH_GPU_CLIP_VISION_DIR")
        vision = CLIPVisionModelWithProjection.from_pretrained(directory, torch_dtype=dtype).to(device)
        processor = CLIPImageProcessor.from_pretrained(directory)
        return cls(vision, processor, load_text_projection(directory))

    @torch.no_grad()
    def joint_embedding(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """Mean of the unit-normalised CLIP image embeddings, re-normalised (joint space, float32, CPU)."""
        if not images:
            raise ValueError("no reference images to encode")
        device = self.vision.device
        pixels = self.processor(images=list(images), return_tensors="pt").pixel_values
        embeds = self.vision(pixel_values=pixels.to(device, self.vision.dtype)).image_embeds.float().cpu()
        embeds = torch.nn.functional.normalize(embeds, dim=-1)
        return torch.nn.functional.normalize(embeds.mean(dim=0), dim=-1)

    def pooler_embedding(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """The references as a direction in CLIP-L's text pooler space (float32, CPU, unnormalised)."""
        return self.to_pooler @ self.joint_embedding(images)


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


class FluxImageEngine:
    """FLUX.1-dev on one device. Thread-safe: calls are serialised, because a pipeline is not re-entrant."""

    def __init__(
        self,
        pipe: FluxPipeline,
        settings: GpuSettings | None = None,
        references: ReferenceEncoder | None = None,
        *,
        offload_text_encoder: bool = False,
    ) -> None:
        self.pipe = pipe
        self.settings = settings or GpuSettings()
        self.references = references
        self.device = pipe.transformer.device
        self.offload_text_encoder = offload_text_encoder
        self.optimisations: list[str] = []
        self._lock = threading.Lock()
        # Each prompt pair is encoded once, and repeated for every variant.
        self.encode = functools.lru_cache(maxsize=rt.PROMPT_CACHE_SIZE)(self._encode_prompts)
        if references is not None and references.pooler_dim != pipe.text_encoder.config.hidden_size:
            raise ValueError(
                f"CLIP text_projection expects a {references.pooler_dim}-d pooler output but FLUX's CLIP text "
                f"encoder gives {pipe.text_encoder.config.hidden_size}-d: use clip-vit-large-patch14 for both"
            )
        self.last_vae_slicing: bool | None = None
        pipe.set_progress_bar_config(disable=True)

    @classmethod
    def load(cls, settings: GpuSettings | None = None, device: str | torch.device | None = None) -> FluxImageEngine:
        """Load FLUX.1-dev (and the CLIP-L vision tower) from the directories in the settings."""
        settings = settings or GpuSettings()
        device = rt.resolve_device(settings, device)
        dtype = rt.resolve_dtype(settings, device)
        directory = rt.require_dir(settings.flux_dir, "FLUX.1-dev", "FILMSTITCH_GPU_FLUX_DIR")
        pipe = FluxPipeline.from_pretrained(directory, dtype=dtype)
        references = None
        if settings.reference_weight > 0:
            references = ReferenceEncoder.load(settings.clip_vision_dir, device, dtype)
        return cls.from_pipeline(pipe, settings, device, references)

    @classmethod
    def from_pipeline(
        cls,
        pipe: FluxPipeline,
        settings: GpuSettings,
        device: torch.device,
        references: ReferenceEncoder | None = None,
    ) -> FluxImageEngine:
        """Place an assembled pipeline on the device, deciding T5's residency from the memory budget."""
        budget = rt.memory_budget_bytes(settings, device)
        resident = rt.module_bytes(pipe.transformer, pipe.text_encoder, pipe.text_encoder_2, pipe.vae)
        offload = device.type == "cuda" and budget is not None and resident + ACTIVATION_HEADROOM_BYTES > budget
        for name in ("transformer", "text_encoder", "vae"):
            getattr(pipe, name).to(device)
        pipe.text_encoder_2.to("cpu" if offload else device)
        engine = cls(pipe, settings, references, offload_text_encoder=offload)
        engine.optimisations = rt.speed_up(pipe, settings, device, conv_format=torch.channels_last)
        if offload:
            engine.optimisations.append("t5-offloaded-between-prompts")
        log.info("FLUX engine on %s: %s", device, ", ".join(engine.optimisations) or "eager")
        return engine

    # ----- prompts -----

    @torch.no_grad()
    def _encode_prompts(self, clip_prompt: str, t5_prompt: str) -> PromptEmbeds:
        """Encode a prompt pair: CLIP gets ``clip_prompt``, T5 ``t5_prompt`` (``self.encode`` is the cached form)."""
        t5 = self.pipe.text_encoder_2
        if self.offload_text_encoder:
            t5.to(self.device)
        try:
            t5_embeds, pooled, _text_ids = self.pipe.encode_prompt(
                prompt=clip_prompt,
                prompt_2=t5_prompt,
                device=self.device,
                num_images_per_prompt=1,
                max_sequence_length=self.settings.t5_max_tokens,
            )
        finally:
            if self.offload_text_encoder:
                t5.to("cpu")
        return PromptEmbeds(t5=t5_embeds, pooled=pooled)

    def reference_vector(self, images: Sequence[Image.Image]) -> torch.Tensor:
        if self.references is None:
            raise RuntimeError("reference conditioning needs the CLIP-L vision tower (FILMSTITCH_GPU_CLIP_VISION_DIR)")
        return self.references.pooler_embedding(images)

    # ----- rendering -----

    def _set_vae_slicing(self, batch: int, width: int, height: int) -> bool:
        """Decode the batch at once where memory allows, else one image at a time (same pixels either way)."""
        pipe = self.pipe
        resident = rt.resident_bytes(self.device, pipe.transformer, pipe.text_encoder, pipe.text_encoder_2, pipe.vae)
        decode = batch * width * height * VAE_DECODE_BYTES_PER_PIXEL
        slicing = rt.would_overflow(resident, decode, rt.memory_budget_bytes(self.settings, self.device))
        if slicing:
            pipe.vae.enable_slicing()
        else:
            pipe.vae.disable_slicing()
        self.last_vae_slicing = slicing
        return slicing

    @torch.no_grad()
    def generate(
        self, embeds: PromptEmbeds, seeds: Sequence[int], width: int, height: int, pooled: torch.Tensor | None = None
    ) -> list[Image.Image]:
        """One batched call: variant k is drawn from ``seeds[k]``; the prompt embeddings are repeated, not re-encoded."""
        seeds = rt.check_seeds(seeds)
        rt.check_size(width, height, 16, "FLUX image")
        n = len(seeds)
        pooled = embeds.pooled if pooled is None else pooled
        self._set_vae_slicing(n, width, height)
        result = self.pipe(
            prompt_embeds=embeds.t5.repeat(n, 1, 1),
            pooled_prompt_embeds=pooled.repeat(n, 1),
            width=width,
            height=height,
            num_inference_steps=self.settings.effective_image_steps,
            guidance_scale=self.settings.image_guidance,
            generator=rt.generators(seeds),
            max_sequence_length=self.settings.t5_max_tokens,
            output_type="pil",
        )
        return list(result.images)

    def reference_images(
        self, prompt: str, clip_prompt: str, seeds: Sequence[int], width: int, height: int
    ) -> list[Image.Image]:
        """Variants of one subject's reference image (no image conditioning: references are the source)."""
        with self._lock:
            return self.generate(self.encode(clip_prompt, prompt), seeds, width, height)

    def keyframe_images(
        self,
        prompt: str,
        clip_summary: str,
        references: Sequence[Image.Image],
        seeds: Sequence[int],
        width: int,
        height: int,
    ) -> list[Image.Image]:
        """Variants of one boundary keyframe, conditioned on the chosen references present at it."""
        weight = self.settings.reference_weight
        with self._lock:
            embeds = self.encode(clip_summary, prompt)
            pooled = embeds.pooled
            if references and weight > 0:
                pooled = blend_pooled(embeds.pooled, self.reference_vector(references), weight)
            return self.generate(embeds, seeds, width, height, pooled=pooled)

    # ----- bytes in, bytes out (what the renderers and the Modal workers call) -----

    def reference_pngs(self, prompt: str, clip_prompt: str, seeds: list[int], width: int, height: int) -> list[bytes]:
        return rt.png_bytes_all(self.reference_images(prompt, clip_prompt, seeds, width, height))

    def keyframe_pngs(
        self,
        prompt: str,
        clip_summary: str,
        reference_pngs: list[bytes],
        seeds: list[int],
        width: int,
        height: int,
    ) -> list[bytes]:
        references = [rt.open_image(data, f"reference image {i}") for i, data in enumerate(reference_pngs)]
        return rt.png_bytes_all(self.keyframe_images(prompt, clip_summary, references, seeds, width, height))
