"""The animatic renderer draws real, reproducible pictures and moving clips from a plan's structured data.

Most tests run the hand-made plan at 256x160, 8 fps, 2 s clips (16 frames) so the module takes
seconds; the whole default film is scanned in tests/unit/test_animatic_film.py.
"""

from __future__ import annotations

import io
import itertools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from filmstitch.models import ActionBeat, FilmPlan, Keyframe, Placement, Staging, derive_seed
from filmstitch.renderers import get_renderer
from filmstitch.renderers.animatic import AnimaticError, AnimaticRenderer
from filmstitch.renderers.animatic.figures import POSES, figure_sprite, skeleton
from filmstitch.renderers.animatic.looks import character_look, environment_look, hex_rgb
from filmstitch.renderers.animatic.motion import Motion, keyframe_state
from filmstitch.renderers.animatic.renderer import chip_opacity, draw_frame
from filmstitch.renderers.animatic.scenery import set_layers
from filmstitch.renderers.base import RenderedImage
from filmstitch.testing.plans import handmade_plan, kind_plan
from filmstitch.video import decode_frames, probe

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
    """References, keyframes and clips of a plan, rendered once per module."""

    def __init__(self, plan: FilmPlan, renderer: AnimaticRenderer) -> None:
        self.plan, self.renderer = plan, renderer
        self.ref_pngs = {s.id: renderer.reference_variants(plan, s, ref_seeds(s.id)) for s in plan.subjects}
        self.refs = {sid: self.reference(sid, 0) for sid in self.ref_pngs}
        self.kf_pngs = [
            renderer.keyframe_variants(plan, k.index, self.present(k.index), kf_seeds(k.index)) for k in plan.keyframes
        ]
        self.chosen = [self.keyframe(k, k % 3) for k in range(len(plan.keyframes))]

    def reference(self, subject_id: str, variant: int) -> RenderedImage:
        return RenderedImage(variant=variant, seed=ref_seeds(subject_id)[variant],
                             png=self.ref_pngs[subject_id][variant])

    def keyframe(self, index: int, variant: int) -> RenderedImage:
        return RenderedImage(variant=variant, seed=kf_seeds(index)[variant], png=self.kf_pngs[index][variant])

    def present(self, index: int, refs: dict[str, RenderedImage] | None = None) -> dict[str, RenderedImage]:
        refs = refs or self.refs
        return {s.id: refs[s.id] for s in self.plan.subjects_at(index)}

    def clip(self, segment: int, tmp: Path, renderer: AnimaticRenderer | None = None) -> np.ndarray:
        mp4 = (renderer or self.renderer).clip(self.plan, segment, self.chosen[segment], self.chosen[segment + 1],
                                               self.refs, derive_seed(SEED, "clip", segment))
        path = tmp / f"clip{segment}-{id(renderer)}.mp4"
        path.write_bytes(mp4)
        return decode_frames(path).astype(np.int16)

    def frames(self, segment: int, renderer: AnimaticRenderer | None = None) -> list[np.ndarray]:
        """The drawn frames of a clip, before encoding (exact pixels)."""
        return [f.astype(np.int16) for f in (renderer or self.renderer).clip_frames(
            self.plan, segment, self.chosen[segment], self.chosen[segment + 1], self.refs,
            derive_seed(SEED, "clip", segment))]


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
        assert changed_fraction(a, b) > 0.015, "variants should differ in shape or layout, not by noise"


@pytest.mark.parametrize("variant", [0, 1, 2])
def test_every_reference_variant_wears_the_characters_own_palette(film: Film, variant: int) -> None:
    """Variants differ in pose and accessories, never in colour: the palette's main colour is on every sheet."""
    for character in film.plan.characters:
        look = character_look(character, variant, ref_seeds(character.subject_id)[variant])
        assert look.body == hex_rgb(character.palette[0])
        assert look.legs == hex_rgb(character.palette[1])
        sheet = pixels(film.ref_pngs[character.subject_id][variant])
        main = np.array(hex_rgb(character.palette[0]))
        assert (np.abs(sheet - main).max(axis=2) <= 2).sum() > 150, f"{character.name} variant {variant}"


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


# --------------------------------------------------------------------------- character kinds


def _silhouette(look, facing: float = 1.0) -> np.ndarray:
    sprite, _, _ = figure_sprite(look, POSES["stand"], facing, 120)
    alpha = np.asarray(sprite.getchannel("A")) > 128
    ys, xs = np.nonzero(alpha)
    crop = alpha[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    return np.asarray(Image.fromarray(crop.astype(np.uint8) * 255).resize((48, 48))) > 128


KINDS = ["person", "robot", "animal", "bird", "sea_creature", "creature", "object", "element"]


@pytest.mark.parametrize("kind", KINDS)
def test_each_character_kind_has_its_own_silhouette(kind: str) -> None:
    """Every kind is drawn with its own body: its outline differs clearly from every other kind's."""
    plan = kind_plan()
    looks = {c.kind: character_look(c, 0, 1) for c in plan.characters}
    mine = _silhouette(looks[kind])
    assert mine.mean() > 0.08, f"{kind} draws almost nothing"
    for other, look in looks.items():
        if other == kind:
            continue
        theirs = _silhouette(look)
        iou = (mine & theirs).sum() / (mine | theirs).sum()
        assert iou < 0.8, f"{kind} and {other} have nearly the same silhouette (IoU {iou:.2f})"


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_turns_through_many_in_between_drawings(kind: str) -> None:
    """A turn is drawn at every facing between profile and front, not two snapshots."""
    look = character_look(next(c for c in kind_plan().characters if c.kind == kind), 0, 1)
    drawings = {figure_sprite(look, POSES["stand"], f, 120)[0].tobytes() for f in np.linspace(-1, 1, 9)}
    assert len(drawings) >= 7


def test_every_pose_draws_a_different_figure(film: Film) -> None:
    look = character_look(film.plan.characters[0], 0, 1)
    drawings = {}
    for pose, limbs in POSES.items():
        for facing in (-1.0, 1.0, 0.0):
            sprite, _, _ = figure_sprite(look, limbs, facing, 120)
            drawings[(pose, facing)] = (sprite.size, sprite.tobytes())
    assert len(set(drawings.values())) == len(drawings)


@pytest.mark.parametrize("pose", sorted(POSES))
@pytest.mark.parametrize("facing", [-1.0, 0.0, 1.0])
def test_a_raised_arm_never_hides_the_face_at_a_keyframe(pose: str, facing: float) -> None:
    """The pixel between the eyes shows skin in every keyframe pose and facing."""
    plan = handmade_plan()
    character = plan.characters[0].model_copy(update={"role": "stranded person", "skin": "#c9966c"})
    look = character_look(character, 0, 1)
    limbs = POSES[pose]
    height = 200
    sprite, ax, ay = figure_sprite(look, limbs, facing, height)
    bones = skeleton(look, limbs, facing)
    cx, cy = bones.head
    x = round(ax + cx * height)
    y = round(ay + (cy - bones.ground) * height + bones.head_r * height * 0.25)
    patch = np.asarray(sprite.convert("RGB"))[y - 1:y + 2, x - 1:x + 2].reshape(-1, 3).astype(int)
    skin = np.array(hex_rgb("#c9966c"))
    assert (np.abs(patch - skin).max(axis=1) < 20).any(), f"face covered in pose {pose}, facing {facing}"


# --------------------------------------------------------------------------- keyframes


def test_keyframe_variants_differ_in_framing_and_light(film: Film) -> None:
    for pngs in film.kf_pngs:
        images = [pixels(png) for png in pngs]
        assert all(image.shape == (160, 256, 3) for image in images)
        for a, b in itertools.combinations(images, 2):
            assert mean_abs_diff(a, b) > 5


def test_chosen_character_reference_changes_the_keyframe_where_the_character_is(film: Film) -> None:
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
    first = Keyframe(index=0, prompt="Mira alone.", clip_summary="Mira alone",
                     characters=[p.character for p in placements],
                     staging=Staging(shot=shot, camera_x=0.5, placements=placements))  # type: ignore[arg-type]
    return plan.model_copy(update={"keyframes": [first, *plan.keyframes[1:]]})


def _figure_rows(film: Film, shot: str) -> int:
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


def test_keyframes_are_clean_pictures_without_captions(film: Film) -> None:
    """No text on a keyframe: the chapter chip belongs to the frames of its own clip only."""
    on = film.kf_pngs[1][0]
    off = AnimaticRenderer(chapters=False).keyframe_variants(film.plan, 1, film.present(1), kf_seeds(1)[:1])[0]
    assert on == off


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


def test_clips_start_on_their_keyframe_and_the_film_ends_on_the_last(film: Film) -> None:
    """Each boundary frame once in the film: clip i starts on keyframe i, whose next keyframe starts clip i+1;
    only the film's last clip ends on its closing keyframe (one frame more)."""
    count = film.plan.request.frames_per_clip
    first, last = film.frames(0), film.frames(1)
    assert len(first) == count and len(last) == count + 1
    assert np.array_equal(first[0], pixels(film.chosen[0].png))
    assert not np.array_equal(first[-1], pixels(film.chosen[1].png))
    assert np.array_equal(last[0], pixels(film.chosen[1].png))
    assert np.array_equal(last[-1], pixels(film.chosen[2].png))


def test_clip_moves_instead_of_cross_fading(film: Film, clip0: tuple[Path, np.ndarray]) -> None:
    _, frames = clip0
    first, last = pixels(film.chosen[0].png), pixels(film.chosen[1].png)
    middle = frames[len(frames) // 2]
    assert mean_abs_diff(middle, first) > 5
    assert mean_abs_diff(middle, last) > 5
    assert mean_abs_diff(middle, (first + last) / 2) > 5, "a cross-fade would look like the average"
    steps = [mean_abs_diff(frames[i], frames[i + 1]) for i in range(len(frames) - 1)]
    assert min(steps) > 0.3, "every frame should move"


def test_drawn_motion_meets_both_keyframes_exactly(film: Film) -> None:
    plan, renderer = film.plan, film.renderer
    env = renderer._environment_look(plan.environments[0], film.refs, "test")
    looks = renderer._character_looks(plan, ["Mira", "Bolt"], film.refs, "test")
    first, last = film.chosen[0], film.chosen[1]
    a = keyframe_state(plan, 0, first.variant, first.seed, looks, env)
    b = keyframe_state(plan, 1, last.variant, last.seed, looks, env)
    motion = Motion(a, b, plan, 0, plan.request.seconds_per_segment, 5)
    layers = set_layers(env, 256, 160)
    for t, keyframe in ((0.0, first), (1.0, last)):
        drawn = draw_frame((layers, layers), motion.state(t), (256, 160))
        assert np.array_equal(np.asarray(drawn), pixels(keyframe.png))


def test_characters_walk_and_enter_by_walking_in(film: Film) -> None:
    """Clip 0: Mira walks to her next mark swinging her legs; Bolt walks in from off-screen."""
    plan, renderer = film.plan, film.renderer
    env = renderer._environment_look(plan.environments[0], film.refs, "test")
    looks = renderer._character_looks(plan, ["Mira", "Bolt"], film.refs, "test")
    a = keyframe_state(plan, 0, 0, 1, looks, env)
    b = keyframe_state(plan, 1, 0, 2, looks, env)
    motion = Motion(a, b, plan, 0, 8.0, 5)
    states = [motion.state(float(t)) for t in np.linspace(0.0, 1.0, 97)]
    mira = [next(x for x in s.actors if x.look.name == "Mira") for s in states]
    thighs = [actor.limbs.thigh1 for actor in mira[10:-10]]
    assert min(thighs) < -10 < 10 < max(thighs), "legs should swing back and forth"
    bolt = [next(x for x in s.actors if x.look.name == "Bolt") for s in states[1:]]
    xs = [actor.x for actor in bolt]
    assert xs == sorted(xs) or xs == sorted(xs, reverse=True), "an entrance is one steady walk"
    cam = states[1].camera
    screen_x = (bolt[0].x - cam.x) * cam.zoom + (256 / 160) / 2
    assert not 0 <= screen_x <= 256 / 160, "Bolt starts off-screen"


def test_a_beat_of_the_segment_is_played_around_its_time(film: Film) -> None:
    """A structured beat (Mira kneels at 0.5) makes Mira kneel mid-clip and stand again by its end."""
    plan = film.plan
    segment = plan.script.segments[0].model_copy(
        update={"beats": [ActionBeat(character="Mira", gesture="kneel", at=0.5)]})
    plan = plan.model_copy(update={"script": plan.script.model_copy(
        update={"segments": [segment, *plan.script.segments[1:]]})})
    env = film.renderer._environment_look(plan.environments[0], film.refs, "test")
    looks = film.renderer._character_looks(plan, ["Mira"], film.refs, "test")
    a = keyframe_state(plan, 2, 0, 1, looks, env)  # Mira alone, on the same mark at both ends
    motion = Motion(a, a, plan, 0, 8.0, 5)
    mira = [next(x for x in motion.state(t).actors if x.look.name == "Mira") for t in (0.0, 0.55, 1.0)]
    assert mira[1].limbs == POSES["kneel"]
    assert mira[0].limbs == mira[2].limbs == a.actors[0].limbs


def test_a_prop_in_the_beats_is_held_after_it_is_picked_up(film: Film) -> None:
    plan = film.plan
    segment = plan.script.segments[0].model_copy(
        update={"beats": [ActionBeat(character="Mira", gesture="pick_up", at=0.4, prop="seedling")]})
    plan = plan.model_copy(update={"script": plan.script.model_copy(
        update={"segments": [segment, *plan.script.segments[1:]]})})
    env = film.renderer._environment_look(plan.environments[0], film.refs, "test")
    looks = film.renderer._character_looks(plan, ["Mira", "Bolt"], film.refs, "test")
    a, b = keyframe_state(plan, 0, 0, 1, looks, env), keyframe_state(plan, 1, 0, 2, looks, env)
    assert next(x for x in b.actors if x.look.name == "Mira").prop == "seedling", "still held at the next keyframe"
    motion = Motion(a, b, plan, 0, 8.0, 5)
    held = [next(x for x in motion.state(t).actors if x.look.name == "Mira").prop for t in (0.2, 0.6)]
    assert held == [None, "seedling"]


@pytest.mark.parametrize("x1", [1.0, 1.6, 0.4])
def test_characters_turn_over_many_frames(film: Film, x1: float) -> None:
    """Standing still or walking, a turn from right to left passes smoothly through the front view."""
    env = film.renderer._environment_look(film.plan.environments[0], film.refs, "test")
    looks = film.renderer._character_looks(film.plan, ["Mira"], film.refs, "test")
    a = keyframe_state(film.plan, 0, 0, 1, looks, env)
    motion = Motion(a, a, film.plan, 0, 8.0, 5)
    from filmstitch.renderers.animatic.motion import Track

    still = POSES["stand"]
    track = Track(looks["Mira"], 1.0, x1, still, still, 1.0, -1.0)
    facings = [motion._facing(track, t, x1 - 1.0) for t in np.linspace(0.0, 1.0, 193)]
    assert (facings[0], facings[-1]) == (1.0, -1.0)
    steps = np.abs(np.diff(facings))
    assert steps.max() < 0.3, "no snap from one side to the other"
    assert sum(-0.5 < f < 0.5 for f in facings) >= 3, "the front view shows for several frames"


def test_clip_is_deterministic(film: Film, clip0: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    _, frames = clip0
    assert np.array_equal(frames, film.clip(0, tmp_path, AnimaticRenderer()))


def test_the_chapter_chip_shows_only_inside_its_own_clip(film: Film) -> None:
    """The chip fades in after the clip's first frame and is gone before its last: never in another segment."""
    request = film.plan.request
    frames, bare = film.frames(1), film.frames(1, AnimaticRenderer(chapters=False))
    corner = (slice(0, 22), slice(0, 60))
    differs = [changed_fraction(f[corner], g[corner]) > 0.05 for f, g in zip(frames, bare)]
    assert not differs[0] and not differs[-1]
    assert any(differs), "the chip shows in its clip"
    rest = (slice(40, 160), slice(None))
    assert all(np.array_equal(f[rest], g[rest]) for f, g in zip(frames, bare)), "the chip is the only text"
    for frames_n in (2, 3, 16, 192):
        assert chip_opacity(0.0, request.seconds_per_segment, frames_n) == 0.0
        assert chip_opacity(1.0, request.seconds_per_segment, frames_n) == 0.0


def test_no_subtitles_are_drawn_into_the_picture(film: Film) -> None:
    """A segment with dialogue: the bottom of every frame shows only the scene (the chip is top left)."""
    segment = next(s.index for s in film.plan.script.segments if s.dialogue)
    frames, bare = film.frames(segment), film.frames(segment, AnimaticRenderer(chapters=False))
    bottom = slice(110, 160)
    assert all(np.array_equal(f[bottom], g[bottom]) for f, g in zip(frames, bare))


def test_a_clip_between_two_locations_wipes_instead_of_jumping() -> None:
    """Keyframes in two places: everyone walks off, the new set wipes in, nobody pops from frame to frame."""
    plan = handmade_plan(segments=2, locations=2, seconds=4.0, fps=12)
    film = Film(plan, AnimaticRenderer(chapters=False))
    frames = film.frames(0)
    steps = [changed_fraction(a, b, 40) for a, b in itertools.pairwise(frames)]
    assert max(steps) < 0.2, f"largest frame-to-frame change {max(steps):.2f}"
    first, last = frames[0], frames[-1]
    mid = frames[len(frames) // 2]
    left, right = (slice(None), slice(0, 60)), (slice(None), slice(196, 256))
    assert mean_abs_diff(mid[left], last[left]) < mean_abs_diff(mid[left], first[left]), "the new set on the left"
    assert mean_abs_diff(mid[right], first[right]) < mean_abs_diff(mid[right], last[right]), "the old on the right"


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
        (lambda f: f.renderer.clip(f.plan, 0, f.chosen[0].model_copy(update={"png": b"nope"}), f.chosen[1], f.refs,
                                   1), "first keyframe is not a readable image"),
        (lambda f: f.renderer.clip(f.plan, 0, f.chosen[0], f.refs["char_mira"].model_copy(
            update={"png": _png_of_size(128, 128)}), f.refs, 1), "last keyframe is 128x128, the film is 256x160"),
    ],
)
def test_bad_input_is_refused_before_drawing(film: Film, call, message: str) -> None:
    with pytest.raises(AnimaticError, match=message):
        call(film)


def test_unknown_subject_is_refused(film: Film) -> None:
    stranger = film.plan.subjects[0].model_copy(update={"id": "char_nobody"})
    with pytest.raises(AnimaticError, match="'char_nobody' is not in this plan"):
        film.renderer.reference_variants(film.plan, stranger, [1, 2, 3])


def test_every_set_kind_draws_its_own_set() -> None:
    """One location of each set kind: their empty sets all differ."""
    from typing import get_args

    from filmstitch.models import SetKind
    from filmstitch.testing.plans import handmade_environment

    images = {}
    for kind in get_args(SetKind):
        env = handmade_environment().model_copy(update={"set": kind, "id": kind})
        images[kind] = np.asarray(set_layers(environment_look(env, 0, 1), 128, 96).near[0][1]).astype(np.int16)
    for (a, x), (b, y) in itertools.combinations(images.items(), 2):
        assert changed_fraction(x, y, 20) > 0.02, f"sets {a} and {b} look the same"


def _png_of_size(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()
