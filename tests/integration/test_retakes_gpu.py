"""Retakes and edits with renderer=local-gpu: tiny random FLUX / LTX-Video / Kontext / Fill pipelines on the CPU,
loaded from disk through the engines' real loading path, against a real Prefect server. Only the expected
renders run, the film differs only in the retaken clips' frames, and an edit is a take of its own (a repaint
keeps every pixel outside its region)."""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from filmstitch.flows.make_film import FilmResult, make_film
from filmstitch.flows.retake_film import retake_film
from filmstitch.models import FilmRequest, RetakeRequest
from filmstitch.renderers import gpu as gpu_renderers
from filmstitch.settings import StorageConfig
from filmstitch.storage import FilmStore
from tests.integration.test_retakes import changed_frames, frame_hashes
from tests.support.tiny_gpu import save_tiny_weights

REQUEST = FilmRequest(idea="a stranded astronaut on the moon walks around and discovers nature", segments=3,
                      seconds_per_segment=1.0, width=128, height=128, fps=8, seed=3, variants=2, writer="offline",
                      renderer="local-gpu", sound=False)
F = REQUEST.frames_per_clip


class Renders:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.plans: list = []  # the plan each render was given
        self.lock = threading.Lock()
        # The clip task calls clip_with_sound (the clip and, from LTX-2, its sound): counted as "clip".
        for name, label in (("reference_variants", "reference_variants"), ("keyframe_variants", "keyframe_variants"),
                            ("clip_with_sound", "clip"), ("edit_keyframe", "edit_keyframe")):
            original = getattr(gpu_renderers.LocalGpuRenderer, name)

            def counted(renderer, plan, *args, _original=original, _name=label, **kwargs):
                with self.lock:
                    self.counts[_name] += 1
                    self.plans.append(plan)
                return _original(renderer, plan, *args, **kwargs)

            monkeypatch.setattr(gpu_renderers.LocalGpuRenderer, name, counted)

    def take(self) -> dict[str, int]:
        with self.lock:
            counts, self.counts = dict(self.counts), collections.Counter()
        return counts


@pytest.fixture
def gpu_film(prefect_client_settings: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[
        tuple[FilmResult, FilmStore, Renders]]:
    for name, value in save_tiny_weights(tmp_path / "weights", edits=True).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FILMSTITCH_STORAGE_DIR", str(tmp_path / "films"))
    gpu_renderers._ENGINES.reset()
    renders = Renders(monkeypatch)
    try:
        made = make_film(request=REQUEST, auto_pick=True)
        renders.take()
        yield made, FilmStore.open(StorageConfig(root=str(tmp_path / "films")), made.film_id), renders
    finally:
        gpu_renderers._ENGINES.reset()


def retake(**fields: object):
    return retake_film(retake=RetakeRequest(**fields), auto_pick=True)


def png(store: FilmStore, part: str, use: dict) -> np.ndarray:
    path = store.store.root / store.full_key(f"{part}/take-{use['take']}/v{use['variant']}.png")
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


@pytest.mark.prefect_server
def test_gpu_retakes_render_only_their_part_and_change_only_its_frames(gpu_film) -> None:
    made, store, renders = gpu_film
    original = frame_hashes(Path(made.location))
    assert len(original) == 3 * F + 1

    keyframe = retake(film_id=made.film_id, keyframe=1, seed=9)
    assert renders.take() == {"keyframe_variants": 1, "clip": 2}
    after_keyframe = frame_hashes(Path(keyframe.location))
    changed = changed_frames(original, after_keyframe)
    assert set(changed) <= set(range(2 * F)) and F in changed  # clips 0 and 1; clip 2 bit for bit

    renders.plans.clear()
    clip = retake(film_id=made.film_id, clip=2, seed=5, prompt="the astronaut kneels by a green flower")
    assert renders.take() == {"clip": 1}
    assert renders.plans[0].script.segments[2].motion == "the astronaut kneels by a green flower"  # to LTX
    after = frame_hashes(Path(clip.location))
    changed = changed_frames(after_keyframe, after)
    assert changed and set(changed) <= set(range(2 * F, 3 * F + 1))
    about = store.takes()["clips/c02"][-1]["about"]
    assert about["prompt"] == "the astronaut kneels by a green flower"
    assert about["segment"]["motion"] == "the astronaut kneels by a green flower"  # switching back restores it

    back = retake(film_id=made.film_id, keyframe=1, use_take=1)
    assert renders.take() == {}  # the clips made from take 1 are stored
    # The film is the first one again but for the retaken clip 2.
    assert changed_frames(original, frame_hashes(Path(back.location))) == changed


@pytest.mark.prefect_server
def test_gpu_edits_by_instruction_and_by_region_are_takes_of_their_own(gpu_film) -> None:
    made, store, renders = gpu_film
    before = store.film_uses()["keyframes/k02"]
    edited = retake(film_id=made.film_id, keyframe=2, instruction="make her suit red")
    assert renders.take() == {"edit_keyframe": 1, "clip": 2}  # Kontext on the film's picture, then two clips
    uses = store.film_uses()["keyframes/k02"]
    assert uses["take"] == 2 and edited.take == 2
    about = store.takes()["keyframes/k02"][1]["about"]
    assert about["edit"] == {"instruction": "make her suit red"} and about["made_by"] == "retake"
    assert np.abs(png(store, "keyframes/k02", uses) - png(store, "keyframes/k02", before)).mean() > 5

    region = "32,32,96,96"
    retake(film_id=made.film_id, keyframe=0, region=region, instruction="a green flower")
    assert renders.take() == {"edit_keyframe": 1, "clip": 1}  # keyframe 0 touches clip 0 only
    source, result = png(store, "keyframes/k00", {"take": 1, "variant": made.picks.keyframes[0]}), \
        png(store, "keyframes/k00", store.film_uses()["keyframes/k00"])
    inside = np.zeros(source.shape[:2], bool)
    inside[32:96, 32:96] = True
    assert np.array_equal(result[~inside], source[~inside])  # Fill repaints the region only
    assert np.abs(result[inside] - source[inside]).mean() > 5
    assert store.verify().problems == []
