"""The film's domain model: what a film is made of, validated end to end.

A film of N segments has N+1 boundary keyframes: segment i runs from keyframe i to
keyframe i+1, so neighbouring clips share a frame and the film stays continuous.

What the user asks for is one :class:`FilmRequest` (the CLI options, the flow's parameters,
the deployment form, the batch flow and the client all derive from it). Everything a writer
produces lands in a :class:`FilmPlan`:

    Script     acts -> scenes -> segments (narration, action, dialogue, characters, staging beats)
    Character  camera-ready appearance, kind and species (how to draw it), voice casting
    Environment one per location: look, set, props, ambience
    Keyframe   N+1 boundary frames: image prompt, CLIP summary, staging

Everything a person (or the auto-picker) chooses lands in :class:`Picks`.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

MAX_IDEA_CHARS = 2000
#: 10 minutes of 8-second segments (75) with a little room.
MAX_SEGMENTS = 80
MAX_MINUTES = 10.0
MAX_CLIP_SUMMARY_WORDS = 50
MAX_SHORT_APPEARANCE_WORDS = 30
MAX_PIXELS = 1920 * 1088

HexColor = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=400)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=3000)]
Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_]{0,39}$")]
Pose = Literal["stand", "walk", "run", "kneel", "sit", "reach", "look_up", "wave"]
Shot = Literal["wide", "medium", "close"]
#: How to draw and voice a character. `element` is weather or a force of nature (a storm, the wind, fire).
CharacterKind = Literal["person", "animal", "bird", "sea_creature", "creature", "robot", "object", "element"]
#: A gesture a character makes during a segment (the animatic animates it; GPU clip prompts describe it).
Gesture = Literal[
    "point", "reach", "touch", "pick_up", "hold_up", "give", "wave", "hug", "jump", "look_around", "nod",
    "kneel", "sit", "turn", "fly", "swim", "dance", "shiver", "laugh",
]
TimeOfDay = Literal["dawn", "day", "dusk", "night"]
#: The kind of set a location is drawn as by the animatic (GPU renderers read the prose instead).
SetKind = Literal[
    "moon", "space", "forest", "coast", "underwater", "ship", "city", "street", "desert", "snow", "mountains",
    "plains", "salt_flats", "sky", "interior", "bakery", "cave", "castle",
]
#: Sound beds the offline ambience engine can synthesise (text-to-audio engines get the prose).
Ambience = Literal[
    "wind", "surf", "rain", "storm", "room", "city", "forest", "birds", "insects", "stream", "underwater",
    "fire", "space", "crowd", "machine", "night",
]
VoiceAge = Literal["child", "young", "adult", "elder"]


class Strict(BaseModel):
    """Base for every domain model: unknown fields are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


#: Line-breaking characters: folded into one space (an idea typed over several lines is still one idea).
LINE_BREAKS = re.compile(r"[\t\r\n\u0085\u2028\u2029]+")
#: Invisible format characters that may stay: zero-width (non-)joiners are part of emoji and of some scripts.
ALLOWED_FORMAT_CHARS = frozenset("\u200c\u200d")


def check_plain_text(value: str, what: str) -> str:
    """User text as plain, visible text: NFC-normalised, line breaks folded into spaces, and refused if it
    holds a control character, a bidi override or isolate, a zero-width space, a BOM or another invisible
    format character (they can make text read differently from what it is)."""
    folded = LINE_BREAKS.sub(" ", unicodedata.normalize("NFC", value))
    for char in folded:
        category = unicodedata.category(char)
        if category in ("Cc", "Cs", "Co", "Cn") or (category == "Cf" and char not in ALLOWED_FORMAT_CHARS):
            name = unicodedata.name(char, "")
            shown = f"U+{ord(char):04X} {name}" if name else f"U+{ord(char):04X}"
            raise ValueError(f"{what} contains an invisible or control character ({shown})")
    return folded


def slugify(text: str, max_len: int = 40) -> str:
    """Lower-case ASCII identifier made of [a-z0-9_], never empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")[:max_len].strip("_")
    return slug or "x" + hashlib.sha256(text.encode()).hexdigest()[:8]


def stable_hash(payload: object, length: int = 12) -> str:
    """Short hash of JSON-able data, stable across processes and machines."""
    if isinstance(payload, BaseModel):
        payload = payload.model_dump(mode="json")
    text = json.dumps(payload, sort_keys=True, ensure_ascii=True, default=_jsonable)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _jsonable(value: object) -> object:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return str(value)


def derive_seed(base_seed: int, *parts: object) -> int:
    """A per-variant seed: deterministic, recorded, and different for every (subject, variant)."""
    digest = hashlib.sha256(json.dumps([base_seed, *parts], default=str).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


# --------------------------------------------------------------------------- the request


class FilmRequest(Strict):
    """What the user asks for: the one definition of a film's parameters, validated before any work.

    The CLI's options, the flow's parameters (and so the deployment's Run form), the batch flow, the
    client and the tests all derive from this model. Two equal requests make the same film.
    """

    idea: str = Field(description="The film idea, one sentence or a short paragraph.")
    segments: int = Field(10, ge=1, le=MAX_SEGMENTS, description="Number of clips (segments).")
    seconds_per_segment: float = Field(8.0, ge=1.0, le=20.0, description="Length of each clip in seconds.")
    minutes: float | None = Field(
        None, ge=0.25, le=MAX_MINUTES,
        description="Length of the film in minutes; sets the number of segments (long films are planned as "
        "acts and scenes). Leave empty to use segments.",
    )
    width: int = Field(768, ge=128, le=1920, description="Frame width in pixels, a multiple of 32.")
    height: int = Field(512, ge=128, le=1920, description="Frame height in pixels, a multiple of 32.")
    fps: int = Field(24, ge=8, le=60, description="Frames per second.")
    seed: int = Field(0, ge=0, le=2**31 - 1,
                      description="Seed for every random choice; the same seed remakes the film.")
    variants: int = Field(3, ge=1, le=4, description="Variants rendered per reference and per keyframe.")
    writer: Literal["auto", "offline", "claude"] | None = Field(
        None, description="offline (story engine), claude, or auto (Claude when ANTHROPIC_API_KEY is set). "
        "Empty: FILMSTITCH_WRITER.",
    )
    renderer: Literal["animatic", "local-gpu", "modal"] | None = Field(
        None, description="animatic (CPU), local-gpu (FLUX.1-dev + LTX-Video here) or modal. "
        "Empty: FILMSTITCH_RENDERER. "
        "The GPU renderers' clips come from LTX-Video 0.9.5, or from LTX-2 with their own sound where the machine sets "
        "FILMSTITCH_GPU_VIDEO_ENGINE=ltx-2: its weights are under the LTX-2 Community License (free under a revenue "
        "threshold; read it before choosing it).",
    )
    sound: bool = Field(True, description="Narration, character voices, ambience and subtitles.")
    burn_subtitles: bool = Field(False, description="Also burn the subtitles into the picture (the MP4 always "
                                 "carries them as a subtitle track).")
    voices: dict[str, str] = Field(
        default_factory=dict, max_length=24,
        description="Voice per character name (or 'narrator'), overriding the casting, e.g. {\"Lena\": \"joe:high\"}.",
    )
    max_cost_usd: float | None = Field(
        None, gt=0, le=1_000_000, exclude=True,
        description="Budget in USD: a film whose estimate (filmstitch.estimate) is over it is refused before any "
        "work. A budget does not change the film, so it is left out of the film's id and every reuse key.",
    )

    @field_validator("idea")
    @classmethod
    def _idea_is_plain_text(cls, idea: str) -> str:
        idea = check_plain_text(idea, "The idea").strip()
        if not idea:
            raise ValueError("The idea is empty: describe the film in a sentence")
        if len(idea) > MAX_IDEA_CHARS:
            raise ValueError(f"The idea is {len(idea)} characters long; the limit is {MAX_IDEA_CHARS}")
        return idea

    @field_validator("voices")
    @classmethod
    def _voice_names_are_plain(cls, voices: dict[str, str]) -> dict[str, str]:
        for name, voice in voices.items():
            check_plain_text(name, "A character name in voices")
            if not re.fullmatch(r"[a-z0-9_]+(:[a-z0-9_]+)?", voice):
                raise ValueError(f"voice {voice!r} for {name!r} is not a voice id (e.g. 'joe' or 'joe:high')")
        return voices

    @model_validator(mode="before")
    @classmethod
    def _minutes_set_segments(cls, data: object) -> object:
        """`minutes` is the long-film way to ask for segments: it sets them (and must not contradict them)."""
        if not isinstance(data, dict) or data.get("minutes") in (None, ""):
            return data
        try:
            minutes, seconds = float(data["minutes"]), float(data.get("seconds_per_segment", 8.0))
        except (TypeError, ValueError):
            return data  # the field validators say what is wrong
        if not 0.25 <= minutes <= MAX_MINUTES or not 1 <= seconds <= 20:
            return data  # likewise
        wanted = max(1, round(minutes * 60 / seconds))
        given = data.get("segments")
        if given not in (None, wanted) and given != cls.model_fields["segments"].default:
            raise ValueError(f"minutes={minutes:g} means {wanted} segments of {seconds:g} s, but segments={given}")
        if wanted > MAX_SEGMENTS:
            raise ValueError(f"{minutes:g} minutes at {seconds:g} s per segment is {wanted} segments; "
                             f"at most {MAX_SEGMENTS} (use longer segments)")
        return {**data, "segments": wanted}

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

    @property
    def duration_s(self) -> float:
        return self.segments * self.frames_per_clip / self.fps

    def resolved(self, writer: str, renderer: str) -> FilmRequest:
        """This request with its backends named (what the film is made with)."""
        return self.model_copy(update={"writer": writer, "renderer": renderer})

    def film_id(self) -> str:
        """Deterministic id: the same (resolved) request resumes the same film."""
        return f"{slugify(self.idea, 32)}-{stable_hash(self.model_dump(mode='json'), 10)}"


# --------------------------------------------------------------------------- the script


class DialogueLine(Strict):
    speaker: ShortText
    line: ShortText
    delivery: str = Field("", max_length=200, description="How the line is said: 'whispered, afraid'.")


class ActionBeat(Strict):
    """Something a character does during a segment, at a moment of it: structured staging for the animatic
    (it never re-reads the prose) and words for the GPU clip prompt."""

    character: ShortText
    gesture: Gesture
    at: float = Field(0.5, ge=0.0, le=1.0, description="When in the segment: 0 = start, 1 = end.")
    prop: str | None = Field(None, max_length=80, description="The prop it involves, one of the location's props.")


class Segment(Strict):
    """One clip of the film: it runs from keyframe `index` to keyframe `index + 1`."""

    index: int = Field(ge=0)
    title: ShortText
    narration: Annotated[str, StringConstraints(strip_whitespace=True, max_length=3000)] = Field(
        description="What the narrator says over the segment; empty: no narration (a segment too "
        "short for a line of its own: each line takes at least a second).",
    )
    action: LongText
    dialogue: list[DialogueLine] = Field(default_factory=list, max_length=6)
    characters: list[ShortText] = Field(default_factory=list, max_length=6)
    setting: ShortText = Field(description="Where in the location this segment happens, e.g. 'the crater rim'.")
    location: Identifier = Field(description="Id of the Environment (location) the segment happens in.")
    scene: int = Field(0, ge=0, description="Index of the scene the segment belongs to.")
    motion: str = Field(
        "", max_length=1200,
        description="What the camera sees move, in order, in plain visual words (the video model's prompt).",
    )
    beats: list[ActionBeat] = Field(default_factory=list, max_length=8)

    @model_validator(mode="after")
    def _speakers_are_present(self) -> Segment:
        for line in self.dialogue:
            if line.speaker not in self.characters:
                raise ValueError(f"segment {self.index}: speaker {line.speaker!r} is not listed in its characters")
        for beat in self.beats:
            if beat.character not in self.characters:
                raise ValueError(f"segment {self.index}: beat for {beat.character!r}, who is not in the segment")
        return self


class Continuity(Strict):
    """The continuity ledger of a scene: what must look the same in every frame of it."""

    wardrobe: dict[str, str] = Field(default_factory=dict, description="Character -> what they wear in the scene.")
    props: list[ShortText] = Field(default_factory=list, max_length=12, description="Props in play.")
    injuries: dict[str, str] = Field(default_factory=dict, description="Character -> visible marks.")


class Scene(Strict):
    index: int = Field(ge=0)
    act: int = Field(0, ge=0)
    title: ShortText
    location: Identifier
    time_of_day: TimeOfDay = "day"
    present: list[ShortText] = Field(default_factory=list, max_length=12)
    goal: ShortText
    continuity: Continuity = Field(default_factory=Continuity)


class Act(Strict):
    index: int = Field(ge=0)
    title: ShortText
    summary: LongText


class Script(Strict):
    title: ShortText
    logline: LongText
    language: str = Field("en", pattern=r"^[a-z]{2,3}$", description="ISO 639 code of the script's language.")
    acts: list[Act] = Field(default_factory=list, max_length=12)
    scenes: list[Scene] = Field(default_factory=list, max_length=MAX_SEGMENTS)
    segments: list[Segment] = Field(min_length=1, max_length=MAX_SEGMENTS)

    @model_validator(mode="after")
    def _in_order(self) -> Script:
        for what, items in (("segment", self.segments), ("scene", self.scenes), ("act", self.acts)):
            indices = [item.index for item in items]
            if indices != list(range(len(items))):
                raise ValueError(f"{what} indices must run 0..{len(items) - 1} in order, got {indices}")
        if self.scenes:
            for segment in self.segments:
                if segment.scene >= len(self.scenes):
                    raise ValueError(f"segment {segment.index} belongs to scene {segment.scene}, which does not exist")
                if self.scenes[segment.scene].location != segment.location:
                    raise ValueError(f"segment {segment.index} is at {segment.location!r} but its scene "
                                     f"{segment.scene} at {self.scenes[segment.scene].location!r}")
            scenes_in_order = [segment.scene for segment in self.segments]
            if scenes_in_order != sorted(scenes_in_order):
                raise ValueError("segments must follow their scenes in order")
        if self.acts:
            for scene in self.scenes:
                if scene.act >= len(self.acts):
                    raise ValueError(f"scene {scene.index} belongs to act {scene.act}, which does not exist")
        return self

    @property
    def character_names(self) -> list[str]:
        """Every character named in the script, in order of first appearance."""
        names: dict[str, None] = {}
        for segment in self.segments:
            names.update(dict.fromkeys(segment.characters))
        return list(names)

    @property
    def locations(self) -> list[str]:
        """Every location id of the script, in order of first appearance."""
        return list(dict.fromkeys(segment.location for segment in self.segments))


# --------------------------------------------------------------------------- cast and world


class VoiceCasting(Strict):
    """How a character (or the narrator) sounds: the writer's casting notes, then the concrete voice the
    sound stage cast (engine voice id and its deterministic shaping), stored so it never changes mid-film."""

    age: VoiceAge = "adult"
    timbre: str = Field("warm", max_length=120, description="e.g. 'low and gravelly', 'bright, breathy'.")
    accent: str = Field("neutral", max_length=80)
    manner: str = Field("calm", max_length=120, description="e.g. 'slow and wry', 'excited, quick'.")
    voice: str | None = Field(None, max_length=80, description="Engine voice id, set by casting.")
    pitch_semitones: float = Field(0.0, ge=-8.0, le=8.0)
    formant: float = Field(1.0, ge=0.75, le=1.3, description="Spectral envelope scale (voice size).")
    tempo: float = Field(1.0, ge=0.85, le=1.15)


class Character(Strict):
    """A character as an image model should draw it every time."""

    name: ShortText
    role: ShortText
    kind: CharacterKind = "person"
    species: str | None = Field(None, max_length=60, description="What it is when not a person: 'octopus', 'storm'.")
    description: LongText = Field(description="Camera-ready appearance: clothing, hair, face, build, colours.")
    appearance: str = Field(
        "", max_length=300,
        description=f"The appearance in at most {MAX_SHORT_APPEARANCE_WORDS} words, for video prompts.",
    )
    palette: list[HexColor] = Field(min_length=1, max_length=3, description="Signature colours, main first.")
    build: Literal["slim", "average", "broad", "small", "tall"] = "average"
    hair: HexColor | None = Field(None, description="Hair colour of a person, as written in the description.")
    skin: HexColor | None = Field(None, description="Skin tone of a person, as written in the description.")
    voice: VoiceCasting = Field(default_factory=VoiceCasting)

    @field_validator("appearance")
    @classmethod
    def _appearance_is_short(cls, appearance: str) -> str:
        words = len(appearance.split())
        if words > MAX_SHORT_APPEARANCE_WORDS:
            raise ValueError(f"appearance has {words} words; at most {MAX_SHORT_APPEARANCE_WORDS}")
        return appearance

    @property
    def subject_id(self) -> str:
        return "char_" + slugify(self.name, 24)


class Environment(Strict):
    """One location of the film's world (a film has one or more)."""

    id: Identifier = "world"
    name: ShortText
    description: LongText
    lighting: ShortText
    materials: ShortText
    atmosphere: ShortText
    palette: list[HexColor] = Field(min_length=3, max_length=5, description="Sky, horizon, ground, accents.")
    set: SetKind = Field("plains", description="Which kind of set the animatic draws.")
    time_of_day: TimeOfDay = "day"
    props: list[ShortText] = Field(default_factory=list, max_length=8, description="Key props found here.")
    ambience: list[Ambience] = Field(default_factory=lambda: list[Ambience](["wind"]), min_length=1, max_length=4)
    sound: str = Field("", max_length=400, description="The location's sound, in words (text-to-audio prompt).")

    @property
    def subject_id(self) -> str:
        return "env_" + self.id


#: What a keyframe can recolour on a character (the animatic draws these; an edit changes them).
Recolourable = Literal["outfit", "legs", "hair"]


class Placement(Strict):
    character: ShortText
    x: float = Field(ge=0.0, le=1.0, description="Horizontal position in the frame: 0 = left edge, 1 = right edge.")
    pose: Pose = "stand"
    facing: Literal["left", "right", "camera"] = "camera"
    # Kept out of the JSON schema: writers never set them, only keyframe edits do.
    colours: SkipJsonSchema[dict[Recolourable, HexColor]] = Field(
        default_factory=dict, description="Colours this keyframe changes on the character (a keyframe edit), e.g. "
        "{\"outfit\": \"#c0302a\"}; empty: the character's own palette.",
    )
    prop: SkipJsonSchema[str | None] = Field(None, max_length=80,
                                             description="A prop the character holds at this keyframe beyond "
                             "what the segments' beats hand them (a keyframe edit).")

    @model_serializer(mode="wrap")
    def _leave_out_unset_edits(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The edit fields are left out while unset, so plans (and the reuse keys hashed from them) written
        before these fields existed read and hash the same."""
        data = handler(self)
        if not self.colours:
            data.pop("colours", None)
        if self.prop is None:
            data.pop("prop", None)
        return data


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
    location: Identifier | None = Field(
        None, description="The location it shows; empty: the location of the segment it opens (the last: closes)."
    )
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
    """Something with reference images: a character or a location."""

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
    environments: list[Environment] = Field(min_length=1, max_length=24)
    keyframes: list[Keyframe]
    narrator: VoiceCasting = Field(default_factory=lambda: VoiceCasting(timbre="warm, even", manner="measured"))

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
        location_ids = [e.id for e in self.environments]
        if len(set(location_ids)) != len(location_ids):
            raise ValueError(f"location ids must be distinct: {location_ids}")
        unknown = [loc for loc in self.script.locations if loc not in location_ids]
        unknown += [scene.location for scene in self.script.scenes if scene.location not in location_ids]
        if unknown:
            raise ValueError(f"the script uses locations that are not described: {sorted(set(unknown))}")
        for keyframe in self.keyframes:
            allowed = self.characters_near_boundary(keyframe.index)
            stray = [name for name in keyframe.characters if name not in allowed]
            if stray:
                raise ValueError(f"keyframe {keyframe.index} shows {stray}, who are in neither neighbouring segment")
            if keyframe.location is not None and keyframe.location not in self._locations_near(keyframe.index):
                raise ValueError(f"keyframe {keyframe.index} is at {keyframe.location!r}, where neither neighbouring "
                                 "segment happens")
        return self

    def _locations_near(self, index: int) -> list[str]:
        segments = self.script.segments
        return [segments[i].location for i in (index - 1, index) if 0 <= i < len(segments)]

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

    def location(self, location_id: str) -> Environment:
        return next(e for e in self.environments if e.id == location_id)

    def segment_environment(self, segment: int) -> Environment:
        return self.location(self.script.segments[segment].location)

    def keyframe_environment(self, index: int) -> Environment:
        """Where keyframe `index` is: its own location, else that of the segment it opens (or closes, the last)."""
        keyframe = self.keyframes[index]
        if keyframe.location is not None:
            return self.location(keyframe.location)
        return self.segment_environment(min(index, len(self.script.segments) - 1))

    @property
    def subjects(self) -> list[Subject]:
        """Reference subjects: every character, then every location."""
        subjects = [
            Subject(id=c.subject_id, name=c.name, kind="character", description=c.description)
            for c in self.characters
        ]
        subjects += [
            Subject(id=e.subject_id, name=e.name, kind="environment", description=e.description)
            for e in self.environments
        ]
        return subjects

    def subject_source(self, subject_id: str) -> Character | Environment:
        """The character or location a subject stands for (everything a renderer may read of it)."""
        items: list[Character | Environment] = [*self.characters, *self.environments]
        for item in items:
            if item.subject_id == subject_id:
                return item
        raise KeyError(f"no subject {subject_id!r} in this plan")

    def subjects_at(self, keyframe_index: int) -> list[Subject]:
        """The references that condition a keyframe: its characters plus its location."""
        names = set(self.keyframes[keyframe_index].characters)
        env_id = self.keyframe_environment(keyframe_index).subject_id
        return [s for s in self.subjects if s.id == env_id or (s.kind == "character" and s.name in names)]

    def subjects_in_segment(self, segment: int) -> list[Subject]:
        """The references that matter to a clip: the segment's characters plus its location."""
        names = set(self.script.segments[segment].characters)
        env_id = self.segment_environment(segment).subject_id
        return [s for s in self.subjects if s.id == env_id or (s.kind == "character" and s.name in names)]


PickedBy = Literal["person", "person (accepted recommendation)", "auto", "auto (nobody answered)"]


class Picks(Strict):
    """Chosen variant per reference subject and per keyframe boundary, and who chose them."""

    references: dict[str, int] = Field(default_factory=dict)
    keyframes: list[int] = Field(default_factory=list)
    picked_by: dict[str, PickedBy] = Field(default_factory=dict, description="Checkpoint name -> who picked.")

    @property
    def auto(self) -> bool:
        """True when no person picked at any checkpoint."""
        return bool(self.picked_by) and all(who.startswith("auto") for who in self.picked_by.values())


# --------------------------------------------------------------------------- edits and retakes

MAX_INSTRUCTION_CHARS = 400


class Region(Strict):
    """A rectangle of a keyframe in pixels of the film's frame: left and top inclusive, right and bottom
    exclusive, so `0,0,768,512` is the whole of a 768x512 frame."""

    x0: int = Field(ge=0)
    y0: int = Field(ge=0)
    x1: int = Field(gt=0)
    y1: int = Field(gt=0)

    @model_validator(mode="after")
    def _has_area(self) -> Region:
        if self.x1 <= self.x0 or self.y1 <= self.y0:
            raise ValueError(f"region {self} is empty: give left,top,right,bottom with right > left and bottom > top")
        return self

    @classmethod
    def parse(cls, text: str) -> Region:
        """`"100,50,300,250"` (commas or spaces) -> Region; a ValueError says what is wrong."""
        parts = [part for part in re.split(r"[\s,]+", text.strip()) if part]
        if len(parts) != 4 or not all(part.isdigit() for part in parts):
            raise ValueError(f"a region is four whole numbers left,top,right,bottom in pixels, e.g. 100,50,300,250; "
                             f"got {text.strip()[:40]!r}")
        x0, y0, x1, y1 = map(int, parts)
        return cls(x0=x0, y0=y0, x1=x1, y1=y1)

    def check_inside(self, width: int, height: int) -> None:
        if self.x1 > width or self.y1 > height:
            raise ValueError(f"region {self} is outside the {width}x{height} frame (right <= {width}, "
                             f"bottom <= {height})")

    def __str__(self) -> str:
        return f"{self.x0},{self.y0},{self.x1},{self.y1}"


def check_instruction(text: str | None, what: str = "the edit instruction") -> str | None:
    """None stays None; anything else must be plain, non-empty text of at most MAX_INSTRUCTION_CHARS."""
    if text is None:
        return None
    text = check_plain_text(text, what.capitalize()).strip()
    if not text:
        raise ValueError(f"{what} is empty: say what to change, e.g. 'make her coat red'")
    if len(text) > MAX_INSTRUCTION_CHARS:
        raise ValueError(f"{what} is {len(text)} characters long; the limit is {MAX_INSTRUCTION_CHARS}")
    return text


class KeyframeEdit(Strict):
    """An edit of one keyframe picture: an instruction ("make her coat red"), and/or a region to paint again
    (a rectangle, or a mask image: white = paint again). With a region, the instruction says what to paint
    there; without one, the region is painted again from the keyframe's prompt."""

    instruction: str | None = Field(None, description="What to change, in words.")
    region: Region | None = Field(None, description="The rectangle to paint again.")
    mask: str | None = Field(None, description="A mask image (base64 PNG, the film's size; white = paint again).")

    @field_validator("instruction")
    @classmethod
    def _instruction_is_text(cls, text: str | None) -> str | None:
        return check_instruction(text)

    @model_validator(mode="after")
    def _says_something(self) -> KeyframeEdit:
        if self.instruction is None and self.region is None and self.mask is None:
            raise ValueError("an edit needs an instruction, a region or a mask")
        if self.region is not None and self.mask is not None:
            raise ValueError("give a region or a mask, not both")
        return self

    @property
    def repaints(self) -> bool:
        """Whether part of the picture is painted again (an inpainting model), rather than edited whole."""
        return self.region is not None or self.mask is not None

    def describe(self) -> str:
        parts = [f"region {self.region}" if self.region else "", "a mask" if self.mask else "",
                 f"“{self.instruction}”" if self.instruction else ""]
        return " ".join(part for part in parts if part)


class RetakeRequest(Strict):
    """A retake of one part of a finished film: a keyframe boundary or a clip, with a new seed, an edited
    prompt, an edit of the picture, or a switch back to a take made before. Every take is kept.

    The one definition of a retake's parameters: the CLI's options, the retake-film flow's form and the
    client derive from it."""

    film_id: str = Field(description="The film's id (its folder name).")
    keyframe: int | None = Field(None, ge=0, le=MAX_SEGMENTS, description="The keyframe boundary to retake "
                                 "(0 = the first frame).")
    clip: int | None = Field(None, ge=0, lt=MAX_SEGMENTS, description="The clip to retake (0 = the first).")
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="A seed for the new take. Empty: a new one "
                             "(or, with an edited prompt, the same seeds as before).")
    prompt: str | None = Field(None, max_length=3000, description="An edited prompt: a keyframe's image "
                               "prompt, or a clip's motion (what the camera sees move).")
    instruction: str | None = Field(None, description="Keyframes: edit the picture, e.g. 'make her coat red'.")
    region: str | None = Field(None, description="Keyframes: a rectangle to paint again, left,top,right,bottom "
                               "in pixels, e.g. 100,50,300,250.")
    mask: str | None = Field(None, description="Keyframes: a mask image to paint again (base64 PNG; white = "
                             "paint again).")
    variants: int | None = Field(None, ge=1, le=4, description="Keyframes: variants to render (default: "
                                 "the film's).")
    use_take: int | None = Field(None, ge=1, description="Switch back to this take (no rendering).")
    variant: int | None = Field(None, ge=0, le=3, description="With use_take on a keyframe: which variant of "
                                "that take (default: the one picked).")
    max_cost_usd: float | None = Field(
        None, gt=0, le=1_000_000, exclude=True,
        description="Budget in USD: a retake whose estimate (GPU-seconds at the Modal GPU type's price) is over it is "
        "refused before any work. Left out of every record and reuse key (it does not change the take).",
    )

    @field_validator("prompt")
    @classmethod
    def _prompt_is_text(cls, text: str | None) -> str | None:
        return check_instruction(text, "the prompt") if text is not None else None

    @field_validator("instruction")
    @classmethod
    def _instruction_is_text(cls, text: str | None) -> str | None:
        return check_instruction(text)

    @field_validator("region")
    @classmethod
    def _region_reads(cls, text: str | None) -> str | None:
        return None if text is None else str(Region.parse(text))

    @model_validator(mode="after")
    def _one_part(self) -> RetakeRequest:
        if (self.keyframe is None) == (self.clip is None):
            raise ValueError("name one part: a keyframe or a clip")
        edits = {"instruction": self.instruction, "region": self.region, "mask": self.mask,
                 "variants": self.variants}
        if self.clip is not None:
            given = [name for name, value in edits.items() if value is not None]
            if given:
                raise ValueError(f"{', '.join(given)}: only for keyframes (a clip takes a seed or a prompt)")
        if self.use_take is not None:
            given = [name for name, value in {"seed": self.seed, "prompt": self.prompt, **edits}.items()
                     if value is not None]
            if given:
                raise ValueError(f"use_take switches to a take made before: it takes no {', '.join(given)}")
        elif self.variant is not None:
            raise ValueError("variant goes with use_take (which variant of that take)")
        if self.variant is not None and self.clip is not None:
            raise ValueError("variant is for keyframes (a clip has no variants)")
        if self.region is not None and self.mask is not None:
            raise ValueError("give a region or a mask, not both")
        return self

    @property
    def part(self) -> str:
        """The part's storage folder: keyframes/k04 or clips/c06."""
        return f"keyframes/k{self.keyframe:02d}" if self.keyframe is not None else f"clips/c{self.clip:02d}"

    @property
    def label(self) -> str:
        return f"keyframe {self.keyframe}" if self.keyframe is not None else f"clip {self.clip}"

    @property
    def edit(self) -> KeyframeEdit | None:
        if self.instruction is None and self.region is None and self.mask is None:
            return None
        return KeyframeEdit(instruction=self.instruction, mask=self.mask,
                            region=Region.parse(self.region) if self.region else None)


def _film_settings_model() -> type[BaseModel]:
    """FilmRequest without the idea: what a batch of films shares (its fields, defaults and limits are
    FilmRequest's own; each film is then checked whole as a FilmRequest)."""
    from pydantic import create_model
    from pydantic.fields import FieldInfo

    # A budget is left out of a request's dump (it does not change the film); a batch's settings keep it, so
    # that every film of the batch gets it.
    fields = {name: (field.annotation, FieldInfo.merge_field_infos(field, exclude=None))
              for name, field in FilmRequest.model_fields.items() if name != "idea"}
    return create_model("FilmSettings", __base__=Strict, __doc__="How every film of a batch is made.", **fields)


FilmSettings = _film_settings_model()
