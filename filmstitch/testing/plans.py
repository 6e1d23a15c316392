"""Film plans for tests and benchmarks: a small hand-written one, and the offline writer's.

`handmade_plan` needs no writer at all. Two characters on the moon: Mira (an astronaut) is
in every keyframe; Bolt (a robot) is in every segment and stands in the odd keyframes, so he
walks in during even segments and out during odd ones. Shots cycle wide -> medium -> close,
poses cycle through all of them.
"""

from __future__ import annotations

from typing import get_args

from filmstitch.models import (
    Character,
    DialogueLine,
    Environment,
    FilmPlan,
    FilmRequest,
    Keyframe,
    Placement,
    Pose,
    Script,
    Segment,
    Shot,
    Staging,
)
from filmstitch.writers.offline import OfflineWriter

SHOTS: tuple[Shot, ...] = ("wide", "medium", "close")
POSES: tuple[Pose, ...] = get_args(Pose)


def handmade_characters() -> list[Character]:
    return [
        Character(
            name="Mira",
            role="stranded astronaut",
            description="A slim astronaut in a white space suit with an orange stripe, short black hair "
            "behind the visor.",
            palette=["#EDEDED", "#3A4A6B", "#F08A24"],
            build="slim",
        ),
        Character(
            name="Bolt",
            role="maintenance robot",
            description="A small boxy robot with a teal chassis and yellow lamp eyes.",
            palette=["#2A9D8F", "#264653"],
            build="small",
        ),
    ]


def handmade_environment() -> Environment:
    return Environment(
        id="lunar_garden",
        name="Lunar garden",
        set="moon",
        description="A grey lunar plain with craters and rocks where tiny green plants and flowers bloom.",
        lighting="harsh white sunlight, black sky, Earth hanging above the horizon",
        materials="grey regolith, white suit fabric, green leaves",
        atmosphere="silent, lonely, then hopeful",
        palette=["#05070F", "#2B3350", "#8F8F94", "#5DBB63", "#E76F51"],
    )


def _keyframe(index: int, with_bolt: bool) -> Keyframe:
    shot = SHOTS[index % len(SHOTS)]
    placements = [
        Placement(
            character="Mira",
            x=(0.3, 0.55, 0.7)[index % 3],
            pose=POSES[index % len(POSES)],
            facing=("right", "camera", "left")[index % 3],
        )
    ]
    if with_bolt:
        placements.append(Placement(character="Bolt", x=0.25 if index % 3 == 2 else 0.78, pose="wave", facing="left"))
    names = [p.character for p in placements]
    return Keyframe(
        index=index,
        prompt=f"Keyframe {index}: {' and '.join(names)} on the lunar plain, {shot} shot.",
        clip_summary=f"{' and '.join(names)} on the moon, {shot} shot",
        characters=names,
        staging=Staging(
            shot=shot, camera_x=(0.3, 0.5, 0.7)[index % 3], light=1.0 - 0.1 * (index % 2), placements=placements
        ),
    )


def crater_environment() -> Environment:
    return Environment(
        id="crater_rim",
        name="Crater rim",
        set="mountains",
        description="A jagged crater rim of grey rock above the plain.",
        lighting="low sun, long shadows",
        materials="grey rock, dust",
        atmosphere="high and windless",
        palette=["#1b2238", "#4a5370", "#7a7a80", "#d0a050", "#5DBB63"],
    )


def handmade_plan(
    segments: int = 2, width: int = 256, height: int = 160, fps: int = 8, seconds: float = 2.0, locations: int = 1
) -> FilmPlan:
    """A valid plan of `segments` clips at a small size, fast to render.

    With `locations=2` the odd segments happen at a second place (the crater rim), so the clips
    that cross a boundary between the two change location.
    """
    request = FilmRequest(
        idea="A stranded astronaut on the moon walks around and discovers nature.",
        segments=segments,
        seconds_per_segment=seconds,
        width=width,
        height=height,
        fps=fps,
        seed=7,
    )
    script = Script(
        title="Green on Grey",
        logline="A stranded astronaut and a small robot find life on the moon.",
        segments=[
            Segment(
                index=i,
                title=f"Part {i + 1}",
                narration=f"Mira crosses the plain. Part {i + 1} of the search goes on.",
                action="Mira walks across the plain while Bolt rolls along.",
                dialogue=[DialogueLine(speaker="Mira", line="Bolt, look at this!")] if i % 2 else [],
                characters=["Mira", "Bolt"],
                setting="the lunar plain",
                location="crater_rim" if locations > 1 and i % 2 else "lunar_garden",
            )
            for i in range(segments)
        ],
    )
    return FilmPlan(
        request=request,
        writer="hand-written test plan",
        script=script,
        characters=handmade_characters(),
        environments=[handmade_environment(), *([crater_environment()] if locations > 1 else [])],
        keyframes=[_keyframe(i, with_bolt=i % 2 == 1) for i in range(segments + 1)],
    )


#: One character of every kind: (name, kind, species, palette).
KINDS = [
    ("Ada", "person", None, ["#D9A821", "#24356B"]),
    ("Bolt", "robot", "robot", ["#C0C4CC", "#1F9E9A"]),
    ("Ember", "animal", "fox", ["#A4512B", "#EFE4C8"]),
    ("Heron", "bird", "heron", ["#8A8F98", "#4F6D8F"]),
    ("Ink", "sea_creature", "octopus", ["#7A4FB0", "#F07060"]),
    ("Wisp", "creature", "ghost", ["#EEF0F2", "#6FB6E8"]),
    ("Lantern", "object", "lantern", ["#B8923A", "#F08A24"]),
    ("Storm", "element", "storm", ["#3A3D42", "#7A4FB0"]),
]


def kind_plan() -> FilmPlan:
    """A one-segment plan whose cast has one character of every kind (for drawing tests)."""
    base = handmade_plan(segments=1)
    characters = [
        Character(name=name, role=kind.replace("_", " "), kind=kind, species=species,
                  description=f"{name}, a {species or kind}.", palette=palette, build="average")
        for name, kind, species, palette in KINDS
    ]
    names = [c.name for c in characters][:6]
    segment = base.script.segments[0].model_copy(update={"characters": names, "dialogue": []})
    placements = [Placement(character=n, x=round(0.1 + 0.16 * i, 2)) for i, n in enumerate(names)]
    keyframes = [
        Keyframe(index=i, prompt="Everyone.", clip_summary="everyone", characters=names,
                 staging=Staging(shot="wide", placements=placements))
        for i in range(2)
    ]
    return FilmPlan(request=base.request, writer="hand-written test plan",
                    script=base.script.model_copy(update={"segments": [segment]}), characters=characters,
                    environments=base.environments, keyframes=keyframes)


def offline_plan(request: FilmRequest) -> FilmPlan:
    """The plan the offline story engine writes for `request` (all four writer calls)."""
    writer = OfflineWriter()
    script = writer.write_script(request)
    characters = writer.describe_characters(request, script)
    environments = writer.describe_environments(request, script)
    keyframes = writer.write_keyframes(request, script, characters, environments)
    return FilmPlan(
        request=request,
        writer=writer.label,
        script=script,
        characters=characters,
        environments=environments,
        keyframes=keyframes,
    )
