"""The default film, as a newcomer's first `filmstitch make` draws it: 10 clips of 8 s at 768x512, 24 fps.

* A frame-difference scan of every clip: no frame-to-frame change above a threshold and no
  single-frame pop (a frame that changes far more than the frames around it). The default idea's
  film, and three more at the same settings that draw what it does not: a snail and a train, two
  robots under an umbrella in the rain, a knight in armour with candles in a castle.
* An overlap scan of the motion of films from several ideas: characters keep their left-to-right
  order in every frame and their footprints never overlap.

Rendering the whole default film takes about 25 s on a 2-core machine (each of the others about as long).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pytest

from filmstitch.models import FilmPlan, FilmRequest, derive_seed
from filmstitch.renderers.animatic import AnimaticRenderer
from filmstitch.renderers.animatic.figures import figure_width
from filmstitch.renderers.animatic.motion import Motion, closest, holdings, keyframe_state, shelters
from filmstitch.renderers.base import RenderedImage
from filmstitch.testing.plans import offline_plan

DEFAULT_IDEA = "a stranded astronaut on the moon walks around and discovers nature"
SCANNED_IDEAS = [
    DEFAULT_IDEA,
    "a tiny snail races a high-speed train across the desert",
    "two robots share one umbrella in a city of rain",
    "a knight afraid of the dark guards a castle of candles",
]
#: A change of more than this share of pixels (by more than 40 levels) between two frames is a jump.
MAX_CHANGE = 0.15
#: A frame is a pop when it changes this many times more than the larger of its neighbours' changes.
POP_RATIO = 4.0
POP_FLOOR = 0.02


def chosen_references(plan: FilmPlan, renderer: AnimaticRenderer) -> dict[str, RenderedImage]:
    refs = {}
    for subject in plan.subjects:
        seeds = [derive_seed(plan.request.seed, "reference", subject.id, v) for v in range(2)]
        png = renderer.reference_variants(plan, subject, seeds)[1]
        refs[subject.id] = RenderedImage(variant=1, seed=seeds[1], png=png)
    return refs


def chosen_keyframes(plan: FilmPlan, renderer: AnimaticRenderer, refs: dict[str, RenderedImage]) -> list[RenderedImage]:
    keyframes = []
    for keyframe in plan.keyframes:
        variant = keyframe.index % 3  # as a person might pick
        seeds = [derive_seed(plan.request.seed, "keyframe", keyframe.index, v) for v in range(variant + 1)]
        present = {s.id: refs[s.id] for s in plan.subjects_at(keyframe.index)}
        png = renderer.keyframe_variants(plan, keyframe.index, present, seeds)[variant]
        keyframes.append(RenderedImage(variant=variant, seed=seeds[variant], png=png))
    return keyframes


def changed(a: np.ndarray, b: np.ndarray) -> float:
    """Share of pixels (of half-size frames) that differ by more than 40 levels in some channel."""
    return float((np.abs(a - b).max(axis=2) > 40).mean())


@dataclass
class Scan:
    """A film's frame-to-frame changes: `step[i]` between frames i and i + 1, `skip[i]` between i and i + 2."""

    step: list[float] = field(default_factory=list)
    skip: list[float] = field(default_factory=list)


def scan(frames: Iterable[np.ndarray]) -> Scan:
    out, before, previous = Scan(), None, None
    for frame in frames:
        small = frame[::2, ::2].astype(np.int16)
        if previous is not None:
            out.step.append(changed(small, previous))
        if before is not None:
            out.skip.append(changed(small, before))
        before, previous = previous, small
    return out


def pops(film: Scan) -> list[int]:
    """Frames that pop: frame p + 1 changes far more from frame p than the film does two frames either side
    (a jump), and frames p and p + 2 are alike while p + 1 differs from both (the frame is out of place, not
    on a path: a slow pan that moves its outlines on two frames of three is judder, not a pop)."""
    step, skip = film.step, film.skip
    return [
        i for i in range(2, len(step) - 2)
        if step[i] > POP_FLOOR and step[i] > POP_RATIO * max(step[i - 2], step[i + 2], 1e-4)
        and min(step[i], step[i + 1]) > POP_RATIO * skip[i]
    ]


@pytest.fixture(scope="module", params=SCANNED_IDEAS, ids=["default", "snail", "rain", "castle"])
def film_scan(request: pytest.FixtureRequest) -> Scan:
    """Every frame of a whole film at the default settings, scanned."""
    plan = offline_plan(FilmRequest(idea=request.param))
    renderer = AnimaticRenderer()
    refs = chosen_references(plan, renderer)
    keyframes = chosen_keyframes(plan, renderer, refs)

    def frames() -> Iterator[np.ndarray]:
        for segment in range(len(plan.script.segments)):
            seed = derive_seed(plan.request.seed, "clip", segment)
            yield from renderer.clip_frames(plan, segment, keyframes[segment], keyframes[segment + 1], refs, seed)

    film = scan(frames())
    assert len(film.step) == 10 * 192  # 10 x 192 + 1 frames: each boundary frame once
    return film


@pytest.fixture(scope="module")
def changes(film_scan: Scan) -> list[float]:
    return film_scan.step


def test_no_frame_of_the_default_film_jumps(changes: list[float]) -> None:
    worst = int(np.argmax(changes))
    assert changes[worst] < MAX_CHANGE, f"frames {worst}->{worst + 1} change {changes[worst]:.1%} of the picture"


def test_no_single_frame_pops_in_the_default_film(film_scan: Scan) -> None:
    found = pops(film_scan)
    assert not found, f"single-frame pops at frames {[(i, i + 1) for i in found][:8]}"


def test_the_pop_scan_finds_an_out_of_place_frame_and_passes_judder() -> None:
    """The scan on made-up frames: a bar moving right 1 px on two frames of three (judder) passes; the same
    film with one frame replaced by a frame shifted 40 px is caught, at that frame."""
    def bar_at(x: int) -> np.ndarray:
        frame = np.zeros((64, 128, 3), np.uint8)
        frame[:, 2 * x:2 * x + 24] = 255
        return frame

    positions = [x // 3 * 2 + min(x % 3, 2) for x in range(30)]  # 0 1 2 2 3 4 4 5 6 ...: moves, moves, rests
    positions = [p if i < 12 else positions[12] + (i - 12) // 3 * 2 + min((i - 12) % 3, 2)
                 for i, p in enumerate([0] * 12 + positions[12:])]  # still, then judder starts at frame 12
    assert not pops(scan(bar_at(x) for x in positions))
    popped = list(positions)
    popped[20] += 20
    assert pops(scan(bar_at(x) for x in popped)) == [19]


def test_the_film_moves_all_the_way_through(changes: list[float]) -> None:
    boundaries = {192 * k - 1 for k in range(1, 10)}  # a clip's last frame is the next clip's first
    still = [i for i, c in enumerate(changes) if c == 0.0 and i not in boundaries]
    assert len(still) < len(changes) * 0.05, f"{len(still)} frames identical to the one before: {still[:20]}"


OVERLAP_IDEAS = [
    DEFAULT_IDEA,
    ("Mira, a young diver, finds a glowing pearl in a sunken ship. Her grandfather Tomas and a talking octopus "
    "named Ink help her return it to the sea queen."),
    "a lighthouse keeper befriends a storm that speaks in colours",
    "A clockwork heron and a talking lantern guide a lost crow across the salt flats to find its flock",
    "Three friends, Ana, Ben and Chloe, build a raft with a grumpy dog called Biscuit and sail to an island",
    "two robots share one umbrella in a city of rain",  # huddled under the umbrella, never through each other
]


@pytest.mark.parametrize("idea", OVERLAP_IDEAS)
def test_characters_never_pass_through_each_other(idea: str) -> None:
    """Every frame of every clip: the same left-to-right order as at the keyframes, footprints apart (or, beside
    an open umbrella, huddled under it: `motion.closest`)."""
    from filmstitch.renderers.animatic.looks import character_look, environment_look

    plan = offline_plan(FilmRequest(idea=idea))
    looks = {c.name: character_look(c, 0, 1) for c in plan.characters}
    held = holdings(plan)
    frames = plan.request.frames_per_clip
    for segment in range(len(plan.script.segments)):
        env_a = environment_look(plan.keyframe_environment(segment), 0, 1)
        env_b = environment_look(plan.keyframe_environment(segment + 1), 0, 1)
        a = keyframe_state(plan, segment, 0, 11, looks, env_a, held[segment])
        b = keyframe_state(plan, segment + 1, 0, 12, looks, env_b, held[segment + 1])
        motion = Motion(a, b, plan, segment, plan.request.seconds_per_segment, 5, moves=env_a != env_b)
        for k in range(frames):
            actors = [x for x in motion.state(k / (frames - 1)).actors if x.alpha > 0.5]
            by_x = sorted(actors, key=lambda x: x.x)
            names = [x.look.name for x in by_x]
            order = [c.name for c in plan.characters if c.name in names]
            assert names == order, f"segment {segment} frame {k}: order {names}, expected {order}"
            for left, right in itertools.pairwise(by_x):
                least = closest(figure_width(left.look), figure_width(right.look),
                                shelters(left.prop) or shelters(right.prop))
                assert right.x - left.x > least - 0.03, \
                    f"segment {segment} frame {k}: {left.look.name} and {right.look.name} overlap"
