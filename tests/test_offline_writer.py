"""The offline story engine: deterministic, seeded, label says what it is, odd ideas handled as data."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from filmstitch.models import FilmRequest
from filmstitch.writers.offline import LABEL, OfflineWriter, read_idea
from tests.support.plans import offline_plan as plan_for
from tests.test_models import IDEA


def test_reads_who_where_and_what() -> None:
    idea = read_idea(IDEA)
    assert (idea.hero_kind, idea.place, idea.goal) == ("stranded astronaut", "the moon", "nature")
    assert read_idea("A detective in a neon city searches for her lost cat").place == "the neon city"


def test_same_seed_same_plan_other_seed_other_plan() -> None:
    a = plan_for(FilmRequest(idea=IDEA, seed=1))
    assert a == plan_for(FilmRequest(idea=IDEA, seed=1))
    assert a != plan_for(FilmRequest(idea=IDEA, seed=2))


def test_script_has_the_requested_structure() -> None:
    for segments in (1, 3, 10, 30):
        plan = plan_for(FilmRequest(idea=IDEA, segments=segments))
        assert len(plan.script.segments) == segments
        assert plan.writer == LABEL and "no language model" in plan.writer
    plan = plan_for(FilmRequest(idea=IDEA))
    assert plan.script.segments[0].title == "Opening image" and plan.script.segments[-1].title == "Final image"
    assert any(s.dialogue for s in plan.script.segments)
    assert "moon" in plan.environments[0].name and "regolith" in plan.environments[0].materials
    assert "EVA suit" in plan.characters[0].description


def test_variety_across_ideas() -> None:
    forest = plan_for(FilmRequest(idea="a lost knight wanders into an enchanted forest and finds a dragon egg"))
    moon = plan_for(FilmRequest(idea=IDEA))
    assert forest.environments[0].palette != moon.environments[0].palette
    assert "armour" in forest.characters[0].description


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=300))
def test_any_accepted_idea_makes_a_valid_plan(idea: str) -> None:
    try:
        request = FilmRequest(idea=idea, segments=4)
    except ValidationError:
        return  # refused up front with a clear error: also fine
    plan = plan_for(request)
    assert len(plan.keyframes) == 5
