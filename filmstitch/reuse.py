"""Reuse keys: the one mechanism that decides whether finished work can be reused.

Every part of a film (a writer call's answer, a reference's variants, a keyframe's variants, a clip and its own
sound, a segment's speech, a location's ambience, the mix, the film) is stored with a *reuse key*: a hash of
everything that part is made from. A rerun computes the key again and reuses the stored part only when
the manifest holds exactly that key for it and the stored bytes still match their checksum
(`FilmStore.reuse`); otherwise the part is made again, and so is everything downstream of it, because
their keys include the new part's checksum. Nothing else is cached: Prefect's result cache is off.

What goes into a key is listed here, in one place, per part:

    inputs   the plan fields the part reads (whole models: a Character, the Environment, the Keyframe...),
             the request fields that shape it (size, frame rate, seeds), the checksums of the artifacts
             it is made from (the chosen references, the keyframes, the clips)
    maker    the backend's identity (`Backend.identity()`): its name, its settings, and the version of
             its code — a hash of the source files that make the part, so an edit to the drawing code
             re-renders the pictures and nothing else

Keys are hex strings; `key_of` is the only function that makes them. Every part's inputs are listed here except
the film's own (tasks/assemble.py): that file is part of the film's maker (its code version), so moving them out
would change every stored film's key. tests/unit/test_reuse_keys_pinned.py pins the keys of a fixed film.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from filmstitch.models import Character, Environment, FilmPlan, FilmRequest, Script, derive_seed, stable_hash

KEY_LENGTH = 16


def key_of(part: str, maker: Mapping[str, Any], **inputs: Any) -> str:
    """The reuse key of one part: `part` names what it is ("keyframe", "clip"...), `maker` is the
    backend's identity, `inputs` everything the part is made from (models, numbers, checksums)."""
    return stable_hash({"part": part, "maker": dict(maker), "inputs": inputs}, KEY_LENGTH)


@functools.cache
def code_version(*modules: str) -> str:
    """A hash of the source of the given modules (a package means every .py file under it).

    Read once per process: the code that runs cannot change under a running process.
    """
    digest = hashlib.sha256()
    for path in sorted(_source_files(modules)):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:KEY_LENGTH]


def _source_files(modules: Iterable[str]) -> set[Path]:
    files: set[Path] = set()
    for name in modules:
        module = importlib.import_module(name)
        origin = Path(module.__file__ or "")
        if origin.name == "__init__.py":
            files.update(origin.parent.rglob("*.py"))
        else:
            files.add(origin)
    return files


_Name = TypeVar("_Name", str, int)  # artifacts named, or numbered in order


def checksums(refs: Mapping[_Name, Any]) -> dict[_Name, str]:
    """`{name: artifact}` -> `{name: sha256}`: artifacts enter keys by their content, never their path."""
    return {name: _sha256_of(ref) for name, ref in sorted(refs.items())}


def _sha256_of(ref: Any) -> str:
    if isinstance(ref, str):  # already a checksum
        return ref
    for attribute in ("sha256", "image"):
        value = getattr(ref, attribute, None)
        if isinstance(value, str):
            return value
        if value is not None:
            return _sha256_of(value)
    raise TypeError(f"{type(ref).__name__} has no checksum")


# --------------------------------------------------------------------------- what each part reads: the plan


def _dump_all(*models: BaseModel | Sequence[BaseModel]) -> list[Any]:
    """Models (or lists of models) as key input, in order."""
    return [item.model_dump(mode="json") if isinstance(item, BaseModel) else [m.model_dump(mode="json") for m in item]
            for item in models]


def script_inputs(request: FilmRequest) -> dict[str, Any]:
    """The writer's script reads the request (its answer is stored as plan/script.json)."""
    return {"request": request.model_dump(mode="json")}


def cast_inputs(request: FilmRequest, script: Script) -> dict[str, Any]:
    """The characters and the locations are each described from the request and the script."""
    return {"request": _dump_all(request), "script": _dump_all(script)}


def keyframe_prompt_inputs(request: FilmRequest, script: Script, characters: Sequence[Character],
                           environments: Sequence[Environment]) -> dict[str, Any]:
    """The keyframe prompts read the request, the script and the whole cast."""
    return {"request": _dump_all(request), "script": _dump_all(script), "cast": _dump_all(characters, environments)}


def plan_key(plan: FilmPlan) -> str:
    """The checked plan is stored once per plan: its key is the plan itself, made by no backend."""
    return key_of("plan", {}, plan=plan.model_dump(mode="json"))


# --------------------------------------------------------------------------- what each part reads: pictures


def _request_shape(plan: FilmPlan) -> dict[str, Any]:
    """The request fields that shape every picture and clip."""
    r = plan.request
    return {"width": r.width, "height": r.height, "fps": r.fps, "frames_per_clip": r.frames_per_clip}


def reference_inputs(plan: FilmPlan, subject_id: str, seeds: list[int]) -> dict[str, Any]:
    """A reference is drawn from its character or location, whole (appearance, palette, props...)."""
    return {"subject": _dump(plan.subject_source(subject_id)), "seeds": seeds, **_request_shape(plan)}


def keyframe_inputs(plan: FilmPlan, index: int, references: Mapping[str, Any], seeds: list[int]) -> dict[str, Any]:
    """A keyframe reads its own prompt and staging, its location, the characters in it, the chosen
    references of the subjects present, and the titles of the segments it joins (the animatic's chapter
    chip)."""
    keyframe = plan.keyframes[index]
    segments = plan.script.segments
    return {
        "keyframe": _dump(keyframe),
        "location": _dump(plan.keyframe_environment(index)),
        "characters": [_dump(plan.character(name)) for name in keyframe.characters],
        "segment_titles": [segments[i].title for i in (index - 1, index) if 0 <= i < len(segments)],
        "references": checksums({s.id: references[s.id] for s in plan.subjects_at(index)}),
        "seeds": seeds,
        **_request_shape(plan),
    }


def keyframe_edit_inputs(
    plan: FilmPlan, index: int, pictures: list[Any], references: Mapping[str, Any], edit: BaseModel, seeds: list[int]
) -> dict[str, Any]:
    """An edit of a keyframe reads the pictures it edits, the edit itself (instruction, region or mask), the
    keyframe (its prompt paints a region with no instruction), the references it is scored against, and its
    seeds."""
    return {
        "pictures": [_sha256_of(p) for p in pictures],
        "edit": edit.model_dump(mode="json"),
        "keyframe": _dump(plan.keyframes[index]),
        "references": checksums({s.id: references[s.id] for s in plan.subjects_at(index)}),
        "seeds": seeds,
        **_request_shape(plan),
    }


def _clip_cast(plan: FilmPlan, segment: int) -> tuple[list[str], list[str]]:
    """(character names, location ids) of a segment and its two keyframes."""
    names = dict.fromkeys(
        plan.script.segments[segment].characters
        + plan.keyframes[segment].characters
        + plan.keyframes[segment + 1].characters
    )
    locations = {plan.segment_environment(segment).id, plan.keyframe_environment(segment).id,
                 plan.keyframe_environment(segment + 1).id}
    return list(names), sorted(locations)


def clip_subjects(plan: FilmPlan, segment: int) -> list[str]:
    """The subject ids whose chosen references a clip is given (and so whose checksums are in its key)."""
    names, locations = _clip_cast(plan, segment)
    return [plan.character(name).subject_id for name in names] + [plan.location(i).subject_id for i in locations]


def clip_inputs(
    plan: FilmPlan, segment: int, first: Any, last: Any, references: Mapping[str, Any], seed: int,
    narration: bool = False,
) -> dict[str, Any]:
    """A clip reads its segment, both keyframes (plan and chosen picture), the characters and locations of
    the segment and its two keyframes, and the chosen references of those (`clip_subjects`). What is said in
    the segment is the sound's, not the picture's: the dialogue is left out, and the narration too unless the
    renderer reads it (`narration`: `Renderer.clip_reads_narration`), so a changed line is spoken again, never
    drawn again."""
    names, locations = _clip_cast(plan, segment)
    subjects = clip_subjects(plan, segment)
    seg = plan.script.segments[segment]
    return {
        "segment": seg.model_dump(mode="json", exclude={"narration", "dialogue"}),
        **({"narration": seg.narration} if narration else {}),
        "keyframes": [_dump(plan.keyframes[segment]), _dump(plan.keyframes[segment + 1])],
        "characters": [_dump(plan.character(name)) for name in names],
        "locations": [_dump(plan.location(i)) for i in locations],
        "pictures": checksums({"first": first, "last": last}),
        "references": checksums({sid: references[sid] for sid in sorted(subjects) if sid in references}),
        "seed": seed,
        **_request_shape(plan),
    }


def clip_key(maker: Mapping[str, Any], plan: FilmPlan, segment: int, first: Any, last: Any,
             chosen_references: Mapping[str, Any], seed: int, narration: bool = False) -> str:
    """A clip's reuse key: the first render and a retake's search for a stored take both compute it here.
    `chosen_references`: every chosen reference of the film; the clip's own (`clip_subjects`) are kept."""
    references = {sid: chosen_references[sid] for sid in clip_subjects(plan, segment) if sid in chosen_references}
    return key_of("clip", maker, **clip_inputs(plan, segment, first, last, references, seed, narration))


def qc_inputs(clips: Sequence[Any], keyframes: Sequence[BaseModel]) -> dict[str, Any]:
    """The seam QC reads the clips (by checksum) and the keyframes' QC results."""
    return {"clips": checksums(dict(enumerate(clips))), "keyframes": [k.model_dump(mode="json") for k in keyframes]}


def clip_sound_inputs(clip_reuse_key: str) -> dict[str, Any]:
    """A clip's own sound (LTX-2) is made by the same call as its frames, from the same inputs: its key is the
    clip's key, under another part name, so it is reused exactly when the clip is."""
    return {"clip": clip_reuse_key}


def _dump(model: BaseModel) -> dict[str, Any]:
    """A model as key input. A character's voice is left out: pictures do not depend on it (so recasting a
    voice never redraws a picture); the sound parts list the voices they use themselves."""
    if isinstance(model, Character):
        return model.model_dump(mode="json", exclude={"voice"})
    return model.model_dump(mode="json")


# --------------------------------------------------------------------------- sound


def sound_identity(engine: Any) -> dict[str, Any]:
    """The sound stage's maker: the engine (None: the procedural ambience) and the stage's own code."""
    stage_code = code_version("filmstitch.sound")
    if engine is None:
        return {"name": "procedural", "code": stage_code}
    return {"name": engine.name, "code": engine.code_version, "stage": stage_code}


def speech_inputs(plan: FilmPlan, segment: int) -> dict[str, Any]:
    """A segment's speech: its lines in their cast voices, and the segment's length (lines are fitted to it)."""
    from filmstitch.sound.casting import casting_for
    from filmstitch.sound.stage import segment_lines

    lines = [(speaker, text, casting_for(plan, speaker).model_dump(mode="json"))
             for speaker, text in segment_lines(plan, segment)]
    return {"lines": lines, "frames": plan.request.frames_per_clip, "fps": plan.request.fps}


def mix_inputs(plan: FilmPlan, speech: Sequence[Sequence[Any]], beds: Mapping[str, Any],
               clip_sounds: Sequence[Any] | None, clip_sound_mode: str) -> dict[str, Any]:
    """The mix reads every segment's speech (its description, then its lines' WAVs), the ambience beds, the
    film's timing and language, and the clips' own sound with what it becomes (`clip_sound_mode`) when there is
    any: only then, so the keys of films without clip sound stay what they were."""
    inputs = {
        "speech": [checksums(dict(enumerate(refs))) for refs in speech],
        "beds": checksums(beds),
        "frames": plan.request.frames_per_clip, "fps": plan.request.fps, "segments": plan.request.segments,
        "language": plan.script.language,
    }
    if clip_sounds:
        inputs |= {"clip_sounds": list(checksums(dict(enumerate(clip_sounds))).values()), "clip_sound": clip_sound_mode}
    return inputs


def ambience_inputs(plan: FilmPlan, location_id: str) -> dict[str, Any]:
    """A location's ambience bed: the location, where in the film it plays, and its seed."""
    from filmstitch.sound import ambience

    spans = [ambience.piece_bounds(plan, span) for span in ambience.location_spans(plan).get(location_id, [])]
    return {"location": _dump(plan.location(location_id)), "spans": spans,
            "seed": derive_seed(plan.request.seed, "ambience", location_id)}


# --------------------------------------------------------------------------- the film


def film_maker() -> dict[str, Any]:
    """The film is joined and muxed by ffmpeg through this code: its identity is the video and assembly code."""
    return {"name": "ffmpeg", "code": code_version("filmstitch.video", "filmstitch.tasks.assemble")}


def film_inputs(plan: FilmPlan, clips: Sequence[Any], sound: Mapping[str, Any] | None, cut: BaseModel | None,
                cut_plan: str | None) -> dict[str, Any]:
    """The film reads its clips, the mix and its cues (`sound`), whether subtitles are burnt in, the language, the
    chapter marks (the scenes' titles and frames), and with a `cut` (the takes it uses) that record and the
    checksum of the plan it is cut from."""
    from filmstitch.video import scene_chapters

    return {"clips": list(checksums(dict(enumerate(clips))).values()),
            "sound": checksums(sound) if sound else None,
            "burn_subtitles": plan.request.burn_subtitles, "language": plan.script.language,
            "chapters": {"title": plan.script.title, "fps": plan.request.fps,
                         "marks": [chapter.model_dump() for chapter in scene_chapters(plan)]},
            "cut": cut.model_dump(mode="json") if cut else None, "plan": cut_plan}
