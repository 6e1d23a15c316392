"""Tiny FLUX / Redux / FLUX.2 / LTX-Video / CLIP weights written to disk in the diffusers layout, for the GPU tests.

The engines load them through their real loading path (``from_pretrained`` on a directory), exactly as
they load the real weights from a Modal Volume (``filmstitch.engines.weights``).
"""

from __future__ import annotations

from pathlib import Path

from filmstitch.engines import GpuSettings
from filmstitch.testing.tiny_models import (
    save_tiny_clip,
    tiny_fill_pipeline,
    tiny_flux2_klein_pipeline,
    tiny_flux_pipeline,
    tiny_kontext_pipeline,
    tiny_ltx2_pipeline,
    tiny_ltx_pipeline,
    tiny_redux_pipeline,
)

#: Few steps, short text sequences, the CPU: each call takes a fraction of a second.
FAST = {"device": "cpu", "image_steps": 2, "video_steps": 2, "flux2_steps": 2, "t5_max_tokens": 32,
        "flux2_max_tokens": 32, "ltx2_steps": 2}


def save_tiny_weights(root: Path, flux2: bool = False, edits: bool = False, ltx2: bool = False) -> dict[str, str]:
    """Write the weight folders under `root`; return the FILMSTITCH_GPU_* variables that point at them."""
    tiny_flux_pipeline().save_pretrained(root / "flux")
    tiny_redux_pipeline().save_pretrained(root / "redux")
    tiny_ltx_pipeline().save_pretrained(root / "ltx")
    save_tiny_clip(root / "clip")
    env = {
        "FILMSTITCH_GPU_FLUX_DIR": str(root / "flux"),
        "FILMSTITCH_GPU_REDUX_DIR": str(root / "redux"),
        "FILMSTITCH_GPU_LTX_DIR": str(root / "ltx"),
        "FILMSTITCH_GPU_CLIP_VISION_DIR": str(root / "clip"),
    }
    if flux2:
        tiny_flux2_klein_pipeline().save_pretrained(root / "flux2")
        env["FILMSTITCH_GPU_FLUX2_DIR"] = str(root / "flux2")
    if edits:  # Kontext and Fill; tiny pictures are edited at their own size (Kontext's trained sizes are ~1 MP)
        tiny_kontext_pipeline().save_pretrained(root / "kontext")
        tiny_fill_pipeline().save_pretrained(root / "fill")
        env |= {"FILMSTITCH_GPU_KONTEXT_DIR": str(root / "kontext"), "FILMSTITCH_GPU_FILL_DIR": str(root / "fill"),
                "FILMSTITCH_GPU_KONTEXT_PREFERRED_RESOLUTION": "false", "FILMSTITCH_GPU_EDIT_STEPS": "2"}
    if ltx2:  # LTX-2 as the video engine
        tiny_ltx2_pipeline().save_pretrained(root / "ltx2")
        env |= {"FILMSTITCH_GPU_LTX2_DIR": str(root / "ltx2"), "FILMSTITCH_GPU_VIDEO_ENGINE": "ltx-2"}
    env |= {f"FILMSTITCH_GPU_{key.upper()}": str(value) for key, value in FAST.items()}
    return env


def tiny_settings(**overrides: object) -> GpuSettings:
    return GpuSettings(**(FAST | overrides))
