"""Weather over a set, and the castle set, at the default frame size (768x512).

* Rain falls where a location's ambience has rain or a storm: streaks that move down from frame to
  frame; rain alone changes less of a frame than the film scan (test_animatic_film.py) calls a pop.
* A storm flashes now and then, brightening over several frames and fading (no frame jumps).
* A snow set has falling snow; rooms and caves stay dry whatever their ambience says.
* The castle: walls, towers and a gate on its horizon; candles where its props name them, lit after dark.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from filmstitch.models import Environment
from filmstitch.renderers.animatic.looks import environment_look
from filmstitch.renderers.animatic.motion import Camera, FrameState
from filmstitch.renderers.animatic.renderer import compose
from filmstitch.renderers.animatic.scenery import set_layers
from filmstitch.renderers.animatic.weather import FLASH_GAIN, draw_weather, flash

SIZE = (768, 512)
FRAME_S = 1 / 24
#: The film scan's pop floor: a frame-to-frame change of a smaller share of pixels is never a pop.
POP_FLOOR = 0.02


def place(set_kind: str = "city", ambience: tuple[str, ...] = ("city",), time: str = "dusk",
          props: tuple[str, ...] = ()) -> Environment:
    return Environment(id="here", name="the place", description="A place.", lighting="dusk", materials="stone",
                       atmosphere="quiet", palette=["#2A2F5A", "#6A5A8F", "#3B3B45", "#FF4FA3", "#36D6E7"],
                       set=set_kind, time_of_day=time, ambience=list(ambience), props=list(props))  # type: ignore[arg-type]


def frame(env: Environment, clock: float) -> np.ndarray:
    look = environment_look(env, 0, 1)
    layers = set_layers(look, *SIZE)
    state = FrameState(Camera(layers.span / 2, 0.5, 1.0), look.light, (), clock=clock)
    return np.asarray(compose(layers, state, SIZE)).astype(np.int16)


def scan_change(a: np.ndarray, b: np.ndarray) -> float:
    """The film scan's measure: share of pixels (every second row and column) changed by more than 40 levels."""
    return float((np.abs(a[::2, ::2] - b[::2, ::2]).max(axis=2) > 40).mean())


def test_the_ambience_says_what_falls_where_there_is_sky() -> None:
    assert environment_look(place(ambience=("city", "rain")), 0, 1).weather == "rain"
    assert environment_look(place(ambience=("city", "storm", "rain")), 0, 1).weather == "storm"
    assert environment_look(place(ambience=("city",)), 0, 1).weather == "none"
    assert environment_look(place("snow", ("wind",)), 0, 1).weather == "snow"
    for indoors in ("interior", "bakery", "cave", "underwater"):
        assert environment_look(place(indoors, ("room", "rain")), 0, 1).weather == "none", indoors


def test_rain_frames_differ_from_the_same_place_without_rain() -> None:
    dry, wet = frame(place(), 3.0), frame(place(ambience=("city", "rain")), 3.0)
    assert float((np.abs(dry - wet).max(axis=2) > 20).mean()) > 0.01


@pytest.mark.parametrize("kind", ["rain", "storm", "snow"])
def test_the_fall_moves_between_frames_without_a_pop(kind: str) -> None:
    """Two seconds of an empty set: every frame differs from the one before (the fall moves), by less than
    the scan's pop floor; without weather the same frames are identical."""
    env = place("snow", ("wind",), "day") if kind == "snow" else place(ambience=("city", kind))
    still = place("plains", ("wind",), "day") if kind == "snow" else place()
    frames = [frame(env, 5.0 + k * FRAME_S) for k in range(48)]
    changes = [scan_change(a, b) for a, b in itertools.pairwise(frames)]
    assert min(changes) > 0.0005, f"the {kind} does not move"
    assert max(changes) < POP_FLOOR, f"{kind} alone changes {max(changes):.1%} of a frame"
    assert np.array_equal(frame(still, 5.0), frame(still, 5.0 + FRAME_S))


def test_rain_falls_down() -> None:
    """The streaks' rows move down from one frame to the next (the best match of row profiles is a shift down)."""
    def rows(clock: float) -> np.ndarray:
        canvas = Image.new("RGB", SIZE)
        draw_weather(canvas, "rain", 7, clock, "far")
        return np.asarray(canvas)[..., 0].astype(float).sum(axis=1)

    a, b = rows(2.0), rows(2.0 + FRAME_S)
    shifts = range(-40, 41)
    score = [float(np.dot(a[max(0, -s):len(a) - max(0, s)], b[max(0, s):len(b) - max(0, -s)])) for s in shifts]
    best = shifts[int(np.argmax(score))]
    assert 10 <= best <= 40, f"streaks moved {best} px"


def test_a_storm_flashes_over_several_frames_and_fades() -> None:
    gains = [flash("storm", 7, k * FRAME_S) for k in range(24 * 20)]
    assert max(gains) > 0.9 * FLASH_GAIN, "twenty seconds of storm without a flash"
    steps = np.abs(np.diff(gains))
    assert steps.max() < 0.08, "a flash brightens in one frame"
    lit = [g > 0.05 for g in gains]
    runs = [len(r) for r in "".join("x" if x else " " for x in lit).split()]
    assert min(runs) >= 6, f"a flash lasts only {min(runs)} frames"
    assert not any(flash("rain", 7, k * FRAME_S) for k in range(240)), "only storms flash"


def test_a_storm_flash_is_no_pop() -> None:
    env = place(ambience=("city", "storm"))
    peak = max(range(24 * 14), key=lambda k: flash("storm", environment_look(env, 0, 1).layout_seed, k * FRAME_S))
    frames = [frame(env, (peak + k) * FRAME_S) for k in range(-6, 7)]
    assert max(scan_change(a, b) for a, b in itertools.pairwise(frames)) < POP_FLOOR


def test_the_castle_has_walls_towers_and_a_gate_on_its_horizon() -> None:
    castle, plains = (frame(place(kind, ("wind",), "day"), 0.0) for kind in ("castle", "plains"))
    look = environment_look(place("castle", ("wind",), "day"), 0, 1)
    band = slice(round((look.horizon - 0.32) * SIZE[1]), round(look.horizon * SIZE[1]))
    assert float((np.abs(castle[band] - plains[band]).max(axis=2) > 30).mean()) > 0.3, "no walls above the ground"


def test_candles_stand_where_the_props_name_them_and_burn_after_dark() -> None:
    def warm(image: np.ndarray) -> int:  # candle flames: bright yellow-orange (under the night's blue light)
        r, g, b = image[..., 0], image[..., 1], image[..., 2]
        return int(((r > 200) & (g > 150) & (b < 130)).sum())

    bare = frame(place("castle", ("wind",), "night"), 0.0)
    day, night = (frame(place("castle", ("wind",), time, ("candles",)), 0.0) for time in ("day", "night"))
    assert float((np.abs(night - bare).max(axis=2) > 30).mean()) > 0.002, "no candles drawn"
    assert warm(night) > warm(day) + 50, "candles are not lit at night"


def test_a_swimmer_on_a_shore_or_a_deck_is_out_at_sea_above_the_water_line() -> None:
    """A whale beside a violinist on a beach or a deck is drawn out in the strip of sea, only what is above the
    water line showing; on a meadow (no sea) it keeps its place on the ground, and a person stays on the deck."""
    from filmstitch.models import FilmRequest
    from filmstitch.renderers.animatic.figures import POSES
    from filmstitch.renderers.animatic.looks import character_look
    from filmstitch.renderers.animatic.motion import Actor
    from filmstitch.renderers.animatic.scenery import FEET_V
    from filmstitch.testing.plans import offline_plan

    plan = offline_plan(FilmRequest(idea="an old violinist plays for the whales"))
    whale = character_look(next(c for c in plan.characters if c.species == "whale"), 0, 1)
    person = character_look(next(c for c in plan.characters if c.kind == "person"), 0, 1)

    def drawn_rows(env: Environment, look) -> tuple[np.ndarray, float | None]:
        looked = environment_look(env, 0, 1)
        layers = set_layers(looked, *SIZE)
        camera = Camera(layers.span / 2, 0.5, 1.0)
        empty = FrameState(camera, looked.light, (), clock=0.0)
        full = FrameState(camera, looked.light, (Actor(look, layers.span / 2, POSES["stand"], 0.0),), clock=0.0)
        changed = np.abs(np.asarray(compose(layers, full, SIZE)).astype(np.int16)
                         - np.asarray(compose(layers, empty, SIZE)).astype(np.int16)).max(axis=2) > 12
        return np.flatnonzero(changed.any(axis=1)), layers.sea_line

    def row(v: float) -> float:
        return (v - 0.5 + 0.5) * SIZE[1]  # the camera at v = 0.5, zoom 1

    for set_kind in ("ship", "coast"):
        rows, sea_line = drawn_rows(place(set_kind, ("surf",), "day"), whale)
        assert sea_line is not None and rows.size, set_kind
        assert rows.max() <= row(sea_line) + 1, f"{set_kind}: the whale shows below the water line"
        person_rows, _ = drawn_rows(place(set_kind, ("surf",), "day"), person)
        assert person_rows.max() >= row(FEET_V) - 3, f"{set_kind}: the person left the deck"
    rows, sea_line = drawn_rows(place("plains", ("wind",), "day"), whale)
    assert sea_line is None and rows.max() > row(FEET_V) - 0.3 * SIZE[1] * whale.height
