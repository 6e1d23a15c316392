"""The script checkpoint without a server: what it shows, answers read and checked whole, refusals asked again,
saved answers reused, pages for long films, the YAML the terminal edits, and reuse keys that follow a change."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from filmstitch import checkpoints
from filmstitch import script_checkpoint as sc
from filmstitch.models import FilmPlan, FilmRequest, derive_seed
from filmstitch.reuse import clip_inputs, key_of, keyframe_inputs, reference_inputs, speech_inputs
from filmstitch.settings import StorageConfig
from filmstitch.sound import stage
from filmstitch.storage import FilmStore
from filmstitch.testing.plans import offline_plan
from tests.unit.test_models import IDEA


@functools.cache
def written(**request: Any) -> FilmPlan:
    return offline_plan(FilmRequest(idea=IDEA, **request))


@pytest.fixture
def store(tmp_path: Path) -> FilmStore:
    return FilmStore.open(StorageConfig(root=str(tmp_path / "films")), "film-1")


def answers(*given: dict[str, Any] | None) -> tuple[checkpoints.Asker, list[str]]:
    """An asker that gives these answers in turn and records the note each question came with."""
    notes: list[str] = []
    queue = list(given)

    def ask(checkpoint: checkpoints.Checkpoint, note: str, attempt: int) -> dict[str, Any] | None:
        notes.append(note)
        return queue.pop(0)

    return ask, notes


def test_the_page_shows_every_text_of_the_film_under_its_label() -> None:
    plan = written()
    [page] = sc.script_pages(plan)
    checkpoint = sc.script_checkpoint("film-1", plan, page, 0, 1, 600)
    markdown = checkpoints.form_markdown(checkpoint, lambda tag, v: "", None)
    texts = checkpoint.script_texts
    expected = [plan.script.title, plan.script.logline]
    expected += [text for c in plan.characters for text in (c.description, c.appearance)]
    expected += [e.description for e in plan.environments]
    for s in plan.script.segments:
        expected += [s.narration, s.action, *(f"{line.speaker}: {line.line}" for line in s.dialogue)]
    expected += [k.prompt for k in plan.keyframes]
    assert sorted(texts.values()) == sorted(expected)
    for label, text in texts.items():
        assert f"`{label}`" in markdown
        assert checkpoints.escape_markdown(text) in markdown
    assert any(s.dialogue for s in plan.script.segments)  # the default film has lines to show


def test_model_text_is_data_in_the_markdown() -> None:
    plan = written()
    hostile = plan.model_copy(update={"script": plan.script.model_copy(update={
        "title": "![x](http://evil.example/a.png) <script>alert(1)</script> [link](javascript:x)"})})
    checkpoint = sc.script_checkpoint("film-1", hostile, [0], 0, 1, 600)
    markdown = checkpoints.form_markdown(checkpoint, lambda tag, v: "", None)
    assert "<script>" not in markdown and "](" not in markdown.replace("\\](", "")


def test_a_change_is_checked_stored_and_reused(store: FilmStore) -> None:
    plan = written()
    ask, _notes = answers({"changes": 's2.narration = "Nora kneels by the green shoot."'})
    changed = sc.decide_script(store, plan, 600, auto=False, ask=ask)
    assert changed.script.segments[2].narration == "Nora kneels by the green shoot."
    assert changed.script.segments[3] == plan.script.segments[3]
    assert FilmPlan.model_validate(store.get_json("plan/plan.json")) == changed  # the plan the film is made from
    decision = checkpoints.Decision.model_validate(store.get_json("picks/script.json"))
    assert decision.picked_by == "person" and decision.script == {"s2.narration": "Nora kneels by the green shoot."}
    never, _ = answers()  # a resumed film is not asked again: popping from no answers would fail
    assert sc.decide_script(store, plan, 600, auto=False, ask=never) == changed


@pytest.mark.parametrize(("answer", "reason"), [
    ('s99.narration = "x"', "there is no text 's99.narration'"),
    ('nora.appearance = "' + "very " * 40 + 'tall"', "nora.appearance: appearance has 41 words; at most 30"),
    ('sD.line1 = "Nobody: hello there"', "speaker 'Nobody' is not listed in its characters"),
    ('sD.line1 = "no speaker here"', "sD.line1: write a line as Speaker: words"),
    ('s0.action = ""', "s0.action: String should have at least 1 character"),
    ("s0.narration = 'single quotes'", "cannot read"),
    ('{"s0.narration": 3}', "a JSON object of label: text"),
])
def test_an_invalid_change_is_refused_whole_and_asked_again(store: FilmStore, answer: str, reason: str) -> None:
    plan = written()
    talking = next(s.index for s in plan.script.segments if s.dialogue)  # sD: a segment with a line of dialogue
    answer, reason = answer.replace("sD.", f"s{talking}."), reason.replace("sD.", f"s{talking}.")
    good = 'title = "Moss on the Moon"'
    ask, notes = answers({"changes": answer}, {"changes": good})
    changed = sc.decide_script(store, plan, 600, auto=False, ask=ask)
    assert len(notes) == 2 and notes[0] == ""
    assert notes[1].startswith("**Your last answer was refused:**")
    assert checkpoints.escape_markdown(reason) in notes[1], notes[1]
    assert "\n" not in notes[1]
    assert changed.script.title == "Moss on the Moon"
    assert changed.script.segments == plan.script.segments  # nothing of the refused answer was applied


def test_a_change_that_breaks_the_ledger_is_refused() -> None:
    plan = written(segments=4, seconds_per_segment=8.0, minutes=None)
    scene = plan.script.scenes[0]
    name, _outfit = next(iter(scene.continuity.wardrobe.items()))
    k = next(k for k in plan.keyframes if name in k.characters)
    with pytest.raises(sc.PlanError, match="continuity ledger"):
        sc.apply_script_changes(plan, {f"k{k.index}.prompt": f"{name} stands in a field at noon."})


def test_a_change_whose_speech_cannot_fit_is_refused_before_any_picture() -> None:
    plan = written()
    long_line = " ".join(["word"] * 400)
    with pytest.raises(sc.PlanError, match="does not fit its 80 s"):
        sc.apply_script_changes(plan, {f"s{i}.narration": long_line for i in range(10)})


def test_auto_and_timeouts_take_the_script_as_written(store: FilmStore, tmp_path: Path) -> None:
    plan = written()
    assert sc.decide_script(store, plan, 600, auto=True) == plan
    assert checkpoints.Decision.model_validate(store.get_json("picks/script.json")).picked_by == "auto"
    other = FilmStore.open(StorageConfig(root=str(tmp_path / "other")), "film-2")
    ask, _ = answers(None)
    assert sc.decide_script(other, plan, 600, auto=False, ask=ask) == plan
    assert checkpoints.Decision.model_validate(other.get_json("picks/script.json")).picked_by == \
        "auto (nobody answered)"


def test_a_long_film_is_read_scene_by_scene() -> None:
    plan = written(minutes=8.0)
    pages = sc.script_pages(plan)
    assert len(pages) > 1 and sorted(i for page in pages for i in page) == list(range(len(plan.script.segments)))
    assert all(len(page) <= sc.MAX_SEGMENTS_PER_PAGE for page in pages)
    assert all(len({plan.script.segments[i].scene for i in page}) == 1 for page in pages)
    first = sc.script_checkpoint("f", plan, pages[0], 0, len(pages), 600)
    second = sc.script_checkpoint("f", plan, pages[1], 1, len(pages), 600)
    assert "title" in first.script_texts and "title" not in second.script_texts
    assert first.more_follow and "accept_rest" in checkpoints.build_form(first).model_fields


def test_the_terminal_edits_the_page_as_yaml() -> None:
    plan = written()
    checkpoint = sc.script_checkpoint("f", plan, sc.script_pages(plan)[0], 0, 1, 600)
    text = sc.script_yaml(checkpoint.script)
    assert sc.changes_from_yaml(checkpoint.script_texts, text) == {}
    old = yaml.safe_dump({"s4.action": sc.text_at(plan, "s4.action")}, width=10**6).strip()
    assert old in text
    edited = text.replace(old, "s4.action: 'Nora waves at the sprout: \"hello\" #1'")
    assert sc.changes_from_yaml(checkpoint.script_texts, edited) == {
        "s4.action": 'Nora waves at the sprout: "hello" #1'}
    with pytest.raises(ValueError, match="not valid YAML"):
        sc.changes_from_yaml(checkpoint.script_texts, "s4.action: [unclosed")


def _keys(plan: FilmPlan) -> dict[str, str]:
    """Every picture's and line's reuse key, with stand-in checksums for the pictures they are made from."""
    refs = {s.id: f"ref-{s.id}" for s in plan.subjects}
    keys = {f"ref:{sid}": key_of("reference", {}, **reference_inputs(plan, sid, [1])) for sid in refs}
    # A keyframe's checksum stands for its picture: it changes when its key does.
    frames = {}
    for k in plan.keyframes:
        frames[k.index] = key_of("keyframe", {}, **keyframe_inputs(
            plan, k.index, {sid: keys[f"ref:{sid}"] for sid in refs}, [1]))
        keys[f"k{k.index}"] = frames[k.index]
    for i in range(len(plan.script.segments)):
        keys[f"clip{i}"] = key_of("clip", {}, **clip_inputs(
            plan, i, frames[i], frames[i + 1], {sid: keys[f"ref:{sid}"] for sid in refs}, derive_seed(0, i)))
        keys[f"speech{i}"] = json.dumps(speech_inputs(stage.cast_voices(plan), i), sort_keys=True)
    return keys


def _changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {name for name in before if before[name] != after[name]}


def test_reuse_keys_follow_exactly_what_a_change_touches() -> None:
    plan = written()
    before = _keys(plan)
    narrated = sc.apply_script_changes(plan, {"s3.narration": "Nora stops, and listens to the quiet."})
    assert _changed(before, _keys(narrated)) == {"speech3"}
    sprout = plan.character("Sprout")
    dressed = sc.apply_script_changes(plan, {"sprout.appearance": "tiny moss spirit with a red flower"})
    shows = {k.index for k in plan.keyframes if "Sprout" in k.characters}
    clips = {i for i in range(len(plan.script.segments))
             if "Sprout" in plan.script.segments[i].characters or {i, i + 1} & shows}
    assert shows and len(shows) < len(plan.keyframes)
    assert _changed(before, _keys(dressed)) == {f"ref:{sprout.subject_id}", *(f"k{i}" for i in shows),
                                                *(f"clip{i}" for i in clips)}


def test_short_segments_are_written_to_fit_and_what_cannot_fit_is_refused() -> None:
    """`filmstitch make IDEA --segments 3 --seconds 1`: a line takes at least a second, so the offline writer
    leaves lines out until the speech fits; narration put back in every segment is refused before any picture."""
    plan = written(segments=3, seconds_per_segment=1.0)
    sc.check_plan(plan)
    narrations = [s.narration for s in plan.script.segments]
    assert narrations[1] == "" and narrations[0] and not any(s.dialogue for s in plan.script.segments)
    assert stage.segment_lines(plan, 1) == []  # nothing is spoken there
    with pytest.raises(sc.PlanError, match=r"does not fit its 3 s; shorten or remove lines"):
        sc.apply_script_changes(plan, {"s1.narration": "The fox looks up."})
    assert written() == offline_plan(FilmRequest(idea=IDEA))  # the default length: every line kept


def test_the_pace_is_defined_once() -> None:
    from filmstitch import pace
    from filmstitch.writers.claude import checks, prompts
    from filmstitch.writers.offline import story

    assert story.WORDS_PER_SECOND == prompts.NARRATION_WORDS_PER_SECOND == pace.WRITING_WORDS_PER_SECOND
    assert checks.SPEECH_WORDS_PER_SECOND == pace.SPEAKING_WORDS_PER_SECOND
