"""Tiny FLUX / LTX-Video / CLIP weights written to disk in the diffusers layout, for the GPU engine tests.

The engines load them through their real loading path (``from_pretrained`` on a directory), exactly as
they load FLUX.1-dev and LTX-Video 0.9.5 from a Modal Volume.
"""

from __future__ import annotations

from pathlib import Path

from filmstitch.engines import GpuSettings
from filmstitch.engines.tiny import save_tiny_clip, tiny_flux_pipeline, tiny_ltx_pipeline

#: Few steps, short T5 sequences, the CPU: each call takes a fraction of a second.
FAST = {"device": "cpu", "image_steps": 2, "video_steps": 2, "t5_max_tokens": 32}


def save_tiny_weights(root: Path) -> dict[str, str]:
    """Write the three weight folders under `root`; return the FILMSTITCH_GPU_* variables that point at them."""
    tiny_flux_pipeline().save_pretrained(root / "flux")
    tiny_ltx_pipeline().save_pretrained(root / "ltx")
    save_tiny_clip(root / "clip")
    env = {
        "FILMSTITCH_GPU_FLUX_DIR": str(root / "flux"),
        "FILMSTITCH_GPU_LTX_DIR": str(root / "ltx"),
        "FILMSTITCH_GPU_CLIP_VISION_DIR": str(root / "clip"),
    }
    env |= {f"FILMSTITCH_GPU_{key.upper()}": str(value) for key, value in FAST.items()}
    return env


def tiny_settings(**overrides: object) -> GpuSettings:
    return GpuSettings(**(FAST | overrides))
