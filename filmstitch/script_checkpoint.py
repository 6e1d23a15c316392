"""The script checkpoint: the plan read, and changed, by a person before any picture is drawn.

The checkpoint shows every text a picture or a line of speech is made from, each under the label a person
types to change it:

    title, logline                          the film
    lena.description, lena.appearance       each character (the label is the name as the reference row's)
    the_old_lighthouse.description          each location
    s3.narration, s3.action, s3.line1       each segment; a dialogue line reads "Speaker: words"
    k3.prompt                               each keyframe's image prompt (shown with the segment it opens)

It is one of the film's checkpoints (filmstitch.checkpoints: the same form, saved decisions, pauses and
timeouts); `--auto`, batches and a timeout take the script as written. A change is applied to a copy of the
plan and checked like a written plan (`check_plan`: the models' own validation, names that exist, the
continuity ledger, the speech fitting the film); a change that fails is refused whole, with one line, and
asked again. A long film's script is shown scene by scene (`script_pages`), like its keyframes.

What a change then redoes is what the reuse keys say (filmstitch.reuse): a character's appearance redraws
that character's references and the keyframes and clips that show them; a segment's narration is spoken
again, and nothing is redrawn.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from filmstitch.checkpoints import (
    Asker,
    Checkpoint,
    ScriptField,
    ScriptSection,
    decide,
    parse_script_changes,
    reference_tags,
)
from filmstitch.continuity import check_continuity
from filmstitch.models import FilmPlan, check_plain_text
from filmstitch.pace import speech_fit_problems
from filmstitch.reuse import key_of
from filmstitch.storage import FilmStore

log = logging.getLogger(__name__)

#: A script checkpoint shows at most this many segments; a longer film's script is shown scene by scene.
MAX_SEGMENTS_PER_PAGE = 12
#: Labels a subject's tag must not look like (they name the film, segments and keyframes).
_RESERVED = re.compile(r"^(title|logline|[sk]\d+)$")

Path = tuple[Any, ...]


class PlanError(ValueError):
    """A plan (written or changed) that cannot be made into a film; the message is one line."""


def check_plan(plan: FilmPlan) -> None:
    """What every plan must pass before any picture, written or changed: the continuity ledger and the speech
    fitting the film (the models' own validation has run when the plan exists)."""
    check_continuity(plan)
    problems = speech_fit_problems(plan)
    if problems:
        raise PlanError(problems[0])


# --------------------------------------------------------------------------- what is shown, under which label


def subject_tags(plan: FilmPlan) -> dict[str, str]:
    """Subject id -> the label prefix of its texts: the reference row's tag, unless it looks like another
    label (a character called "S3" or "Title"), then the subject id."""
    return {sid: sid if _RESERVED.match(tag) else tag for sid, tag in reference_tags(plan).items()}


def text_paths(plan: FilmPlan) -> dict[str, Path]:
    """Every changeable text's label -> where it is in the plan's JSON."""
    tags = subject_tags(plan)
    paths: dict[str, Path] = {"title": ("script", "title"), "logline": ("script", "logline")}
    for n, character in enumerate(plan.characters):
        tag = tags[character.subject_id]
        paths[f"{tag}.description"] = ("characters", n, "description")
        paths[f"{tag}.appearance"] = ("characters", n, "appearance")
    for n, location in enumerate(plan.environments):
        paths[f"{tags[location.subject_id]}.description"] = ("environments", n, "description")
    for segment in plan.script.segments:
        i = segment.index
        paths[f"s{i}.narration"] = ("script", "segments", i, "narration")
        paths[f"s{i}.action"] = ("script", "segments", i, "action")
        for j in range(len(segment.dialogue)):
            paths[f"s{i}.line{j + 1}"] = ("script", "segments", i, "dialogue", j)
    for keyframe in plan.keyframes:
        paths[f"k{keyframe.index}.prompt"] = ("keyframes", keyframe.index, "prompt")
    return paths


def text_at(plan: FilmPlan, label: str) -> str:
    """The text a label shows (a dialogue line as "Speaker: words")."""
    value: Any = plan.model_dump(mode="json")
    for step in text_paths(plan)[label]:
        value = value[step]
    return f"{value['speaker']}: {value['line']}" if isinstance(value, dict) else value


def script_pages(plan: FilmPlan) -> list[list[int]]:
    """The segments each page of the script checkpoint shows: all of them, or scene by scene for a long film
    (a scene longer than a page is split)."""
    segments = plan.script.segments
    if len(segments) <= MAX_SEGMENTS_PER_PAGE:
        return [[s.index for s in segments]]
    scenes: dict[int, list[int]] = {}
    for segment in segments:
        scenes.setdefault(segment.scene, []).append(segment.index)
    return [page[i:i + MAX_SEGMENTS_PER_PAGE] for page in scenes.values()
            for i in range(0, len(page), MAX_SEGMENTS_PER_PAGE)]


def script_sections(plan: FilmPlan, segments: Sequence[int], *, cast: bool) -> list[ScriptSection]:
    """What a page shows: with `cast`, the film, its characters and locations; then its segments, each with the
    keyframe it opens (the last segment also with the film's last keyframe)."""
    tags = subject_tags(plan)

    def field(label: str, name: str) -> ScriptField:
        return ScriptField(label=label, name=name, text=text_at(plan, label))

    sections = []
    if cast:
        sections.append(ScriptSection(heading=plan.script.title, detail="the film",
                                      fields=[field("title", "title"), field("logline", "logline")]))
        for c in plan.characters:
            tag = tags[c.subject_id]
            sections.append(ScriptSection(heading=c.name, detail=f"character, {c.role}", fields=[
                field(f"{tag}.description", "description"), field(f"{tag}.appearance", "appearance")]))
        for e in plan.environments:
            sections.append(ScriptSection(heading=e.name, detail="location",
                                          fields=[field(f"{tags[e.subject_id]}.description", "description")]))
    last = len(plan.script.segments) - 1
    for i in segments:
        segment = plan.script.segments[i]
        fields = [field(f"s{i}.narration", "narration"), field(f"s{i}.action", "action")]
        fields += [field(f"s{i}.line{j + 1}", "line") for j in range(len(segment.dialogue))]
        fields.append(field(f"k{i}.prompt", f"keyframe {i}, which opens it"))
        if i == last:
            fields.append(field(f"k{i + 1}.prompt", f"keyframe {i + 1}, the last frame"))
        where = f"{segment.setting}, {plan.location(segment.location).name}"
        sections.append(ScriptSection(heading=f"Segment {i} \u00b7 {segment.title}", detail=where, fields=fields))
    return sections


def script_checkpoint(film_id: str, plan: FilmPlan, page: Sequence[int], number: int, pages: int,
                      timeout_s: int, cost: str = "") -> Checkpoint:
    """Page `number` (of `pages`) of the script checkpoint; the first page also shows the cast and places, and
    `cost`, the film's estimate (filmstitch.estimate's summary)."""
    name, title = "script", f"{plan.script.title}: read and change the script"
    if pages > 1:
        name = f"script-{number + 1}-of-{pages}"
        title += f" (part {number + 1} of {pages}: segments {page[0]}-{page[-1]})"
    return Checkpoint(
        name=name, film_id=film_id, title=title, rows=[], timeout_s=timeout_s, more_follow=number + 1 < pages,
        intro="Nothing is drawn yet: what you change here is what is drawn and spoken.",
        script=script_sections(plan, page, cast=number == 0), cost=cost if number == 0 else "",
    )


# --------------------------------------------------------------------------- changes


def apply_script_changes(plan: FilmPlan, changes: dict[str, str]) -> FilmPlan:
    """The plan with these texts changed, checked whole like a written plan; a PlanError (one line) when the
    changed plan is not a valid film. The plan given is never changed (plans are immutable)."""
    if not changes:
        return plan
    paths = text_paths(plan)
    data = plan.model_dump(mode="json")
    removed: dict[Path, list[int]] = {}
    for label, text in changes.items():
        if label not in paths:
            raise PlanError(f"there is no text {label!r} in this plan")
        try:
            text = check_plain_text(text, label).strip()
        except ValueError as exc:
            raise PlanError(str(exc)) from None
        *where, last = paths[label]
        parent = _at(data, where)
        if isinstance(last, int) and where[-1] == "dialogue":  # "Speaker: words"; empty: the line is cut
            if not text:
                removed.setdefault(tuple(where), []).append(last)
                continue
            speaker, colon, words = text.partition(":")
            if not colon or not speaker.strip() or not words.strip():
                raise PlanError(f'{label}: write a line as Speaker: words (e.g. "{text_at(plan, label)}"), or '
                                "leave it empty to cut it")
            parent[last] = {**parent[last], "speaker": speaker.strip(), "line": words.strip()}
        else:
            parent[last] = text
    for where, lines in removed.items():
        _at(data, list(where))[:] = [line for j, line in enumerate(_at(data, list(where))) if j not in lines]
    try:
        changed = FilmPlan.model_validate(data)
    except ValidationError as exc:
        raise PlanError(_one_line(exc, paths)) from None
    try:
        check_plan(changed)
    except ValueError as exc:
        raise PlanError(str(exc)) from None
    return changed


def _at(data: Any, path: Sequence[Any]) -> Any:
    for step in path:
        data = data[step]
    return data


def _one_line(exc: ValidationError, paths: dict[str, Path]) -> str:
    """The first validation error, named by the label of the text it is about where there is one."""
    error = exc.errors()[0]
    message = str(error["msg"]).removeprefix("Value error, ")
    loc = tuple(error["loc"])
    label = next((label for label, path in paths.items() if loc[:len(path)] == path), None)
    where = label or ".".join(str(step) for step in loc) or "the plan"
    return f"{where}: {message}"


# --------------------------------------------------------------------------- deciding


def decide_script(
    store: FilmStore, plan: FilmPlan, timeout_s: int, *, auto: bool, ask: Asker | None = None, cost: str = ""
) -> FilmPlan:
    """The film's plan after the script checkpoint: the written plan with the person's changes, page by page
    (a saved answer is reused: a resumed film never asks twice); `cost`, the film's estimate, is shown on the
    first page. The plan the film is made from is stored (plan/plan.json) when it was changed."""
    pages = script_pages(plan)
    current, keep_rest = plan, False
    for number, page in enumerate(pages):
        checkpoint = script_checkpoint(store.film_id, current, page, number, len(pages), timeout_s, cost)
        before = current

        def check(changes: dict[str, str], before: FilmPlan = before) -> None:
            apply_script_changes(before, changes)

        if keep_rest:
            decision = decide(store, checkpoint, auto=True, auto_label="person (accepted recommendation)")
        else:
            decision = decide(store, checkpoint, auto=auto, ask=ask, check_script=check)
            keep_rest = decision.accept_rest
        current = apply_script_changes(before, decision.script)
        if decision.script:
            log.info("The script was changed at %s: %s", checkpoint.name, ", ".join(decision.script))
    if current != plan:
        store_plan(store, current)
    return current


def store_plan(store: FilmStore, plan: FilmPlan) -> None:
    """plan/plan.json: the plan the film is made from (once per plan, not on every rerun)."""
    reuse_key = key_of("plan", {}, plan=plan.model_dump(mode="json"))
    if store.reuse("plan/plan.json", reuse_key) is None:
        store.put("plan/plan.json", plan.model_dump_json(indent=2).encode(), "application/json",
                  reuse_key=reuse_key, stage="plan")


# --------------------------------------------------------------------------- the terminal: the script as YAML


def script_yaml(sections: Sequence[ScriptSection] | Sequence[dict[str, Any]]) -> str:
    """A page of the script as YAML for an editor: a comment per section, then `label: text` per text."""
    import yaml

    out = ["# Change any text and save; leave the file as it is (or empty) to keep the script as written.",
           "# A dialogue line reads 'Speaker: words'; an empty line is cut.", ""]
    for section in sections:
        section = section if isinstance(section, ScriptSection) else ScriptSection.model_validate(section)
        heading = " ".join(f"{section.heading} \u2014 {section.detail}".split()) if section.detail else \
            " ".join(section.heading.split())
        out.append(f"# {heading}")
        for f in section.fields:
            out.append(yaml.safe_dump({f.label: f.text}, allow_unicode=True, width=10**6, sort_keys=False).rstrip())
        out.append("")
    return "\n".join(out)


def changes_from_yaml(texts: dict[str, str], edited: str) -> dict[str, str]:
    """The texts an edited YAML page changed (label -> new text); a ValueError (one line) when the file does not
    read as `label: text` lines of this page. Texts left out are unchanged."""
    import yaml

    try:
        data = yaml.safe_load(edited) if edited.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ValueError(f"the file is not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError("the file must be label: text lines, as it was opened")  # noqa: TRY004 - a person's answer
    answer = {str(label): "" if value is None else str(value) for label, value in data.items()}
    return parse_script_changes(json.dumps(answer), texts)
