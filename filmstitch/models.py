"""The film's domain model: what a film is made of, validated end to end.

A film of N segments has N+1 boundary keyframes: segment i runs from keyframe i to
keyframe i+1, so neighbouring clips share a frame and the film stays continuous.
Everything a writer produces lands in a :class:`FilmPlan`; everything a person (or the
auto-picker) chooses lands in :class:`Picks`.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

MAX_IDEA_CHARS = 2000
MAX_SEGMENTS = 30
MAX_CLIP_SUMMARY_WORDS = 50
MAX_PIXELS = 1920 * 1088

HexColor = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=400)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=3000)]
Pose = Literal["stand", "walk", "run", "kneel", "sit", "reach", "look_up", "wave"]
Shot = Literal["wide", "medium", "close"]


class Strict(BaseModel):
    """Base for every domain model: unknown fields are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_plain_text(value: str, what: str) -> str:
    """Refuse control characters (tabs and newlines are folded into spaces)."""
    folded = re.sub(r"[\t\r\n]+", " ", value)
    for char in folded:
        if unicodedata.category(char) in ("Cc", "Cs") or char in "\u2028\u2029":
            raise ValueError(f"{what} contains a control character (U+{ord(char):04X})")
    return folded


def slugify(text: str, max_len: int = 40) -> str:
    """Lower-case ASCII identifier made of [a-z0-9_], never empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")[:max_len].strip("_")
    return slug or "x" + hashlib.sha256(text.encode()).hexdigest()[:8]


def stable_hash(payload: object, length: int = 12) -> str:
    """Short hash of JSON-able data, stable across processes and machines."""
    text = json.dumps(payload, sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def derive_seed(base_seed: int, *parts: object) -> int:
    """A per-variant seed: deterministic, recorded, and different for every (subject, variant)."""
    digest = hashlib.sha256(json.dumps([base_seed, *parts], default=str).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


class FilmRequest(Strict):
    """What the user asks for. Validated before any work starts."""

    idea: str = Field(description="The film idea, one sentence or a short paragraph.")
    segments: int = Field(10, ge=1, le=MAX_SEGMENTS, description="Number of clips (segments).")
    seconds_per_segment: float = Field(8.0, ge=1.0, le=20.0, description="Length of each clip in seconds.")
    width: int = Field(768, ge=128, le=1920, description="Frame width in pixels, a multiple of 32.")
    height: int = Field(512, ge=128, le=1920, description="Frame height in pixels, a multiple of 32.")
    fps: int = Field(24, ge=8, le=60, description="Frames per second.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed for every random choice.")
    variants: int = Field(3, ge=1, le=4, description="Variants rendered per reference and per keyframe.")

    @field_validator("idea")
    @classmethod
    def _idea_is_plain_text(cls, idea: str) -> str:
        idea = check_plain_text(idea, "The idea").strip()
        if not idea:
            raise ValueError("The idea is empty: describe the film in a sentence")
        if len(idea) > MAX_IDEA_CHARS:
            raise ValueError(f"The idea is {len(idea)} characters long; the limit is {MAX_IDEA_CHARS}")
        return idea

    @model_validator(mode="after")
    def _resolution_is_possible(self) -> FilmRequest:
        for name, value in (("width", self.width), ("height", self.height)):
            if value % 32:
                raise ValueError(f"{name} {value} is not a multiple of 32 (try {round(value / 32) * 32 or 32})")
        if self.width * self.height > MAX_PIXELS:
            raise ValueError(f"{self.width}x{self.height} is too large: at most {MAX_PIXELS} pixels per frame")
        return self

    @property
    def frames_per_clip(self) -> int:
        return max(2, round(self.seconds_per_segment * self.fps))

    @property
    def keyframe_count(self) -> int:
        return self.segments + 1

    def film_id(self, *backends: str) -> str:
        """Deterministic id: the same request on the same backends resumes the same film."""
        return f"{slugify(self.idea, 32)}-{stable_hash([self.model_dump(), list(backends)], 10)}"


class DialogueLine(Strict):
    speaker: ShortText
    line: ShortText


class Segment(Strict):
    """One clip of the film: it runs from keyframe `index` to keyframe `index + 1`."""

    index: int = Field(ge=0)
    title: ShortText
    narration: LongText
    action: LongText
    dialogue: list[DialogueLine] = Field(default_factory=list, max_length=6)
    characters: list[ShortText] = Field(default_factory=list, max_length=6)
    setting: ShortText = Field(description="Where in the film's world this segment happens.")

    @model_validator(mode="after")
    def _speakers_are_present(self) -> Segment:
        for line in self.dialogue:
            if line.speaker not in self.characters:
                raise ValueError(f"segment {self.index}: speaker {line.speaker!r} is not listed in its characters")
        return self


class Script(Strict):
    title: ShortText
    logline: LongText
    segments: list[Segment] = Field(min_length=1, max_length=MAX_SEGMENTS)

    @model_validator(mode="after")
    def _segments_in_order(self) -> Script:
        indices = [segment.index for segment in self.segments]
        if indices != list(range(len(self.segments))):
            raise ValueError(f"segment indices must run 0..{len(self.segments) - 1} in order, got {indices}")
        return self

    @property
    def character_names(self) -> list[str]:
        """Every character named in the script, in order of first appearance."""
        names: dict[str, None] = {}
        for segment in self.segments:
            names.update(dict.fromkeys(segment.characters))
        return list(names)


class Character(Strict):
    """A character as an image model should draw it every time."""

    name: ShortText
    role: ShortText
    description: LongText = Field(description="Camera-ready appearance: clothing, hair, face, build, colours.")
    palette: list[HexColor] = Field(min_length=1, max_length=3, description="Signature colours, main first.")
    build: Literal["slim", "average", "broad", "small", "tall"] = "average"

    @property
    def subject_id(self) -> str:
        return "char_" + slugify(self.name, 24)


class Environment(Strict):
    """The one world the film happens in."""

    name: ShortText
    description: LongText
    lighting: ShortText
    materials: ShortText
    atmosphere: ShortText
    palette: list[HexColor] = Field(min_length=3, max_length=5, description="Sky, horizon, ground, accents.")

    @property
    def subject_id(self) -> str:
        return "environment"


class Placement(Strict):
    character: ShortText
    x: float = Field(ge=0.0, le=1.0, description="Horizontal position in the frame: 0 = left edge, 1 = right edge.")
    pose: Pose = "stand"
    facing: Literal["left", "right", "camera"] = "camera"


class Staging(Strict):
    """How a keyframe is framed: enough for the animatic to draw it and to move between two of them."""

    shot: Shot = "medium"
    camera_x: float = Field(
        0.5, ge=0.0, le=1.0, description="Where across the wide set the camera looks; changing it pans the background."
    )
    light: float = Field(1.0, ge=0.2, le=1.3, description="Overall brightness relative to the environment.")
    placements: list[Placement] = Field(default_factory=list, max_length=6)


class Keyframe(Strict):
    """A boundary frame between two segments (or the film's first / last frame)."""

    index: int = Field(ge=0)
    prompt: LongText = Field(description="Full image prompt with every present character's appearance (T5 path).")
    clip_summary: ShortText = Field(description=f"At most {MAX_CLIP_SUMMARY_WORDS} words (CLIP path).")
    characters: list[ShortText] = Field(default_factory=list, max_length=6)
    staging: Staging = Field(default_factory=Staging)

    @field_validator("clip_summary")
    @classmethod
    def _summary_fits_clip(cls, summary: str) -> str:
        words = len(summary.split())
        if words > MAX_CLIP_SUMMARY_WORDS:
            raise ValueError(f"clip_summary has {words} words; CLIP takes at most {MAX_CLIP_SUMMARY_WORDS}")
        return summary

    @model_validator(mode="after")
    def _staging_matches_characters(self) -> Keyframe:
        staged = [placement.character for placement in self.staging.placements]
        if sorted(staged) != sorted(self.characters):
            raise ValueError(f"keyframe {self.index}: staging places {staged} but characters are {self.characters}")
        return self


class Subject(Strict):
    """Something with reference images: a character or the environment."""

    id: str
    name: str
    kind: Literal["character", "environment"]
    description: str


class FilmPlan(Strict):
    """Everything the writer produced for one film, checked for consistency."""

    request: FilmRequest
    writer: str = Field(description="Which writer produced the plan, e.g. 'offline story engine (no language model)'.")
    script: Script
    characters: list[Character]
    environment: Environment
    keyframes: list[Keyframe]

    @model_validator(mode="after")
    def _consistent(self) -> FilmPlan:
        n = len(self.script.segments)
        if n != self.request.segments:
            raise ValueError(f"the script has {n} segments; {self.request.segments} were asked for")
        if [k.index for k in self.keyframes] != list(range(n + 1)):
            raise ValueError(f"a film of {n} segments needs keyframes 0..{n} in order")
        defined = [c.name for c in self.characters]
        if len(set(defined)) != len(defined) or len({c.subject_id for c in self.characters}) != len(defined):
            raise ValueError(f"character names must be distinct: {defined}")
        missing = [name for name in self.script.character_names if name not in defined]
        if missing:
            raise ValueError(f"characters named in the script but not described: {missing}")
        for keyframe in self.keyframes:
            allowed = self.characters_near_boundary(keyframe.index)
            stray = [name for name in keyframe.characters if name not in allowed]
            if stray:
                raise ValueError(f"keyframe {keyframe.index} shows {stray}, who are in neither neighbouring segment")
        return self

    def characters_near_boundary(self, index: int) -> list[str]:
        """Characters of the segments that end (index-1) or start (index) at this boundary."""
        segments = self.script.segments
        names: dict[str, None] = {}
        for i in (index - 1, index):
            if 0 <= i < len(segments):
                names.update(dict.fromkeys(segments[i].characters))
        return list(names)

    def character(self, name: str) -> Character:
        return next(c for c in self.characters if c.name == name)

    @property
    def subjects(self) -> list[Subject]:
        """Reference subjects: every character, then the environment."""
        subjects = [
            Subject(id=c.subject_id, name=c.name, kind="character", description=c.description)
            for c in self.characters
        ]
        env = self.environment
        subjects.append(Subject(id=env.subject_id, name=env.name, kind="environment", description=env.description))
        return subjects

    def subjects_at(self, keyframe_index: int) -> list[Subject]:
        """The references that condition a keyframe: its characters plus the environment."""
        names = set(self.keyframes[keyframe_index].characters)
        return [s for s in self.subjects if s.kind == "environment" or s.name in names]


class Picks(Strict):
    """Chosen variant per reference subject and per keyframe boundary."""

    references: dict[str, int] = Field(default_factory=dict)
    keyframes: list[int] = Field(default_factory=list)
    auto: bool = Field(False, description="True when the pipeline picked by itself (no person answered).")
