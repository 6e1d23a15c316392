"""FilmStitch on Modal: FLUX.1-dev paints the references and keyframes, LTX-Video 0.9.5 films the clips.

A film needs GPUs in bursts: a dozen image batches, then ten clips, then nothing until the next film.
Modal bills per second and scales to zero, so each engine gets its own GPU class here:

* ``FluxWorker`` renders reference variants and keyframe variants (FLUX.1-dev, bf16, with the
  multi-reference CLIP conditioning of :mod:`filmstitch.engines.flux`);
* ``LtxWorker`` renders one clip between two chosen keyframes (LTX-Video 0.9.5, first/last-frame
  conditioning, :mod:`filmstitch.engines.ltx`). Ten clips arrive at once (Prefect fans out); each
  container takes two (``clips_per_gpu``), one denoising while the other is encoded, so five
  containers film them side by side.

Each container loads its pipeline once, in ``@modal.enter``, from a Volume that holds the weights
(mounted read-only: containers only read it). Transient failures (a preempted container, a CUDA hiccup)
are retried by Modal with backoff; Prefect's own task retries sit on top.

Everything tunable comes from ``FILMSTITCH_GPU_*`` settings (:class:`filmstitch.engines.GpuSettings`),
read when you deploy: GPU type, timeout, container limits, scale-down window, steps, fast mode, compile.

Deploy, once the weights are in the Volume::

    modal secret create huggingface-secret HF_TOKEN=hf_...    # FLUX.1-dev is gated: accept its licence first
    modal run modal_workers/film_gpu.py                          # download the weights into the Volume (once)
    modal deploy modal_workers/film_gpu.py
    FILMSTITCH_RENDERER=modal filmstitch make "a stranded astronaut on the moon discovers nature"

torch.compile is off by default here: on an H100 it saves 2.0 s per FLUX batch and 2.4 s per clip, but
costs 23 s / 15 s per new container even with the compile cache Volume warm (~100 s / ~60 s cold), and a
clip container films few clips. Set ``FILMSTITCH_GPU_COMPILE=1`` for long-lived containers.
"""

from __future__ import annotations

import modal

from filmstitch.engines import GpuSettings

settings = GpuSettings()

WEIGHTS = "/weights"
CACHE = "/cache"
#: Hugging Face repositories (diffusers layout) and the Volume folders they go to.
WEIGHT_REPOS = {
    "flux1-dev": ("black-forest-labs/FLUX.1-dev", ["flux1-dev.safetensors", "ae.safetensors", "*.gguf"]),
    "ltx-video-0.9.5": ("Lightricks/LTX-Video-0.9.5", ["ltx-video-2b-v0.9.5.safetensors", "*.mp4", "media/*"]),
    "clip-vit-large-patch14": ("openai/clip-vit-large-patch14", ["*.bin", "*.h5", "*.msgpack", "*.onnx"]),
}

app = modal.App(settings.modal_app)

# The containers read their settings from the environment too: the deploy-time FILMSTITCH_GPU_* values,
# with the weight directories pinned to the Volume's layout.
container_env = {
    f"FILMSTITCH_GPU_{name.upper()}": str(value)
    for name, value in settings.model_dump(exclude_none=True).items()
    if not name.startswith("modal_")
}
container_env |= {
    "FILMSTITCH_GPU_FLUX_DIR": f"{WEIGHTS}/flux1-dev",
    "FILMSTITCH_GPU_LTX_DIR": f"{WEIGHTS}/ltx-video-0.9.5",
    "FILMSTITCH_GPU_CLIP_VISION_DIR": f"{WEIGHTS}/clip-vit-large-patch14",
    "FILMSTITCH_GPU_COMPILE_CACHE_DIR": f"{CACHE}/torch",
    "FILMSTITCH_GPU_DEVICE": "cuda",
}

image = (
    modal.Image.debian_slim(python_version="3.11")
    .pip_install(
        "torch==2.11.0",
        "diffusers==0.42.1",
        "transformers>=4.46,<6",
        "accelerate>=1.0",
        "sentencepiece",
        "protobuf",
        "safetensors",
        "huggingface_hub",
        "pydantic>=2.7",
        "pydantic-settings>=2.3",
        "numpy",
        "pillow",
        "ffmpeg-python",
        "imageio-ffmpeg",
    )
    .env(container_env)
    .add_local_python_source("filmstitch")
)

weights = modal.Volume.from_name(settings.modal_weights_volume, create_if_missing=True)
compile_cache = modal.Volume.from_name(settings.modal_cache_volume, create_if_missing=True)

gpu_class = app.cls(
    image=image,
    gpu=settings.modal_gpu,
    volumes={WEIGHTS: weights.read_only(), CACHE: compile_cache},
    timeout=settings.modal_timeout_s,
    scaledown_window=settings.modal_scaledown_s,
    max_containers=settings.modal_max_containers,
    min_containers=settings.modal_min_containers,
    retries=modal.Retries(max_retries=settings.modal_retries, backoff_coefficient=2.0, initial_delay=5.0),
)


@gpu_class
class FluxWorker:
    """FLUX.1-dev: reference variants and keyframe variants, one batched call per request."""

    @modal.enter()
    def load(self) -> None:
        from filmstitch.engines.flux import FluxImageEngine

        self.engine = FluxImageEngine.load(GpuSettings())

    @modal.method()
    def reference_pngs(self, prompt: str, clip_prompt: str, seeds: list[int], width: int, height: int) -> list[bytes]:
        return self.engine.reference_pngs(prompt, clip_prompt, seeds, width, height)

    @modal.method()
    def keyframe_pngs(
        self, prompt: str, clip_summary: str, reference_pngs: list[bytes], seeds: list[int], width: int, height: int
    ) -> list[bytes]:
        return self.engine.keyframe_pngs(prompt, clip_summary, reference_pngs, seeds, width, height)

    @modal.exit()
    def save_compile_cache(self) -> None:
        _commit_cache()


@gpu_class
# A container films `clips_per_gpu` clips at once: the engine serialises the GPU work, so one clip's MP4
# encode (CPU) overlaps the next one's denoising, and a film needs half the containers (and cold starts).
@modal.concurrent(max_inputs=settings.clips_per_gpu, target_inputs=settings.clips_per_gpu)
class LtxWorker:
    """LTX-Video 0.9.5: one clip from a first keyframe to a last keyframe, as MP4 bytes."""

    @modal.enter()
    def load(self) -> None:
        from filmstitch.engines.ltx import LtxVideoEngine

        self.engine = LtxVideoEngine.load(GpuSettings())

    @modal.method()
    def clip_mp4(
        self, first_png: bytes, last_png: bytes, prompt: str, seed: int, width: int, height: int, frames: int, fps: int
    ) -> bytes:
        return self.engine.clip_mp4(first_png, last_png, prompt, seed, width, height, frames, fps)

    @modal.exit()
    def save_compile_cache(self) -> None:
        _commit_cache()


def _commit_cache() -> None:
    """Keep compiled kernels for the next container (only when compiling is on; a no-op outside Modal)."""
    if GpuSettings().compile and modal.is_local() is False:
        compile_cache.commit()


@app.function(
    image=image,
    volumes={WEIGHTS: weights},
    secrets=[modal.Secret.from_name(settings.modal_hf_secret)],
    timeout=3 * 3600,
)
def download_weights() -> list[str]:
    """Download FLUX.1-dev, LTX-Video 0.9.5 and CLIP-L into the weights Volume (needs HF_TOKEN in the secret).

    Single-file checkpoints that duplicate the diffusers folders are skipped (~23 GB less for FLUX).
    """
    import os

    from huggingface_hub import snapshot_download

    done = []
    for folder, (repo, ignore) in WEIGHT_REPOS.items():
        snapshot_download(repo, local_dir=f"{WEIGHTS}/{folder}", ignore_patterns=ignore, token=os.environ["HF_TOKEN"])
        done.append(f"{repo} -> {settings.modal_weights_volume}:/{folder}")
    weights.commit()
    return done


@app.local_entrypoint()
def main() -> None:
    """`modal run modal_workers/film_gpu.py`: fill the weights Volume."""
    for line in download_weights.remote():
        print(line)
