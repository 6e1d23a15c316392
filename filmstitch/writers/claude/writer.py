"""The Claude writer: the four writer calls, each made of as many questions as the film needs.

A film is written top-down so that no single answer grows with the film:

1. ``write_script``: the **outline** (acts, then scenes: location, time of day, who is present, goal,
   continuity ledger, number of segments), then the **segments** scene by scene, at most
   ``chunk_segments`` per answer. Every segment question repeats the idea and the outline (one
   cached prefix for all of them) and shows the segment just before, so the story flows on.
2. ``describe_characters``: the cast, with kind, species, a short appearance and voice casting notes.
3. ``describe_environments``: one location per id, listing every prop its beats use.
4. ``write_keyframes``: the boundary keyframes, in the same chunks as the segments, each chunk with
   the cast, the locations and the ledgers of its scenes; the keyframe just before comes along.

Every answer is validated by pydantic (the answer models, then the domain models) and
cross-checked (:mod:`checks`); problems go back for a repair turn.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr, ValidationError

from filmstitch.models import (
    Character,
    Environment,
    FilmPlan,
    FilmRequest,
    Keyframe,
    Scene,
    Script,
    Segment,
)
from filmstitch.writers.base import Writer, WriterError
from filmstitch.writers.claude import answers, checks, prompts
from filmstitch.writers.claude.catalog import UNKNOWN, ModelFamily, family_for, from_models_api, refusal_for_retired
from filmstitch.writers.claude.conversation import STAGES, Ask, Gate, Rejected, Session
from filmstitch.writers.claude.settings import (
    ClaudeSettings,
    describe_validation_error,
    load_settings,
    resolve_api_key,
)

logger = logging.getLogger("filmstitch.writers.claude")

#: (segment index, scene index) pairs answered together.
Chunk = list[tuple[int, int]]


def chunks_of(counts: list[int], limit: int) -> list[Chunk]:
    """Consecutive segments in groups of at most `limit`: whole scenes together while they fit, a long
    scene split in parts. `counts[s]` is the number of segments of scene s."""
    chunks: list[Chunk] = []
    current: Chunk = []
    first = 0
    for scene, count in enumerate(counts):
        segments = [(first + i, scene) for i in range(count)]
        first += count
        if current and len(current) + count > limit:
            chunks.append(current)
            current = []
        while len(segments) > limit:
            chunks.append(segments[:limit])
            segments = segments[limit:]
        current += segments
    return chunks + ([current] if current else [])


@dataclass(frozen=True)
class Outline:
    """The checked outline: the answer, its scenes as domain models, and how many segments each lasts."""

    answer: answers.OutlineAnswer
    scenes: list[Scene]
    counts: list[int]

    def as_json(self) -> dict[str, Any]:
        """What the segment questions show the model: the scenes with their ledgers and lengths."""
        outline = self.answer.model_dump(mode="json", exclude={"scenes"})
        outline["scenes"] = [{**scene.model_dump(mode="json"), "segments": count}
                             for scene, count in zip(self.scenes, self.counts)]
        return outline


class ClaudeWriter(Writer):
    """Writes the film with Claude. Construct it where it is used (inside the task): it holds the key."""

    name = "claude"
    code_modules = ("filmstitch.writers.claude",)

    def settings_identity(self) -> dict[str, Any]:
        """What changes the answers (never the key): the model and how it is asked."""
        keep = ("model", "max_tokens", "temperature", "appearance_share", "effort", "thinking", "output",
                "chunk_segments")
        return {name: getattr(self.settings, name, None) for name in keep}

    def __init__(self, settings: ClaudeSettings | None = None, *, gate: Gate | None = None,
                 today: datetime.date | None = None) -> None:
        """`gate`: a context-manager factory every API request runs inside (the tasks layer passes the Prefect
        concurrency limit on writer calls); none by default. Settings the model cannot honour, a retired model
        and a refused key fail here, before any question is asked."""
        super().__init__(gate=gate)
        self.settings = settings or load_settings()
        if self.settings.temperature is not None and self.settings.base_url is None:
            raise WriterError(
                "FILMSTITCH_CLAUDE_TEMPERATURE is set, but the Anthropic API (version 2026-10-21, used by the "
                "anthropic SDK 2.x) rejects sampling parameters with a 400: unset it, or set "
                "FILMSTITCH_CLAUDE_BASE_URL to a gateway that accepts it"
            )
        key = resolve_api_key(self.settings)
        self.family, fallback = check_models(self.settings, key, gate=gate, today=today, log=self._log)
        self.session = Session(self.settings, key, self.family, log=self._log,
                               record=lambda usage: self.usage.append(usage), gate=gate or contextlib.nullcontext)
        if fallback is not None:
            self.session.with_fallback(str(self.settings.fallback_model), fallback)
        self.label = f"Claude ({self.settings.model})"
        self.appearance = checks.AppearanceRule(self.settings.appearance_share)
        if self.family.status in ("legacy", "deprecated"):
            self._log().warning("claude: %s is a %s model (%s); the current Sonnet is claude-sonnet-5-5",
                                self.settings.model, self.family.status, self.family.name)

    @property
    def pause_ahead(self) -> bool:
        """Whether a person's checkpoint follows these calls (the tasks layer says): the shared prefix is then
        cached for an hour (Session._ttls)."""
        return self.session.pause_ahead

    @pause_ahead.setter
    def pause_ahead(self, value: bool) -> None:
        self.session.pause_ahead = value

    def count_outline_tokens(self, request: FilmRequest) -> int:
        """The input tokens of the film's first question, counted by the API (`messages.count_tokens`): the
        measured base of the writer's estimate (filmstitch.estimate)."""
        return self.session.count(self._outline_ask(request))

    def __repr__(self) -> str:
        return f"ClaudeWriter(model={self.settings.model!r})"

    # 1. The script ---------------------------------------------------------------------------------

    def write_script(self, request: FilmRequest) -> Script:
        outline = self._outline(request)
        context = [[prompts.data_block(prompts.IDEA_TAG, request.idea),
                    prompts.json_block(prompts.OUTLINE_TAG, outline.as_json())]]
        segments: list[Segment] = []
        for chunk in chunks_of(outline.counts, self.settings.chunk_segments):
            segments += self._segments(request, context, outline.scenes, chunk, segments[-1] if segments else None)
        try:
            return Script(title=outline.answer.title, logline=outline.answer.logline, language=outline.answer.language,
                          acts=outline.answer.acts, scenes=outline.scenes, segments=segments)
        except ValidationError as error:  # the chunks' checks make this unreachable; say so if not
            raise WriterError("Claude's script did not fit together: " + "; ".join(describe_validation_error(error)))

    def _outline(self, request: FilmRequest) -> Outline:
        def check(answer: answers.OutlineAnswer) -> Outline:
            outline = Outline(answer, [scene.to_domain() for scene in answer.scenes],
                              [scene.segments for scene in answer.scenes])
            problems = checks.outline_problems(request, outline.scenes, outline.counts, len(answer.acts))
            if [act.index for act in answer.acts] != list(range(len(answer.acts))):
                problems.append(f"acts: indices must run 0..{len(answer.acts) - 1} in order")
            if problems:
                raise Rejected(problems)
            return outline

        return self.session.ask(self._outline_ask(request, check))

    @staticmethod
    def _outline_ask(request: FilmRequest, check: Any = None) -> Ask:
        spec, text = prompts.outline_task(request)
        return Ask(
            STAGES["outline"], "outline",
            context=[[prompts.data_block(prompts.IDEA_TAG, request.idea)]],
            turn=[prompts.json_block(prompts.TASK_TAG, spec), text],
            check=check or (lambda answer: answer),
        )

    def _segments(
        self, request: FilmRequest, context: list[list[str]], scenes: list[Scene], chunk: Chunk,
        previous: Segment | None,
    ) -> list[Segment]:
        indices = [index for index, _ in chunk]
        scene_of = dict(chunk)

        def check(answer: answers.SegmentsAnswer) -> list[Segment]:
            segments = [s.to_domain() for s in answer.segments]
            if [s.index for s in segments] != indices:
                raise Rejected([f"segments: indices are {[s.index for s in segments]}; exactly {indices} are asked"])
            problems = []
            for segment in segments:
                problems += checks.segment_problems(segment, scenes[scene_of[segment.index]], request)
            problems += checks.same_spelling_problems(
                [*(n for s in scenes for n in s.present), *(n for s in segments for n in s.characters)], "characters"
            )
            if problems:
                raise Rejected(problems)
            return segments

        limit = checks.speech_limit(request)
        spec, text = prompts.segments_task(request, indices, sorted(set(scene_of.values())), limit)
        spec["segments"] = [{"index": index, "scene": scene} for index, scene in chunk]
        before = previous.model_dump(mode="json") if previous else None
        return self.session.ask(Ask(
            STAGES["segments"], f"segments {indices[0]}-{indices[-1]}", context=context,
            turn=[prompts.json_block(prompts.TASK_TAG, spec), prompts.json_block(prompts.CONTEXT_TAG, before), text],
            check=check,
        ))

    # 2. Characters ---------------------------------------------------------------------------------

    def describe_characters(self, request: FilmRequest, script: Script) -> list[Character]:
        wanted = script.character_names or list(dict.fromkeys(n for s in script.scenes for n in s.present))
        if not wanted:
            raise WriterError("the script names no characters, so there is nobody to describe")

        def check(answer: answers.CharactersAnswer) -> list[Character]:
            characters = [c.to_domain() for c in answer.characters]
            names = [c.name for c in characters]
            problems = [f"characters: {name!r} is in the script but not described" for name in wanted
                        if name not in names]
            problems += [f"characters: {name!r} is not a character of the script (spell names exactly as there)"
                         for name in dict.fromkeys(names) if name not in wanted]
            problems += [f"characters: {name!r} is described more than once" for name in dict.fromkeys(names)
                         if names.count(name) > 1]
            for i, character in enumerate(characters):
                problems += checks.character_problems(character, i)
            if problems:
                raise Rejected(problems)
            by_name = {c.name: c for c in characters}
            return [by_name[name] for name in wanted]  # script order, so the plan is stable

        spec, text = prompts.characters_task(wanted)
        return self.session.ask(Ask(
            STAGES["characters"], "characters", context=[self._script_context(request, script)],
            turn=[prompts.json_block(prompts.TASK_TAG, spec), text], check=check, kept=True,
        ))

    # 3. Locations ----------------------------------------------------------------------------------

    def describe_environments(self, request: FilmRequest, script: Script) -> list[Environment]:
        wanted = list(dict.fromkeys([*script.locations, *(scene.location for scene in script.scenes)]))
        used = checks.beat_props_by_location(script)
        needed = {place: used.get(place, []) for place in wanted}

        def check(answer: answers.EnvironmentsAnswer) -> list[Environment]:
            environments = [e.to_domain() for e in answer.environments]
            ids = [e.id for e in environments]
            problems = [f"environments: location {place!r} of the script is not described" for place in wanted
                        if place not in ids]
            problems += [f"environments: {place!r} is not a location of the script" for place in ids
                         if place not in wanted]
            problems += [f"environments: {place!r} is described more than once" for place in dict.fromkeys(ids)
                         if ids.count(place) > 1]
            for i, environment in enumerate(environments):
                problems += checks.environment_problems(environment, i, needed.get(environment.id, []))
            if problems:
                raise Rejected(problems)
            by_id = {e.id: e for e in environments}
            return [by_id[place] for place in wanted]

        spec, text = prompts.environments_task(needed)
        return self.session.ask(Ask(
            STAGES["environments"], "environments", context=[self._script_context(request, script)],
            turn=[prompts.json_block(prompts.TASK_TAG, spec), text], check=check, kept=True,
        ))

    # 4. Keyframes ----------------------------------------------------------------------------------

    def write_keyframes(
        self, request: FilmRequest, script: Script, characters: list[Character], environments: list[Environment]
    ) -> list[Keyframe]:
        by_name = {c.name: c for c in characters}
        context = [
            self._script_context(request, script),
            [prompts.json_block(prompts.CHARACTERS_TAG, [c.model_dump(mode="json") for c in characters]),
             prompts.json_block(prompts.ENVIRONMENTS_TAG, [e.model_dump(mode="json") for e in environments])],
        ]
        counts = [sum(1 for s in script.segments if s.scene == scene.index) for scene in script.scenes] \
            if script.scenes else [len(script.segments)]
        chunks = [[index for index, _ in chunk] for chunk in chunks_of(counts, self.settings.chunk_segments)]
        chunks[-1].append(len(script.segments))  # the final frame closes the last chunk
        keyframes: list[Keyframe] = []
        for indices in chunks:
            boundaries = [boundary(script, k) for k in indices]
            keyframes += self._keyframes(request, script, by_name, context, boundaries,
                                         keyframes[-1] if keyframes else None)
        try:
            FilmPlan(request=request, writer=self.label, script=script, characters=characters,
                     environments=environments, keyframes=keyframes)
        except ValidationError as error:  # the chunks' checks make this unreachable; say so if not
            raise WriterError("Claude's keyframes did not fit the film: " + "; ".join(describe_validation_error(error)))
        return keyframes

    def _keyframes(
        self, request: FilmRequest, script: Script, by_name: dict[str, Character], context: list[list[str]],
        boundaries: list[dict[str, Any]], previous: Keyframe | None,
    ) -> list[Keyframe]:
        indices = [b["keyframe"] for b in boundaries]
        asked = {b["keyframe"]: b for b in boundaries}

        def check(answer: answers.KeyframesAnswer) -> list[Keyframe]:
            keyframes = [k.to_domain() for k in answer.keyframes]
            if [k.index for k in keyframes] != indices:
                raise Rejected([f"keyframes: indices are {[k.index for k in keyframes]}; exactly {indices} are asked"])
            problems = []
            for keyframe in keyframes:
                problems += boundary_problems(keyframe, asked[keyframe.index])
                problems += self.appearance.problems(keyframe, by_name)
                problems += checks.ledger_problems(keyframe, dress_at(script, keyframe.index))
            if problems:
                raise Rejected(problems)
            return keyframes

        spec, text = prompts.keyframes_task(request, boundaries, self.appearance.text())
        before = previous.model_dump(mode="json") if previous else None
        return self.session.ask(Ask(
            STAGES["keyframes"], f"keyframes {indices[0]}-{indices[-1]}", context=context,
            turn=[prompts.json_block(prompts.TASK_TAG, spec), prompts.json_block(prompts.CONTEXT_TAG, before), text],
            check=check, kept=True,
        ))

    # Shared ----------------------------------------------------------------------------------------

    @staticmethod
    def _script_context(request: FilmRequest, script: Script) -> list[str]:
        return [prompts.data_block(prompts.IDEA_TAG, request.idea),
                prompts.json_block(prompts.SCRIPT_TAG, script.model_dump(mode="json"))]

    @staticmethod
    def _log() -> logging.Logger | logging.LoggerAdapter:
        """The Prefect run logger inside a flow or task (so lines reach the UI), else the module's."""
        from prefect.exceptions import MissingContextError
        from prefect.logging import get_run_logger

        try:
            return get_run_logger()
        except MissingContextError:
            return logger


# --- The model -------------------------------------------------------------------------------------


def check_models(
    settings: ClaudeSettings, key: SecretStr | None, *, gate: Gate | None = None, today: datetime.date | None = None,
    log: Any = None,
) -> tuple[ModelFamily, ModelFamily | None]:
    """The model's family and the fallback model's (None: no fallback), from the Models API when `key` may read
    it, else from the catalogue; a WriterError naming a current replacement for a retired one. `filmstitch
    make` runs this in its preflight, before any work; the writer again when it is built."""
    probe = None
    if key is not None and settings.models_api:
        # Asks the Models API only; its request shape is never used (so it cannot refuse the settings first).
        plain = settings.model_copy(update={"output": "auto", "thinking": "auto"})
        probe = Session(plain, key, UNKNOWN, log=log or ClaudeWriter._log, record=lambda _: None,
                        gate=gate or contextlib.nullcontext)
    day = today or datetime.date.today()
    family = describe_model(settings.model, probe, day)
    fallback = settings.fallback_model
    if not fallback or fallback == settings.model:
        return family, None
    return family, describe_model(fallback, probe, day, role="FALLBACK_MODEL")


def describe_model(model: str, probe: Session | None, day: datetime.date, role: str = "MODEL") -> ModelFamily:
    """What `model` accepts and whether it is served: the Models API's answer when the key may read it (`probe`
    asks it), else the catalogue. A retired model is a WriterError naming a current replacement."""
    info = probe.lookup(model) if probe is not None else None
    family = from_models_api(model, info) if info is not None else family_for(model)
    refusal = refusal_for_retired(model, family, day, getattr(info, "line", None))
    if refusal is not None:
        raise WriterError(refusal.replace("FILMSTITCH_CLAUDE_MODEL", f"FILMSTITCH_CLAUDE_{role}"))
    return family


# --- Boundaries ------------------------------------------------------------------------------------


def boundary(script: Script, k: int) -> dict[str, Any]:
    """What keyframe k may show: the characters of the segments meeting there (and what they wear), its
    scene, and whether the place changes there."""
    segments = script.segments
    near = [segments[i] for i in (k - 1, k) if 0 <= i < len(segments)]
    places = list(dict.fromkeys(s.location for s in near))
    return {
        "keyframe": k,
        # The boundary rule lives in FilmPlan; borrow it from an unvalidated plan without keyframes.
        "allowed_characters": FilmPlan.model_construct(script=script).characters_near_boundary(k),
        "scene": segments[min(k, len(segments) - 1)].scene,
        "place_changes": len(places) > 1,
        "locations": places,
        "dress": {
            name: {"scene": scene.index, "outfit": scene.continuity.wardrobe.get(name),
                   "marks": scene.continuity.injuries.get(name)}
            for name, scene in dress_at(script, k).items()
        },
    }


def dress_at(script: Script, k: int) -> dict[str, Scene]:
    """For each character of the segments meeting at boundary k, the scene whose ledger dresses them there:
    a boundary frame opens its segment, so that segment's scene, unless the character is only in the other."""
    if not script.scenes:
        return {}
    segments = script.segments
    near = [segments[i] for i in (k, k - 1) if 0 <= i < len(segments)]  # the opening segment first
    found: dict[str, Scene] = {}
    for segment in near:
        for name in segment.characters:
            found.setdefault(name, script.scenes[segment.scene])
    return found


def boundary_problems(keyframe: Keyframe, asked: dict[str, Any]) -> list[str]:
    where = f"keyframes.{keyframe.index}"
    problems = []
    stray = [name for name in keyframe.characters if name not in asked["allowed_characters"]]
    if stray:
        problems.append(f"{where}.characters: {stray} are in neither segment meeting here "
                        f"(allowed: {asked['allowed_characters']})")
    if asked["place_changes"] and keyframe.location is None:
        problems.append(f"{where}.location: the place changes here ({' -> '.join(asked['locations'])}); say which "
                        "of the two the frame shows")
    if keyframe.location is not None and keyframe.location not in asked["locations"]:
        problems.append(f"{where}.location: {keyframe.location!r} is not where the segments meeting here happen "
                        f"({asked['locations']})")
    return problems
