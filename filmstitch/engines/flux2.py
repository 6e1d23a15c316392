"""FLUX.2 [klein] 4B image engine: the second image engine, with the references as in-context images.

Selected with ``FILMSTITCH_GPU_IMAGE_ENGINE=flux2-klein``; same interface as
:class:`filmstitch.engines.flux.FluxImageEngine`, so renderers and Modal workers call either.

Why klein 4B (read in diffusers 0.42.1): ``Flux2KleinPipeline`` takes a *list* of reference images, VAE-encodes
each and appends its latent tokens to the image sequence with its own time coordinate in the 4-D RoPE
(``_prepare_image_ids``: reference ``i`` at t = 10 + 10 i), so every reference is attended to as a picture
of its own: a face and a costume reach the model as pixels, not as one pooled vector. The 4B model is
step-distilled (4 steps, no CFG) and Apache-2.0, with a Qwen3-4B text encoder. ``Flux2Pipeline`` (FLUX.2
[dev]: a 32B transformer and a 24B Mistral encoder, over 100 GB in bf16, 50 guided steps) and
``QwenImageEditPlusPipeline`` (a 20B transformer, a 7B vision-language encoder that reads every reference
as "Picture N", true CFG over 50 steps) take several references too, at 10-25x klein's GPU time.

The story of one call:

1. **Prompt.** One text encoder (Qwen3, hidden states of layers 9, 18, 27 stacked): the full prompt,
   encoded once per text and repeated for every variant (the CLIP ``summary`` FLUX.1 needs is unused).
2. **References.** klein has no reference weight, so the weight sets the reference's *resolution*: a
   reference of weight ``w`` is resized (aspect kept) to ``w * flux2_reference_pixels`` pixels (a
   multiple of 16 each way), so a location at 0.6 gives the model 60 % as many tokens as a character at
   1.0, and costs that much less attention; weight 0 drops it.
3. **Variants.** One batched call, one generator per seed.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
from collections.abc import Sequence

import torch
from PIL import Image

from filmstitch.engines import GpuSettings, runtime
from filmstitch.engines.references import used_references

log = logging.getLogger(__name__)

#: klein's VAE compresses 8x and its latents are packed 2x2: sizes must be multiples of 16.
PIXEL_MULTIPLE = 16
#: Flux2ImageProcessor refuses reference images under 64 px a side.
MIN_REFERENCE_SIDE = 64


def reference_size(image: Image.Image, weight: float, area: int) -> tuple[int, int]:
    """The size a reference of this weight is given: ``weight * area`` pixels, aspect kept, multiples of 16,
    at least 64 a side."""
    width, height = image.size
    scale = math.sqrt(weight * area / (width * height))
    return (
        max(MIN_REFERENCE_SIDE, round(width * scale / PIXEL_MULTIPLE) * PIXEL_MULTIPLE),
        max(MIN_REFERENCE_SIDE, round(height * scale / PIXEL_MULTIPLE) * PIXEL_MULTIPLE),
    )


class Flux2KleinImageEngine:
    """FLUX.2 [klein] 4B on one device. Thread-safe: calls are serialised."""

    def __init__(self, pipe: object, settings: GpuSettings | None = None) -> None:
        self.pipe = pipe
        self.settings = settings or GpuSettings()
        self.device = pipe.transformer.device
        self.optimisations: list[str] = []
        self._lock = threading.Lock()
        self.encode = functools.lru_cache(maxsize=runtime.PROMPT_CACHE_SIZE)(self._encode_prompt)
        pipe.set_progress_bar_config(disable=True)

    @classmethod
    def load(cls, settings: GpuSettings | None = None,
             device: str | torch.device | None = None) -> Flux2KleinImageEngine:
        from diffusers import Flux2KleinPipeline

        settings = settings or GpuSettings()
        device = runtime.resolve_device(settings, device)
        dtype = runtime.resolve_dtype(settings, device)
        directory = runtime.require_dir(settings.flux2_dir, "FLUX.2 [klein] 4B", "FILMSTITCH_GPU_FLUX2_DIR")
        return cls.from_pipeline(Flux2KleinPipeline.from_pretrained(directory, dtype=dtype), settings, device)

    @classmethod
    def from_pipeline(cls, pipe: object, settings: GpuSettings, device: torch.device) -> Flux2KleinImageEngine:
        pipe.to(device)
        engine = cls(pipe, settings)
        engine.optimisations = runtime.speed_up(pipe, settings, device, conv_format=torch.channels_last)
        log.info("FLUX.2 klein engine on %s: %s", device, ", ".join(engine.optimisations) or "eager")
        return engine

    @torch.no_grad()
    def _encode_prompt(self, prompt: str) -> torch.Tensor:
        embeds, _text_ids = self.pipe.encode_prompt(
            prompt=prompt, device=self.device, num_images_per_prompt=1,
            max_sequence_length=self.settings.flux2_max_tokens
        )
        return embeds

    def sized_references(
        self, references: Sequence[Image.Image], weights: Sequence[float] | None
    ) -> list[Image.Image]:
        images, weights = used_references(references, weights)
        area = self.settings.flux2_reference_pixels
        return [
            image.resize(reference_size(image, weight, area), Image.Resampling.LANCZOS)
            for image, weight in zip(images, weights)
        ]

    @torch.no_grad()
    def generate(
        self, prompt: str, seeds: Sequence[int], width: int, height: int, references: Sequence[Image.Image] = ()
    ) -> list[Image.Image]:
        seeds = runtime.check_seeds(seeds)
        runtime.check_size(width, height, PIXEL_MULTIPLE, "FLUX.2 image")
        if not prompt.strip():
            raise ValueError("the image prompt is empty")
        embeds = self.encode(prompt)
        result = self.pipe(
            image=list(references) or None,
            prompt_embeds=embeds.repeat(len(seeds), 1, 1),
            width=width,
            height=height,
            num_inference_steps=self.settings.flux2_steps,
            guidance_scale=self.settings.flux2_guidance,
            generator=runtime.generators(seeds),
            max_sequence_length=self.settings.flux2_max_tokens,
            output_type="pil",
        )
        return list(result.images)

    def reference_images(
        self, prompt: str, summary: str, seeds: Sequence[int], width: int, height: int
    ) -> list[Image.Image]:
        with self._lock:
            return self.generate(prompt, seeds, width, height)

    def keyframe_images(
        self,
        prompt: str,
        summary: str,
        references: Sequence[Image.Image],
        seeds: Sequence[int],
        width: int,
        height: int,
        reference_weights: Sequence[float] | None = None,
    ) -> list[Image.Image]:
        sized = self.sized_references(references, reference_weights)
        with self._lock:
            return self.generate(prompt, seeds, width, height, sized)

    def reference_pngs(self, prompt: str, summary: str, seeds: list[int], width: int, height: int) -> list[bytes]:
        return runtime.png_bytes_all(self.reference_images(prompt, summary, seeds, width, height))

    def keyframe_pngs(
        self,
        prompt: str,
        summary: str,
        reference_pngs: list[bytes],
        seeds: list[int],
        width: int,
        height: int,
        reference_weights: list[float] | None = None,
    ) -> list[bytes]:
        references = [runtime.open_image(data, f"reference image {i}") for i, data in enumerate(reference_pngs)]
        images = self.keyframe_images(prompt, summary, references, seeds, width, height, reference_weights)
        return runtime.png_bytes_all(images)


def load_image_engine(settings: GpuSettings, device: str | torch.device | None = None) -> object:
    """The image engine the settings choose (``image_engine``), loaded from its weights folder."""
    if settings.image_engine == "flux2-klein":
        return Flux2KleinImageEngine.load(settings, device)
    from filmstitch.engines.flux import FluxImageEngine

    return FluxImageEngine.load(settings, device)
