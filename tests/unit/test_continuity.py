"""The continuity ledger's plan-level check (filmstitch.continuity): plans of both writers pass it, a planted
change of clothes is caught whichever writer wrote the plan, and the check-plan task refuses such a plan
before anything is drawn."""

from __future__ import annotations

from pathlib import Path

import pytest

from filmstitch.continuity import ContinuityError, check_continuity, plan_continuity_problems, worn_in
from filmstitch.models import FilmPlan, FilmRequest
from filmstitch.settings import StorageConfig
from filmstitch.storage import FilmStore
from filmstitch.tasks.common import FilmContext
from filmstitch.tasks.write import assemble_plan
from filmstitch.testing.fake_anthropic import FakeAnthropic
from filmstitch.testing.film_author import LATE_OUTFIT, FilmAuthor
from filmstitch.testing.plans import offline_plan
from tests.unit.test_claude_writer import make_writer, write_film

IDEAS = [
    "a stranded astronaut on the moon walks around and discovers nature",
    "a lighthouse keeper befriends a storm that speaks in colours",
    "a young diver and her grandfather search a sunken ship for a glowing pearl",
    "a baker in Kyoto makes bread for a fox spirit",
]
LENGTHS = [{"segments": 1}, {"segments": 10}, {"minutes": 8}, {"segments": 75}]


def with_prompt(plan: FilmPlan, index: int, prompt: str) -> FilmPlan:
    keyframes = list(plan.keyframes)
    keyframes[index] = keyframes[index].model_copy(update={"prompt": prompt})
    return plan.model_copy(update={"keyframes": keyframes})


def late_keyframe(plan: FilmPlan) -> tuple[int, str, str, int]:
    """(keyframe, character, outfit, scene): a keyframe that opens a scene of the second half, someone in it."""
    segments = plan.script.segments
    for segment in segments[len(segments) // 2:]:
        keyframe = plan.keyframes[segment.index]
        scene = plan.script.scenes[segment.scene]
        for name in keyframe.characters:
            if name in scene.continuity.wardrobe:
                return segment.index, name, scene.continuity.wardrobe[name], scene.index
    raise AssertionError("no dressed character in the second half")


@pytest.mark.parametrize("idea", IDEAS)
@pytest.mark.parametrize("length", LENGTHS, ids=["1 segment", "10 segments", "8 minutes", "75 segments"])
def test_the_offline_writers_plans_keep_their_ledger(idea: str, length: dict) -> None:
    plan = offline_plan(FilmRequest(idea=idea, **length))
    assert plan.script.scenes and all(s.continuity.wardrobe for s in plan.script.scenes)
    assert plan_continuity_problems(plan) == []
    # the check reads the outfits it checks: every person in a frame is found wearing something (animals,
    # robots and the weather are described, not dressed)
    people = {c.name for c in plan.characters if c.kind == "person"}
    for keyframe in plan.keyframes:
        dressed = {name for name, _ in worn_in(keyframe.prompt, keyframe.characters)}
        assert people & set(keyframe.characters) <= dressed, keyframe.prompt


def test_a_planted_change_of_clothes_in_an_offline_plan_is_caught() -> None:
    plan = offline_plan(FilmRequest(idea=IDEAS[2], minutes=8))
    k, name, outfit, scene = late_keyframe(plan)
    changed = with_prompt(plan, k, plan.keyframes[k].prompt.replace(outfit, "a red raincoat and black boots"))
    problems = plan_continuity_problems(changed)
    assert problems and all(p.startswith(f"keyframes.{k}.prompt:") for p in problems)
    assert any(f"{name!r}'s outfit in scene {scene} is {outfit!r} (continuity ledger), but the prompt misses" in p
               for p in problems), problems
    assert any(f"dresses {name!r} in 'a red raincoat and black boots'" in p for p in problems), problems
    with pytest.raises(ContinuityError, match=rf"breaks its continuity ledger .*keyframes\.{k}\.prompt"):
        check_continuity(changed)


def test_a_contradiction_is_caught_even_when_the_ledgers_words_are_there() -> None:
    plan = offline_plan(FilmRequest(idea=IDEAS[0], minutes=8))
    k, name, outfit, scene = late_keyframe(plan)
    prompt = plan.keyframes[k].prompt.replace(" 35mm film", f" {name} wears a scarlet cape. 35mm film")
    problems = plan_continuity_problems(with_prompt(plan, k, prompt))
    assert problems == [(f"keyframes.{k}.prompt: dresses {name!r} in 'a scarlet cape', but in scene {scene} the "
                        f"continuity ledger has {outfit!r} (scarlet is in neither that nor their description)")]


def test_the_claude_writers_plans_pass_and_a_planted_change_is_caught(fake_anthropic: FakeAnthropic) -> None:
    """The fake Messages API's author dresses Ada in a navy coat and a crimson scarf in the second half."""
    fake_anthropic.author = FilmAuthor()
    plan = write_film(make_writer(fake_anthropic), FilmRequest(idea=IDEAS[0], segments=30))
    assert plan_continuity_problems(plan) == []
    late = next(s.index for s in plan.script.scenes if s.continuity.wardrobe.get("Ada") == LATE_OUTFIT)
    k = next(seg.index for seg in plan.script.segments if seg.scene == late)
    assert LATE_OUTFIT in plan.keyframes[k].prompt
    changed = with_prompt(plan, k, plan.keyframes[k].prompt.replace(LATE_OUTFIT, "a blue raincoat"))
    (problem,) = plan_continuity_problems(changed)
    assert problem.startswith(f"keyframes.{k}.prompt: 'Ada''s outfit in scene {late} is {LATE_OUTFIT!r}")
    assert "misses navy, crimson" in problem


def test_check_plan_refuses_a_contradicting_plan_before_it_is_stored(tmp_path: Path) -> None:
    plan = offline_plan(FilmRequest(idea=IDEAS[1], minutes=8, writer="offline", renderer="animatic"))
    k, name, outfit, _ = late_keyframe(plan)
    changed = with_prompt(plan, k, plan.keyframes[k].prompt.replace(outfit, "a green silk dress"))
    ctx = FilmContext(film_id="continuity-test", storage=StorageConfig(root=str(tmp_path)), writer="offline",
                      renderer="animatic")
    parts = {"request": plan.request, "script": plan.script, "characters": plan.characters,
                 "environments": plan.environments}
    with pytest.raises(ContinuityError) as refused:
        assemble_plan.fn(ctx, keyframes=changed.keyframes, **parts)
    message = str(refused.value)
    assert "\n" not in message and f"keyframes.{k}.prompt: {name!r}'s outfit" in message
    assert message.endswith("Every keyframe prompt must dress its characters as their scene's ledger says")
    store = FilmStore.open(ctx.storage, ctx.film_id)
    assert not store.exists("plan/plan.json")
    # the same plan as written is accepted and stored
    assert assemble_plan.fn(ctx, keyframes=plan.keyframes, **parts) == plan
    assert store.exists("plan/plan.json")
