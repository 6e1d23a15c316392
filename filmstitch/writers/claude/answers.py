"""What the model answers: one pydantic model per kind of answer, close to the domain models.

The JSON schema of each answer model is what the API constrains the answer to (structured outputs),
so the answer models differ from the domain models where a schema must: every field the film needs
is required (a default would let the model leave it out), mappings are lists of entries (a strict
schema cannot describe an object with free keys), and the sound stage's own voice fields are left
out of the casting notes. ``to_domain()`` turns an answer into the domain model; pydantic then
applies every rule of ``filmstitch.models`` (limits, patterns, who may speak...).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from filmstitch.models import (
    Act,
    ActionBeat,
    Character,
    CharacterKind,
    Continuity,
    DialogueLine,
    Environment,
    Identifier,
    Keyframe,
    Placement,
    Scene,
    Segment,
    ShortText,
    Shot,
    Staging,
    Strict,
    TimeOfDay,
    VoiceAge,
    VoiceCasting,
)

# --- The script: outline (acts and scenes), then segments ----------------------------------------


class WardrobeEntry(Strict):
    character: ShortText
    outfit: ShortText = Field(description="What the character wears and carries in this scene, with colours.")


class MarksEntry(Strict):
    character: ShortText
    marks: ShortText = Field(description="Visible injuries, dirt or damage, e.g. 'a bandaged left hand'.")


class LedgerAnswer(Strict):
    """The continuity ledger of a scene."""

    wardrobe: list[WardrobeEntry] = Field(description="One entry for every character present in the scene.")
    props: list[ShortText] = Field(max_length=12, description="Objects in play in the scene (beats use only these).")
    injuries: list[MarksEntry] = Field(description="Visible marks; empty when nobody has any.")

    def to_domain(self) -> Continuity:
        return Continuity(
            wardrobe={entry.character: entry.outfit for entry in self.wardrobe},
            props=list(self.props),
            injuries={entry.character: entry.marks for entry in self.injuries},
        )


class SceneAnswer(Strict):
    index: int = Field(ge=0)
    act: int = Field(ge=0)
    title: ShortText
    location: Identifier = Field(description="Location id, lower-case letters, digits and _.")
    time_of_day: TimeOfDay
    present: list[ShortText] = Field(min_length=1, max_length=12, description="Every character seen in the scene.")
    goal: ShortText
    continuity: LedgerAnswer
    segments: int = Field(ge=1, description="How many segments (clips) the scene lasts.")

    def to_domain(self) -> Scene:
        return Scene(
            index=self.index, act=self.act, title=self.title, location=self.location, time_of_day=self.time_of_day,
            present=list(self.present), goal=self.goal, continuity=self.continuity.to_domain(),
        )


class OutlineAnswer(Strict):
    """Acts and scenes of the film, before any segment is written."""

    title: ShortText
    logline: str = Field(min_length=1, max_length=3000)
    language: str = Field(pattern=r"^[a-z]{2,3}$", description="ISO 639 code of the language the film is told in.")
    acts: list[Act] = Field(min_length=1, max_length=12)
    scenes: list[SceneAnswer] = Field(min_length=1)


class DialogueAnswer(DialogueLine):
    delivery: str = Field(min_length=1, max_length=200, description="How it is said: 'whispered, afraid'.")


class BeatAnswer(ActionBeat):
    at: float = Field(ge=0.0, le=1.0, description="When in the segment: 0 = start, 1 = end.")
    prop: str | None = Field(max_length=80, description="A prop of the scene's ledger, or null.")


class SegmentAnswer(Segment):
    scene: int = Field(ge=0, description="Index of the scene the segment belongs to.")
    motion: str = Field(
        min_length=1, max_length=1200,
        description="The video model's prompt: what the camera sees, in order, in plain visual words; who is seen "
        "(their look, not their name), what moves, and what the camera does. No speech, no narration.",
    )
    characters: list[ShortText] = Field(max_length=6, description="The characters seen in the segment.")
    dialogue: list[DialogueAnswer] = Field(max_length=6)
    beats: list[BeatAnswer] = Field(max_length=8, description="Gestures of the characters present, in order.")

    def to_domain(self) -> Segment:
        return Segment.model_validate(self.model_dump())


class SegmentsAnswer(Strict):
    segments: list[SegmentAnswer] = Field(min_length=1)


# --- Characters ------------------------------------------------------------------------------------


class VoiceNotes(Strict):
    """Casting notes for the voice; the sound stage picks the concrete voice from them."""

    age: VoiceAge
    timbre: str = Field(min_length=1, max_length=120, description="e.g. 'low and gravelly', 'bright, breathy'.")
    accent: str = Field(min_length=1, max_length=80)
    manner: str = Field(min_length=1, max_length=120, description="e.g. 'slow and wry', 'excited, quick'.")


class CharacterAnswer(Character):
    kind: CharacterKind
    species: str | None = Field(max_length=60,
                                description="What it is when not a person ('octopus', 'storm'), or null.")
    appearance: str = Field(min_length=1, max_length=300,
                            description="The look in at most 30 words, for video prompts.")
    voice: VoiceNotes  # type: ignore[assignment] - casting notes only; the sound stage fills the rest

    def to_domain(self) -> Character:
        data: dict[str, Any] = self.model_dump()
        data["voice"] = VoiceCasting(**data["voice"])
        return Character.model_validate(data)


class CharactersAnswer(Strict):
    characters: list[CharacterAnswer] = Field(min_length=1, max_length=12)


# --- Locations -------------------------------------------------------------------------------------


class EnvironmentAnswer(Environment):
    id: Identifier
    time_of_day: TimeOfDay
    props: list[ShortText] = Field(max_length=8, description="Key props found here; every prop the beats use here.")
    sound: str = Field(min_length=1, max_length=400, description="What the location sounds like, in words.")

    def to_domain(self) -> Environment:
        return Environment.model_validate(self.model_dump())


class EnvironmentsAnswer(Strict):
    environments: list[EnvironmentAnswer] = Field(min_length=1, max_length=24)


# --- Keyframes -------------------------------------------------------------------------------------


class StagingAnswer(Staging):
    """How the keyframe is framed. Every field is required: the animatic draws from it."""

    shot: Shot
    camera_x: float = Field(ge=0.0, le=1.0, description="Where across the wide set the camera looks (0..1).")
    light: float = Field(ge=0.2, le=1.3, description="Overall brightness relative to the environment.")
    placements: list[Placement] = Field(max_length=6, description="Exactly one per character in the frame.")


class KeyframeAnswer(Keyframe):
    characters: list[ShortText] = Field(max_length=6, description="The characters seen in the frame.")
    location: Identifier | None = Field(
        description="The location it shows: required where the place changes, else null.")
    staging: StagingAnswer

    def to_domain(self) -> Keyframe:
        return Keyframe.model_validate(self.model_dump())


class KeyframesAnswer(Strict):
    keyframes: list[KeyframeAnswer] = Field(min_length=1)


ANSWERS: tuple[type[BaseModel], ...] = (
    OutlineAnswer, SegmentsAnswer, CharactersAnswer, EnvironmentsAnswer, KeyframesAnswer,
)
