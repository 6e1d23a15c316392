"""Where each part of a film lives in its folder: the one place these paths are spelled.

A part is what takes are made of (filmstitch.tasks.common.stored_take): its takes lie under it, e.g.
"clips/c06/take-3.mp4". (`RetakeRequest.part` in filmstitch.models spells two of them again: models.py is part
of the writers' code version, so editing it would write every film's plan again; a unit test keeps them equal.)
"""

from __future__ import annotations


def reference_part(subject_id: str) -> str:
    return f"references/{subject_id}"


def keyframe_part(index: int) -> str:
    return f"keyframes/k{index:02d}"


def clip_part(segment: int) -> str:
    return f"clips/c{segment:02d}"


def speech_part(segment: int) -> str:
    return f"sound/speech/s{segment:02d}"


def ambience_part(location_id: str) -> str:
    return f"sound/ambience/{location_id}"
