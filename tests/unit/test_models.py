"""The domain model refuses bad requests and inconsistent plans with clear messages."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from filmstitch.models import FilmPlan, FilmRequest, Keyframe, Placement, Script, Segment, Staging, derive_seed
from filmstitch.testing.plans import offline_plan as plan_for

IDEA = "a stranded astronaut on the moon walks around and discovers nature"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"idea": ""}, "empty"),
        ({"idea": "   \n\t "}, "empty"),
        ({"idea": "x" * 2001}, "2000"),
        ({"idea": "a cat\x00 in space"}, "control character"),
        ({"idea": "a cat\x1b[31m in space"}, "control character"),
        ({"idea": "ok", "width": 770}, "multiple of 32"),
        ({"idea": "ok", "height": 500}, "multiple of 32"),
        ({"idea": "ok", "width": 1920, "height": 1920}, "too large"),
        ({"idea": "ok", "segments": 0}, "greater than or equal to 1"),
        ({"idea": "ok", "segments": 81}, "less than or equal to 80"),
        ({"idea": "ok", "colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_requests_are_refused_with_a_clear_message(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FilmRequest(**fields)


def test_request_defaults_make_an_80_second_film() -> None:
    request = FilmRequest(idea=IDEA)
    assert (request.segments, request.width, request.height, request.fps) == (10, 768, 512, 24)
    assert request.segments * request.frames_per_clip / request.fps == 80
    assert request.keyframe_count == 11


def test_idea_whitespace_is_folded_and_unicode_kept() -> None:
    assert FilmRequest(idea="  un chat\tà Paris\n ").idea == "un chat à Paris"


def test_film_id_is_stable_and_depends_on_request_and_backends() -> None:
    request = FilmRequest(idea=IDEA)
    assert request.resolved("offline", "animatic").film_id() == FilmRequest(idea=IDEA).resolved("offline",
                                                                                                "animatic").film_id()
    assert request.resolved("offline", "animatic").film_id() != request.resolved("offline", "modal").film_id()
    assert request.resolved("offline", "animatic").film_id() != FilmRequest(idea=IDEA, seed=1).resolved("offline",
                                                                                                        "animatic").film_id()
    assert FilmRequest(idea="../../etc/passwd").resolved("a", "b").film_id().startswith("etc_passwd-")


def test_derived_seeds_differ_per_variant_and_repeat() -> None:
    seeds = {derive_seed(0, "reference", "hero", v) for v in range(3)}
    assert len(seeds) == 3
    assert derive_seed(0, "reference", "hero", 1) == derive_seed(0, "reference", "hero", 1)


def test_offline_plan_is_consistent() -> None:
    plan = plan_for(FilmRequest(idea=IDEA))
    assert len(plan.keyframes) == len(plan.script.segments) + 1 == 11
    assert plan.subjects[-1].kind == "environment"
    for keyframe in plan.keyframes:
        for name in keyframe.characters:
            assert plan.character(name).description[:40] in keyframe.prompt


def test_plan_refuses_undescribed_characters() -> None:
    plan = plan_for(FilmRequest(idea=IDEA, segments=2))
    with pytest.raises(ValidationError, match="not described"):
        FilmPlan(**(plan.model_dump() | {"characters": plan.model_dump()["characters"][:0]}))


def test_plan_refuses_wrong_keyframe_count() -> None:
    plan = plan_for(FilmRequest(idea=IDEA, segments=2))
    with pytest.raises(ValidationError, match="needs keyframes 0..2"):
        FilmPlan(**(plan.model_dump() | {"keyframes": plan.model_dump()["keyframes"][:2]}))


def test_keyframe_characters_must_come_from_neighbouring_segments() -> None:
    plan = plan_for(FilmRequest(idea=IDEA, segments=10))
    data = plan.model_dump()
    companion = plan.script.segments[-1].characters[-1]
    data["keyframes"][0]["characters"] = [companion]
    data["keyframes"][0]["staging"]["placements"] = [{"character": companion, "x": 0.5}]
    with pytest.raises(ValidationError, match="neither neighbouring segment"):
        FilmPlan(**data)


def test_segment_speakers_must_be_present() -> None:
    with pytest.raises(ValidationError, match="not listed"):
        Segment(index=0, title="t", narration="n", action="a", characters=["Ada"], setting="s", location="world",
                dialogue=[{"speaker": "Bob", "line": "hi"}])


def test_script_segments_must_be_in_order() -> None:
    seg = {"title": "t", "narration": "n", "action": "a", "setting": "s", "location": "world"}
    with pytest.raises(ValidationError, match="in order"):
        Script(title="t", logline="l", segments=[Segment(index=1, **seg)])


def test_clip_summary_is_at_most_50_words() -> None:
    with pytest.raises(ValidationError, match="51 words"):
        Keyframe(index=0, prompt="p", clip_summary=" ".join(["word"] * 51))
    with pytest.raises(ValidationError, match="staging places"):
        Keyframe(index=0, prompt="p", clip_summary="s", characters=["Ada"],
                 staging=Staging(placements=[Placement(character="Bob", x=0.5)]))
