"""FLUX.1-dev image engine: reference variants, and keyframe variants conditioned on the chosen references.

The story of one call:

1. **Prompts.** FLUX has two text encoders. T5-XXL reads the full, detailed prompt (up to 512 tokens)
   and gives the per-token embeddings; CLIP-L reads a short ``summary`` (77 tokens at most, so the
   plan's <=50-word ``Keyframe.clip_summary``) and gives one pooled vector. ``FluxPipeline.encode_prompt``
   is called once per distinct (summary, prompt) pair (``prompt`` -> CLIP, ``prompt_2`` -> T5); the result
   is cached and repeated for every variant, so three variants cost one text-encoding pass, not three.
2. **References** (keyframes only). The chosen reference images of the subjects present at the boundary,
   each with its weight, condition the keyframe as ``GpuSettings.reference_mode`` says
   (:mod:`filmstitch.engines.references`): ``redux`` appends each reference's FLUX.1-Redux image tokens to
   the T5 tokens (default), ``clip-blend`` moves the pooled CLIP vector towards the references, ``none``
   renders from the text alone.
3. **Variants.** One batched pipeline call renders every variant, with one seeded generator per variant,
   so variant ``k`` re-renders exactly from its recorded seed.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from diffusers import FluxPipeline
from PIL import Image

from filmstitch.engines import GpuSettings, runtime
from filmstitch.engines.references import ReduxEncoder, ReferenceEncoder, blend_pooled, used_references

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


class FluxImageEngine:
    """FLUX.1-dev on one device. Thread-safe: calls are serialised, because a pipeline is not re-entrant."""

    def __init__(
        self,
        pipe: FluxPipeline,
        settings: GpuSettings | None = None,
        references: ReferenceEncoder | None = None,
        redux: ReduxEncoder | None = None,
        *,
        offload_text_encoder: bool = False,
    ) -> None:
        self.pipe = pipe
        self.settings = settings or GpuSettings()
        self.references = references
        self.redux = redux
        self.device = pipe.transformer.device
        self.offload_text_encoder = offload_text_encoder
        self.optimisations: list[str] = []
        self._lock = threading.Lock()
        # Each prompt pair is encoded once, and repeated for every variant.
        self.encode = functools.lru_cache(maxsize=runtime.PROMPT_CACHE_SIZE)(self._encode_prompts)
        if references is not None and references.pooler_dim != pipe.text_encoder.config.hidden_size:
            raise ValueError(
                f"CLIP text_projection expects a {references.pooler_dim}-d pooler output but FLUX's CLIP text "
                f"encoder gives {pipe.text_encoder.config.hidden_size}-d: use clip-vit-large-patch14 for both"
            )
        self.last_vae_slicing: bool | None = None
        pipe.set_progress_bar_config(disable=True)

    @classmethod
    def load(cls, settings: GpuSettings | None = None, device: str | torch.device | None = None) -> FluxImageEngine:
        """Load FLUX.1-dev (and the reference encoder its ``reference_mode`` needs) from the settings' folders."""
        settings = settings or GpuSettings()
        device = runtime.resolve_device(settings, device)
        dtype = runtime.resolve_dtype(settings, device)
        directory = runtime.require_dir(settings.flux_dir, "FLUX.1-dev", "FILMSTITCH_GPU_FLUX_DIR")
        pipe = FluxPipeline.from_pretrained(directory, dtype=dtype)
        references = redux = None
        if settings.reference_mode == "clip-blend" and settings.reference_weight > 0:
            references = ReferenceEncoder.load(settings.clip_vision_dir, device, dtype)
        elif settings.reference_mode == "redux":
            redux = ReduxEncoder.load(settings.redux_dir, device, dtype, settings.redux_tokens_per_side)
        return cls.from_pipeline(pipe, settings, device, references, redux)

    @classmethod
    def from_pipeline(
        cls,
        pipe: FluxPipeline,
        settings: GpuSettings,
        device: torch.device,
        references: ReferenceEncoder | None = None,
        redux: ReduxEncoder | None = None,
    ) -> FluxImageEngine:
        """Place an assembled pipeline on the device, deciding T5's residency from the memory budget."""
        budget = runtime.memory_budget_bytes(settings, device)
        resident = runtime.module_bytes(pipe.transformer, pipe.text_encoder, pipe.text_encoder_2, pipe.vae)
        offload = device.type == "cuda" and budget is not None and resident + ACTIVATION_HEADROOM_BYTES > budget
        for name in ("transformer", "text_encoder", "vae"):
            getattr(pipe, name).to(device)
        pipe.text_encoder_2.to("cpu" if offload else device)
        engine = cls(pipe, settings, references, redux, offload_text_encoder=offload)
        engine.optimisations = runtime.speed_up(pipe, settings, device, conv_format=torch.channels_last)
        if offload:
            engine.optimisations.append("t5-offloaded-between-prompts")
        log.info("FLUX engine on %s (%s references): %s", device, settings.reference_mode,
                 ", ".join(engine.optimisations) or "eager")
        return engine

    # ----- prompts -----

    @torch.no_grad()
    def _encode_prompts(self, summary: str, prompt: str) -> PromptEmbeds:
        """Encode a prompt pair: CLIP gets ``summary``, T5 ``prompt`` (``self.encode`` is the cached form)."""
        t5 = self.pipe.text_encoder_2
        if self.offload_text_encoder:
            t5.to(self.device)
        try:
            t5_embeds, pooled, _text_ids = self.pipe.encode_prompt(
                prompt=summary,
                prompt_2=prompt,
                device=self.device,
                num_images_per_prompt=1,
                max_sequence_length=self.settings.t5_max_tokens,
            )
        finally:
            if self.offload_text_encoder:
                t5.to("cpu")
        return PromptEmbeds(t5=t5_embeds, pooled=pooled)

    def conditioned(
        self, embeds: PromptEmbeds, references: Sequence[Image.Image], weights: Sequence[float] | None
    ) -> PromptEmbeds:
        """The prompt embeddings with the references worked in (see the module docstring, step 2)."""
        images, weights = used_references(references, weights)
        mode = self.settings.reference_mode
        if not images or mode == "none":
            return embeds
        if mode == "redux":
            if self.redux is None:
                raise RuntimeError("redux references need FLUX.1-Redux-dev (FILMSTITCH_GPU_REDUX_DIR)")
            tokens = self.redux.tokens(images, weights).to(embeds.t5.device, embeds.t5.dtype)
            return PromptEmbeds(t5=torch.cat([embeds.t5, tokens], dim=1), pooled=embeds.pooled)
        if self.settings.reference_weight == 0:
            return embeds
        if self.references is None:
            raise RuntimeError("clip-blend references need the CLIP-L vision tower (FILMSTITCH_GPU_CLIP_VISION_DIR)")
        target = self.references.pooler_embedding(images, weights)
        return PromptEmbeds(t5=embeds.t5, pooled=blend_pooled(embeds.pooled, target, self.settings.reference_weight))

    # ----- rendering -----

    def _set_vae_slicing(self, batch: int, width: int, height: int) -> bool:
        """Decode the batch at once where memory allows, else one image at a time (same pixels either way)."""
        pipe = self.pipe
        resident = runtime.resident_bytes(self.device, pipe.transformer, pipe.text_encoder, pipe.text_encoder_2,
                                          pipe.vae)
        decode = batch * width * height * VAE_DECODE_BYTES_PER_PIXEL
        slicing = runtime.would_overflow(resident, decode, runtime.memory_budget_bytes(self.settings, self.device))
        if slicing:
            pipe.vae.enable_slicing()
        else:
            pipe.vae.disable_slicing()
        self.last_vae_slicing = slicing
        return slicing

    @torch.no_grad()
    def generate(self, embeds: PromptEmbeds, seeds: Sequence[int], width: int, height: int) -> list[Image.Image]:
        """One batched call: variant k is drawn from ``seeds[k]``; the prompt embeddings are repeated, not
        re-encoded."""
        seeds = runtime.check_seeds(seeds)
        runtime.check_size(width, height, 16, "FLUX image")
        n = len(seeds)
        self._set_vae_slicing(n, width, height)
        result = self.pipe(
            prompt_embeds=embeds.t5.repeat(n, 1, 1),
            pooled_prompt_embeds=embeds.pooled.repeat(n, 1),
            width=width,
            height=height,
            num_inference_steps=self.settings.effective_image_steps,
            guidance_scale=self.settings.image_guidance,
            generator=runtime.generators(seeds),
            max_sequence_length=self.settings.t5_max_tokens,
            output_type="pil",
        )
        return list(result.images)

    def reference_images(
        self, prompt: str, summary: str, seeds: Sequence[int], width: int, height: int
    ) -> list[Image.Image]:
        """Variants of one subject's reference image (no image conditioning: references are the source)."""
        with self._lock:
            return self.generate(self.encode(summary, prompt), seeds, width, height)

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
        """Variants of one boundary keyframe, conditioned on the chosen references present at it."""
        with self._lock:
            embeds = self.conditioned(self.encode(summary, prompt), references, reference_weights)
            return self.generate(embeds, seeds, width, height)

    # ----- bytes in, bytes out (what the renderers and the Modal workers call) -----

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
