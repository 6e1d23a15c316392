"""Keyframe edits on the GPU: FLUX.1 Kontext [dev] by instruction, FLUX.1 Fill [dev] by region.

The story of one edit:

1. **An instruction** ("make her coat red", "remove the second moon") goes to ``FluxKontextPipeline``: the
   picture being edited is encoded by the VAE and its tokens join the image's sequence, the instruction is
   the prompt (CLIP reads at most 77 tokens of it, T5 all of it). Kontext draws at the area it is given
   (``max_area``), so it is given the film's frame (``width x height``) and the edit comes back at the film's
   size; the picture itself goes in at Kontext's trained resolution nearest its aspect ratio
   (``GpuSettings.kontext_preferred_resolution``).
2. **A region** (a rectangle, or a mask image: white = paint again) goes to ``FluxFillPipeline``, which
   paints the masked part again from a prompt (the instruction when there is one, else the keyframe's own
   prompt) and keeps the rest. The result is then pasted into the original through the mask, so outside the
   region every pixel is exactly the original's (the VAE's round trip would shift them slightly).

Each edit is one batched call with a seeded generator per variant, like the keyframes
(:mod:`filmstitch.engines.flux`). The two pipelines are loaded on first use: a film that never edits never
loads them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import torch
from diffusers import FluxFillPipeline, FluxKontextPipeline
from PIL import Image

from filmstitch.engines import GpuSettings, runtime

log = logging.getLogger(__name__)


class EditEngine:
    """Kontext and Fill on one device, each loaded when first needed. Calls are serialised (a pipeline is not
    re-entrant)."""

    def __init__(
        self,
        settings: GpuSettings,
        device: torch.device,
        kontext: FluxKontextPipeline | None = None,
        fill: FluxFillPipeline | None = None,
    ) -> None:
        self.settings = settings
        self.device = device
        self._pipes: dict[str, FluxKontextPipeline | FluxFillPipeline] = {}
        for kind, pipe in (("kontext", kontext), ("fill", fill)):
            if pipe is not None:
                self._pipes[kind] = self._placed(pipe)
        self._lock = threading.Lock()

    @classmethod
    def load(cls, settings: GpuSettings | None = None, device: str | torch.device | None = None) -> EditEngine:
        settings = settings or GpuSettings()
        return cls(settings, runtime.resolve_device(settings, device))

    def _placed(self, pipe: FluxKontextPipeline | FluxFillPipeline) -> FluxKontextPipeline | FluxFillPipeline:
        pipe.to(self.device)
        pipe.set_progress_bar_config(disable=True)
        runtime.speed_up(pipe, self.settings, self.device, conv_format=torch.channels_last)
        return pipe

    def _pipe(self, kind: str) -> FluxKontextPipeline | FluxFillPipeline:
        if kind not in self._pipes:
            dtype = runtime.resolve_dtype(self.settings, self.device)
            if kind == "kontext":
                directory = runtime.require_dir(self.settings.kontext_dir, "FLUX.1-Kontext-dev",
                                           "FILMSTITCH_GPU_KONTEXT_DIR")
                pipe = FluxKontextPipeline.from_pretrained(directory, dtype=dtype)
            else:
                directory = runtime.require_dir(self.settings.fill_dir, "FLUX.1-Fill-dev", "FILMSTITCH_GPU_FILL_DIR")
                pipe = FluxFillPipeline.from_pretrained(directory, dtype=dtype)
            self._pipes[kind] = self._placed(pipe)
            log.info("loaded %s on %s", type(pipe).__name__, self.device)
        return self._pipes[kind]

    # ----- an instruction: Kontext -----

    @torch.no_grad()
    def instruct(self, picture: Image.Image, instruction: str, seeds: Sequence[int], width: int,
                 height: int) -> list[Image.Image]:
        """One edit of `picture` per seed, as the instruction says, at width x height."""
        seeds = runtime.check_seeds(seeds)
        runtime.check_size(width, height, 16, "Kontext edit")
        if not instruction.strip():
            raise ValueError("the edit instruction is empty")
        with self._lock:
            pipe = self._pipe("kontext")
            result = pipe(
                image=runtime.fit_image(picture, width, height),
                prompt=instruction,
                width=width,
                height=height,
                max_area=width * height,  # else Kontext draws at ~1 megapixel
                _auto_resize=self.settings.kontext_preferred_resolution,
                num_inference_steps=self.settings.edit_steps,
                guidance_scale=self.settings.kontext_guidance,
                num_images_per_prompt=len(seeds),
                generator=runtime.generators(seeds),
                max_sequence_length=self.settings.t5_max_tokens,
                output_type="pil",
            )
        return [runtime.fit_image(image, width, height) for image in result.images]

    # ----- a region: Fill -----

    @torch.no_grad()
    def repaint(self, picture: Image.Image, mask: Image.Image, prompt: str, seeds: Sequence[int], width: int,
                height: int) -> list[Image.Image]:
        """One repaint of the mask's white part per seed; outside it the pixels are the picture's own."""
        seeds = runtime.check_seeds(seeds)
        runtime.check_size(width, height, 16, "Fill repaint")
        picture = runtime.fit_image(picture, width, height)
        if mask.size != (width, height):
            raise ValueError(f"the mask is {mask.size[0]}x{mask.size[1]}, the picture {width}x{height}")
        mask = mask.convert("L")
        with self._lock:
            pipe = self._pipe("fill")
            result = pipe(
                prompt=prompt,
                image=picture,
                mask_image=mask,
                width=width,
                height=height,
                num_inference_steps=self.settings.edit_steps,
                guidance_scale=self.settings.fill_guidance,
                num_images_per_prompt=len(seeds),
                generator=runtime.generators(seeds),
                max_sequence_length=self.settings.t5_max_tokens,
                output_type="pil",
            )
        return [Image.composite(runtime.fit_image(image, width, height).convert("RGB"), picture, mask)
                for image in result.images]

    # ----- bytes in, bytes out (what the renderers and a Modal worker call) -----

    def instruct_pngs(self, picture_png: bytes, instruction: str, seeds: list[int], width: int,
                      height: int) -> list[bytes]:
        picture = runtime.open_image(picture_png, "the keyframe to edit")
        return runtime.png_bytes_all(self.instruct(picture, instruction, seeds, width, height))

    def repaint_pngs(self, picture_png: bytes, mask_png: bytes, prompt: str, seeds: list[int], width: int,
                     height: int) -> list[bytes]:
        picture = runtime.open_image(picture_png, "the keyframe to edit")
        mask = runtime.open_image(mask_png, "the mask").convert("L")
        return runtime.png_bytes_all(self.repaint(picture, mask, prompt, seeds, width, height))
