"""Checkpoints without a server: answers, the form, deciding (auto, accepted, changed, timed out, refused,
reused), pages for long films, the recommendations and the labelled pictures."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageFilter

from filmstitch import checkpoints, images
from filmstitch.models import FilmRequest, KeyframeEdit, Region
from filmstitch.settings import StorageConfig
from filmstitch.storage import FilmStore
from filmstitch.tasks.common import VariantRef
from filmstitch.testing.plans import offline_plan
from tests.unit.test_models import IDEA


def png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array.astype(np.uint8)).save(out, "PNG")
    return out.getvalue()


def noise_png(seed: int, size: tuple[int, int] = (96, 64)) -> bytes:
    return png(np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3)))


@pytest.fixture
def store(tmp_path: Path) -> FilmStore:
    return FilmStore.open(StorageConfig(root=str(tmp_path / "films")), "film-1")


def stored_variants(store: FilmStore, part: str, pictures: list[bytes]) -> list[VariantRef]:
    refs = []
    for v, picture in enumerate(pictures):
        image = store.put(f"{part}/v{v}.png", picture, "image/png")
        thumb = store.put(f"{part}/v{v}.jpg", images.thumbnail_jpeg(picture), "image/jpeg")
        refs.append(VariantRef(variant=v, seed=v, image=image, thumb=thumb))
    return refs


def rows(n: int = 3, variants: int = 3) -> list[checkpoints.Row]:
    return [
        checkpoints.Row(
            tag=str(i), title=f"Keyframe {i}", recommended=i % variants,
            variants=[checkpoints.Variant(variant=v, image_key=f"k{i}/v{v}.png", thumb_key=f"k{i}/v{v}.jpg")
                      for v in range(variants)],
        )
        for i in range(n)
    ]


def checkpoint(**overrides: Any) -> checkpoints.Checkpoint:
    fields = {"name": "keyframes", "film_id": "film-1", "title": "T", "intro": "I", "rows": rows(), "timeout_s": 600}
    return checkpoints.Checkpoint(**(fields | overrides))


# --------------------------------------------------------------------------- answers


def test_changes_are_row_variant_pairs() -> None:
    assert checkpoints.parse_changes("", rows()) == {}
    assert checkpoints.parse_changes("  1:2, 2=0;0:1 ", rows()) == {"1": 2, "2": 0, "0": 1}
    named = [r.model_copy(update={"tag": "lena", "title": "Lena"}) for r in rows(1)]
    assert checkpoints.parse_changes("LENA:2", named) == {"lena": 2}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1:3", "row 1 has variants 0-2, not 3"),
        ("9:1", "there is no row '9'"),
        ("1:1 1:2", "row 1 is given twice"),
        ("keep them all", "cannot read 'keep them all'"),
        ("1:", "cannot read '1:'"),
    ],
)
def test_an_answer_that_does_not_fit_says_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        checkpoints.parse_changes(text, rows())


# --------------------------------------------------------------------------- keyframe edits in the answer


FRAME = (768, 512)


def answer(text: str, **kwargs: Any) -> checkpoints.Answer:
    return checkpoints.parse_answer(text, rows(), edits=True, frame=FRAME, **kwargs)


def test_plain_picks_read_the_same_with_edits_allowed() -> None:
    for text in ("", "  1:2, 2=0;0:1 "):
        assert answer(text).picks == checkpoints.parse_changes(text, rows()) and answer(text).edits == {}


def test_an_edit_follows_its_pick_or_names_its_row() -> None:
    read = answer('1:2 edit "make her coat red" 2:0 edit 0 region 10,20,200,180 \u201ca red kite\u201d')
    assert read.picks == {"1": 2, "2": 0}
    assert read.edits["1"] == KeyframeEdit(instruction="make her coat red")
    assert read.edits["0"] == KeyframeEdit(instruction="a red kite", region=Region(x0=10, y0=20, x1=200, y1=180))
    assert list(read.edits) == ["0", "1"]  # in row order
    # A region alone paints that part again from the keyframe's prompt; quotes keep `3:1` inside text.
    assert answer("edit 2 region 0,0,768,512").edits["2"].instruction is None
    assert answer('edit 1 "swap 3:1 for the lantern"').picks == {}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('edit "make her coat red"', "say which keyframe to edit"),
        ('edit 9 "make it red"', "there is no keyframe '9' to edit"),
        ('edit 1 ""', "the instruction for keyframe 1 is empty"),
        ("edit 1", "edit 1 needs an instruction in double quotes or a region"),
        ('1:0 edit "make her coat red', "an instruction is not closed"),
        ('edit 1 region 0,0,800,100 "x"', "region 0,0,800,100 is outside the 768x512 frame"),
        ('edit 1 region 50,50,10,100 "x"', "is empty: give left,top,right,bottom"),
        ('edit 1 "red" edit 1 "blue"', "keyframe 1 is edited twice"),
    ],
)
def test_an_edit_that_does_not_fit_says_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        answer(text)


def test_edits_are_refused_where_they_are_not_taken() -> None:
    with pytest.raises(ValueError, match="edits are only taken where keyframes are picked"):
        checkpoints.parse_answer('1:1 edit "make it red"', rows(), edits=False)


def test_an_edit_the_renderer_cannot_make_is_asked_again_with_the_reason(store: FilmStore) -> None:
    def animatic_like(tag: str, edit: KeyframeEdit) -> None:
        if edit.region is not None:
            raise ValueError("the animatic renderer cannot paint a region again")

    person = Person({"changes": "edit 1 region 0,0,10,10"}, {"changes": '1:2 edit "make her coat red"'})
    decision = checkpoints.decide(store, checkpoint(edits=True, frame=FRAME), auto=False, ask=person,
                                  check_edit=animatic_like)
    assert "cannot paint a region again" in person.notes[1]
    assert decision.picks["1"] == 2 and decision.edits == {"1": KeyframeEdit(instruction="make her coat red")}
    assert decision.picked_by == "person"
    # Saved with the picks: a resumed film makes the same edit again without asking.
    again = checkpoints.decide(store, checkpoint(edits=True, frame=FRAME), auto=False, ask=Person())
    assert again.edits == decision.edits


def test_a_form_that_takes_edits_says_how_and_keeps_one_field() -> None:
    edited = checkpoint(edits=True, frame=FRAME)
    schema = checkpoints.build_form(edited).model_json_schema()
    assert list(schema["properties"]) == ["changes"]
    assert 'edit "make her coat red"' in schema["properties"]["changes"]["description"]
    assert schema[checkpoints.SCHEMA_KEY]["edits"] is True and schema[checkpoints.SCHEMA_KEY]["frame"] == [768, 512]
    text = checkpoints.form_markdown(edited, lambda tag, v: f"https://x/{tag}-{v}.jpg", None)
    assert "region 100,50,300,250" in text
    assert "edit" not in checkpoints.form_markdown(checkpoint(), lambda tag, v: "https://x", None).split("Changes")[1]


def test_a_retake_checkpoint_has_one_row_and_can_recommend_the_film_s_picture(store: FilmStore) -> None:
    plan = offline_plan(FilmRequest(idea=IDEA, segments=3, width=128, height=128))
    variants = stored_variants(store, "keyframes/k02/take-2", [noise_png(v) for v in range(3)])
    one = checkpoints.retake_checkpoint(store, plan, 2, 2, variants, None, None, 600, edits=True,
                                        recommended=(1, "the film's picture, changed"))
    assert [row.tag for row in one.rows] == ["2"] and one.rows[0].recommended == 1
    assert one.name == "retake-k02-take-2" and one.edits and one.frame == (128, 128)
    assert checkpoints.decide(store, one, auto=True).picks == {"2": 1}


# --------------------------------------------------------------------------- the form


def test_the_form_has_one_text_field_and_carries_its_rows() -> None:
    form = checkpoints.build_form(checkpoint())
    schema = form.with_initial_data(description="d").model_json_schema()
    assert list(schema["properties"]) == ["changes"]
    changes = schema["properties"]["changes"]
    assert changes["title"] == "Changes" and changes["default"] == "" and changes["maxLength"] == 4000
    extra = schema[checkpoints.SCHEMA_KEY]
    assert [row["tag"] for row in extra["rows"]] == ["0", "1", "2"] and extra["rows"][1]["recommended"] == 1
    # The REST path: {} is valid (the recommendations); words are read by the flow, which says what is wrong.
    assert form().changes == "" and form(changes="2:1").changes == "2:1"
    with pytest.raises(ValueError):
        form(changes="x" * 4001)


def test_a_long_film_page_offers_to_accept_the_rest() -> None:
    schema = checkpoints.build_form(checkpoint(more_follow=True)).model_json_schema()
    assert list(schema["properties"]) == ["changes", "accept_rest"]


def test_the_markdown_shows_every_variant_labelled_and_escapes_text() -> None:
    hostile = checkpoint(title="[click](javascript:alert(1)) <img src=x>")
    text = checkpoints.form_markdown(hostile, lambda tag, v: f"https://x/{tag}-{v}.jpg", "https://x/review/1")
    for row in hostile.rows:
        for v in row.variants:
            assert f"({'https://x/'}{row.tag}-{v.variant}.jpg)" in text
        assert f"![{row.tag}:{row.recommended} recommended]" in text
    assert "\\[click\\]\\(javascript" in text and "\\<img" in text and "<img" not in text.replace("\\<img", "")
    assert "[Large review page (click to pick)](https://x/review/1)" in text


# --------------------------------------------------------------------------- deciding


class Person:
    """Answers in turn; records what it was asked."""

    def __init__(self, *answers: dict[str, Any] | None) -> None:
        self.answers = list(answers)
        self.notes: list[str] = []

    def __call__(self, checkpoint: checkpoints.Checkpoint, note: str, attempt: int) -> dict[str, Any] | None:
        self.notes.append(note)
        return self.answers.pop(0)


@pytest.mark.parametrize(
    ("answers", "picks", "who"),
    [
        ([{}], {"0": 0, "1": 1, "2": 2}, "person (accepted recommendation)"),
        ([{"changes": "1:2 0:1"}], {"0": 1, "1": 2, "2": 2}, "person"),
        ([None], {"0": 0, "1": 1, "2": 2}, "auto (nobody answered)"),
        ([{"changes": "5:1"}, {"changes": "2:0"}], {"0": 0, "1": 1, "2": 0}, "person"),
    ],
)
def test_decide(store: FilmStore, answers: list, picks: dict, who: str) -> None:
    person = Person(*answers)
    decision = checkpoints.decide(store, checkpoint(), auto=False, ask=person)
    assert (decision.picks, decision.picked_by) == (picks, who)
    assert len(person.notes) == len(answers)
    if len(answers) > 1:
        assert "refused" in person.notes[1] and "no row" in person.notes[1]


def test_auto_picks_the_recommendations_without_asking(store: FilmStore) -> None:
    decision = checkpoints.decide(store, checkpoint(), auto=True, ask=Person())
    assert decision.picks == {"0": 0, "1": 1, "2": 2} and decision.picked_by == "auto"


def test_saved_picks_are_reused_only_for_the_same_pictures(store: FilmStore) -> None:
    checkpoints.decide(store, checkpoint(), auto=False, ask=Person({"changes": "0:2"}))
    again = checkpoints.decide(store, checkpoint(), auto=False, ask=Person())  # asks nobody
    assert again.picks["0"] == 2 and again.picked_by == "person"
    other_pictures = checkpoint(rows=[r.model_copy(update={"variants": [
        v.model_copy(update={"image_key": v.image_key + ".new"}) for v in r.variants]}) for r in rows()])
    person = Person({})
    checkpoints.decide(store, other_pictures, auto=False, ask=person)
    assert person.notes == [""]  # asked again


def test_a_damaged_picks_file_is_asked_again(store: FilmStore) -> None:
    checkpoints.decide(store, checkpoint(), auto=True)
    path = store.store.root / store.full_key("picks/keyframes.json")
    path.write_bytes(path.read_bytes()[:10])
    person = Person({})
    checkpoints.decide(store, checkpoint(), auto=False, ask=person)
    assert len(person.notes) == 1


def test_a_long_film_is_picked_scene_by_scene_and_the_rest_can_be_accepted(store: FilmStore) -> None:
    plan = offline_plan(FilmRequest(idea=IDEA, minutes=8, width=128, height=128))
    pages = checkpoints.keyframe_pages(plan)
    assert len(pages) > 1 and sum(len(p) for p in pages) == len(plan.keyframes)
    assert all(len(page) <= checkpoints.MAX_ROWS_PER_PAGE for page in pages)
    keyframes = [stored_variants(store, f"k{i}", [noise_png(3 * i + v) for v in range(3)])
                 for i in range(len(plan.keyframes))]
    person = Person({"changes": f"{pages[0][0]}:2", "accept_rest": True})
    result = checkpoints.decide_keyframes(store, plan, keyframes, 600, auto=False, ask=person)
    assert len(person.notes) == 1  # one question, then the rest accepted
    assert result.picks[pages[0][0]] == 2 and len(result.picks) == len(plan.keyframes)
    assert list(result.picked_by.values()) == ["person"] + ["person (accepted recommendation)"] * (len(pages) - 1)


def test_a_short_film_has_one_keyframe_checkpoint(store: FilmStore) -> None:
    plan = offline_plan(FilmRequest(idea=IDEA, segments=30, width=128, height=128))
    assert checkpoints.keyframe_pages(plan) == [list(range(31))]


# --------------------------------------------------------------------------- recommendations and pictures


def test_the_sharpest_reference_is_recommended() -> None:
    sharp = np.random.default_rng(0).integers(0, 255, (64, 96, 3))
    flat = np.full((64, 96, 3), 128)
    blurred = np.asarray(Image.fromarray(sharp.astype(np.uint8)).filter(ImageFilter.GaussianBlur(3)))
    assert checkpoints.recommend_sharpest([png(flat), png(blurred), png(sharp)]) == 2


def test_the_keyframe_closest_to_the_previous_pick_is_recommended() -> None:
    previous = noise_png(1)
    assert checkpoints.recommend_closest([noise_png(2), previous, noise_png(3)], previous) == 1


def test_a_tile_is_labelled_and_the_recommended_one_framed_in_gold() -> None:
    picture = png(np.full((512, 768, 3), 60))
    tile = images.labelled(picture, "10:2", recommended=True)
    plain = images.labelled(picture, "10:1", recommended=False)
    assert tile.size == (images.TILE_WIDTH, 304) and images.TILE_WIDTH >= 160
    assert tile.getpixel((images.TILE_WIDTH - 2, 150)) == images.RECOMMENDED  # the frame
    assert plain.getpixel((images.TILE_WIDTH - 2, 150)) == (60, 60, 60)
    assert tile.getpixel((5, 5)) == (0, 0, 0)  # the label's box


def test_the_contact_sheet_has_every_row(store: FilmStore) -> None:
    refs = [stored_variants(store, f"k{i}", [noise_png(3 * i + v, (384, 256)) for v in range(3)]) for i in range(3)]
    check = checkpoint(rows=[
        checkpoints.Row(tag=str(i), title=f"Keyframe {i}", recommended=0, variants=checkpoints._variants(r))
        for i, r in enumerate(refs)
    ])
    tiles = checkpoints.store_pictures(store, check)
    assert len(tiles) == 9
    sheet = Image.open(io.BytesIO(store.get(checkpoints.contact_sheet_key(check))))
    assert sheet.width >= 3 * 256 and sheet.height >= 3 * 170
