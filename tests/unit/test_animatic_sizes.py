"""The animatic renders every legal size, for any idea: no crash, and the right pictures and clips.

Legal sizes are what FilmRequest accepts: width and height multiples of 32 from 128 to 1920, at most
1920x1088 pixels. Small sizes once crashed in Pillow (`rounded_rectangle` on a box with x1 < x0); extreme
aspect ratios squeeze the figures and the chapter chip. Each case plans a film with the offline story engine
and renders every reference and keyframe variant and every clip, then checks the sizes, the clip frame
contract (F frames a clip, F+1 for the last) and that the pictures are not blank.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from filmstitch.models import MAX_PIXELS, FilmPlan, FilmRequest, derive_seed
from filmstitch.renderers.animatic import AnimaticRenderer
from filmstitch.renderers.base import RenderedImage
from filmstitch.testing.plans import offline_plan
from filmstitch.video import decode_frames

IDEAS = [
    "a fox learns to fly",
    "two robots learn to dance in a junkyard",
    "a whale sings to a lonely lighthouse",
    "a child builds a kite from old maps",
    "an old clock stops at midnight in a bakery",
    "a stranded astronaut on the moon walks around and discovers nature",
    "three friends and a dragon cross a frozen sea at dawn",
    "a tiny snail races a thunderstorm across a neon city",
]
#: Words an idea is made of in the property test: people, animals, machines, places, times, actions.
WORDS = ("a fox", "an owl", "two robots", "a knight", "grandma", "a ghost", "the moon", "a desert", "a forest",
         "a city", "underwater", "at night", "at dawn", "in winter", "learns", "builds", "loses", "finds", "a kite",
         "a lantern", "a song", "dances", "races", "flies", "and", "with", "a dragon", "three cats", "the sea")

SIDES = st.integers(128 // 32, 1920 // 32).map(lambda n: n * 32)
SIZES = st.tuples(SIDES, SIDES).filter(lambda size: size[0] * size[1] <= MAX_PIXELS)
GENERATED_IDEAS = st.lists(st.sampled_from(WORDS), min_size=2, max_size=9).map(" ".join)


def picture(png: bytes) -> np.ndarray:
    assert png.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"))


def assert_drawn(image: np.ndarray, size: tuple[int, int], what: str) -> None:
    """The picture has the film's size and shows something (not one flat colour)."""
    width, height = size
    assert image.shape == (height, width, 3), f"{what}: {image.shape[1]}x{image.shape[0]}, not {width}x{height}"
    assert image.reshape(-1, 3).std(axis=0).max() > 4, f"{what} is blank"


def render_film(plan: FilmPlan, tmp: Path) -> None:
    """Every reference and keyframe variant and every clip of `plan`, each checked."""
    request, renderer = plan.request, AnimaticRenderer()
    size = (request.width, request.height)
    references = {}
    for subject in plan.subjects:
        seeds = [derive_seed(request.seed, "reference", subject.id, v) for v in range(request.variants)]
        pngs = renderer.reference_variants(plan, subject, seeds)
        assert len(pngs) == request.variants
        for variant, png in enumerate(pngs):
            assert_drawn(picture(png), size, f"reference {subject.id} v{variant}")
        pick = len(pngs) - 1
        references[subject.id] = RenderedImage(variant=pick, seed=seeds[pick], png=pngs[pick])
    keyframes = []
    for keyframe in plan.keyframes:
        seeds = [derive_seed(request.seed, "keyframe", keyframe.index, v) for v in range(request.variants)]
        present = {s.id: references[s.id] for s in plan.subjects_at(keyframe.index)}
        pngs = renderer.keyframe_variants(plan, keyframe.index, present, seeds)
        for variant, png in enumerate(pngs):
            assert_drawn(picture(png), size, f"keyframe {keyframe.index} v{variant}")
        pick = keyframe.index % len(pngs)
        keyframes.append(RenderedImage(variant=pick, seed=seeds[pick], png=pngs[pick]))
    segments = len(plan.script.segments)
    for segment in range(segments):
        mp4 = renderer.clip(plan, segment, keyframes[segment], keyframes[segment + 1], references,
                            derive_seed(request.seed, "clip", segment))
        path = tmp / f"clip{segment}.mp4"
        path.write_bytes(mp4)
        frames = decode_frames(path)
        expected = request.frames_per_clip + (1 if segment == segments - 1 else 0)
        assert len(frames) == expected, f"clip {segment}: {len(frames)} frames, not {expected}"
        assert_drawn(frames[len(frames) // 2], size, f"clip {segment}")


def request(idea: str, width: int, height: int, **fields: object) -> FilmRequest:
    return FilmRequest(idea=idea, width=width, height=height, sound=False, writer="offline", renderer="animatic",
                       **{"segments": 2, "seconds_per_segment": 1.0, "fps": 8, **fields})


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=SIZES, idea=st.one_of(st.sampled_from(IDEAS), GENERATED_IDEAS), seed=st.integers(0, 2**31 - 1),
       variants=st.integers(1, 4))
@example(size=(256, 160), idea="a fox learns to fly", seed=0, variants=3)
@example(size=(128, 128), idea="three friends and a dragon cross a frozen sea at dawn", seed=0, variants=3)
@example(size=(1920, 128), idea="two robots learn to dance in a junkyard", seed=1, variants=1)
@example(size=(128, 1920), idea="a whale sings to a lonely lighthouse", seed=2, variants=1)
@example(size=(128, 1536), idea="an old clock stops at midnight in a bakery", seed=2, variants=2)  # a wall's shelves
def test_every_legal_size_renders_for_any_idea(size: tuple[int, int], idea: str, seed: int, variants: int) -> None:
    plan = offline_plan(request(idea, *size, seed=seed, variants=variants, segments=1))
    with tempfile.TemporaryDirectory() as tmp:
        render_film(plan, Path(tmp))


def test_the_largest_legal_frame_renders() -> None:
    plan = offline_plan(request("a stranded astronaut on the moon discovers nature", 1920, 1088, segments=1,
                                variants=1))
    with tempfile.TemporaryDirectory() as tmp:
        render_film(plan, Path(tmp))


def test_the_fox_that_crashed_at_256x160(tmp_path: Path) -> None:
    """`filmstitch make "a fox learns to fly" --auto --segments 3 --seconds 1 --width 256 --height 160`: its
    plan at the default frame rate and variants, every variant and clip drawn."""
    plan = offline_plan(FilmRequest(idea="a fox learns to fly", segments=3, seconds_per_segment=1, width=256,
                                    height=160, writer="offline", renderer="animatic"))
    assert plan.request.fps == 24 and plan.request.variants == 3
    render_film(plan, tmp_path)


@pytest.mark.parametrize("idea", IDEAS)
def test_eight_ideas_at_128x128(idea: str, tmp_path: Path) -> None:
    render_film(offline_plan(request(idea, 128, 128, segments=3, variants=3)), tmp_path)


def test_a_pen_draws_every_small_outlined_box() -> None:
    """Pillow refuses some outlined rounded boxes of a few pixels (odd width, height one less, radius just under
    half); small frames draw figures whose parts are that size."""
    from PIL import ImageDraw

    from filmstitch.renderers.animatic.figures import Pen

    image = Image.new("RGBA", (64, 64))
    pen = Pen(ImageDraw.Draw(image), origin=(10.0, 10.0), px=1.0, outline=(0, 0, 0))
    for width in range(12):
        for height in range(12):
            for tenths in range(0, 70, 3):
                pen.rect((0, 0, width + tenths / 97, height), fill=(200, 100, 50, 255), radius=tenths / 10)
    assert np.asarray(image)[..., 3].max() == 255  # something was drawn
