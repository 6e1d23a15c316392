"""The animatic renderer draws real, reproducible pictures and moving clips from a plan.

Everything runs at 256x160, 8 fps, 2 s clips (16 frames) so the module takes seconds.
"""

from __future__ import annotations

import io
import itertools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from filmstitch.models import FilmPlan, Keyframe, Placement, Staging, derive_seed
from filmstitch.renderers import get_renderer
from filmstitch.renderers._drawing import POSES, character_look, figure_sprite
from filmstitch.renderers.animatic import (
    AnimaticError,
    AnimaticRenderer,
    Motion,
    Track,
    _cue_schedule,
    _overlays,
    action_beats,
    draw_frame,
    keyframe_state,
    set_layers,
)
from filmstitch.renderers.base import RenderedImage
from filmstitch.video import decode_frames, probe
from tests.support.plans import handmade_plan

SEED = 7


def pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB")).astype(np.int16)


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def changed_fraction(a: np.ndarray, b: np.ndarray, level: int = 30) -> float:
    """Share of pixels whose colour changed by more than `level` in some channel."""
    return float((np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2) > level).mean())


def ref_seeds(subject_id: str) -> list[int]:
    return [derive_seed(SEED, "reference", subject_id, v) for v in range(3)]


def kf_seeds(index: int) -> list[int]:
    return [derive_seed(SEED, "keyframe", index, v) for v in range(3)]


class Film:
    """References, keyframes and clips of the hand-made plan, rendered once per module."""

    def __init__(self, plan: FilmPlan, renderer: AnimaticRenderer) -> None:
        self.plan, self.renderer = plan, renderer
        self.ref_pngs = {s.id: renderer.reference_variants(plan, s, ref_seeds(s.id)) for s in plan.subjects}
        self.refs = {sid: self.reference(sid, 0) for sid in self.ref_pngs}
        self.kf_pngs = [
            renderer.keyframe_variants(plan, k.index, self.present(k.index), kf_seeds(k.index)) for k in plan.keyframes
        ]
        # Pick a different variant per boundary, as a person might.
        self.chosen = [self.keyframe(k, k % 3) for k in range(len(plan.keyframes))]

    def reference(self, subject_id: str, variant: int) -> RenderedImage:
        return RenderedImage(
            variant=variant, seed=ref_seeds(subject_id)[variant], png=self.ref_pngs[subject_id][variant]
        )

    def keyframe(self, index: int, variant: int) -> RenderedImage:
        return RenderedImage(variant=variant, seed=kf_seeds(index)[variant], png=self.kf_pngs[index][variant])

    def present(self, index: int, refs: dict[str, RenderedImage] | None = None) -> dict[str, RenderedImage]:
        refs = refs or self.refs
        return {s.id: refs[s.id] for s in self.plan.subjects_at(index)}

    def clip(self, segment: int, tmp: Path, renderer: AnimaticRenderer | None = None) -> np.ndarray:
        mp4 = (renderer or self.renderer).clip(
            self.plan,
            segment,
            self.chosen[segment],
            self.chosen[segment + 1],
            self.refs,
            derive_seed(SEED, "clip", segment),
        )
        path = tmp / f"clip{segment}-{id(renderer)}.mp4"
        path.write_bytes(mp4)
        return decode_frames(path).astype(np.int16)


@pytest.fixture(scope="module")
def film() -> Film:
    return Film(handmade_plan(), AnimaticRenderer())


@pytest.fixture(scope="module")
def clip0(film: Film, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    tmp = tmp_path_factory.mktemp("clips")
    frames = film.clip(0, tmp)
    return tmp / f"clip0-{id(None)}.mp4", frames


# --------------------------------------------------------------------------- references


def test_get_renderer_gives_the_animatic_renderer() -> None:
    assert get_renderer("animatic").name == "animatic"


def test_references_are_full_size_pngs(film: Film) -> None:
    for pngs in film.ref_pngs.values():
        assert len(pngs) == 3
        for png in pngs:
            assert png.startswith(b"\x89PNG")
            assert pixels(png).shape == (160, 256, 3)


@pytest.mark.parametrize("subject_id", ["char_mira", "char_bolt", "env_lunar_garden"])
def test_reference_variants_really_differ(film: Film, subject_id: str) -> None:
    images = [pixels(png) for png in film.ref_pngs[subject_id]]
    for a, b in itertools.combinations(images, 2):
        assert changed_fraction(a, b) > 0.015, "variants should differ in shape or colour, not by noise"
        assert mean_abs_diff(a, b) > 1.5


def test_characters_look_different_from_each_other(film: Film) -> None:
    mira, bolt = (pixels(film.ref_pngs[sid][0]) for sid in ("char_mira", "char_bolt"))
    assert changed_fraction(mira, bolt) > 0.03


def test_same_seeds_reproduce_the_same_bytes(film: Film) -> None:
    fresh = AnimaticRenderer()
    for subject in film.plan.subjects:
        assert fresh.reference_variants(film.plan, subject, ref_seeds(subject.id)) == film.ref_pngs[subject.id]
    assert fresh.keyframe_variants(film.plan, 1, film.present(1), kf_seeds(1)) == film.kf_pngs[1]


def test_different_seeds_give_different_references(film: Film) -> None:
    subject = film.plan.subjects[-1]
    other = film.renderer.reference_variants(film.plan, subject, [s + 1 for s in ref_seeds(subject.id)])
    assert other != film.ref_pngs[subject.id]


# --------------------------------------------------------------------------- keyframes


def test_keyframe_variants_differ_in_framing_and_light(film: Film) -> None:
    for pngs in film.kf_pngs:
        images = [pixels(png) for png in pngs]
        assert all(image.shape == (160, 256, 3) for image in images)
        for a, b in itertools.combinations(images, 2):
            assert mean_abs_diff(a, b) > 5


def test_chosen_character_reference_changes_the_keyframe_where_the_character_is(film: Film) -> None:
    """Keyframe 1 with Mira's reference variant 1 vs 2: Mira changes, the sky above does not."""
    images = []
    for variant in (1, 2):
        refs = dict(film.refs, char_mira=film.reference("char_mira", variant))
        png = film.renderer.keyframe_variants(film.plan, 1, film.present(1, refs), kf_seeds(1)[:1])[0]
        images.append(pixels(png))
    a, b = images
    assert changed_fraction(a, b) > 0.005
    sky = slice(0, a.shape[0] // 4)
    assert np.array_equal(a[sky], b[sky]), "only the character should change, not the set"


def test_chosen_environment_reference_changes_the_set(film: Film) -> None:
    refs = dict(film.refs, env_lunar_garden=film.reference("env_lunar_garden", 2))
    png = film.renderer.keyframe_variants(film.plan, 0, film.present(0, refs), kf_seeds(0)[:1])[0]
    assert changed_fraction(pixels(png), pixels(film.kf_pngs[0][0])) > 0.1


def _single_figure_plan(plan: FilmPlan, shot: str, with_mira: bool) -> FilmPlan:
    placements = [Placement(character="Mira", x=0.5, pose="stand", facing="camera")] if with_mira else []
    first = Keyframe(
        index=0,
        prompt="Mira alone.",
        clip_summary="Mira alone",
        characters=[p.character for p in placements],
        staging=Staging(shot=shot, camera_x=0.5, placements=placements),  # type: ignore[arg-type]
    )
    return plan.model_copy(update={"keyframes": [first, *plan.keyframes[1:]]})


def _figure_rows(film: Film, shot: str) -> int:
    """How many rows the figure covers: pixels that change when Mira is added to the shot."""
    images = []
    for with_mira in (True, False):
        plan = _single_figure_plan(film.plan, shot, with_mira)
        present = {s.id: film.refs[s.id] for s in plan.subjects_at(0)}
        images.append(pixels(film.renderer.keyframe_variants(plan, 0, present, kf_seeds(0)[:1])[0]))
    rows = np.flatnonzero((np.abs(images[0] - images[1]).max(axis=2) > 30).any(axis=1))
    assert rows.size, f"no figure found in the {shot} shot"
    return int(rows[-1] - rows[0] + 1)


def test_shot_framing_changes_the_scale_of_figures(film: Film) -> None:
    wide, medium, close = (_figure_rows(film, shot) for shot in ("wide", "medium", "close"))
    assert wide < medium < close
    assert close > 1.8 * wide


def test_every_pose_draws_a_different_figure(film: Film) -> None:
    look = character_look(film.plan.characters[0], 0, 1)
    drawings = {}
    for pose, limbs in POSES.items():
        for facing in ("left", "right", "camera"):
            sprite, _, _ = figure_sprite(look, limbs, facing, 120)  # type: ignore[arg-type]
            drawings[(pose, facing)] = (sprite.size, sprite.tobytes())
    assert len(set(drawings.values())) == len(drawings)


def test_keyframes_render_the_same_from_several_threads(film: Film) -> None:
    def batch(index: int) -> list[bytes]:
        return film.renderer.keyframe_variants(film.plan, index, film.present(index), kf_seeds(index))

    indices = [0, 1, 2, 0, 1, 2]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(batch, indices))
    assert results == [film.kf_pngs[i] for i in indices]


# --------------------------------------------------------------------------- clips


def test_clip_has_the_requested_frames_size_and_rate(film: Film, clip0: tuple[Path, np.ndarray]) -> None:
    path, frames = clip0
    info = probe(path, count_frames=True)
    request = film.plan.request
    assert (info.width, info.height, info.frames, info.codec) == (256, 160, request.frames_per_clip, "h264")
    assert info.fps == pytest.approx(request.fps)
    assert frames.shape == (request.frames_per_clip, 160, 256, 3)


def test_clip_starts_and_ends_on_the_chosen_keyframes(film: Film, clip0: tuple[Path, np.ndarray]) -> None:
    _, frames = clip0
    assert mean_abs_diff(frames[0], pixels(film.chosen[0].png)) < 3
    assert mean_abs_diff(frames[-1], pixels(film.chosen[1].png)) < 3


def test_clip_moves_instead_of_cross_fading(film: Film, clip0: tuple[Path, np.ndarray]) -> None:
    _, frames = clip0
    first, last = pixels(film.chosen[0].png), pixels(film.chosen[1].png)
    middle = frames[len(frames) // 2]
    assert mean_abs_diff(middle, first) > 8
    assert mean_abs_diff(middle, last) > 8
    assert mean_abs_diff(middle, (first + last) / 2) > 8, "a cross-fade would look like the average"
    steps = [mean_abs_diff(frames[i], frames[i + 1]) for i in range(len(frames) - 1)]
    assert min(steps) > 0.5, "every frame should move"


def test_drawn_motion_meets_both_keyframes_exactly(film: Film) -> None:
    """The first and last drawn states are the keyframes themselves: no jump at clip ends."""
    plan, renderer = film.plan, film.renderer
    env = renderer._environment_look(plan, plan.environments[0], film.refs, "test")
    looks = renderer._character_looks(plan, ["Mira", "Bolt"], film.refs, "test")
    first, last = film.chosen[0], film.chosen[1]
    a = keyframe_state(plan, 0, first.variant, first.seed, looks, env)
    b = keyframe_state(plan, 1, last.variant, last.seed, looks, env)
    motion = Motion(a, b, plan, plan.request.seconds_per_segment, 5)
    layers = set_layers(env, 256, 160)
    overlays = _overlays(plan, 0, plan.request.frames_per_clip, (256, 160), subtitles=True, captions=True)
    for t, keyframe in ((0.0, first), (1.0, last)):
        drawn = draw_frame(layers, motion.state(t), (256, 160), overlays, t)
        assert np.array_equal(np.asarray(drawn), pixels(keyframe.png))


def test_characters_walk_and_enter_by_walking_in(film: Film) -> None:
    """Clip 0: Mira walks to her next mark swinging her legs; Bolt walks in from off-screen."""
    plan, renderer = film.plan, film.renderer
    env = renderer._environment_look(plan, plan.environments[0], film.refs, "test")
    looks = renderer._character_looks(plan, ["Mira", "Bolt"], film.refs, "test")
    a = keyframe_state(plan, 0, 0, 1, looks, env)
    b = keyframe_state(plan, 1, 0, 2, looks, env)
    motion = Motion(a, b, plan, 8.0, 5)
    times = np.linspace(0.0, 1.0, 97)
    states = [motion.state(float(t)) for t in times]
    mira = [next(x for x in s.actors if x.look.name == "Mira") for s in states]
    thighs = [actor.limbs.thigh1 for actor in mira[10:-10]]
    assert min(thighs) < -10 < 10 < max(thighs), "legs should swing back and forth"
    bolt = [next(x for x in s.actors if x.look.name == "Bolt") for s in states]
    xs = [actor.x for actor in bolt]
    assert xs == sorted(xs) or xs == sorted(xs, reverse=True), "an entrance is one steady walk"
    cam = states[1].camera
    screen_x = (bolt[1].x - cam.x) * cam.zoom + (256 / 160) / 2  # in frame heights
    assert not 0 <= screen_x <= 256 / 160, "Bolt starts off-screen"


def test_a_gesture_in_the_action_is_played_mid_clip(film: Film) -> None:
    """ "Mira kneels..." makes a Mira who stays on her mark kneel halfway, and stand up again."""
    plan = film.plan
    segment = plan.script.segments[0].model_copy(update={"action": "Mira kneels, then looks up at the sky."})
    plan = plan.model_copy(
        update={"script": plan.script.model_copy(update={"segments": [segment, *plan.script.segments[1:]]})}
    )
    beats = action_beats(plan, 0)
    assert beats == {"Mira": POSES["kneel"]}
    env = film.renderer._environment_look(plan, plan.environments[0], film.refs, "test")
    looks = film.renderer._character_looks(plan, ["Mira"], film.refs, "test")
    a = keyframe_state(plan, 2, 0, 1, looks, env)  # Mira alone, same mark at both ends
    motion = Motion(a, a, plan, 8.0, 5, beats)
    mira = [next(x for x in motion.state(t).actors if x.look.name == "Mira") for t in (0.0, 0.5, 1.0)]
    assert mira[1].limbs == POSES["kneel"]
    assert mira[0].limbs == mira[2].limbs == a.actors[0].limbs


@pytest.mark.parametrize("x1", [1.0, 1.6, 0.4])
def test_characters_turn_through_the_front_view(film: Film, x1: float) -> None:
    """Standing still or walking, a turn from right to left shows the front for a moment."""
    env = film.renderer._environment_look(film.plan, film.plan.environments[0], film.refs, "test")
    looks = film.renderer._character_looks(film.plan, ["Mira"], film.refs, "test")
    a = keyframe_state(film.plan, 0, 0, 1, looks, env)
    motion = Motion(a, a, film.plan, 8.0, 5)
    still = POSES["stand"]
    track = Track(looks["Mira"], 1.0, x1, still, still, "right", "left", 0.0, 0.0)
    facings = [motion.facing(track, t) for t in np.linspace(0.0, 1.0, 193)]
    assert (facings[0], facings[-1]) == ("right", "left")
    assert "camera" in facings
    assert all({a, b} != {"left", "right"} for a, b in itertools.pairwise(facings))


def test_clip_is_deterministic(film: Film, clip0: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    _, frames = clip0
    again = film.clip(0, tmp_path, AnimaticRenderer())
    assert np.array_equal(frames, again)


def test_subtitles_appear_mid_clip_only(film: Film, clip0: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    _, frames = clip0
    plain = film.clip(0, tmp_path, AnimaticRenderer(subtitles=False))
    first, last = pixels(film.chosen[0].png), pixels(film.chosen[1].png)
    for clip in (plain, frames):  # no caption on the end frames: they are the keyframes
        assert mean_abs_diff(clip[0], first) < 3 and mean_abs_diff(clip[-1], last) < 3
    middle = len(frames) // 2
    bottom, top = slice(110, 160), slice(0, 60)
    assert changed_fraction(plain[middle][bottom], frames[middle][bottom]) > 0.05, "a caption at the bottom"
    assert mean_abs_diff(plain[middle][top], frames[middle][top]) < 2.5, "the picture itself is the same"


def test_keyframes_carry_a_caption_of_their_segment(film: Film) -> None:
    plain = AnimaticRenderer(captions=False).keyframe_variants(film.plan, 1, film.present(1), kf_seeds(1)[:1])[0]
    captioned, bare = pixels(film.kf_pngs[1][0]), pixels(plain)
    corner, rest = (slice(0, 22), slice(0, 56)), (slice(40, 160), slice(None))
    assert changed_fraction(captioned[corner], bare[corner]) > 0.05, "a caption box in the top left corner"
    assert np.array_equal(captioned[rest], bare[rest])


@pytest.mark.parametrize("frames", [2, 3, 5, 10, 16, 192])
def test_subtitle_schedule_never_touches_the_end_frames(frames: int) -> None:
    schedule = _cue_schedule(["one", "two", "three"], frames)
    assert all(0 < start <= stop < frames - 1 for start, stop, _ in schedule)
    shown = [frame for start, stop, _ in schedule for frame in range(start, stop + 1)]
    assert len(shown) == len(set(shown)), "cues never overlap"
    if frames >= 10:
        assert [cue for *_, cue in schedule] == ["one", "two", "three"]


# --------------------------------------------------------------------------- bad input


def test_missing_character_reference_is_a_clear_error(film: Film) -> None:
    refs = film.present(1)
    del refs["char_bolt"]
    with pytest.raises(AnimaticError, match="keyframe 1: no reference image for character 'Bolt'"):
        film.renderer.keyframe_variants(film.plan, 1, refs, kf_seeds(1))
    with pytest.raises(AnimaticError, match="clip 0: no reference image for character 'Bolt'"):
        film.renderer.clip(film.plan, 0, film.chosen[0], film.chosen[1], refs, 1)


def test_missing_environment_reference_is_a_clear_error(film: Film) -> None:
    refs = film.present(0)
    del refs["env_lunar_garden"]
    with pytest.raises(AnimaticError, match="no reference image for location"):
        film.renderer.keyframe_variants(film.plan, 0, refs, kf_seeds(0))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda f: f.renderer.keyframe_variants(f.plan, 3, f.refs, [1]), "keyframe 3 does not exist"),
        (lambda f: f.renderer.keyframe_variants(f.plan, 0, f.present(0), []), "no seeds"),
        (lambda f: f.renderer.keyframe_variants(f.plan, 0, f.present(0), [-1]), "non-negative"),
        (lambda f: f.renderer.clip(f.plan, 2, f.chosen[0], f.chosen[1], f.refs, 1), "segment 2 does not exist"),
        (
            lambda f: f.renderer.clip(
                f.plan, 0, f.chosen[0].model_copy(update={"png": b"nope"}), f.chosen[1], f.refs, 1
            ),
            "first keyframe is not a readable image",
        ),
        (
            lambda f: f.renderer.clip(
                f.plan,
                0,
                f.chosen[0],
                f.refs["char_mira"].model_copy(update={"png": _png_of_size(128, 128)}),
                f.refs,
                1,
            ),
            "last keyframe is 128x128, the film is 256x160",
        ),
    ],
)
def test_bad_input_is_refused_before_drawing(film: Film, call, message: str) -> None:
    with pytest.raises(AnimaticError, match=message):
        call(film)


def test_unknown_subject_is_refused(film: Film) -> None:
    stranger = film.plan.subjects[0].model_copy(update={"id": "char_nobody"})
    with pytest.raises(AnimaticError, match="'char_nobody' is not in this plan"):
        film.renderer.reference_variants(film.plan, stranger, [1, 2, 3])


def _png_of_size(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()
