"""Checkpoint forms: constrained fields, thumbnails in the description, picks checked again, auto-picks."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFilter

from filmstitch import checkpoints
from filmstitch.models import FilmRequest
from tests.support.plans import offline_plan as plan_for
from tests.test_models import IDEA


def png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array.astype(np.uint8)).save(out, "PNG")
    return out.getvalue()


def variants(n: int = 3) -> list[checkpoints.Variant]:
    return [checkpoints.Variant(variant=v, thumb_url=f"data:image/jpeg;base64,V{v}") for v in range(n)]


def test_reference_form_has_one_constrained_field_per_subject() -> None:
    plan = plan_for(FilmRequest(idea=IDEA, segments=10))
    form, description = checkpoints.reference_form(plan, {s.id: variants() for s in plan.subjects}, timeout_s=600)
    schema = form.model_json_schema()
    assert list(schema["properties"]) == [s.id for s in plan.subjects]
    for subject in plan.subjects:
        field = schema["properties"][subject.id]
        assert (field["minimum"], field["maximum"], field["title"]) == (0, 2, subject.name)
    # with_initial_data(description=...) must keep the constraints (see shared/FACTS.md)
    described = form.with_initial_data(description=description).model_json_schema()
    assert described["properties"][plan.subjects[0].id]["maximum"] == 2
    for subject in plan.subjects:
        assert f"**{subject.name}**" in description
    assert description.count("](data:image/jpeg;base64,V") == 3 * len(plan.subjects)
    assert "10 minutes" in description


def test_keyframe_form_names_each_boundary() -> None:
    plan = plan_for(FilmRequest(idea=IDEA, segments=3, variants=2))
    form, description = checkpoints.keyframe_form(plan, [variants(2) for _ in plan.keyframes], timeout_s=60)
    schema = form.model_json_schema()
    assert list(schema["properties"]) == ["k00", "k01", "k02", "k03"]
    assert schema["properties"]["k03"]["maximum"] == 1
    assert "between 'Opening image'" in schema["properties"]["k01"]["description"]
    assert "1 minute**" in description
    with pytest.raises(ValueError):
        form(k00=2, k01=0, k02=0, k03=0)


def test_check_picks_refuses_out_of_range_missing_and_unknown() -> None:
    assert checkpoints.check_picks({"a": 1, "b": 0}, ["a", "b"], 3) == {"a": 1, "b": 0}
    for bad in ({"a": 3, "b": 0}, {"a": -1, "b": 0}, {"a": 1}, {"a": True, "b": 0}, {"a": 1, "b": 0, "c": 0},
                {"a": "1", "b": 0}):
        with pytest.raises(ValueError, match="invalid picks"):
            checkpoints.check_picks(bad, ["a", "b"], 3)


def test_auto_pick_prefers_sharp_references() -> None:
    rng = np.random.default_rng(0)
    sharp = rng.integers(0, 255, (64, 64, 3))
    blurred = np.asarray(Image.fromarray(sharp.astype(np.uint8)).filter(ImageFilter.GaussianBlur(4)))
    flat = np.full((64, 64, 3), 128)
    picks = checkpoints.auto_pick_references({"hero": [png(flat), png(blurred), png(sharp)]})
    assert picks == {"hero": 2}


def test_auto_pick_keyframes_follows_continuity() -> None:
    red, green, blue = (np.zeros((32, 32, 3)) + c for c in ([200, 0, 0], [0, 200, 0], [0, 0, 200]))
    noisy = np.random.default_rng(1).integers(0, 255, (32, 32, 3))
    boundaries = [
        [png(red), png(noisy), png(green)],  # sharpest first frame: the noisy one
        [png(red), png(blue), png(noisy * 0.9)],  # closest to noisy: its darker twin
        [png(green), png(noisy * 0.85), png(blue)],
    ]
    assert checkpoints.auto_pick_keyframes(boundaries) == [1, 2, 1]
