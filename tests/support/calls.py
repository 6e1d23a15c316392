"""Counting what a film run really renders, writes and mixes (in this process): the reuse tests assert that
a rerun makes exactly the parts whose inputs changed."""

from __future__ import annotations

import collections
import threading

import pytest

from filmstitch.renderers.animatic import AnimaticRenderer
from filmstitch.sound import stage as sound_stage
from filmstitch.writers.offline import OfflineWriter

RENDERER_CALLS = ("reference_variants", "keyframe_variants", "clip")
WRITER_CALLS = ("write_script", "describe_characters", "describe_environments", "write_keyframes")
SOUND_CALLS = ("speak_segment", "ambience_bed", "mix_film")


class Calls:
    """Counts calls by name; `take()` returns the counts so far and starts again from zero."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.parts: set[tuple[str, object]] = set()
        self.lock = threading.Lock()

    def count(self, name: str, part: object = None) -> None:
        with self.lock:
            self.counts[name] += 1
            self.parts.add((name, part))

    def take_parts(self) -> set[tuple[str, object]]:
        """(call, which part) of every call so far: the subject id, keyframe, segment or location it made."""
        with self.lock:
            parts, self.parts = self.parts, set()
            self.counts = collections.Counter()
        return parts

    def take(self) -> dict[str, int]:
        with self.lock:
            counts, self.counts = dict(self.counts), collections.Counter()
        return counts


def count_calls(monkeypatch: pytest.MonkeyPatch, sound: bool = False) -> Calls:
    """Wrap the animatic's and the offline writer's calls (and with `sound`, the sound stage's) so each call
    is counted, then passed on unchanged."""
    calls = Calls()
    for cls, methods in ((AnimaticRenderer, RENDERER_CALLS), (OfflineWriter, WRITER_CALLS)):
        for method in methods:
            original = getattr(cls, method)

            def counted(self, *args, _original=original, _name=method, **kwargs):
                calls.count(_name, _part(args))
                return _original(self, *args, **kwargs)

            monkeypatch.setattr(cls, method, counted)
    for name in SOUND_CALLS if sound else ():
        original = getattr(sound_stage, name)

        def counted_sound(*args, _original=original, _name=name, **kwargs):
            calls.count(_name, _part(args))
            return _original(*args, **kwargs)

        monkeypatch.setattr(sound_stage, name, counted_sound)
    return calls


def _part(args: tuple) -> object:
    """Which part a render or sound call makes: its second argument (after the plan or request): a Subject's
    id, a keyframe index, a segment, a location id; None for calls of the whole film."""
    if len(args) < 2:
        return None
    part = args[1]
    return part if isinstance(part, (int, str)) else getattr(part, "id", None)
