"""Faults injected into the real backends, and a log of every backend call.

Nothing here is product code, and the product holds no test hooks: faults are injected by
wrapping the real backends where the stage tasks look them up (``tasks.*.get_renderer``,
``filmstitch.tasks.write.get_writer``, ``filmstitch.tasks.assemble.concat_mp4``).

* :class:`CallLog` - every backend call as JSON lines in a file (start / end / the fault), safe
  across threads and processes, so a render counter can be read from outside a process.
* :class:`Fault` + :class:`Injector` - fail the Nth call of a method: ``transient`` (a
  ``ConnectionError``, which the stage tasks retry), ``permanent`` (``retryable = False``) or
  ``hang`` (block until the process is SIGKILLed: a crash at a known point of a known phase).
* :func:`installed` - route this process's stage tasks through an injector;
  :mod:`filmstitch.testing.faulty_cli` does it for the real CLI in a process of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from filmstitch.models import FilmPlan, FilmRequest, Subject
from filmstitch.renderers.base import RenderedImage, Renderer
from filmstitch.writers.base import Writer


class CallLog:
    """Append-only JSON lines, one per event. O_APPEND writes of one short line do not interleave."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def write(self, **event: Any) -> None:
        line = (json.dumps(event | {"pid": os.getpid(), "at": time.time()}) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        rows = [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
        return [row for row in rows if event is None or row["event"] == event]

    def calls(self) -> Counter[str]:
        """Backend calls started, by method (a call that failed or hung counts: it was attempted)."""
        return Counter(row["method"] for row in self.events("start"))

    def faults(self) -> int:
        return len([row for row in self.events() if row["event"] in FAULT_ACTIONS])


# --------------------------------------------------------------------------- faults

FaultAction = Literal["hang", "transient", "permanent"]
FAULT_ACTIONS = ("hang", "transient", "permanent")


class InjectedTransientError(ConnectionError):
    """What a flaky GPU worker or network does: the same call may well work next time."""


class InjectedPermanentError(RuntimeError):
    """What a broken model or bad input does: trying again cannot help (the tasks do not retry it)."""

    retryable = False


@dataclass(frozen=True)
class Fault:
    """Fail calls ``call`` .. ``call + times - 1`` (1-based, counted per process) of one backend method.

    Methods: the Renderer's (``reference_variants``, ``keyframe_variants``, ``clip``), the Writer's
    (``write_script``, ``describe_characters``, ``describe_environments``, ``write_keyframes``) and
    ``concat`` (the assembly's ffmpeg join).
    """

    method: str
    call: int = 1
    action: FaultAction = "transient"
    times: int = 1

    @classmethod
    def parse(cls, text: str) -> Fault:
        """``method:call:action[:times]``, e.g. ``clip:2:hang``."""
        parts = text.split(":")
        if len(parts) not in (3, 4) or parts[2] not in FAULT_ACTIONS:
            raise ValueError(f"bad fault {text!r}: expected method:call:{'|'.join(FAULT_ACTIONS)}[:times]")
        return cls(parts[0], int(parts[1]), parts[2], int(parts[3]) if len(parts) == 4 else 1)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"{self.method}:{self.call}:{self.action}:{self.times}"

    def hits(self, method: str, call: int) -> bool:
        return method == self.method and self.call <= call < self.call + self.times


class Injector:
    """Counts and logs every backend call, and fails the ones its faults name."""

    def __init__(self, log: CallLog, faults: Sequence[Fault] = ()) -> None:
        self.log = log
        self.faults = list(faults)
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def call(self, kind: str, method: str, unit: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self._counts[method] += 1
            number = self._counts[method]
        self.log.write(event="start", kind=kind, method=method, unit=unit, call=number)
        fault = next((f for f in self.faults if f.hits(method, number)), None)
        if fault is not None:
            self.log.write(event=fault.action, kind=kind, method=method, unit=unit, call=number)
            if fault.action == "hang":
                threading.Event().wait()  # until the test SIGKILLs this process
            if fault.action == "transient":
                raise InjectedTransientError("connection reset by the GPU worker (injected fault)")
            raise InjectedPermanentError("CUDA error: device-side assert triggered (injected fault)")
        result = fn(*args, **kwargs)
        self.log.write(event="end", kind=kind, method=method, unit=unit, call=number)
        return result


class FaultyRenderer(Renderer):
    """The real renderer, with every call going through an :class:`Injector`."""

    def __init__(self, inner: Renderer, injector: Injector) -> None:
        self.inner, self.injector, self.name = inner, injector, inner.name

    def identity(self) -> dict[str, Any]:  # the inner renderer's: a fault changes no picture
        return self.inner.identity()

    def reference_variants(self, plan: FilmPlan, subject: Subject, seeds: list[int]) -> list[bytes]:
        return self.injector.call(
            "renderer", "reference_variants", subject.id, self.inner.reference_variants, plan, subject, seeds
        )

    def keyframe_variants(
        self, plan: FilmPlan, index: int, references: dict[str, RenderedImage], seeds: list[int]
    ) -> list[bytes]:
        return self.injector.call(
            "renderer",
            "keyframe_variants",
            f"k{index:02d}",
            self.inner.keyframe_variants,
            plan,
            index,
            references,
            seeds,
        )

    def clip(
        self,
        plan: FilmPlan,
        segment: int,
        first: RenderedImage,
        last: RenderedImage,
        references: dict[str, RenderedImage],
        seed: int,
    ) -> bytes:
        return self.injector.call(
            "renderer", "clip", f"s{segment:02d}", self.inner.clip, plan, segment, first, last, references, seed
        )


class FaultyWriter(Writer):
    """The real writer, with every call going through an :class:`Injector`; usage is the inner writer's."""

    def __init__(self, inner: Writer, injector: Injector) -> None:
        super().__init__()
        self.inner, self.injector, self.label = inner, injector, inner.label

    def identity(self) -> dict[str, Any]:  # the inner writer's: a fault changes no answer
        return self.inner.identity()

    def take_usage(self) -> list:
        return self.inner.take_usage()

    def write_script(self, request: FilmRequest) -> Any:
        return self.injector.call("writer", "write_script", "script", self.inner.write_script, request)

    def describe_characters(self, request: FilmRequest, script: Any) -> Any:
        return self.injector.call(
            "writer", "describe_characters", "characters", self.inner.describe_characters, request, script
        )

    def describe_environments(self, request: FilmRequest, script: Any) -> Any:
        return self.injector.call(
            "writer", "describe_environments", "environment", self.inner.describe_environments, request, script
        )

    def write_keyframes(self, request: FilmRequest, script: Any, characters: Any, environment: Any) -> Any:
        return self.injector.call(
            "writer",
            "write_keyframes",
            "keyframes",
            self.inner.write_keyframes,
            request,
            script,
            characters,
            environment,
        )


def patches(injector: Injector) -> list[tuple[Any, str, Any]]:
    """(module, name, replacement) for every place a stage task looks a backend up."""
    from filmstitch import tasks
    from filmstitch.renderers import get_renderer
    from filmstitch.tasks import assemble, clips, keyframes, references, write  # noqa: F401 - loads them
    from filmstitch.video import concat_mp4
    from filmstitch.writers import get_writer

    def renderer(name: str) -> Renderer:
        return FaultyRenderer(get_renderer(name), injector)

    def writer(name: str, **options: Any) -> Writer:
        return FaultyWriter(get_writer(name, **options), injector)

    def concat(clip_paths: Sequence[Path], out_path: Path) -> bool:
        return injector.call("assembler", "concat", "film", concat_mp4, clip_paths, out_path)

    return [
        (tasks.references, "get_renderer", renderer),
        (tasks.keyframes, "get_renderer", renderer),
        (tasks.clips, "get_renderer", renderer),
        (tasks.write, "get_writer", writer),
        (tasks.assemble, "concat_mp4", concat),
    ]


@contextlib.contextmanager
def installed(injector: Injector) -> Iterator[Injector]:
    """Route the stage tasks' backend calls through `injector` in this process, restoring them after."""
    replaced = patches(injector)
    originals = [(module, name, getattr(module, name)) for module, name, _ in replaced]
    for module, name, replacement in replaced:
        setattr(module, name, replacement)
    try:
        yield injector
    finally:
        for module, name, original in originals:
            setattr(module, name, original)


def record_storage(log: CallLog) -> None:
    """Log every key this process reads, writes, lists or looks up through an ObjectStore (event "storage")."""
    from filmstitch import storage

    for cls in (storage.LocalStore, storage.S3Store):
        for op in ("put", "get", "exists", "update", "list", "url"):
            original = getattr(cls, op)

            def wrapper(
                self: Any, key: str, *args: Any, _op: str = op, _original: Any = original, **kwargs: Any
            ) -> Any:
                log.write(event="storage", op=_op, key=key)
                return _original(self, key, *args, **kwargs)

            setattr(cls, op, wrapper)
