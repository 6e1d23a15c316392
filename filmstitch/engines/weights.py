"""The weights directory: which Hugging Face repository goes into which folder, and which of its files.

Layout (``/weights`` on the Modal Volume, any folder locally; each folder is what ``from_pretrained`` reads)::

    /weights/flux1-dev/                FLUX.1-dev (diffusers: model_index.json + one folder per component)
    /weights/flux1-redux-dev/          FLUX.1-Redux-dev (SigLIP image encoder + Redux image embedder)
    /weights/clip-vit-large-patch14/   CLIP-L (transformers: both towers + projections; clip-blend and QC)
    /weights/ltx-video-0.9.5/          LTX-Video 0.9.5 (diffusers; its T5-XXL shared with FLUX's when identical)
    /weights/flux2-klein-4b/           FLUX.2 [klein] 4B (diffusers; only for image_engine=flux2-klein)
    /weights/flux1-kontext-dev/        FLUX.1 Kontext [dev] (diffusers; keyframe edits by instruction)
    /weights/flux1-fill-dev/           FLUX.1 Fill [dev] (diffusers; keyframe edits of a region)
    /weights/ltx-2/                    LTX-2 19B (diffusers; only for video_engine=ltx-2)
    /weights/dinov2-*/                 DINOv2 (transformers; only when qc_dir names such a folder)

Downloads take **allow-lists**: for a diffusers repository, ``model_index.json`` names the pipeline's
components, and exactly those folders (plus the index) are fetched, so a repo's single-file checkpoints,
sample videos or GGUF files never are, whatever the repo adds later. A transformers repository gets
the explicit list of files its loader reads.

**One T5-XXL.** LTX-Video 0.9.5's repository ships its own T5-XXL encoder in fp32 (19 GB); FLUX.1-dev's
``text_encoder_2`` is a T5-XXL in bf16 (9.5 GB), and both engines run it in bf16. After both are downloaded,
:func:`share_t5` hashes every tensor of each *as bf16* (name, shape and bytes); when the hashes agree, LTX's copy is
deleted and ``text_encoder.shared.json`` in LTX's folder names FLUX's folder instead (the LTX engine loads the
encoder from there): one bf16 copy on the Volume, loaded by both. When they differ, both copies stay.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
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
FLUX1_KONTEXT = WeightRepo("black-forest-labs/FLUX.1-Kontext-dev", "flux1-kontext-dev", gated=True)
FLUX1_FILL = WeightRepo("black-forest-labs/FLUX.1-Fill-dev", "flux1-fill-dev", gated=True)
#: LTX-2 19B in diffusers' layout (the repo diffusers 0.42.1's LTX2ConditionPipeline examples load). Its licence is
#: the LTX-2 Community License: accept it on the model page first (docs/gpu.md, "LTX-2").
LTX2 = WeightRepo("Lightricks/LTX-2", "ltx-2", gated=True)
DINOV2_FILES = ("config.json", "model.safetensors", "preprocessor_config.json")
#: The marker that replaces LTX-Video's text_encoder folder when it is FLUX's T5-XXL (see the module docstring).
SHARED_T5 = "text_encoder.shared.json"


def qc_repo(qc_dir: str) -> WeightRepo:
    """The DINOv2 repository a ``qc_dir`` folder is named after (``/weights/dinov2-large`` -> facebook/dinov2-large);
    a ValueError naming the setting for any other folder (download that one yourself)."""
    folder = Path(qc_dir.rstrip("/")).name
    if not re.fullmatch(r"dinov2-(small|base|large|giant)", folder):
        raise ValueError(f"FILMSTITCH_GPU_QC_DIR folder {folder!r} is not a DINOv2 name (dinov2-small, -base, -large "
                         "or -giant): name the folder after its facebook/ repository, or download it yourself")
    return WeightRepo(f"facebook/{folder}", folder, files=DINOV2_FILES)


def repos_for(settings: GpuSettings) -> list[WeightRepo]:
    """Every repository the settings' engines can read: the image engine (and Redux), FLUX.1 Kontext and Fill
    (keyframe edits, asked for at checkpoint 2), the QC model (CLIP-L, or the DINOv2 ``qc_dir`` names) and the video
    engine (LTX-Video 0.9.5 or LTX-2)."""
    if settings.image_engine == "flux2-klein":
        images = [FLUX2_KLEIN]
    else:
        images = [FLUX1_DEV] + ([FLUX1_REDUX] if settings.reference_mode == "redux" else [])
    edits = [FLUX1_KONTEXT, FLUX1_FILL]
    qc = [qc_repo(settings.qc_dir)] if settings.qc_dir else []
    video = [LTX2] if settings.video_engine == "ltx-2" else [LTX_VIDEO]
    return [*images, *edits, CLIP_L, *qc, *video]


def tensor_digest(folder: Path) -> str:
    """sha256 over every tensor of a safetensors folder *as bf16*, in name order (name, shape, bytes): two copies
    of one model stored in different precisions (fp32 vs bf16) digest alike exactly when their bf16 weights are
    the same. Reads one tensor at a time."""
    import torch
    from safetensors import safe_open

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"no .safetensors files in {folder}")
    where = {}
    for file in files:
        with safe_open(str(file), framework="pt") as reader:
            where.update(dict.fromkeys(reader.keys(), file))
    digest = hashlib.sha256()
    for name in sorted(where):
        with safe_open(str(where[name]), framework="pt") as reader:
            tensor = reader.get_tensor(name).to(torch.bfloat16).contiguous()
        digest.update(f"{name}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.view(torch.int16).numpy().tobytes())
    return digest.hexdigest()


def share_t5(root: Path, flux: WeightRepo = FLUX1_DEV, ltx: WeightRepo = LTX_VIDEO) -> str:
    """Keep one bf16 T5-XXL when LTX-Video's text encoder is FLUX's (by :func:`tensor_digest`): LTX's copy is
    removed and :data:`SHARED_T5` names FLUX's folder. Returns what was done, in words."""
    ours, theirs = root / flux.folder / "text_encoder_2", root / ltx.folder / "text_encoder"
    marker = root / ltx.folder / SHARED_T5
    if marker.exists() and not theirs.exists():
        return f"{ltx.folder}/text_encoder already shared with {flux.folder}/text_encoder_2"
    if not (ours.is_dir() and theirs.is_dir()):
        return "nothing to share (one of the two T5-XXL folders is not there)"
    flux_digest, ltx_digest = tensor_digest(ours), tensor_digest(theirs)
    if flux_digest != ltx_digest:
        return (f"kept two T5-XXL copies: {ltx.folder}/text_encoder differs from {flux.folder}/text_encoder_2 in bf16 "
                f"({ltx_digest[:12]} vs {flux_digest[:12]})")
    marker.write_text(json.dumps({"folder": f"../{flux.folder}/text_encoder_2", "bf16_sha256": flux_digest}))
    shutil.rmtree(theirs)
    return f"{ltx.folder}/text_encoder is {flux.folder}/text_encoder_2 in bf16 ({flux_digest[:12]}): one copy kept"


def shared_text_encoder(pipeline_dir: Path) -> Path | None:
    """The folder a pipeline's text encoder is shared from (:func:`share_t5`), or None where it has its own."""
    marker = Path(pipeline_dir) / SHARED_T5
    if not marker.is_file() or (Path(pipeline_dir) / "text_encoder").is_dir():
        return None
    target = (Path(pipeline_dir) / json.loads(marker.read_text())["folder"]).resolve()
    if not target.is_dir():
        raise FileNotFoundError(f"{marker} names {target}, which is not there: download FLUX.1-dev too")
    return target


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
        if (target / SHARED_T5).is_file():  # its T5-XXL is another folder's (share_t5): never fetched again
            patterns = [pattern for pattern in patterns if pattern != "text_encoder/*"]
    else:
        patterns = list(repo.files)
    snapshot_download(repo.repo, local_dir=target, allow_patterns=patterns, token=token)
    return patterns
