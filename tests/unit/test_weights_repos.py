"""The weights a deployment downloads: every model the settings can use, and one bf16 T5-XXL for FLUX and LTX-Video
when theirs are the same weights (checked by hash, with tiny safetensors files written here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from filmstitch.engines import GpuSettings, weights
from filmstitch.engines.ltx import LtxVideoEngine
from filmstitch.testing.tiny_models import tiny_ltx_pipeline
from tests.support.tiny_gpu import tiny_settings


def folders(settings: GpuSettings) -> list[str]:
    return [repo.folder for repo in weights.repos_for(settings)]


def test_repos_for_covers_edits_the_qc_model_and_the_video_engine() -> None:
    assert folders(GpuSettings()) == ["flux1-dev", "flux1-redux-dev", "flux1-kontext-dev", "flux1-fill-dev",
                                      "clip-vit-large-patch14", "ltx-video-0.9.5"]
    chosen = GpuSettings(qc_dir="/weights/dinov2-large", video_engine="ltx-2", reference_mode="none")
    repos = weights.repos_for(chosen)
    assert [r.folder for r in repos] == ["flux1-dev", "flux1-kontext-dev", "flux1-fill-dev", "clip-vit-large-patch14",
                                         "dinov2-large", "ltx-2"]
    dino = repos[4]
    assert (dino.repo, dino.files) == ("facebook/dinov2-large", weights.DINOV2_FILES)
    assert repos[-1].repo == "Lightricks/LTX-2" and repos[-1].gated
    with pytest.raises(ValueError, match="not a DINOv2 name"):
        weights.repos_for(GpuSettings(qc_dir="/weights/my-embedder"))


def write_t5_pair(root: Path, differ: bool = False) -> torch.nn.Module:
    """LTX-Video's folder (tiny pipeline, its T5 in fp32) and FLUX's text_encoder_2 (the same T5 in bf16)."""
    pipe = tiny_ltx_pipeline()
    pipe.save_pretrained(root / weights.LTX_VIDEO.folder)
    t5 = pipe.text_encoder
    flux_t5 = type(t5)(t5.config)
    flux_t5.load_state_dict(t5.state_dict())
    if differ:
        with torch.no_grad():
            next(flux_t5.parameters()).add_(0.5)
    flux_t5.to(torch.bfloat16).save_pretrained(root / weights.FLUX1_DEV.folder / "text_encoder_2")
    return t5


def test_identical_t5_weights_are_stored_once_and_ltx_loads_flux_copy(tmp_path: Path) -> None:
    t5 = write_t5_pair(tmp_path)
    ltx_dir = tmp_path / weights.LTX_VIDEO.folder
    said = weights.share_t5(tmp_path)
    assert "one copy kept" in said
    assert not (ltx_dir / "text_encoder").exists()
    assert weights.shared_text_encoder(ltx_dir) == (tmp_path / "flux1-dev" / "text_encoder_2").resolve()
    assert "already shared" in weights.share_t5(tmp_path)
    engine = LtxVideoEngine.load(tiny_settings(ltx_dir=str(ltx_dir)), "cpu")
    loaded = engine.pipe.text_encoder.state_dict()
    for name, tensor in t5.state_dict().items():  # FLUX's bf16 copy, read back: the fp32 weights rounded to bf16
        assert torch.equal(loaded[name].to(torch.bfloat16), tensor.to(torch.bfloat16)), name


def test_different_t5_weights_keep_two_copies(tmp_path: Path) -> None:
    write_t5_pair(tmp_path, differ=True)
    said = weights.share_t5(tmp_path)
    assert said.startswith("kept two T5-XXL copies")
    assert (tmp_path / weights.LTX_VIDEO.folder / "text_encoder").is_dir()
    assert weights.shared_text_encoder(tmp_path / weights.LTX_VIDEO.folder) is None


def test_a_shared_t5_is_not_downloaded_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    index = {"_class_name": "LTXConditionPipeline", "scheduler": ["diffusers", "X"],
             "text_encoder": ["transformers", "T5EncoderModel"], "tokenizer": ["transformers", "T5TokenizerFast"],
             "transformer": ["diffusers", "Y"], "vae": ["diffusers", "Z"]}
    fetched: list[dict[str, Any]] = []

    def hf_hub_download(repo: str, filename: str, local_dir: Path, token: str | None) -> str:
        (Path(local_dir) / filename).write_text(json.dumps(index))
        return str(Path(local_dir) / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda repo, **kw: fetched.append(kw))
    target = tmp_path / weights.LTX_VIDEO.folder
    target.mkdir()
    weights.download(weights.LTX_VIDEO, tmp_path, None)
    (target / weights.SHARED_T5).write_text(json.dumps({"folder": "../flux1-dev/text_encoder_2"}))
    weights.download(weights.LTX_VIDEO, tmp_path, None)
    assert "text_encoder/*" in fetched[0]["allow_patterns"]
    assert "text_encoder/*" not in fetched[1]["allow_patterns"]
