"""The two human checkpoints: resume forms with thumbnails, validation, and automatic picks.

A form is a Prefect ``RunInput`` built for this film: one integer field per reference subject
(checkpoint 1) or per boundary keyframe (checkpoint 2), each limited to the variant indices.
The form's description is markdown with the variants side by side, so a person sees what
they are choosing right in the Prefect UI's "Resume" dialog.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from prefect.input import RunInput
from pydantic import BaseModel, Field, create_model

from filmstitch import images
from filmstitch.models import FilmPlan


class Variant(BaseModel):
    """A variant as the checkpoint sees it: index, the thumbnail's URL, and the image for auto-picking."""

    variant: int
    thumb_url: str


def keyframe_field(index: int) -> str:
    return f"k{index:02d}"


def _form(name: str, fields: dict[str, tuple[str, str]], variants: int) -> type[RunInput]:
    """A RunInput with one constrained integer field per (field name -> (title, description))."""
    definitions: dict[str, Any] = {
        field: (int, Field(0, ge=0, le=variants - 1, title=title, description=description))
        for field, (title, description) in fields.items()
    }
    return create_model(name, __base__=RunInput, **definitions)


def _table(rows: Sequence[tuple[str, Sequence[Variant]]], variants: int) -> str:
    header = "| | " + " | ".join(f"Variant {v}" for v in range(variants)) + " |"
    rule = "|---|" + "---|" * variants
    lines = [header, rule]
    for label, row in rows:
        cells = " | ".join(f"![{label} variant {v.variant}]({v.thumb_url})" for v in row)
        lines.append(f"| **{label}** | {cells} |")
    return "\n".join(lines)


def _timeout_note(timeout_s: int) -> str:
    minutes = max(1, round(timeout_s / 60))
    return (
        f"If nobody answers within **{minutes} minute{'s' if minutes != 1 else ''}**, FilmStitch picks by itself "
        "and records that it did."
    )


def reference_form(
    plan: FilmPlan, variants: dict[str, Sequence[Variant]], timeout_s: int
) -> tuple[type[RunInput], str]:
    """Checkpoint 1: choose a reference variant for each character and for the environment."""
    subjects = plan.subjects
    fields = {
        s.id: (s.name, f"{s.kind.capitalize()} reference variant (0-{plan.request.variants - 1}): {s.name}")
        for s in subjects
    }
    form = _form("ReferencePicks", fields, plan.request.variants)
    description = "\n\n".join(
        [
            f"## {plan.script.title}: choose the references",
            "These pictures fix how each character and the world look in every keyframe. "
            "Pick one variant per row (0, 1 or 2 from the left).",
            _table([(s.name, variants[s.id]) for s in subjects], plan.request.variants),
            _timeout_note(timeout_s),
        ]
    )
    return form, description


def keyframe_form(
    plan: FilmPlan, variants: Sequence[Sequence[Variant]], timeout_s: int
) -> tuple[type[RunInput], str]:
    """Checkpoint 2: choose a variant for each of the N+1 boundary keyframes."""
    segments = plan.script.segments
    fields = {}
    rows = []
    for keyframe in plan.keyframes:
        i = keyframe.index
        if i == 0:
            where = f"opens '{segments[0].title}'"
        elif i == len(segments):
            where = f"closes '{segments[-1].title}'"
        else:
            where = f"between '{segments[i - 1].title}' and '{segments[i].title}'"
        label = f"Keyframe {i}"
        fields[keyframe_field(i)] = (label, f"{label}, {where}: variant 0-{plan.request.variants - 1}")
        rows.append((f"{label} ({where})", variants[i]))
    form = _form("KeyframePicks", fields, plan.request.variants)
    description = "\n\n".join(
        [
            f"## {plan.script.title}: choose the keyframes",
            f"Clip i runs from keyframe i to keyframe i+1, so these {len(plan.keyframes)} frames fix the film's "
            "look and its transitions. Pick one variant per boundary.",
            _table(rows, plan.request.variants),
            _timeout_note(timeout_s),
        ]
    )
    return form, description


def check_picks(answer: dict[str, int], expected_fields: Sequence[str], variants: int) -> dict[str, int]:
    """Validate picks again in the flow (the form's schema is the first line of defence)."""
    problems = []
    picks = {}
    for field in expected_fields:
        value = answer.get(field)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < variants:
            problems.append(f"{field}={value!r} (expected 0-{variants - 1})")
        else:
            picks[field] = value
    unknown = sorted(set(answer) - set(expected_fields))
    if unknown:
        problems.append(f"unknown fields {unknown}")
    if problems:
        raise ValueError("invalid picks: " + "; ".join(problems))
    return picks


def auto_pick_references(images_by_subject: dict[str, Sequence[bytes]]) -> dict[str, int]:
    """The sharpest, most detailed variant of each subject."""
    return {sid: _argmax(imgs, images.sharpness) for sid, imgs in images_by_subject.items()}


def auto_pick_keyframes(images_by_boundary: Sequence[Sequence[bytes]]) -> list[int]:
    """First keyframe: the sharpest. Every later one: the variant closest to the previous pick,
    so neighbouring clips start and end on frames that flow into each other."""
    picks: list[int] = []
    for i, variants in enumerate(images_by_boundary):
        if i == 0:
            picks.append(_argmax(variants, images.sharpness))
        else:
            previous = images_by_boundary[i - 1][picks[-1]]
            picks.append(_argmax(variants, lambda img: -images.distance(img, previous)))
    return picks


def _argmax(items: Sequence[bytes], score: Callable[[bytes], float]) -> int:
    scores = [score(item) for item in items]
    return max(range(len(scores)), key=scores.__getitem__)
