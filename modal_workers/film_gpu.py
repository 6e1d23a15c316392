"""FilmStitch on Modal: FLUX paints the references and keyframes, LTX-Video 0.9.5 films the clips.

A film needs GPUs in bursts: a dozen image batches, then ten clips, then nothing until the next film.
Modal bills per second and scales to zero, so each engine gets its own GPU class here:

* ``FluxWorker`` renders reference variants and keyframe variants (FLUX.1-dev with FLUX.1-Redux
  reference tokens, or FLUX.2 [klein] with ``FILMSTITCH_GPU_IMAGE_ENGINE=flux2-klein``; bf16) and scores
  keyframe variants against their references (``variant_scores``: CLIP-L or DINOv2 embeddings);
* ``EditWorker`` edits a chosen keyframe (FLUX.1 Kontext by instruction, FLUX.1 Fill by region; on
  ``modal_edit_gpu``, an H100 by default);
* ``LtxWorker`` renders one clip between two chosen keyframes (LTX-Video 0.9.5, first/last-frame
  conditioning, :mod:`filmstitch.engines.ltx`; or LTX-2 with its sound, ``FILMSTITCH_GPU_VIDEO_ENGINE=ltx-2``,
  :mod:`filmstitch.engines.ltx2`, on its own GPU type: ``modal_video_gpu``, an 80 GB H100 by default for LTX-2). Ten
  clips arrive at once (Prefect fans out); each
  container takes two (``clips_per_gpu``), one denoising while the other is encoded, so five
  containers film them side by side.

Each container loads its pipeline once, in ``@modal.enter``, from a Volume that holds the weights
(mounted read-only: containers only read it). Transient failures (a preempted container, a CUDA hiccup)
are retried by Modal with backoff; Prefect's own task retries sit on top. Modal retries *every* exception a
function raises, so a bad request is not raised: the method returns ``BadInput`` and the caller raises the
``ValueError`` (no GPU is held for retries of a request that cannot succeed).

The machine that runs the flow makes the remote calls, so it needs Modal credentials (``modal token new``
or ``MODAL_TOKEN_ID`` / ``MODAL_TOKEN_SECRET``); the renderer says so before any work if they are missing.

Everything tunable comes from ``FILMSTITCH_GPU_*`` settings (:class:`filmstitch.engines.GpuSettings`),
read when you deploy: GPU type, timeout, container limits, scale-down window, steps, fast mode, compile.

Deploy, once the weights are in the Volume::

    modal secret create huggingface-secret HF_TOKEN=hf_...    # FLUX.1-dev is gated: accept its licence first
    modal run modal_workers/film_gpu.py                          # download the weights into the Volume (once)
                                                                 # (allow-lists from each repo's model_index.json)
    modal deploy modal_workers/film_gpu.py
    FILMSTITCH_RENDERER=modal filmstitch make "a stranded astronaut on the moon discovers nature"

torch.compile is off by default here: on an H100 it saves 2.0 s per FLUX batch and 2.4 s per clip, but
costs 23 s / 15 s per new container even with the compile cache Volume warm (~100 s / ~60 s cold), and a
clip container films few clips. Set ``FILMSTITCH_GPU_COMPILE=1`` for long-lived containers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import modal

from filmstitch.engines import BadInput, GpuSettings
from filmstitch.engines import weights as weight_repos

settings = GpuSettings()

WEIGHTS = "/weights"
CACHE = "/cache"

app = modal.App(settings.modal_app)

# The containers read their settings from the environment too: the deploy-time FILMSTITCH_GPU_* values,
# with the weight directories pinned to the Volume's layout.
container_env = {
    f"FILMSTITCH_GPU_{name.upper()}": str(value)
    for name, value in settings.model_dump(exclude_none=True).items()
    if not name.startswith("modal_")
}
container_env |= {
    "FILMSTITCH_GPU_FLUX_DIR": f"{WEIGHTS}/{weight_repos.FLUX1_DEV.folder}",
    "FILMSTITCH_GPU_REDUX_DIR": f"{WEIGHTS}/{weight_repos.FLUX1_REDUX.folder}",
    "FILMSTITCH_GPU_FLUX2_DIR": f"{WEIGHTS}/{weight_repos.FLUX2_KLEIN.folder}",
    "FILMSTITCH_GPU_LTX_DIR": f"{WEIGHTS}/{weight_repos.LTX_VIDEO.folder}",
    "FILMSTITCH_GPU_LTX2_DIR": f"{WEIGHTS}/{weight_repos.LTX2.folder}",
    "FILMSTITCH_GPU_KONTEXT_DIR": f"{WEIGHTS}/{weight_repos.FLUX1_KONTEXT.folder}",
    "FILMSTITCH_GPU_FILL_DIR": f"{WEIGHTS}/{weight_repos.FLUX1_FILL.folder}",
    "FILMSTITCH_GPU_CLIP_VISION_DIR": f"{WEIGHTS}/{weight_repos.CLIP_L.folder}",
    "FILMSTITCH_GPU_COMPILE_CACHE_DIR": f"{CACHE}/torch",
    "FILMSTITCH_GPU_DEVICE": "cuda",
}
if settings.qc_dir:  # a DINOv2 folder on the Volume, named like its local folder
    container_env["FILMSTITCH_GPU_QC_DIR"] = f"{WEIGHTS}/{settings.qc_dir.rstrip('/').rsplit('/', 1)[-1]}"

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
        "scikit-image",
    )
    .env(container_env)
    .add_local_python_source("filmstitch")
)

weights = modal.Volume.from_name(settings.modal_weights_volume, create_if_missing=True)
compile_cache = modal.Volume.from_name(settings.modal_cache_volume, create_if_missing=True)



def gpu_class(gpu: str) -> Callable[[type], Any]:
    """``app.cls`` with the settings' limits, the weights (read-only) and the compile cache, on one GPU type."""
    return app.cls(
        image=image,
        gpu=gpu,
        volumes={WEIGHTS: weights.with_mount_options(read_only=True), CACHE: compile_cache},
        timeout=settings.modal_timeout_s,
        scaledown_window=settings.modal_scaledown_s,
        max_containers=settings.modal_max_containers,
        min_containers=settings.modal_min_containers,
        retries=modal.Retries(max_retries=settings.modal_retries, backoff_coefficient=2.0, initial_delay=5.0),
    )


def reject_bad_input(call: Callable[[], Any]) -> Any:
    """Run a method's work; a ValueError (bad request) comes back as BadInput instead of a retried failure."""
    try:
        return call()
    except ValueError as exc:
        return BadInput(str(exc))


@gpu_class(settings.modal_gpu)
class FluxWorker:
    """The image engine: reference variants and keyframe variants, one batched call per request, and their QC."""

    @modal.enter()
    def load(self) -> None:
        from filmstitch.engines.flux2 import load_image_engine

        self.settings = GpuSettings()
        self.engine = load_image_engine(self.settings)
        self.scorer: Any = None

    @modal.method()
    def reference_pngs(
        self, prompt: str, summary: str, seeds: list[int], width: int, height: int
    ) -> list[bytes] | BadInput:
        return reject_bad_input(lambda: self.engine.reference_pngs(prompt, summary, seeds, width, height))

    @modal.method()
    def keyframe_pngs(
        self,
        prompt: str,
        summary: str,
        reference_pngs: list[bytes],
        seeds: list[int],
        width: int,
        height: int,
        reference_weights: list[float] | None = None,
    ) -> list[bytes] | BadInput:
        return reject_bad_input(lambda: self.engine.keyframe_pngs(
            prompt, summary, reference_pngs, seeds, width, height, reference_weights
        ))

    @modal.method()
    def variant_scores(self, variant_pngs: list[bytes], reference_pngs: dict[str, bytes]) -> dict[str, Any] | BadInput:
        """Embedding cosines of each keyframe variant against each reference (the scorer loads on first use)."""

        def score() -> dict[str, Any]:
            if self.scorer is None:
                from filmstitch.engines import runtime
                from filmstitch.engines.qc import EmbeddingScorer

                device = runtime.resolve_device(self.settings)
                dtype = runtime.resolve_dtype(self.settings, device)
                self.scorer = EmbeddingScorer.load(self.settings.effective_qc_dir, device, dtype)
            return {"similarities": self.scorer.similarity_pngs(variant_pngs, reference_pngs),
                    "method": self.scorer.method}

        return reject_bad_input(score)

    @modal.exit()
    def save_compile_cache(self) -> None:
        _commit_cache()


@gpu_class(settings.effective_modal_video_gpu)
# A container films `clips_per_gpu` clips at once: the engine serialises the GPU work, so one clip's MP4
# encode (CPU) overlaps the next one's denoising, and a film needs half the containers (and cold starts).
@modal.concurrent(max_inputs=settings.clips_per_gpu, target_inputs=settings.clips_per_gpu)
class LtxWorker:
    """LTX-Video 0.9.5 (or LTX-2): one clip from a first keyframe to a last keyframe, as MP4 bytes (and, from LTX-2,
    its sound as a WAV: ``clip_parts``)."""

    @modal.enter()
    def load(self) -> None:
        from filmstitch.renderers.gpu import load_video_engine

        self.engine = load_video_engine(GpuSettings())

    @modal.method()
    def clip_mp4(
        self,
        first_png: bytes,
        last_png: bytes,
        prompt: str,
        seed: int,
        width: int,
        height: int,
        frames: int,
        fps: int,
        closing_frame: bool = False,
    ) -> bytes | BadInput:
        return reject_bad_input(lambda: self.engine.clip_mp4(
            first_png, last_png, prompt, seed, width, height, frames, fps, closing_frame
        ))

    @modal.method()
    def clip_parts(
        self,
        first_png: bytes,
        last_png: bytes,
        prompt: str,
        seed: int,
        width: int,
        height: int,
        frames: int,
        fps: int,
        closing_frame: bool = False,
    ) -> dict[str, bytes] | BadInput:
        """LTX-2: ``{"mp4": ..., "wav": ...}``."""
        if not hasattr(self.engine, "clip_parts"):
            return BadInput("this LtxWorker runs LTX-Video 0.9.5, which makes no sound: deploy it with "
                            "FILMSTITCH_GPU_VIDEO_ENGINE=ltx-2")
        return reject_bad_input(lambda: self.engine.clip_parts(
            first_png, last_png, prompt, seed, width, height, frames, fps, closing_frame
        ))

    @modal.exit()
    def save_compile_cache(self) -> None:
        _commit_cache()


@gpu_class(settings.modal_edit_gpu)
class EditWorker:
    """Keyframe edits asked for at checkpoint 2: FLUX.1 Kontext [dev] by instruction, FLUX.1 Fill [dev] by region
    (:mod:`filmstitch.engines.edit`; each pipeline loads on its first edit, so a deployment that never edits never
    loads them)."""

    @modal.enter()
    def load(self) -> None:
        from filmstitch.engines.edit import EditEngine

        self.engine = EditEngine.load(GpuSettings())

    @modal.method()
    def instruct_pngs(self, picture_png: bytes, instruction: str, seeds: list[int], width: int,
                      height: int) -> list[bytes] | BadInput:
        return reject_bad_input(lambda: self.engine.instruct_pngs(picture_png, instruction, seeds, width, height))

    @modal.method()
    def repaint_pngs(self, picture_png: bytes, mask_png: bytes, prompt: str, seeds: list[int], width: int,
                     height: int) -> list[bytes] | BadInput:
        return reject_bad_input(lambda: self.engine.repaint_pngs(picture_png, mask_png, prompt, seeds, width, height))

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
    """Download the weights the deployed settings can use into the Volume (needs HF_TOKEN in the secret; FLUX.1-dev,
    FLUX.1-Redux-dev, FLUX.1-Kontext-dev, FLUX.1-Fill-dev and LTX-2 are gated: accept their licences on the Hub first).

    Each diffusers repository is fetched with an allow-list read from its ``model_index.json`` (the index and
    its components' folders), so single-file duplicates, GGUF files and sample media are never downloaded.
    """
    import os
    from pathlib import Path

    done = []
    repos = weight_repos.repos_for(settings)
    for repo in repos:
        patterns = weight_repos.download(repo, Path(WEIGHTS), os.environ.get("HF_TOKEN"))
        done.append(f"{repo.repo} -> {settings.modal_weights_volume}:/{repo.folder} ({', '.join(patterns)})")
    if weight_repos.FLUX1_DEV in repos and weight_repos.LTX_VIDEO in repos:
        done.append(weight_repos.share_t5(Path(WEIGHTS)))  # one bf16 T5-XXL where LTX's is FLUX's
    weights.commit()
    return done


@app.local_entrypoint()
def main() -> None:
    """`modal run modal_workers/film_gpu.py`: fill the weights Volume."""
    for line in download_weights.remote():
        print(line)
