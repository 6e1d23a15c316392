"""The parts of retakes and edits, without a server: the request model, the animatic's re-staging, edit masks,
the takes record in storage, and the cost estimates."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from filmstitch.models import FilmPlan, KeyframeEdit, Placement, Region, RetakeRequest
from filmstitch.renderers import cost
from filmstitch.renderers.animatic import AnimaticRenderer
from filmstitch.renderers.animatic.restage import restage
from filmstitch.renderers.base import RenderedImage, edit_mask
from filmstitch.settings import StorageConfig
from filmstitch.storage import FilmStore
from filmstitch.tasks.takes import with_keyframe
from filmstitch.testing.plans import handmade_plan

CAST = ["Mira", "Bolt"]


# --------------------------------------------------------------------------- the request


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, "name one part: a keyframe or a clip"),
        ({"keyframe": 1, "clip": 1}, "name one part"),
        ({"keyframe": 1, "instruction": "   "}, "the edit instruction is empty"),
        ({"keyframe": 1, "instruction": "make it red\u202e"}, "invisible or control character"),
        ({"keyframe": 1, "region": "1,2,3"}, "a region is four whole numbers"),
        ({"keyframe": 1, "region": "5,5,5,9"}, "region 5,5,5,9 is empty"),
        ({"clip": 2, "instruction": "make it red"}, "instruction: only for keyframes"),
        ({"clip": 2, "variants": 2}, "variants: only for keyframes"),
        ({"keyframe": 1, "use_take": 2, "seed": 4}, "use_take switches to a take made before: it takes no seed"),
        ({"keyframe": 1, "variant": 1}, "variant goes with use_take"),
        ({"keyframe": 1, "region": "0,0,5,5", "mask": "x"}, "a region or a mask, not both"),
        ({"keyframe": -1}, "greater than or equal to 0"),
    ],
)
def test_a_retake_that_does_not_make_sense_is_refused_by_the_model(fields: dict, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        RetakeRequest(film_id="film", **fields)


def test_a_retake_names_its_part_and_its_edit() -> None:
    keyframe = RetakeRequest(film_id="film", keyframe=4, instruction=" make her coat red ", region="10 20 300 200")
    assert (keyframe.part, keyframe.label) == ("keyframes/k04", "keyframe 4")
    assert keyframe.edit == KeyframeEdit(instruction="make her coat red", region=Region(x0=10, y0=20, x1=300, y1=200))
    assert keyframe.region == "10,20,300,200" and keyframe.edit.repaints
    clip = RetakeRequest(film_id="film", clip=6, seed=3)
    assert (clip.part, clip.edit) == ("clips/c06", None)


def test_placement_edit_fields_leave_plans_and_their_keys_as_they_were() -> None:
    plain = Placement(character="Mira", x=0.3)
    assert plain.model_dump() == {"character": "Mira", "x": 0.3, "pose": "stand", "facing": "camera"}
    edited = Placement(character="Mira", x=0.3, colours={"outfit": "#ff0000"}, prop="lantern")
    assert Placement.model_validate(edited.model_dump()) == edited
    assert "colours" not in Placement.model_json_schema()["properties"]  # writers are never asked for them


# --------------------------------------------------------------------------- re-staging on the animatic


def test_the_animatic_re_stages_what_it_draws_and_lists_what_it_cannot() -> None:
    plan = handmade_plan(segments=4)
    keyframe = plan.keyframes[1]  # Mira and Bolt
    done = restage(keyframe, "make Mira's coat dark blue, move Bolt to the far left and make him kneel; "
                   "Mira faces the camera, give Mira a lantern, a close-up, darker, pan right, remove the second "
                   "moon", CAST)
    staged = {p.character: p for p in done.keyframe.staging.placements}
    assert staged["Mira"].colours == {"outfit": "#00008b"} and staged["Mira"].facing == "camera"
    assert staged["Mira"].prop == "lantern"
    assert staged["Bolt"].x == 0.1 and staged["Bolt"].pose == "kneel"
    assert done.keyframe.staging.shot == "close"
    assert done.keyframe.staging.light == round(keyframe.staging.light * 0.7, 3)
    assert done.keyframe.staging.camera_x == round(keyframe.staging.camera_x + 0.25, 3)
    assert done.not_done == ["remove the second moon"]
    assert len(done.done) == 8


def test_a_pronoun_means_the_one_character_in_the_frame_else_who_is_asked() -> None:
    plan = handmade_plan(segments=4)
    alone = restage(plan.keyframes[0], "make her coat red", CAST)  # Mira alone
    assert alone.done == ["Mira's clothes are red"]
    together = restage(plan.keyframes[1], "make her coat red", CAST)
    assert together.done == [] and together.not_done == ["make her coat red (say who: Mira or Bolt)"]
    named = restage(plan.keyframes[1], "move Bolt to the left and make him kneel", CAST)
    assert named.done == ["Bolt moves to the left", "Bolt kneels"]
    absent = restage(plan.keyframes[0], "move Bolt to the left", CAST)
    assert absent.not_done == ["move Bolt to the left (Bolt is not in this keyframe)"]


def test_the_animatic_refuses_before_work_what_it_cannot_do_at_all() -> None:
    plan = handmade_plan(segments=2)
    renderer = AnimaticRenderer()
    with pytest.raises(ValueError, match="cannot do any of \u201cremove the second moon\u201d"):
        renderer.check_edit(plan, 1, KeyframeEdit(instruction="remove the second moon"))
    with pytest.raises(ValueError, match="cannot paint a region again"):
        renderer.check_edit(plan, 1, KeyframeEdit(region=Region(x0=0, y0=0, x1=10, y1=10)))
    with pytest.raises(ValueError, match="keyframe 5 does not exist"):
        renderer.check_edit(plan, 5, KeyframeEdit(instruction="make her coat red"))
    renderer.check_edit(plan, 0, KeyframeEdit(instruction="make her coat red and remove the moon"))  # partly: ok


def red_pixels(frame: np.ndarray) -> int:
    f = frame.astype(int)
    return int(((f[..., 0] > 90) & (f[..., 0] > 3 * f[..., 1]) & (f[..., 0] > 3 * f[..., 2])).sum())


def test_a_recoloured_keyframe_carries_its_colour_through_the_clip_it_opens() -> None:
    plan = handmade_plan(segments=3)
    renderer = AnimaticRenderer(chapters=False)
    references = {s.id: RenderedImage(variant=0, seed=1, png=renderer.reference_variants(plan, s, [1])[0])
                  for s in plan.subjects}
    edited = with_keyframe(plan, restage(plan.keyframes[1], "make Mira's coat red", CAST).keyframe)

    def picture(p: FilmPlan, index: int) -> RenderedImage:
        present = {s.id: references[s.id] for s in p.subjects_at(index)}
        return RenderedImage(variant=0, seed=5, png=renderer.keyframe_variants(p, index, present, [5])[0])

    def middle(p: FilmPlan, segment: int) -> np.ndarray:
        frames = list(renderer.clip_frames(p, segment, picture(p, segment), picture(p, segment + 1), references, 3))
        return frames[len(frames) // 2]

    assert red_pixels(np.asarray(Image.open(io.BytesIO(picture(edited, 1).png)))) > 100
    assert red_pixels(middle(plan, 1)) < 10 and red_pixels(middle(edited, 1)) > 100  # the clip it opens
    assert red_pixels(middle(edited, 0)) < 10  # the clip before it keeps her colours


# --------------------------------------------------------------------------- edit masks


def mask_b64(size: tuple[int, int], box: tuple[int, int, int, int] | None) -> str:
    mask = Image.new("L", size, 0)
    if box:
        mask.paste(255, box)
    out = io.BytesIO()
    mask.save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


def test_a_region_or_a_mask_becomes_a_mask_of_the_frame() -> None:
    region = edit_mask(KeyframeEdit(region=Region(x0=10, y0=20, x1=30, y1=60)), 64, 64)
    pixels = np.asarray(region)
    assert pixels[20:60, 10:30].min() == 255 and pixels.sum() == 255 * 20 * 40
    given = edit_mask(KeyframeEdit(mask=mask_b64((64, 64), (0, 0, 8, 8))), 64, 64)
    assert np.asarray(given).sum() == 255 * 64
    assert edit_mask(KeyframeEdit(instruction="make it red"), 64, 64) is None


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (KeyframeEdit(region=Region(x0=0, y0=0, x1=65, y1=10)), "outside the 64x64 frame"),
        (KeyframeEdit(mask=mask_b64((32, 32), (0, 0, 8, 8))), "the mask is 32x32; the film's frames are 64x64"),
        (KeyframeEdit(mask=mask_b64((64, 64), None)), "the mask selects nothing"),
        (KeyframeEdit(mask="not an image"), "the mask is not a readable image"),
    ],
)
def test_a_mask_that_does_not_fit_is_refused(edit: KeyframeEdit, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        edit_mask(edit, 64, 64)


# --------------------------------------------------------------------------- the takes record


@pytest.fixture
def store(tmp_path: Path) -> FilmStore:
    return FilmStore.open(StorageConfig(root=str(tmp_path / "films")), "film-1")


def test_the_film_and_what_it_uses_are_recorded_in_one_manifest_edit(store: FilmStore,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    edits = []
    change = store._change_manifest
    monkeypatch.setattr(store, "_change_manifest", lambda edit: (edits.append(edit), change(edit)))
    uses = {"clips/c00": {"take": 2}, "keyframes/k00": {"take": 1, "variant": 2}}
    ref = store.put_film("film.mp4", b"a film", "video/mp4", reuse_key="abc", film_uses=uses, frames=3)
    assert len(edits) == 1
    assert store.film_uses() == uses and ref.meta == {"frames": 3, "uses": uses}
    assert store.manifest()["artifacts"]["film.mp4"]["meta"]["uses"] == uses


def test_takes_are_described_and_a_reused_take_keeps_its_story(store: FilmStore) -> None:
    from filmstitch.storage.keys import now_iso

    first = store.take("clips/c00", "key-1")
    store.put("clips/c00/take-1.mp4", b"one", "video/mp4", reuse_key="key-1")
    started = now_iso()
    second = store.take("clips/c00", "key-2")
    store.describe_take("clips/c00", second, made_since=started, made_by="retake", seed=4)
    store.describe_take("clips/c00", first, made_since=started, made_by="retake", seed=9)  # made before: kept
    takes = store.takes()["clips/c00"]
    assert [t["take"] for t in takes] == [1, 2]
    assert "about" not in takes[0] and takes[1]["about"] == {"made_by": "retake", "seed": 4}


def test_takes_known_only_by_their_files_are_listed_after_a_repair(store: FilmStore) -> None:
    store.take("keyframes/k03", "key-1")
    store.put("keyframes/k03/take-1/v0.png", b"png", "image/png", reuse_key="key-1")
    (store.store.root / store.full_key("manifest.json")).write_text("{ damaged")
    store.repair()
    assert [t["take"] for t in store.takes()["keyframes/k03"]] == [1]


# --------------------------------------------------------------------------- cost


def test_the_estimates_come_from_the_measured_per_part_numbers_at_the_defaults() -> None:
    from filmstitch.engines import GpuSettings
    from filmstitch.models import FilmRequest
    from filmstitch.testing.plans import offline_plan

    plan = offline_plan(FilmRequest(idea="a lighthouse keeper finds a message in a bottle"))
    eager = GpuSettings()
    assert cost.seconds("local-gpu", plan, "keyframes", 3, eager) == pytest.approx(7.19)
    assert cost.seconds("local-gpu", plan, "clip", 1, eager) == pytest.approx(14.08 + 0.87 * 193 / 192, rel=1e-3)
    assert cost.seconds("local-gpu", plan, "edit", 3, eager) == pytest.approx(7.19 * 2.2)
    # Fast mode at its own step counts (12 image, 16 video) costs what was measured at them.
    assert cost.seconds("local-gpu", plan, "keyframes", 3, GpuSettings(fast=True)) == pytest.approx(1.03)
    assert cost.seconds("local-gpu", plan, "clip", 1, GpuSettings(fast=True)) < cost.seconds(
        "local-gpu", plan, "clip", 1, GpuSettings(compile=True)) < cost.seconds("local-gpu", plan, "clip", 1, eager)
    assert cost.seconds("animatic", plan, "keyframes", 3) == pytest.approx(1.1)
    assert cost.seconds("animatic", plan, "clip", 1) == pytest.approx(8.0 * 193 / 192)
    estimate = cost.Estimate(parts=[cost.PartCost(what="3 variants of keyframe 4", seconds=7.2, on="GPU"),
                                    cost.PartCost(what="clip 3", seconds=14.7, on="GPU")], basis="b")
    assert estimate.summary() == ("Will render 3 variants of keyframe 4 ~7.2 GPU-s; clip 3 ~15 GPU-s: about 22 "
                                  "GPU-seconds; the writer is not called.")
    assert cost.Estimate(parts=[], basis="b").summary().startswith("Nothing to render")
