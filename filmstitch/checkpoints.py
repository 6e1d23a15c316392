"""The human checkpoints: one mechanism for the reference picks and the keyframe picks.

A checkpoint is a list of rows (a character or location at checkpoint 1, a boundary keyframe at
checkpoint 2), each with its variants and a recommended pick. `decide` turns it into picks:

    picks saved by an earlier run for exactly these variants   -> reused (a resumed film never asks twice)
    auto-pick (`--auto`, batches)                              -> the recommendations
    otherwise                                                  -> `ask` a person with a form (the flows pause
                                                                  or suspend the run: filmstitch.flows.asking):
        nobody answers before the timeout                      -> the recommendations, and the run goes on
        Submit with the form as shown / REST `{}` / Enter      -> the recommendations, "accepted"
        changes such as `3:1 7:2`                              -> those rows changed, the rest recommended
        keyframe edits such as `3:1 edit "make her coat red"`  -> that pick, then edited (checkpoint 2, retakes)
        an answer that does not fit                            -> asked again, with the reason

The form is made for the Prefect UI's Resume dialog, whose text column is 472 px wide and whose
description pane only gets the height the fields leave free: so it has a single text field, and the
variants are labelled tiles two abreast (each 228 px wide) in the description, scrolled vertically.
Every tile carries the label a person types to choose it ("3:1"); the recommended one has a gold frame
and a star. The same form answers the REST API, the terminal prompt of `filmstitch make`, the review
page of `filmstitch server` and the Python client: they read the rows from the form's JSON schema
(its "filmstitch" entry), so there is one description of a checkpoint.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from filmstitch import images
from filmstitch.models import FilmPlan, KeyframeEdit, PickedBy, Region, slugify, stable_hash
from filmstitch.storage import ArtifactRef, FilmStore, LocalStore

log = logging.getLogger(__name__)

#: Where in the form's JSON schema the rows are, for every client that answers a checkpoint.
SCHEMA_KEY = "filmstitch"
#: `3:1`, `lena:2`, `env_lighthouse:0`, separated by spaces, commas or semicolons.
CHANGE = re.compile(r"(?P<tag>[A-Za-z0-9_]+)\s*[:=]\s*(?P<variant>[0-9]+)", re.ASCII)
#: A keyframe edit: `edit 5 "make her coat red"`, `edit 5 region 10,20,200,180 "a red kite"`, or right after
#: a pick, `3:1 edit "..."` (that row). The instruction is in double quotes (straight or curly).
EDIT = re.compile(
    r"\bedit\b"
    r"(?:\s+(?P<tag>(?!region\b)[A-Za-z0-9_]+)(?![A-Za-z0-9_:=]))?"
    r"(?:\s+region\s*[:=]?\s*(?P<region>\d+\s*,\s*\d+\s*,\s*\d+\s*,\s*\d+))?"
    r"(?:\s*(?:\"(?P<text>[^\"]*)\"|\u201c(?P<curly>[^\u201d]*)\u201d))?",
    re.IGNORECASE,
)
#: `check_edit(tag, edit)` refuses (ValueError) an edit the film's renderer cannot make.
EditCheck = Callable[[str, KeyframeEdit], None]
MAX_ASKS = 20

#: `ask(checkpoint, note, attempt) -> the form's answer, or None when nobody answered in time`.
Asker = Callable[["Checkpoint", str, int], "dict[str, Any] | None"]


class Variant(BaseModel):
    """A variant as a checkpoint shows it."""

    model_config = ConfigDict(frozen=True)

    variant: int
    image_key: str = Field(description="The full picture in the film's storage.")
    thumb_key: str = Field(description="Its thumbnail in the film's storage.")
    score: str | None = Field(None, description="A renderer's continuity score, as shown.")


class Row(BaseModel):
    """One choice: a subject's reference, or a boundary's keyframe."""

    model_config = ConfigDict(frozen=True)

    tag: str = Field(pattern=r"^[a-z0-9_]+$", description="What a person types before ':' to choose in this row.")
    title: str
    detail: str = ""
    variants: list[Variant]
    recommended: int
    why: str = Field("", description="Why the recommended variant is recommended.")


class ScriptField(BaseModel):
    """One text of the script a person may change at the script checkpoint, under the label they type."""

    model_config = ConfigDict(frozen=True)

    label: str = Field(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)?$", description="What a person types: s3.narration.")
    name: str = Field(description="What the text is: narration, action, Lena's line, the keyframe prompt...")
    text: str


class ScriptSection(BaseModel):
    """A part of the script as the checkpoint shows it: the film, a character, a location, a segment."""

    model_config = ConfigDict(frozen=True)

    heading: str
    detail: str = ""
    fields: list[ScriptField]


class Checkpoint(BaseModel):
    """A question a film asks a person: picks among pictures (`rows`), or the script to read and change
    (`script`, the script checkpoint, before any picture)."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=r"^[a-z0-9-]+$", description="references, keyframes, keyframes-scene-2...")
    film_id: str
    title: str
    intro: str
    rows: list[Row]
    timeout_s: int
    #: A later checkpoint of the same kind follows (long films are picked scene by scene).
    more_follow: bool = False
    #: The answer may edit keyframes (`edit 3 "make her coat red"`); `frame` is their size, for regions.
    edits: bool = False
    frame: tuple[int, int] | None = None
    #: The script checkpoint: the texts shown, each under the label a person types to change it.
    script: list[ScriptSection] | None = None
    #: The film's estimate (filmstitch.estimate's summary lines), shown at the script checkpoint; not part of the
    #: fingerprint: a saved answer to the same script stands whatever the prices.
    cost: str = ""

    @property
    def recommended(self) -> dict[str, int]:
        return {row.tag: row.recommended for row in self.rows}

    @property
    def script_texts(self) -> dict[str, str]:
        """Label -> text of every changeable text of a script checkpoint."""
        return {f.label: f.text for section in self.script or [] for f in section.fields}

    def fingerprint(self) -> str:
        """Changes whenever the variants (their pictures) change, or the script's texts: saved picks of other
        pictures (a saved answer to another script) are not reused."""
        if self.script is not None:
            return stable_hash([self.name, [[f.label, f.text] for section in self.script for f in section.fields]],
                               16)
        return stable_hash([[row.tag, [v.image_key for v in row.variants]] for row in self.rows], 16)


class Decision(BaseModel):
    """What was picked at a checkpoint, and who picked it (and, for keyframes, the edits asked for)."""

    picks: dict[str, int]
    picked_by: PickedBy
    edits: dict[str, KeyframeEdit] = Field(default_factory=dict, description="Row tag -> the edit of its pick.")
    accept_rest: bool = Field(False, description="The person accepted the recommendations for the checkpoints "
                                                 "that follow too (long films).")
    script: dict[str, str] = Field(default_factory=dict, description="Script checkpoint: label -> the new text.")


# --------------------------------------------------------------------------- answers


def parse_changes(text: str, rows: Sequence[Row] | Sequence[dict[str, Any]]) -> dict[str, int]:
    """`"3:1 7:2"` -> `{"3": 1, "7": 2}`, checked against the rows; a ValueError says what is wrong.

    Row tags and names are matched without regard to case ("Lena:2" chooses in the row tagged `lena`).
    """
    tags = {_get(row, "tag"): len(_get(row, "variants")) for row in rows}
    by_name = {_get(row, "title").casefold(): _get(row, "tag") for row in rows}
    text = text.strip()
    leftover = CHANGE.sub(" ", text).replace(",", " ").replace(";", " ").strip()
    if leftover:
        raise ValueError(f"cannot read {leftover[:40]!r}: write changes as row:variant pairs, e.g. "
                         f"{_example(rows)}")
    changes: dict[str, int] = {}
    for match in CHANGE.finditer(text):
        tag = match["tag"].casefold()
        tag = tag if tag in tags else by_name.get(tag, tag)
        if tag not in tags:
            raise ValueError(f"there is no row {match['tag']!r}: the rows are {', '.join(tags)}")
        variant = int(match["variant"])
        if not 0 <= variant < tags[tag]:
            raise ValueError(f"row {tag} has variants 0-{tags[tag] - 1}, not {variant}")
        if tag in changes and changes[tag] != variant:
            raise ValueError(f"row {tag} is given twice ({changes[tag]} and {variant})")
        changes[tag] = variant
    return changes


class Answer(BaseModel):
    """A checkpoint answer read: the picks it changes and the keyframe edits it asks for, by row tag."""

    picks: dict[str, int]
    edits: dict[str, KeyframeEdit] = Field(default_factory=dict)


def parse_answer(
    text: str,
    rows: Sequence[Row] | Sequence[dict[str, Any]],
    *,
    edits: bool = False,
    frame: tuple[int, int] | None = None,
    check_edit: EditCheck | None = None,
) -> Answer:
    """A checkpoint's answer: picks as `parse_changes` reads them, and, where `edits` are allowed (keyframes),
    `edit TAG [region X0,Y0,X1,Y1] ["instruction"]` clauses, or `TAG:V edit ...` to edit the row just picked.
    A region is in pixels of the `frame`; `check_edit` refuses what the renderer cannot do. A ValueError says
    what is wrong, in words."""
    found = list(EDIT.finditer(text))
    if found and not edits:
        raise ValueError("edits are only taken where keyframes are picked; here, write row:variant pairs, e.g. "
                         f"{_example(rows)}")
    remainder, asked = text, {}
    for match in reversed(found):
        remainder = remainder[:match.start()] + " " + remainder[match.end():]
    if remainder.count('"') % 2 or "\u201c" in remainder:
        raise ValueError('an instruction is not closed: put it in double quotes, e.g. edit 3 "make her coat red"')
    picks = parse_changes(remainder, rows)
    tags = {_get(row, "tag"): row for row in rows}
    by_name = {_get(row, "title").casefold(): _get(row, "tag") for row in rows}
    for match in found:
        tag = _edit_tag(match, text, tags, by_name)
        region = None
        if match["region"]:
            region = Region.parse(match["region"])
            if frame is not None:
                region.check_inside(*frame)
        instruction = match["text"] if match["text"] is not None else match["curly"]
        if instruction is None and region is None:
            raise ValueError(f'edit {tag} needs an instruction in double quotes or a region, e.g. edit {tag} '
                             '"make her coat red"')
        if instruction is not None and not instruction.strip():
            raise ValueError(f"the instruction for keyframe {tag} is empty: say what to change")
        if tag in asked:
            raise ValueError(f"keyframe {tag} is edited twice: put both changes in one instruction")
        try:
            edit = KeyframeEdit(instruction=instruction, region=region)
        except ValidationError as exc:
            raise ValueError(f"edit {tag}: {exc.errors()[0]['msg'].removeprefix('Value error, ')}") from None
        if check_edit is not None:
            check_edit(tag, edit)
        asked[tag] = edit
    return Answer(picks=picks, edits=dict(sorted(asked.items(), key=lambda item: list(tags).index(item[0]))))


def _edit_tag(match: re.Match[str], text: str, tags: dict[str, Any], by_name: dict[str, str]) -> str:
    """The row an edit clause names, or the row picked just before it (`3:1 edit "..."`)."""
    if match["tag"]:
        tag = match["tag"].casefold()
        tag = tag if tag in tags else by_name.get(tag, tag)
        if tag not in tags:
            raise ValueError(f"there is no keyframe {match['tag']!r} to edit: the rows are {', '.join(tags)}")
        return tag
    before = list(CHANGE.finditer(text[:match.start()]))
    if not before:
        raise ValueError('say which keyframe to edit: edit 3 "make her coat red", or 3:1 edit "..."')
    tag = before[-1]["tag"].casefold()
    return tag if tag in tags else by_name.get(tag, tag)


#: A change of the script: `s3.narration = "new words"` (or `:`), the text in double quotes (straight or curly).
SCRIPT_CHANGE = re.compile(
    r"(?P<label>[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)?)\s*[:=]\s*(?:\"(?P<text>[^\"]*)\"|\u201c(?P<curly>[^\u201d]*)\u201d)"
)
#: Checks a script change as a whole (`check(changes)`: a ValueError in one line says what is wrong).
ScriptCheck = Callable[[dict[str, str]], None]


def parse_script_changes(text: str, texts: dict[str, str]) -> dict[str, str]:
    """A script checkpoint's answer -> {label: new text}: empty (the script as written), a JSON object
    (`{"s3.narration": "..."}`, what REST clients, the review page and the terminal send), or
    `label = "text"` pairs. Labels must exist; texts equal to what is written are not changes. A ValueError
    says what is wrong, in one line."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        import json

        try:
            answer = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the changes are not valid JSON ({exc.msg} at character {exc.pos})") from None
        if not isinstance(answer, dict) or not all(isinstance(v, str) for v in answer.values()):
            raise ValueError('the changes must be a JSON object of label: text, e.g. {"s0.narration": "..."}')
        pairs = list(answer.items())
    else:
        leftover = SCRIPT_CHANGE.sub(" ", text).replace(",", " ").replace(";", " ").strip()
        if leftover:
            raise ValueError(f'cannot read {leftover[:40]!r}: write changes as label = "new text", e.g. '
                             f'{_script_example(texts)}')
        pairs = [(m["label"], m["text"] if m["text"] is not None else m["curly"]) for m in SCRIPT_CHANGE.finditer(text)]
    changes: dict[str, str] = {}
    for label, value in pairs:
        key = label.casefold()
        if key not in texts:
            near = [known for known in texts if known.split(".")[0] == key.split(".")[0]][:6]
            raise ValueError(f"there is no text {label!r} here" + (f": {key.split('.')[0]} has {', '.join(near)}"
                                                                     if near else ""))
        if key in changes and changes[key] != value:
            raise ValueError(f"{key} is given twice")
        if " ".join(value.split()) != " ".join(texts[key].split()):
            changes[key] = value
    return changes


def _script_example(texts: dict[str, str]) -> str:
    label = next((label for label in texts if label.endswith(".narration")), next(iter(texts), "title"))
    return f'{label} = "..."'


def _get(row: Row | dict[str, Any], name: str) -> Any:
    return getattr(row, name) if isinstance(row, Row) else row[name]


def _example(rows: Sequence[Row] | Sequence[dict[str, Any]]) -> str:
    tags = [_get(row, "tag") for row in rows][:2]
    return " ".join(f"{tag}:{min(1, len(_get(row, 'variants')) - 1)}" for tag, row in zip(tags, rows))


def apply_changes(recommended: dict[str, int], changes: dict[str, int]) -> dict[str, int]:
    return {tag: changes.get(tag, variant) for tag, variant in recommended.items()}


# --------------------------------------------------------------------------- the form


def form_schema_extra(checkpoint: Checkpoint, answer_by: str | None = None) -> dict[str, Any]:
    """What answering clients need to know, stored in the form's JSON schema. `answer_by` (ISO time): when the
    recommended picks are taken if nobody answers."""
    return {
        "answer_by": answer_by,
        "checkpoint": checkpoint.name,
        "film_id": checkpoint.film_id,
        "title": checkpoint.title,
        "more_follow": checkpoint.more_follow,
        "contact_sheet": contact_sheet_key(checkpoint) if checkpoint.script is None else None,
        "rows": [row.model_dump(mode="json") for row in checkpoint.rows],
        "edits": checkpoint.edits,
        "frame": list(checkpoint.frame) if checkpoint.frame else None,
        "script": [section.model_dump(mode="json") for section in checkpoint.script]
        if checkpoint.script is not None else None,
        "cost": checkpoint.cost,
    }


def build_form(checkpoint: Checkpoint, answer_by: str | None = None) -> type:
    """The checkpoint's RunInput: one `changes` text field (and, when more checkpoints follow, a box that
    accepts the recommendations for all of them)."""
    from prefect.input import RunInput

    extra = {SCHEMA_KEY: form_schema_extra(checkpoint, answer_by)}
    if checkpoint.script is not None:
        return _script_form(checkpoint, extra)
    example = _example(checkpoint.rows)

    class CheckpointForm(RunInput):
        model_config = ConfigDict(title=f"{checkpoint.title}", json_schema_extra=extra)

        changes: str = Field(
            "",
            title="Changes",
            description=f"Empty: the recommended picks (\u2605). Or the labels of other pictures, e.g. {example}"
            + (f'; to edit a pick, e.g. {checkpoint.rows[0].tag}:1 edit "make her coat red"' if checkpoint.edits
               else ""),
            # No regex `pattern` here: the server would refuse with the regex as the reason. The flow reads the
            # answer and, when it does not fit, asks again saying why in words (`parse_changes`).
            max_length=4000,
        )

    if checkpoint.more_follow:

        class CheckpointFormWithRest(CheckpointForm):
            accept_rest: bool = Field(
                False, title="Accept the recommendations for all later scenes",
                description="Tick to pick these and take the recommended keyframes of every scene that follows.",
            )

        return CheckpointFormWithRest
    return CheckpointForm


#: The longest answer a script checkpoint takes (a whole page of changed texts as JSON).
MAX_SCRIPT_ANSWER_CHARS = 60_000


def _script_form(checkpoint: Checkpoint, extra: dict[str, Any]) -> type:
    """The script checkpoint's RunInput: one `changes` text field (and, on the pages of a long film, a box that
    keeps the rest of the script as written)."""
    from prefect.input import RunInput

    example = _script_example(checkpoint.script_texts)

    class ScriptForm(RunInput):
        model_config = ConfigDict(title=f"{checkpoint.title}", json_schema_extra=extra)

        changes: str = Field(
            "", title="Changes",
            description=f'Empty: the script as written. Or labels and new texts, e.g. {example}; or a JSON object '
                        'of label: text.',
            max_length=MAX_SCRIPT_ANSWER_CHARS,  # no pattern: the flow reads the answer and says what is wrong
        )

    if checkpoint.more_follow:

        class ScriptFormWithRest(ScriptForm):
            accept_rest: bool = Field(
                False, title="Keep the rest of the script as written",
                description="Tick to take these changes and the later pages of the script as they are.",
            )

        return ScriptFormWithRest
    return ScriptForm


def form_markdown(checkpoint: Checkpoint, tile_url: Callable[[str, int], str], review_url: str | None) -> str:
    """The form's description: rows of labelled tiles. `tile_url(tag, variant)` gives a tile's address."""
    if checkpoint.script is not None:
        return script_markdown(checkpoint, review_url)
    minutes = max(1, round(checkpoint.timeout_s / 60))
    lines = [f"## {escape_markdown(checkpoint.title)}"]
    # Short: at 1366x768 every line here is a line less of pictures in the Resume dialog.
    guide = (
        f"{escape_markdown(checkpoint.intro)} **Submit** takes the recommended picks (\u2605); type other "
        f"labels in *Changes* (`{_example(checkpoint.rows)}`)"
    )
    if checkpoint.edits:
        tag = checkpoint.rows[0].tag
        guide += (f', or edit a pick (`{tag}:1 edit "make her coat red"`, a rectangle: '
                  f'`edit {tag} region 100,50,300,250 "a red kite"`)')
    guide += f". No answer in {minutes} minute{'s' if minutes != 1 else ''}: the recommended picks."
    if review_url:
        guide += f" [Large review page (click to pick)]({review_url})"
    lines.append(guide)
    for row in checkpoint.rows:
        heading = f"**{row.tag} \u00b7 {escape_markdown(row.title)}**"
        if row.detail:
            heading += f" \u2014 {escape_markdown(row.detail)}"
        heading += f" \u00b7 recommended **{row.tag}:{row.recommended}**"
        if row.why:
            heading += f" ({escape_markdown(row.why)})"
        scores = [f"{row.tag}:{v.variant} {v.score}" for v in row.variants if v.score]
        if scores:
            heading += " \u00b7 scores: " + ", ".join(escape_markdown(s) for s in scores)
        lines.append(heading)
        lines.append(" ".join(
            f"![{row.tag}:{v.variant}{' recommended' if v.variant == row.recommended else ''}]"
            f"({tile_url(row.tag, v.variant)})"
            for v in row.variants
        ))
    return "\n\n".join(lines)


def script_markdown(checkpoint: Checkpoint, review_url: str | None) -> str:
    """The script checkpoint's description: every text under its label, all of it escaped (it is the
    writer's and the person's text: data, never markup). Headings and short paragraphs: it reads in the
    Resume dialog's 472-px column by scrolling down only."""
    minutes = max(1, round(checkpoint.timeout_s / 60))
    example = _script_example(checkpoint.script_texts)
    lines = [f"## {escape_markdown(checkpoint.title)}",
             f"{escape_markdown(checkpoint.intro)} **Submit** keeps the script as written. To change a text, type "
             f"its label and the new text in quotes in *Changes*: `{example}` (several, one after another). "
             f"No answer in {minutes} minute{'s' if minutes != 1 else ''}: the script as written."
             + (f" [Large review page (edit in place)]({review_url})" if review_url else "")]
    lines += cost_markdown(checkpoint.cost)
    for section in checkpoint.script or []:
        heading = f"### {escape_markdown(section.heading)}"
        if section.detail:
            heading += f" \u2014 {escape_markdown(section.detail)}"
        lines.append(heading)
        lines += [f"`{f.label}` *{escape_markdown(f.name)}:* {escape_markdown(f.text)}" for f in section.fields]
    return "\n\n".join(lines)


def cost_markdown(cost: str) -> list[str]:
    """The estimate's summary as a bold first line and a list of its stages (short lines: the dialog's column
    is narrow); nothing when there is no estimate."""
    if not cost.strip():
        return []
    first, *rest = [line.strip() for line in cost.splitlines() if line.strip()]
    return [f"**{escape_markdown(first)}**", "\n".join(f"- {escape_markdown(line)}" for line in rest)] if rest \
        else [f"**{escape_markdown(first)}**"]


#: Characters that make markup anywhere in a line ('-', '+' and digits only matter at a line's start, and
#: escaped text never starts a line here: it always follows a label or a heading mark).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#!|~])")


def escape_markdown(text: str) -> str:
    """Model and user text as literal text in markdown (never markup, links or HTML)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def contact_sheet_key(checkpoint: Checkpoint) -> str:
    return f"checkpoints/{checkpoint.name}-{checkpoint.fingerprint()[:8]}.jpg"


def tile_key(checkpoint: Checkpoint, tag: str, variant: int) -> str:
    return f"checkpoints/{checkpoint.name}-{checkpoint.fingerprint()[:8]}/{tag}-v{variant}.jpg"


def store_pictures(store: FilmStore, checkpoint: Checkpoint) -> dict[tuple[str, int], bytes]:
    """Make and store every labelled tile and the contact sheet; returns the tiles' bytes (none for the script).
    Stored already (the same checkpoint asked again by a run resumed after a suspension): read back, not drawn
    again."""
    if checkpoint.script is not None:
        return {}
    if store.exists(contact_sheet_key(checkpoint)):  # written last, so every tile is there
        return {(row.tag, v.variant): store.get(tile_key(checkpoint, row.tag, v.variant))
                for row in checkpoint.rows for v in row.variants}
    tiles: dict[tuple[str, int], bytes] = {}
    sheet_rows = []
    for row in checkpoint.rows:
        row_tiles = []
        for v in row.variants:
            tile = images.labelled(store.get(v.image_key), f"{row.tag}:{v.variant}", v.variant == row.recommended)
            tiles[(row.tag, v.variant)] = images.jpeg(tile, quality=72)
            store.put(tile_key(checkpoint, row.tag, v.variant), tiles[(row.tag, v.variant)], "image/jpeg",
                      stage="checkpoint")
            row_tiles.append(tile)
        sheet_rows.append((f"{row.tag} \u00b7 {row.title}", row_tiles))
    store.put(contact_sheet_key(checkpoint), images.contact_sheet(sheet_rows), "image/jpeg", stage="checkpoint")
    return tiles


# --------------------------------------------------------------------------- deciding


def picks_key(checkpoint: Checkpoint) -> str:
    return f"picks/{checkpoint.name}.json"


def saved_decision(store: FilmStore, checkpoint: Checkpoint) -> Decision | None:
    ref = store.reuse(picks_key(checkpoint), checkpoint.fingerprint())
    if ref is None:
        return None
    decision = Decision.model_validate_json(store.get_verified(ref))
    if set(decision.picks) != {row.tag for row in checkpoint.rows}:
        return None
    return decision


def save_decision(store: FilmStore, checkpoint: Checkpoint, decision: Decision) -> None:
    store.put(picks_key(checkpoint), decision.model_dump_json(indent=2).encode(), "application/json",
              reuse_key=checkpoint.fingerprint(), stage="picks", picked_by=decision.picked_by)


def decide(
    store: FilmStore,
    checkpoint: Checkpoint,
    *,
    auto: bool,
    ask: Asker | None = None,
    auto_label: PickedBy = "auto",
    check_edit: EditCheck | None = None,
    check_script: ScriptCheck | None = None,
) -> Decision:
    """The picks for `checkpoint` (see the module's docstring for the order of ways). `auto_label` is who
    the auto-picks are recorded as made by ("person (accepted recommendation)" when a person said so).

    `ask(checkpoint, note, attempt)` puts the question to a person (with `note` saying why an earlier answer
    was refused) and returns their answer (the form's fields), or None when nobody answered in time; the
    flows pass one that pauses or suspends the Prefect flow run (filmstitch.flows.asking). `check_edit` refuses
    keyframe edits the renderer cannot make (the person is asked again, with the reason); `check_script` refuses a
    change of the script that does not make a valid plan (likewise).
    """
    saved = saved_decision(store, checkpoint)
    if saved is not None:
        log.info("Reusing the %s picks made earlier for this film (%s)", checkpoint.name, saved.picked_by)
        return saved
    if auto:
        decision = Decision(picks=checkpoint.recommended, picked_by=auto_label)
    else:
        if ask is None:
            raise ValueError(f"checkpoint {checkpoint.name}: no way to ask a person (give `ask`, or auto-pick)")
        decision = _ask_until_valid(checkpoint, ask, check_edit, check_script)
    save_decision(store, checkpoint, decision)
    return decision


def _ask_until_valid(
    checkpoint: Checkpoint, ask: Asker, check_edit: EditCheck | None = None, check_script: ScriptCheck | None = None
) -> Decision:
    note = ""
    for attempt in range(MAX_ASKS):
        answer = ask(checkpoint, note, attempt)
        if answer is None:
            return Decision(picks=checkpoint.recommended, picked_by="auto (nobody answered)")
        try:
            if checkpoint.script is not None:
                return _script_decision(checkpoint, answer, check_script)
            read = parse_answer(str(answer.get("changes") or ""), checkpoint.rows, edits=checkpoint.edits,
                                frame=checkpoint.frame, check_edit=check_edit)
        except ValueError as exc:
            log.warning("Refused an answer at %s: %s", checkpoint.name, exc)
            note = f"**Your last answer was refused:** {escape_markdown(str(exc))}. Please answer again."
            continue
        picks = apply_changes(checkpoint.recommended, read.picks)
        who: PickedBy = "person" if picks != checkpoint.recommended or read.edits else \
            "person (accepted recommendation)"
        return Decision(picks=picks, picked_by=who, accept_rest=bool(answer.get("accept_rest")), edits=read.edits)
    raise ValueError(f"{MAX_ASKS} answers in a row were refused at {checkpoint.name}; run the film again to continue")


def _script_decision(checkpoint: Checkpoint, answer: dict[str, Any], check: ScriptCheck | None) -> Decision:
    """A script checkpoint's answer read and checked whole (a ValueError refuses all of it)."""
    changes = parse_script_changes(str(answer.get("changes") or ""), checkpoint.script_texts)
    if changes and check is not None:
        check(changes)
    return Decision(picks={}, picked_by="person" if changes else "person (accepted recommendation)",
                    accept_rest=bool(answer.get("accept_rest")), script=changes)


def tile_urls(
    store: FilmStore, checkpoint: Checkpoint, tiles: dict[tuple[str, int], bytes], films_url: str | None
) -> Callable[[str, int], str]:
    """http links where the films are served (S3: presigned; `filmstitch server`: its film server), else the
    tiles themselves as data: URIs (the UI cannot read file://)."""

    def url(tag: str, variant: int) -> str:
        key = tile_key(checkpoint, tag, variant)
        if films_url and isinstance(store.store, LocalStore):
            return f"{films_url}/films/{store.film_id}/{key}"
        location = store.url(key, expires_s=7 * 24 * 3600)
        return location if location.startswith("http") else images.data_uri(tiles[(tag, variant)])

    return url


# --------------------------------------------------------------------------- recommendations


def recommend_sharpest(variants: Sequence[bytes]) -> int:
    """The reference with the most detail and contrast."""
    return _argmax(variants, images.sharpness)


def recommend_closest(variants: Sequence[bytes], previous: bytes | None) -> int:
    """The keyframe that flows best from the previous boundary's pick (the sharpest for the first)."""
    if previous is None:
        return recommend_sharpest(variants)
    return _argmax(variants, lambda img: -images.distance(img, previous))


def _argmax(items: Sequence[bytes], score: Callable[[bytes], float]) -> int:
    scores = [score(item) for item in items]
    return max(range(len(scores)), key=scores.__getitem__)


# --------------------------------------------------------------------------- a film's two checkpoints

#: A keyframe checkpoint shows at most this many boundaries; a longer film is picked scene by scene.
MAX_ROWS_PER_PAGE = 31


class StoredVariant(Protocol):
    """A rendered variant as the stage tasks return it."""

    variant: int
    image: ArtifactRef
    thumb: ArtifactRef


def _variants(stored: Sequence[StoredVariant], captions: Sequence[str | None] | None = None) -> list[Variant]:
    return [Variant(variant=v.variant, image_key=v.image.key, thumb_key=v.thumb.key,
                    score=captions[k] if captions else None) for k, v in enumerate(stored)]


def reference_tags(plan: FilmPlan) -> dict[str, str]:
    """Subject id -> the row tag a person types ("lena", "lighthouse"); the subject id where names collide."""
    tags: dict[str, str] = {}
    for subject in plan.subjects:
        tag = slugify(subject.name, 24)
        tags[subject.id] = tag if tag not in tags.values() else subject.id
    return tags


def reference_checkpoint(
    store: FilmStore, plan: FilmPlan, references: dict[str, Sequence[StoredVariant]], timeout_s: int
) -> Checkpoint:
    """Checkpoint 1: a reference for every character and every location."""
    tags = reference_tags(plan)
    rows = []
    for subject in plan.subjects:
        stored = references[subject.id]
        if subject.kind == "character":
            detail = f"character, {plan.character(subject.name).role}"
        else:
            detail = "location"
        rows.append(Row(
            tag=tags[subject.id], title=subject.name, detail=detail, variants=_variants(stored),
            recommended=recommend_sharpest([store.get_verified(v.thumb) for v in stored]),
            why="the sharpest, most detailed",
        ))
    return Checkpoint(
        name="references", film_id=store.film_id, title=f"{plan.script.title}: choose the references",
        intro="These fix how each character and place look in every keyframe.",
        rows=rows, timeout_s=timeout_s,
    )


def keyframe_detail(plan: FilmPlan, index: int) -> str:
    segments = plan.script.segments
    if index == 0:
        return f"opens \u201c{segments[0].title}\u201d"
    if index == len(segments):
        return f"closes \u201c{segments[-1].title}\u201d"
    return f"between \u201c{segments[index - 1].title}\u201d and \u201c{segments[index].title}\u201d"


def keyframe_pages(plan: FilmPlan) -> list[list[int]]:
    """The boundaries each keyframe checkpoint shows: all of them, or scene by scene for a long film."""
    boundaries = list(range(len(plan.keyframes)))
    if len(boundaries) <= MAX_ROWS_PER_PAGE:
        return [boundaries]
    last = len(plan.script.segments) - 1
    pages: dict[int, list[int]] = {}
    for index in boundaries:
        pages.setdefault(plan.script.segments[min(index, last)].scene, []).append(index)
    # A scene longer than a page is split; consecutive tiny scenes stay apart (a page is a scene).
    result = []
    for page in pages.values():
        result += [page[i:i + MAX_ROWS_PER_PAGE] for i in range(0, len(page), MAX_ROWS_PER_PAGE)]
    return result


class KeyframePicks(BaseModel):
    """The pick of every boundary, who picked at each keyframe checkpoint, and the edits asked for."""

    picks: list[int]
    picked_by: dict[str, PickedBy]
    edits: dict[int, KeyframeEdit] = Field(default_factory=dict, description="Boundary -> the edit of its pick.")

    def pick(self, index: int) -> int:
        return self.picks[index]


class Scores(Protocol):
    """A boundary's continuity scores (filmstitch.renderers.qc.KeyframeQc)."""

    variants: Sequence[Any]
    identity: bool

    def caption(self, variant: int, names: dict[str, str] | None = None) -> str: ...


#: Continuity scores closer than this are a tie, broken by how well the variant flows from the previous pick.
SCORE_TIE = 0.02


def recommend_keyframe(pictures: Sequence[bytes], previous: bytes | None, scores: Scores | None) -> tuple[int, str]:
    """(recommended variant, why): the best continuity score where it measures identity (the subjects look like
    their references: an image model), and among near-equal scores, or with no such score, the variant that
    flows best from the previous boundary's pick."""
    flow = recommend_closest(pictures, previous)
    values = [v.score for v in scores.variants] if scores and scores.identity else []
    if not values or any(value is None for value in values):
        return flow, "the sharpest" if previous is None else "flows best from the previous keyframe"
    top = max(values)
    tied = [k for k, value in enumerate(values) if top - value <= SCORE_TIE]
    if len(tied) == 1:
        return tied[0], "best continuity score"
    if flow in tied:
        return flow, "best continuity score; flows best from the previous keyframe"
    return tied[0], "best continuity score"


def keyframe_row(
    store: FilmStore, plan: FilmPlan, index: int, stored: Sequence[StoredVariant], previous: bytes | None,
    scores: Scores | None, recommended: tuple[int, str] | None = None,
) -> Row:
    """A boundary's row: its variants (with their scores) and the recommended one (`recommend_keyframe`, flowing
    from `previous`, the previous boundary's picked thumbnail; or `recommended`, (position, why))."""
    names = {s.id: s.name for s in plan.subjects}
    pictures = [store.get_verified(v.thumb) for v in stored]
    position, why = recommended or recommend_keyframe(pictures, previous, scores)
    captions = [scores.caption(k, names) for k in range(len(stored))] if scores else None
    return Row(tag=str(index), title=f"Keyframe {index}", detail=keyframe_detail(plan, index),
               variants=_variants(stored, captions), recommended=stored[position].variant, why=why)


def decide_keyframes(
    store: FilmStore,
    plan: FilmPlan,
    keyframes: Sequence[Sequence[StoredVariant]],
    timeout_s: int,
    *,
    auto: bool,
    ask: Asker | None = None,
    scores: Sequence[Scores] | None = None,
    check_edit: EditCheck | None = None,
) -> KeyframePicks:
    """Checkpoint 2, page by page: each page's recommendations flow from the previous boundary's pick and,
    where the renderer scores continuity (`scores`, one per boundary), follow the scores. The answer may edit
    picks (`3:1 edit "make her coat red"`) where `check_edit` says the renderer can."""
    pages = keyframe_pages(plan)
    picks: dict[int, int] = {}
    picked_by: dict[str, PickedBy] = {}
    edits: dict[int, KeyframeEdit] = {}
    accepted_rest = False
    for number, page in enumerate(pages):
        rows: list[Row] = []
        for index in page:
            previous = None
            if index > 0:  # the previous boundary's pick: made on an earlier page, else recommended just now
                before = picks[index - 1] if index - 1 in picks else rows[-1].recommended
                previous = store.get_verified(keyframes[index - 1][before].thumb)
            rows.append(keyframe_row(store, plan, index, keyframes[index], previous, scores[index] if scores else None))
        name = "keyframes" if len(pages) == 1 else f"keyframes-{number + 1}-of-{len(pages)}"
        title = f"{plan.script.title}: choose the keyframes"
        if len(pages) > 1:
            title += f" (part {number + 1} of {len(pages)}: keyframes {page[0]}-{page[-1]})"
        checkpoint = Checkpoint(
            name=name, film_id=store.film_id, title=title,
            intro="Clip i runs from keyframe i to keyframe i+1.",
            rows=rows, timeout_s=timeout_s, more_follow=number + 1 < len(pages), edits=check_edit is not None,
            frame=(plan.request.width, plan.request.height),
        )
        if accepted_rest:
            decision = decide(store, checkpoint, auto=True, auto_label="person (accepted recommendation)")
        else:
            decision = decide(store, checkpoint, auto=auto, ask=ask, check_edit=check_edit)
            accepted_rest = decision.accept_rest
        picks.update({int(tag): variant for tag, variant in decision.picks.items()})
        edits.update({int(tag): edit for tag, edit in decision.edits.items()})
        picked_by[name] = decision.picked_by
    return KeyframePicks(picks=[picks[i] for i in range(len(plan.keyframes))], picked_by=picked_by, edits=edits)


def retake_checkpoint(
    store: FilmStore, plan: FilmPlan, index: int, take: int, stored: Sequence[StoredVariant], scores: Scores | None,
    previous: bytes | None, timeout_s: int, *, edits: bool, recommended: tuple[int, str] | None = None,
) -> Checkpoint:
    """The one-row checkpoint of a keyframe retake: the new take's variants of boundary `index`, recommended
    as at checkpoint 2 (flowing from `previous`, the film's picture of the boundary before), or as
    `recommended` says ((position, why): the picture that was edited, drawn again)."""
    row = keyframe_row(store, plan, index, stored, previous, scores, recommended)
    return Checkpoint(
        name=f"retake-k{index:02d}-take-{take}", film_id=store.film_id,
        title=f"{plan.script.title}: choose keyframe {index} (take {take})",
        intro="A retake of one boundary: the clips on either side are made again from the picture chosen here.",
        rows=[row], timeout_s=timeout_s, edits=edits, frame=(plan.request.width, plan.request.height),
    )
