"""What the animatic draws for what a plan names: body plans beyond the kinds, garments, props in hand.

* Body plans: a snail, insects (a butterfly with wings, an ant without) and a train each have their own
  silhouette (unlike every kind's and each other's), turn through many drawings and wear their palette.
* Garments: the words of a person's short appearance ("steel armour, violet tabard, jade cloak") are drawn.
* Props: each prop word a writer uses draws its own shape, moves with the hand, and a few are held with
  the whole body (an umbrella over the head, a violin under the chin while it is played).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from filmstitch.models import ActionBeat, Character, FilmRequest
from filmstitch.renderers.animatic.figures import GESTURES, POSES, PROP_GESTURES, STEEL, figure_sprite, grip, skeleton
from filmstitch.renderers.animatic.looks import character_look, environment_look, hex_rgb, worn
from filmstitch.renderers.animatic.motion import Motion, keyframe_state
from filmstitch.renderers.animatic.props import CANOPY_R, playing, prop_shape
from filmstitch.testing.plans import handmade_plan, kind_plan

HEIGHT = 160  # sprite height in px: a figure in a medium shot of the default 768x512 film


def being(name: str, kind: str, species: str, palette: list[str]) -> Character:
    return Character(name=name, role=species, kind=kind, species=species, description=f"{name}, a {species}.",
                     palette=palette)  # type: ignore[arg-type]


NEW_PLANS = {
    "snail": being("Shelly", "animal", "snail", ["#6FB6E8", "#B3223B"]),
    "butterfly": being("Flit", "animal", "butterfly", ["#2A2F5A", "#E8743B", "#F2C230"]),
    "ant": being("Tiny", "animal", "ant", ["#5A2A1A", "#2A1A12"]),
    "train": being("Express", "object", "high-speed train", ["#6FB6E8", "#7A5232"]),
}


def silhouette(look, facing: float = 1.0) -> np.ndarray:
    sprite, _, _ = figure_sprite(look, POSES["stand"], facing, 120)
    alpha = np.asarray(sprite.getchannel("A")) > 128
    ys, xs = np.nonzero(alpha)
    crop = alpha[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    return np.asarray(Image.fromarray(crop.astype(np.uint8) * 255).resize((48, 48))) > 128


def all_looks() -> dict[str, object]:
    looks = {c.kind: character_look(c, 0, 1) for c in kind_plan().characters}
    looks.update({name: character_look(c, 0, 1) for name, c in NEW_PLANS.items()})
    return looks


# --------------------------------------------------------------------------- body plans


def test_species_map_to_their_own_body_plans() -> None:
    plans = {name: character_look(c, 0, 1).plan for name, c in NEW_PLANS.items()}
    assert plans == {"snail": "snail", "butterfly": "insect", "ant": "insect", "train": "train"}
    assert character_look(being("Buzz", "animal", "bee", ["#F2C230", "#2A2119"]), 0, 1).plan == "insect"


@pytest.mark.parametrize("name", sorted(NEW_PLANS))
def test_each_new_body_plan_has_its_own_silhouette(name: str) -> None:
    """The snail is no four-legged animal, the train no box with a face: outlines differ from every other."""
    looks = all_looks()
    mine = silhouette(looks[name])
    assert mine.mean() > 0.08, f"{name} draws almost nothing"
    for other, look in looks.items():
        if other == name:
            continue
        iou = (mine & silhouette(look)).sum() / (mine | silhouette(look)).sum()
        assert iou < 0.8, f"{name} and {other} have nearly the same silhouette (IoU {iou:.2f})"


@pytest.mark.parametrize("name", sorted(NEW_PLANS))
def test_each_new_body_plan_turns_through_many_in_between_drawings(name: str) -> None:
    look = character_look(NEW_PLANS[name], 0, 1)
    drawings = [figure_sprite(look, POSES["stand"], f, 120)[0] for f in np.linspace(-1, 1, 9)]
    assert len({d.tobytes() for d in drawings}) >= 7


@pytest.mark.parametrize("name", sorted(NEW_PLANS))
def test_a_turn_redraws_each_new_body_without_a_jump(name: str) -> None:
    """A turn from profile to profile in 200 small steps: no step changes the figure much more than the steps
    two either side of it (the film scan's test for a pop, on the figure alone), so nothing snaps from one
    view to the other. (Of the kinds, the robot's eyes and the bird's wings still snap at about 0.5.)"""
    look = character_look(NEW_PLANS[name], 0, 1)
    width = round(2 * 1.5 * HEIGHT) + 8

    def drawn(facing: float) -> np.ndarray:
        sprite, ax, ay = figure_sprite(look, POSES["stand"], facing, HEIGHT)
        canvas = Image.new("RGBA", (width, 2 * HEIGHT), (0, 0, 0, 0))
        canvas.paste(sprite, (width // 2 - ax, int(1.8 * HEIGHT) - ay), sprite)
        return np.asarray(canvas).astype(np.int16)

    frames = [drawn(f) for f in np.linspace(1.0, -1.0, 201)]
    steps = [float((np.abs(a - b).max(axis=2) > 40).sum() / max(1, (a[..., 3] > 128).sum()))
             for a, b in itertools.pairwise(frames)]
    pops = [i for i in range(2, len(steps) - 2) if steps[i] > 3 * max(steps[i - 2], steps[i + 2], 0.01)]
    assert not pops, f"the {name} jumps at facings {[round(1 - i / 100, 2) for i in pops]}"


@pytest.mark.parametrize("name", sorted(NEW_PLANS))
def test_each_new_body_plan_wears_its_palette(name: str) -> None:
    character = NEW_PLANS[name]
    sprite, _, _ = figure_sprite(character_look(character, 0, 1), POSES["stand"], 1.0, HEIGHT)
    pixels = np.asarray(sprite.convert("RGB")).astype(int)
    opaque = np.asarray(sprite.getchannel("A")) > 250
    for colour in character.palette[:2]:
        near = (np.abs(pixels - np.array(hex_rgb(colour))).max(axis=2) <= 3) & opaque
        assert near.sum() > 40, f"{name} does not wear {colour}"


def test_winged_insects_fly_and_beat_their_wings() -> None:
    butterfly, ant = (character_look(NEW_PLANS[n], 0, 1) for n in ("butterfly", "ant"))
    assert butterfly.floats > 0.2 and ant.floats == 0.0
    beats = {figure_sprite(butterfly, POSES["stand"], 1.0, 120, clock=t)[0].tobytes() for t in np.linspace(0, 1, 6)}
    assert len(beats) >= 5, "the wings move from moment to moment"


def test_a_snail_crawls_and_a_train_rolls_when_they_walk() -> None:
    for name in ("snail", "train"):
        look = character_look(NEW_PLANS[name], 0, 1)
        a, b = (figure_sprite(look, limbs, 1.0, 120)[0].tobytes() for limbs in (POSES["stand"], POSES["walk"]))
        assert a != b, f"the {name} looks the same standing and walking"


# --------------------------------------------------------------------------- garments


def test_the_appearance_names_what_is_worn() -> None:
    assert worn("steel armour, violet tabard, jade cloak") == ({"armour", "tabard", "cloak"}, None)
    assert worn("white apron over a red dress, blue headscarf") == ({"apron"}, ("headscarf", False))
    assert worn("a long black dress, a pointed hat") == (set(), ("pointed_hat", True))
    assert worn("a woman, ochre hooded jacket, rust trousers") == (set(), None)


def _knight(appearance: str) -> Character:
    return Character(name="Tess", role="knight", kind="person", description="Tess, a knight.", appearance=appearance,
                     palette=["#7A3FB0", "#3AA37A"], skin="#C9966C", hair="#D9B96A")


def _bands(sprite: Image.Image, ay: int, bones, height: int) -> dict[str, slice]:
    """Rows of the sprite: the head (down to the chin; pauldrons rise beside the neck) and the torso (neck to
    hips)."""
    def row(y: float) -> int:
        return round(ay + (y - bones.ground) * height)

    return {"head": slice(0, row(bones.head[1] + bones.head_r * 0.6)), "torso": slice(row(bones.neck[1]) + 2, row(0.0))}


def test_an_armoured_knight_differs_from_an_unarmoured_one_in_the_body_not_the_head() -> None:
    """Same knight, same pose: "steel armour, violet tabard" changes the torso (steel and a violet tabard),
    the head (the role's helm) stays the same."""
    plain, armoured = (character_look(_knight(a), 0, 1) for a in ("violet jacket", "steel armour, violet tabard"))
    assert armoured.garments == {"armour", "tabard"} and plain.garments == frozenset()
    assert plain.headwear == armoured.headwear == "helmet_knight"
    drawn = [figure_sprite(look, POSES["stand"], 0.0, 200) for look in (plain, armoured)]
    (a, ax, ay), (b, bx, by) = drawn
    assert (a.size, ax, ay) == (b.size, bx, by)
    bones = skeleton(plain, POSES["stand"], 0.0)
    bands = _bands(a, ay, bones, 200)
    pa, pb = (np.asarray(im.convert("RGB")).astype(int) for im in (a, b))
    changed = np.abs(pa - pb).max(axis=2) > 30
    assert changed[bands["head"]].mean() < 0.01, "the head should not change"
    assert changed[bands["torso"]].mean() > 0.08, "the torso should be armoured"
    torso = pb[bands["torso"]]
    steel = (np.abs(torso - np.array(STEEL)).max(axis=2) <= 12).sum()
    tabard = (np.abs(torso - np.array(hex_rgb("#7A3FB0"))).max(axis=2) <= 3).sum()
    assert steel > 300 and tabard > 300, f"steel {steel} px, tabard {tabard} px"


def test_a_cloak_widens_the_figure_behind_it() -> None:
    plain, cloaked = (character_look(_knight(a), 0, 1) for a in ("steel armour", "steel armour, jade cloak"))
    width = [int((np.asarray(figure_sprite(look, POSES["stand"], 1.0, 200)[0].getchannel("A")) > 128).any(axis=0)
                 .sum()) for look in (plain, cloaked)]
    assert width[1] > width[0] + 10, f"widths {width}"


# --------------------------------------------------------------------------- props in hand

PROP_WORDS = ["umbrella", "violin", "sword", "shield", "candle", "candles", "lantern", "letter", "fishing rod",
              "paintbrush", "loaf"]


def _person():
    return character_look(handmade_plan().characters[0], 0, 1)


def _on_canvas(look, limbs, facing: float, prop: str | None, height: int = HEIGHT) -> np.ndarray:
    """The figure on a fixed canvas (anchors aligned), so drawings with different props compare."""
    sprite, ax, ay = figure_sprite(look, limbs, facing, height, clock=0.5, prop=prop)
    canvas = Image.new("RGBA", (4 * height, 3 * height), (0, 0, 0, 0))
    canvas.paste(sprite, (2 * height - ax, round(2.5 * height) - ay), sprite)
    return np.asarray(canvas).astype(int)


def test_every_prop_word_has_its_own_drawing() -> None:
    shapes = {word: prop_shape(word) for word in PROP_WORDS}
    assert "orb" not in shapes.values(), shapes
    assert len(set(shapes.values())) == len(PROP_WORDS)
    assert prop_shape("a red umbrella") == "umbrella" and prop_shape("two swords") == "sword"


@pytest.mark.parametrize("pose", ["stand", "reach"])
def test_each_prop_draws_its_own_shape_not_the_fallback_orb(pose: str) -> None:
    look = _person()
    limbs = POSES[pose]
    orb = _on_canvas(look, limbs, 1.0, "pearl")
    drawn = {word: _on_canvas(look, limbs, 1.0, word) for word in PROP_WORDS}
    for word, image in drawn.items():
        differs = (np.abs(image - orb).max(axis=2) > 40).sum()
        assert differs > 150, f"{word} looks like the orb ({differs} px differ)"
    for (a, x), (b, y) in itertools.combinations(drawn.items(), 2):
        assert (np.abs(x - y).max(axis=2) > 40).sum() > 80, f"{a} and {b} look the same"


def _prop_centre(look, limbs, prop: str) -> np.ndarray:
    """Where the prop is: the centre of the pixels the prop adds to the figure (canvas px)."""
    with_prop, without = _on_canvas(look, limbs, 1.0, prop), _on_canvas(look, limbs, 1.0, None)
    ys, xs = np.nonzero(np.abs(with_prop - without).max(axis=2) > 40)
    assert ys.size > 30, f"{prop} draws nothing"
    return np.array([xs.mean(), ys.mean()])


def _hand(look, limbs) -> np.ndarray:
    bones = skeleton(look, limbs, 1.0)
    hx, hy = grip(bones).hand
    return np.array([2 * HEIGHT + hx * HEIGHT, 2.5 * HEIGHT + (hy - bones.ground) * HEIGHT])


@pytest.mark.parametrize("prop", ["lantern", "sword", "candle", "letter", "loaf", "shield"])
def test_a_held_prop_moves_with_the_hand(prop: str) -> None:
    look = _person()
    poses = [POSES["stand"], POSES["reach"], GESTURES["hold_up"]]
    centres = [_prop_centre(look, limbs, prop) for limbs in poses]
    hands = [_hand(look, limbs) for limbs in poses]
    for centre, hand in zip(centres, hands):
        assert np.linalg.norm(centre - hand) < 0.3 * HEIGHT, f"{prop} is far from the hand"
    moved = np.linalg.norm(centres[0] - centres[2])
    hand_moved = np.linalg.norm(hands[0] - hands[2])
    assert moved > 0.5 * hand_moved, f"{prop} moved {moved:.0f} px, the hand {hand_moved:.0f} px"


def test_an_umbrella_opens_over_the_head_wide_enough_for_two() -> None:
    """Two figures side by side (footprints touching) fit under the canopy: it is at least as wide as both."""
    from filmstitch.renderers.animatic.figures import figure_width

    look = _person()
    image = _on_canvas(look, POSES["stand"], 1.0, "umbrella")
    bones = skeleton(look, POSES["stand"], 1.0)
    head_top = round(2.5 * HEIGHT + (bones.head[1] - bones.head_r - bones.ground) * HEIGHT)
    above = image[:head_top, :, 3] > 128
    assert above.any(), "nothing over the head"
    columns = np.flatnonzero(above.any(axis=0))
    two_side_by_side = 4 * figure_width(look) / look.height  # in figure heights
    assert (columns[-1] - columns[0]) / HEIGHT >= two_side_by_side, "too narrow for two"
    assert 2 * CANOPY_R >= two_side_by_side


def test_the_one_under_anothers_umbrella_stands_beneath_it() -> None:
    """Two robots who share one umbrella: at every keyframe where one holds it, and halfway through a clip that
    starts and ends so, the other's centre is under the open canopy (within its half width of the holder);
    where nobody holds it they keep their usual spacing."""
    from filmstitch.renderers.animatic.motion import holdings, shelter
    from filmstitch.testing.plans import offline_plan

    plan = offline_plan(FilmRequest(idea="two robots share one umbrella in a city of rain"))
    looks = {c.name: character_look(c, 0, 1) for c in plan.characters}
    places = {e.id: e for e in plan.environments}
    segments = plan.script.segments
    held = holdings(plan)
    def under(actors: tuple) -> bool | None:
        holder = next((a for a in actors if a.prop and prop_shape(a.prop) == "umbrella"), None)
        if holder is None or len(actors) < 2:
            return None
        other = min((a for a in actors if a is not holder), key=lambda a: abs(a.x - holder.x))
        return abs(other.x - holder.x) < CANOPY_R * holder.look.height

    states = [keyframe_state(plan, k, 0, 1, looks, environment_look(
        places[segments[min(k, len(segments) - 1)].location], 0, 1)) for k in range(len(plan.keyframes))]
    sheltered = [k for k, state in enumerate(states) if under(state.actors) is not None]
    assert len(sheltered) >= 2, held
    assert all(under(states[k].actors) for k in sheltered)
    for k in (k for k in sheltered if k + 1 in sheltered and k < len(segments)):
        halfway = Motion(states[k], states[k + 1], plan, k, 8.0, 5).state(0.5).actors
        assert under(halfway), k
    assert shelter([0.0, 1.0], [0.1, 0.1], [None, None]) == [0.0, 1.0]  # no umbrella: no change
    assert shelter([0.0, 1.0, 2.0], [0.1, 0.1, 0.1], [None, None, "red umbrella"]) == pytest.approx([0.0, 1.415, 1.585])


def test_holding_up_a_violin_plays_it_under_the_chin() -> None:
    """A beat "hold up the violin" plays it: the playing pose, the violin at the chin, the bow arm sawing."""
    plan = handmade_plan()
    segment = plan.script.segments[0].model_copy(
        update={"beats": [ActionBeat(character="Mira", gesture="hold_up", at=0.5, prop="violin")]})
    plan = plan.model_copy(update={"script": plan.script.model_copy(
        update={"segments": [segment, *plan.script.segments[1:]]})})
    env = environment_look(plan.environments[0], 0, 1)
    looks = {c.name: character_look(c, 0, 1) for c in plan.characters}
    a = keyframe_state(plan, 2, 0, 1, looks, env)
    motion = Motion(a, a, plan, 0, 8.0, 5)
    mira = [next(x for x in motion.state(t).actors if x.look.name == "Mira") for t in (0.2, 0.6, 0.95)]
    play = PROP_GESTURES["violin"]["hold_up"]
    assert mira[1].limbs == play and mira[1].prop == "violin"
    assert [playing(grip(skeleton(x.look, x.limbs, x.facing))) for x in mira[1:]] == [1.0, 0.0]
    sawing = {figure_sprite(looks["Mira"], play, 1.0, 120, clock=t, prop="violin")[0].tobytes()
              for t in np.linspace(0, 1, 5)}
    assert len(sawing) >= 4, "the bow moves while the violin is played"
    resting = {figure_sprite(looks["Mira"], POSES["stand"], 1.0, 120, clock=t, prop="violin")[0].tobytes()
               for t in np.linspace(0, 1, 5)}
    assert len(resting) == 1, "a violin in a hanging hand is still"
