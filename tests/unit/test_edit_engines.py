"""The keyframe edit engine on tiny FLUX.1 Kontext and FLUX.1 Fill pipelines built in code (random weights, the
CPU): what reaches each pipeline, the size of what comes back, seeds, and that a repaint keeps every pixel
outside its region; and the local-gpu renderer's side of an edit."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from diffusers import FluxFillPipeline, FluxKontextPipeline
from PIL import Image

from filmstitch.engines.edit import EditEngine
from filmstitch.models import KeyframeEdit, Region
from filmstitch.renderers import gpu as gpu_renderers
from filmstitch.renderers.base import RenderedImage
from filmstitch.testing.plans import handmade_plan
from filmstitch.testing.tiny_models import tiny_fill_pipeline, tiny_kontext_pipeline
from tests.support.tiny_gpu import tiny_settings

CPU = torch.device("cpu")
W, H = 64, 48


@pytest.fixture(scope="module")
def engine() -> EditEngine:
    settings = tiny_settings(kontext_preferred_resolution=False, edit_steps=2)
    return EditEngine(settings, CPU, kontext=tiny_kontext_pipeline(), fill=tiny_fill_pipeline())


@pytest.fixture(scope="module")
def picture() -> Image.Image:
    rng = np.random.default_rng(3)
    return Image.fromarray(rng.integers(0, 255, (H, W, 3)).astype(np.uint8))


class Spy:
    """Records the keyword arguments a pipeline class is called with, and still runs it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, cls: type) -> None:
        self.calls: list[dict[str, Any]] = []
        original = cls.__call__

        def spy(pipe: Any, *args: Any, **kwargs: Any) -> Any:
            self.calls.append(kwargs)
            return original(pipe, *args, **kwargs)

        monkeypatch.setattr(cls, "__call__", spy)


def px(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def test_an_instruction_goes_to_kontext_at_the_film_s_size_with_a_generator_per_seed(
    engine: EditEngine, picture: Image.Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(monkeypatch, FluxKontextPipeline)
    edits = engine.instruct(picture, "make her coat red", [1, 2], W, H)
    [call] = spy.calls
    assert call["prompt"] == "make her coat red" and call["max_area"] == W * H  # not Kontext's ~1 megapixel
    assert (call["width"], call["height"], call["num_images_per_prompt"]) == (W, H, 2)
    assert [g.initial_seed() for g in call["generator"]] == [1, 2]
    assert call["image"].size == (W, H) and call["_auto_resize"] is False
    assert [e.size for e in edits] == [(W, H)] * 2
    assert np.abs(px(edits[0]) - px(picture)).mean() > 5  # it edits: the picture changed
    assert np.abs(px(edits[0]) - px(edits[1])).mean() > 1  # seeds differ


def test_the_same_seed_makes_the_same_edit(engine: EditEngine, picture: Image.Image) -> None:
    a = engine.instruct(picture, "make her coat red", [7], W, H)[0]
    b = engine.instruct(picture, "make her coat red", [7], W, H)[0]
    assert np.array_equal(px(a), px(b))


def test_a_repaint_keeps_every_pixel_outside_its_region(
    engine: EditEngine, picture: Image.Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(monkeypatch, FluxFillPipeline)
    mask = Image.new("L", (W, H), 0)
    mask.paste(255, (16, 8, 48, 40))
    [repainted] = engine.repaint(picture, mask, "a red kite", [5], W, H)
    [call] = spy.calls
    assert call["prompt"] == "a red kite" and call["mask_image"].size == (W, H)
    inside = np.asarray(mask) > 0
    before, after = px(picture), px(repainted)
    assert np.array_equal(after[~inside], before[~inside])  # bit for bit outside the region
    assert np.abs(after[inside] - before[inside]).mean() > 5  # painted again inside it


def test_edits_refuse_bad_input_before_rendering(engine: EditEngine, picture: Image.Image) -> None:
    with pytest.raises(ValueError, match="instruction is empty"):
        engine.instruct(picture, "  ", [1], W, H)
    with pytest.raises(ValueError, match="multiple of 16"):
        engine.instruct(picture, "make it red", [1], 60, H)
    with pytest.raises(ValueError, match="give 1 to 8 seeds"):
        engine.instruct(picture, "make it red", [], W, H)
    with pytest.raises(ValueError, match="the mask is 32x32"):
        engine.repaint(picture, Image.new("L", (32, 32), 255), "x", [1], W, H)


def test_the_bytes_api_edits_pngs(engine: EditEngine, picture: Image.Image) -> None:
    out = io.BytesIO()
    picture.save(out, "PNG")
    [edited] = engine.instruct_pngs(out.getvalue(), "make her coat red", [1], W, H)
    assert Image.open(io.BytesIO(edited)).size == (W, H)
    with pytest.raises(ValueError, match="the keyframe to edit is not a readable image"):
        engine.instruct_pngs(b"not a png", "make it red", [1], W, H)


def test_the_renderer_sends_an_instruction_to_kontext_and_a_region_to_fill() -> None:
    plan = handmade_plan(segments=2, width=128, height=128)
    source = RenderedImage(variant=1, seed=4, png=b"png")
    method, request = gpu_renderers.edit_request(plan, 1, source, KeyframeEdit(instruction="make her coat red"), [3])
    assert method == "instruct_pngs" and request["instruction"] == "make her coat red"
    assert (request["width"], request["height"], request["seeds"]) == (128, 128, [3])
    method, request = gpu_renderers.edit_request(plan, 1, source, KeyframeEdit(region=Region(x0=0, y0=0, x1=8, y1=8)),
                                                 [3])
    assert method == "repaint_pngs" and request["prompt"] == plan.keyframes[1].prompt  # no instruction: its prompt
    mask = np.asarray(Image.open(io.BytesIO(request["mask_png"])))
    assert mask.shape == (128, 128) and mask[:8, :8].min() == 255 and mask.sum() == 255 * 64
    with pytest.raises(ValueError, match="outside the 128x128 frame"):
        gpu_renderers.edit_request(plan, 1, source, KeyframeEdit(region=Region(x0=0, y0=0, x1=129, y1=8)), [3])


def test_an_edit_without_its_weights_is_refused_naming_the_setting(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILMSTITCH_GPU_KONTEXT_DIR", str(tmp_path / "missing"))
    gpu_renderers._ENGINES.reset()
    try:
        with pytest.raises(ValueError, match="FILMSTITCH_GPU_KONTEXT_DIR"):
            gpu_renderers.LocalGpuRenderer().check_edit(handmade_plan(), 1, KeyframeEdit(instruction="make it red"))
        # On Modal the weights are the Volume's (download_weights fetches Kontext and Fill): only the edit is checked.
        gpu_renderers.ModalRenderer().check_edit(handmade_plan(), 1, KeyframeEdit(instruction="make it red"))
        with pytest.raises(ValueError, match="outside the"):
            gpu_renderers.ModalRenderer().check_edit(handmade_plan(), 1,
                                                     KeyframeEdit(region=Region(x0=0, y0=0, x1=999, y1=8)))
    finally:
        gpu_renderers._ENGINES.reset()
