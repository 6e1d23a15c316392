"""Keyframes: the N+1 boundary frames, each with a full image prompt, a CLIP summary and staging.

Who stands where follows one rule that keeps clips clean: characters keep one left-to-right
order for the whole film (the cast order), spaced evenly, so moving between two keyframes never
makes two of them pass through each other. Someone who joins a segment is absent from its
opening keyframe (they walk in during the clip); someone who leaves is absent from the next one.
"""

from __future__ import annotations

import random

from filmstitch.models import (
    MAX_CLIP_SUMMARY_WORDS,
    Character,
    Environment,
    Keyframe,
    Placement,
    Pose,
    Scene,
    Script,
    Segment,
    Shot,
    Staging,
    TimeOfDay,
)
from filmstitch.writers.offline.data_files import poses
from filmstitch.writers.offline.english import join
from filmstitch.writers.offline.languages import beat_key
from filmstitch.writers.offline.story import POSE_OF, SHOTS
from filmstitch.writers.offline.world import LIGHT_WORDS, PREPOSITIONS

SLOTS = {1: [0.5], 2: [0.36, 0.64], 3: [0.24, 0.5, 0.76], 4: [0.17, 0.39, 0.61, 0.83],
         5: [0.12, 0.31, 0.5, 0.69, 0.88], 6: [0.1, 0.26, 0.42, 0.58, 0.74, 0.9]}
LIGHT_LEVELS = {"dawn": 0.85, "day": 1.0, "dusk": 0.75, "night": 0.5}
#: How a prompt says each pose ("kneeling"), from the vocabulary the animatic reads poses with.
POSE_WORDS: dict[Pose, str] = {pose: words["prompt"] for pose, words in poses().items()}


def boundary_cast(script: Script) -> list[list[str]]:
    """Who is in each keyframe: those of both neighbouring segments (entrances and exits happen in clips)."""
    segments = script.segments
    cast = []
    for k in range(len(segments) + 1):
        if k == 0:
            names = list(segments[0].characters)
        elif k == len(segments):
            names = list(segments[-1].characters)
        else:
            names = [n for n in segments[k].characters if n in segments[k - 1].characters] or \
                list(segments[k].characters[:1])
        cast.append(names)
    for k, segment in enumerate(segments):  # nobody may be in a segment and in neither of its keyframes
        for name in segment.characters:
            if name not in cast[k] and name not in cast[k + 1]:
                cast[k + 1].append(name)
    return cast


def _beat(segment: Segment) -> str:
    """The beat a segment plays ('departure'), from its title in English or the script's language."""
    return beat_key(segment.title) or segment.title.lower().replace(" image", "")


def _shot(segment: Segment) -> Shot:
    return SHOTS.get(_beat(segment), "medium")


def _pose(name: str, segment: Segment | None, ending: bool) -> Pose:
    """A character's stance at a boundary: how the previous segment's last gesture left them."""
    if segment is None:
        return "stand"
    beats = [b for b in segment.beats if b.character == name]
    if ending and beats and beats[-1].at >= 0.7 and beats[-1].gesture in POSE_OF:
        pose = POSE_OF[beats[-1].gesture]
        return "stand" if pose in ("reach", "wave") else pose  # arms down at a boundary: faces stay visible
    return "walk" if _beat(segment) in ("departure", "journey") else "stand"


def write_keyframes(
    script: Script,
    characters: list[Character],
    environments: list[Environment],
    rng: random.Random,
    handles: dict[str, str] | None = None,
) -> list[Keyframe]:
    segments = script.segments
    by_name = {c.name: c for c in characters}
    order = {c.name: i for i, c in enumerate(characters)}
    places = {e.id: e for e in environments}
    handles = handles or {}
    cast = boundary_cast(script)
    keyframes = []
    camera = 0.35
    for k in range(len(segments) + 1):
        opens = segments[min(k, len(segments) - 1)]
        closes = segments[k - 1] if k else None
        environment = places[opens.location]
        scene: Scene | None = script.scenes[opens.scene] if script.scenes else None
        names = sorted(cast[k], key=lambda n: order.get(n, 99))
        slots = SLOTS[len(names)] if names else []
        placements = []
        for j, name in enumerate(names):
            x = slots[j] + rng.uniform(-0.03, 0.03)
            facing = "camera" if len(names) == 1 else ("right" if j == 0 else "left" if j == len(names) - 1
                                                         else "camera")
            pose = _pose(name, closes if k == len(segments) or k else None, ending=True) if k else "stand"
            placements.append(Placement(character=name, x=round(x, 3), pose=pose, facing=facing))
        new_scene = k == 0 or (closes is not None and closes.scene != opens.scene)
        camera = 0.3 + rng.uniform(0.0, 0.1) if new_scene else min(0.9, camera + rng.uniform(0.04, 0.1))
        time = scene.time_of_day if scene else environment.time_of_day
        light = LIGHT_LEVELS[time] / LIGHT_LEVELS[environment.time_of_day]
        shot = _shot(opens if k < len(segments) else segments[-1])
        if len(names) > 1 and shot == "close":
            shot = "medium"  # a close shot holds one face; two or more people need room
        if len(names) > 3 and shot == "medium":
            shot = "wide"
        staging = Staging(shot=shot, camera_x=round(camera, 3), light=round(min(1.3, max(0.2, light)), 3),
                          placements=placements)
        prompt = _prompt(shot, opens, environment, placements, by_name, scene, time)
        summary = _summary(shot, names, handles, opens.setting, environment, time)
        changes_place = closes is not None and closes.location != opens.location
        keyframes.append(Keyframe(index=k, prompt=prompt, clip_summary=summary, characters=names,
                                  location=opens.location if changes_place else None, staging=staging))
    return keyframes


def _prompt(shot: Shot, segment: Segment, environment: Environment, placements: list[Placement],
            by_name: dict[str, Character], scene: Scene | None, time: TimeOfDay) -> str:
    people = []
    for p in placements:
        character = by_name.get(p.character)
        look = character.description if character else p.character
        facing = {"camera": "facing the camera", "left": "facing left", "right": "facing right"}[p.facing]
        pose = POSE_WORDS[p.pose]
        if character is not None and character.kind in ("element", "sea_creature") and p.pose == "stand":
            pose = "hovering" if character.kind == "element" else "floating"
        people.append(f"{look} ({pose}, {facing})")
    ledger = ""
    if scene is not None:
        shown = {p.character for p in placements}
        worn = [f"{name} {'wears' if by_name.get(name) and by_name[name].kind == 'person' else 'is'} {what}"
                for name, what in scene.continuity.wardrobe.items() if name in shown]
        marks = [f"{name} has {what}" for name, what in scene.continuity.injuries.items() if name in
                 {p.character for p in placements}]
        props = scene.continuity.props
        ledger = " Continuity: " + "; ".join([*worn, *marks, *( [f"props in play: {join(props)}"] if props else [])])
        ledger = ledger + "." if ledger != " Continuity: " else ""
    who = " ".join(f"{text}." for text in people) if people else "No one in frame."
    where = f"{PREPOSITIONS.get(environment.set, 'in')} {environment.name}"
    lighting = environment.lighting if time == environment.time_of_day else f"{LIGHT_WORDS[time]}"
    text = (f"Cinematic film still, {shot} shot, {time}, at {segment.setting} {where}. {who} "
            f"Setting: {environment.description} Lighting: {lighting}. Materials: "
            f"{environment.materials}. Mood: {environment.atmosphere}.{ledger} 35mm film, shallow depth of field.")
    return text[:3000]


def _summary(shot: Shot, names: list[str], handles: dict[str, str], setting: str, environment: Environment,
             time: TimeOfDay) -> str:
    who = join([handles.get(n, n) for n in names]) or "an empty frame"
    parts = [f"{shot} shot", who, f"at {setting}", environment.name, f"{time} light", environment.atmosphere]
    kept: list[str] = []
    for part in parts:
        if len(", ".join([*kept, part]).split()) > MAX_CLIP_SUMMARY_WORDS:
            break
        kept.append(part)
    return ", ".join(kept)
