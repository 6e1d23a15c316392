"""The weights directory: which Hugging Face repository goes into which folder, and which of its files.

Layout (``/weights`` on the Modal Volume, any folder locally; each folder is what ``from_pretrained`` reads)::

    /weights/flux1-dev/                FLUX.1-dev (diffusers: model_index.json + one folder per component)
    /weights/flux1-redux-dev/          FLUX.1-Redux-dev (SigLIP image encoder + Redux image embedder)
    /weights/clip-vit-large-patch14/   CLIP-L (transformers: both towers + projections; clip-blend and QC)
    /weights/ltx-video-0.9.5/          LTX-Video 0.9.5 (diffusers)
    /weights/flux2-klein-4b/           FLUX.2 [klein] 4B (diffusers; only for image_engine=flux2-klein)

Downloads take **allow-lists**: for a diffusers repository, ``model_index.json`` names the pipeline's
components, and exactly those folders (plus the index) are fetched, so a repo's single-file checkpoints,
sample videos or GGUF files never are, whatever the repo adds later. A transformers repository gets
the explicit list of files its loader reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from filmstitch.engines import GpuSettings


@dataclass(frozen=True)
class WeightRepo:
    repo: str
    folder: str
    #: None: a diffusers pipeline (allow-list from its model_index.json); else the files to fetch.
    files: tuple[str, ...] | None = None
    gated: bool = False


FLUX1_DEV = WeightRepo("black-forest-labs/FLUX.1-dev", "flux1-dev", gated=True)
FLUX1_REDUX = WeightRepo("black-forest-labs/FLUX.1-Redux-dev", "flux1-redux-dev", gated=True)
CLIP_L = WeightRepo(
    "openai/clip-vit-large-patch14", "clip-vit-large-patch14",
    files=("config.json", "model.safetensors", "preprocessor_config.json"),
)
LTX_VIDEO = WeightRepo("Lightricks/LTX-Video-0.9.5", "ltx-video-0.9.5")
FLUX2_KLEIN = WeightRepo("black-forest-labs/FLUX.2-klein-4B", "flux2-klein-4b")


def repos_for(settings: GpuSettings) -> list[WeightRepo]:
    """The repositories the settings' engines read (the QC model is CLIP-L unless ``qc_dir`` says otherwise)."""
    if settings.image_engine == "flux2-klein":
        images = [FLUX2_KLEIN]
    else:
        images = [FLUX1_DEV] + ([FLUX1_REDUX] if settings.reference_mode == "redux" else [])
    return [*images, CLIP_L, LTX_VIDEO]


def allow_patterns(model_index: dict) -> list[str]:
    """The files of a diffusers repository its pipeline loads: the index and one folder per component.

    ``model_index.json`` maps each component name to ``[library, class]`` (``[null, null]`` for an absent
    optional one); keys starting with ``_`` are metadata (``_class_name``, ``_diffusers_version``).
    """
    components = [
        name for name, value in model_index.items()
        if not name.startswith("_") and isinstance(value, list) and len(value) == 2 and value[0] is not None
    ]
    if not components:
        raise ValueError("model_index.json names no components")
    return ["model_index.json", *(f"{name}/*" for name in sorted(components))]


def download(repo: WeightRepo, root: Path, token: str | None) -> list[str]:
    """Fetch one repository into ``root / repo.folder`` with an allow-list; returns the patterns used."""
    from huggingface_hub import hf_hub_download, snapshot_download

    target = root / repo.folder
    if repo.files is None:
        index = Path(hf_hub_download(repo.repo, "model_index.json", local_dir=target, token=token))
        patterns = allow_patterns(json.loads(index.read_text()))
    else:
        patterns = list(repo.files)
    snapshot_download(repo.repo, local_dir=target, allow_patterns=patterns, token=token)
    return patterns
