"""The offline writer puts castles, fortresses and palaces in a castle set, in every language it reads."""

from __future__ import annotations

import pytest

from filmstitch.models import FilmRequest
from filmstitch.testing.plans import offline_plan


@pytest.mark.parametrize("idea", [
    "a knight afraid of the dark guards a castle of candles",
    "a princess is locked in a tall tower",
    "a dragon sleeps in a fortress",
    "a king loses his crown in the palace",
    "Un chevalier garde un château de bougies",
    "Ein Ritter bewacht eine alte Burg",
    "Ein Gespenst wohnt im Schloss",
    "Un caballero cuida un castillo",
    "騎士が城を守る",
])
def test_a_castle_in_the_idea_is_a_castle_set(idea: str) -> None:
    plan = offline_plan(FilmRequest(idea=idea))
    assert "castle" in {env.set for env in plan.environments}, [(e.name, e.set) for e in plan.environments]


def test_a_castle_location_has_the_castle_profile() -> None:
    plan = offline_plan(FilmRequest(idea="a knight afraid of the dark guards a castle of candles"))
    castle = next(env for env in plan.environments if env.set == "castle")
    assert "candles" in castle.props, "the idea's candles are in the castle"
    assert "battlements" in castle.description and castle.time_of_day == "dusk"
