"""The make-film flow with renderer=local-gpu end to end: tiny random FLUX / LTX-Video pipelines on the CPU,
loaded from disk through the engines' real loading path. The film is noise, but a complete, well-formed one."""

from __future__ import annotations

from pathlib import Path

import pytest

from filmstitch.flows.make_film import make_film
from filmstitch.models import FilmRequest
from filmstitch.renderers import gpu as gpu_renderers
from filmstitch.settings import StorageConfig
from filmstitch.storage import FilmStore
from filmstitch.video import decode_frames, probe
from tests.support.tiny_gpu import save_tiny_weights


@pytest.mark.prefect_server
def test_make_film_with_the_local_gpu_renderer_on_tiny_pipelines(
    prefect_client_settings: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in save_tiny_weights(tmp_path / "weights").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FILMSTITCH_STORAGE_DIR", str(tmp_path / "films"))
    gpu_renderers._ENGINES.reset()
    try:
        result = make_film(request=FilmRequest(
            idea="a stranded astronaut on the moon walks around and discovers nature",
            segments=2, seconds_per_segment=1.0, width=128, height=128, fps=8, seed=3, variants=2,
            writer="offline", renderer="local-gpu", sound=False,
        ), auto_pick=True)
    finally:
        gpu_renderers._ENGINES.reset()

    assert result.renderer == "local-gpu" and result.picks.auto is True
    film = Path(result.location)
    info = probe(film)
    # 2 segments x 8 frames + the closing keyframe: every boundary frame once.
    assert (info.codec, info.width, info.height, info.fps, info.frames) == ("h264", 128, 128, 8.0, 17)
    frames = decode_frames(film)
    assert frames.std() > 10  # rendered pixels (noise from random weights), not a blank film

    store = FilmStore.open(StorageConfig(root=str(tmp_path / "films")), result.film_id)
    manifest = store.manifest()
    assert manifest["request"]["renderer"] == "local-gpu" and manifest["status"] == "finished"
    assert store.verify().problems == []
