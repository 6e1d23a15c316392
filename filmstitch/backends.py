"""Every backend FilmStitch can use, in one table: read this module to see them all.

A backend is a writer (idea -> plan), a renderer (plan -> pictures and clips) or a sound engine (plan -> voices
and ambience). Each row names what it is made by, the machine resource its work holds, the check that it can run
here (filmstitch.preflight) and the pip extra it needs. Settings, the request's choices, the preflight, the
render slots (filmstitch.tasks.common.render_slot) and `get_writer` / `get_renderer` all read this table.

Factories and checks are "module:attribute" strings imported only when used: a backend's packages (torch,
modal...) are optional extras, and this module is imported by the settings, everywhere.

The choices are also spelled as `Literal` types (pydantic and mypy need them written out); this module checks at
import that each equals its table, so a backend is added here, in both places, or the import fails.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, get_args

WriterName = Literal["offline", "claude"]
#: What a request or FILMSTITCH_WRITER may say: a writer, or `auto` (filmstitch.settings.Settings.resolved_writer).
WriterChoice = Literal["auto", "offline", "claude"]
RendererName = Literal["animatic", "local-gpu", "modal"]
SoundEngineName = Literal["offline", "local-gpu", "modal"]
#: A machine resource a backend's work holds one slot of (filmstitch.concurrency has one setting per resource).
Resource = Literal["cpu", "gpu"]
#: The context-manager factory a writer's model requests run inside (the writer-call limit), or None.
Gate = Callable[[], AbstractContextManager[Any]] | None


@dataclass(frozen=True)
class Backend:
    """One backend: its name, what it is, and what it needs."""

    kind: Literal["writer", "renderer", "sound"]
    name: str
    about: str
    #: "module:attribute" of what makes it: the Writer or Renderer class; for sound, the stage's engine factories.
    factory: str
    #: The machine resource its work holds while it runs; None: it limits itself (Modal's containers, an API whose
    #: requests the writer-call limit gates, a writer that is plain Python).
    resource: Resource | None
    #: "module:function" that raises filmstitch.preflight.PreflightError when it cannot run here; None: always can.
    check: str | None
    #: The pip extra it needs (`pip install 'filmstitch[extra]'`); None: the base install has everything.
    extra: str | None

    def load(self) -> Any:
        """The factory itself, imported now."""
        return _attribute(self.factory)

    def preflight(self, gate: Gate = None) -> None:
        """Raise PreflightError (one line, with the fix) when this backend cannot run on this machine."""
        if self.check is not None:
            _attribute(self.check)(gate)


@dataclass(frozen=True)
class SoundBackend(Backend):
    """A sound engine: a voice engine and an ambience engine, named as filmstitch.sound.stage knows them."""

    voice: str = "piper"
    ambience: str = "procedural"


def _attribute(path: str) -> Any:
    """What "module:name" or "module:Class.method" names, the module imported now."""
    module, names = path.split(":")
    found: Any = importlib.import_module(module)
    for name in names.split("."):
        found = getattr(found, name)
    return found


WRITERS: Mapping[str, Backend] = {
    backend.name: backend for backend in (
        Backend("writer", "offline", "the deterministic story engine (no language model)",
                "filmstitch.writers.offline:OfflineWriter", resource=None, check=None, extra=None),
        Backend("writer", "claude", "Claude over the Anthropic API (ANTHROPIC_API_KEY)",
                "filmstitch.writers.claude:ClaudeWriter", resource=None, check="filmstitch.preflight:check_claude",
                extra=None),
    )
}

RENDERERS: Mapping[str, Backend] = {
    backend.name: backend for backend in (
        Backend("renderer", "animatic", "2D animatic drawn on the CPU",
                "filmstitch.renderers.animatic:AnimaticRenderer", resource="cpu", check=None, extra=None),
        Backend("renderer", "local-gpu", "FLUX.1-dev + LTX-Video (or LTX-2) on this machine's GPUs",
                "filmstitch.renderers.gpu:LocalGpuRenderer", resource="gpu",
                check="filmstitch.preflight:check_local_gpu", extra="gpu"),
        Backend("renderer", "modal", "the same models on the deployed Modal app",
                "filmstitch.renderers.gpu:ModalRenderer", resource=None, check="filmstitch.preflight:check_modal",
                extra="modal"),
    )
}

SOUND_ENGINES: Mapping[str, SoundBackend] = {
    backend.name: backend for backend in (
        SoundBackend("sound", "offline", "Piper voices + procedural ambience on the CPU",
                     "filmstitch.sound.stage:sound_engine", resource="cpu",
                     check="filmstitch.preflight:check_offline_sound", extra="voice",
                     voice="piper", ambience="procedural"),
        SoundBackend("sound", "local-gpu", "SpeechT5 voices + Stable Audio 3 ambience in-process",
                     "filmstitch.sound.stage:sound_engine", resource="gpu",
                     check="filmstitch.preflight:check_gpu_sound", extra="gpu",
                     voice="speecht5", ambience="stable-audio-3"),
        SoundBackend("sound", "modal", "the same engines on the deployed filmstitch-sound Modal app",
                     "filmstitch.sound.stage:sound_engine", resource=None,
                     check="filmstitch.preflight:check_modal_sound", extra="modal",
                     voice="speecht5-modal", ambience="stable-audio-3-modal"),
    )
}


#: The voice and ambience engines a sound backend is made of (its `voice` and `ambience`), by name: "module:attribute"
#: of the callable that makes one from keyword options. The procedural ambience is the sound stage's own synthesis
#: (no engine object: None).
VOICE_ENGINES: Mapping[str, str] = {
    "piper": "filmstitch.sound.voices:offline_voice_engine",
    "speecht5": "filmstitch.engines.tts:SpeechT5Engine.load",
    "speecht5-modal": "filmstitch.engines.sound_modal:ModalVoiceEngine",
}
AMBIENCE_ENGINES: Mapping[str, str | None] = {
    "procedural": None,
    "stable-audio-3": "filmstitch.engines.audio:StableAudioAmbienceEngine.load",
    "stable-audio-3-modal": "filmstitch.engines.sound_modal:ModalAmbienceEngine",
}


def voice_engine_factory(name: str) -> Callable[..., Any]:
    return _attribute(_lookup(VOICE_ENGINES, "voice engine", name))


def ambience_engine_factory(name: str) -> Callable[..., Any] | None:
    factory = _lookup(AMBIENCE_ENGINES, "ambience engine", name)
    return None if factory is None else _attribute(factory)


_B = TypeVar("_B")


def writer(name: str) -> Backend:
    return _lookup(WRITERS, "writer", name)


def renderer(name: str) -> Backend:
    return _lookup(RENDERERS, "renderer", name)


def sound_engine(name: str) -> SoundBackend:
    return _lookup(SOUND_ENGINES, "sound engine", name)


def _lookup(table: Mapping[str, _B], kind: str, name: str) -> _B:
    if name not in table:
        raise ValueError(f"unknown {kind} {name!r}: choose one of {', '.join(repr(n) for n in table)}")
    return table[name]


def _same_names(literal: Any, table: Mapping[str, Backend], extra: tuple[str, ...] = ()) -> None:
    """The Literal spelling of a table's names must list exactly its backends (see the module's docstring)."""
    if set(get_args(literal)) != {*table, *extra}:
        raise AssertionError(f"{literal} does not list the backends {sorted(table)} (filmstitch.backends)")


_same_names(WriterName, WRITERS)
_same_names(WriterChoice, WRITERS, ("auto",))
_same_names(RendererName, RENDERERS)
_same_names(SoundEngineName, SOUND_ENGINES)
for _sound in SOUND_ENGINES.values():
    if _sound.voice not in VOICE_ENGINES or _sound.ambience not in AMBIENCE_ENGINES:
        raise AssertionError(f"sound backend {_sound.name!r} names an engine missing from VOICE_ENGINES or "
                             "AMBIENCE_ENGINES (filmstitch.backends)")
