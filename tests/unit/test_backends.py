"""The backend registry (filmstitch.backends) is the one list of backends: everything that names them agrees."""

from __future__ import annotations

import importlib.util
from typing import Any, get_args

import pytest

from filmstitch import backends, preflight
from filmstitch.models import FilmRequest
from filmstitch.renderers import get_renderer
from filmstitch.settings import Settings
from filmstitch.sound import stage
from filmstitch.sound.settings import SoundSettings
from filmstitch.writers import writer_class


def _choices(model: Any, field: str) -> set[str]:
    """The names a pydantic field's `Literal` (optional or not) allows."""
    annotation = model.model_fields[field].annotation
    return {arg for inner in get_args(annotation) or (annotation,) for arg in get_args(inner) or (inner,)
            if isinstance(arg, str)}


def test_every_choice_of_a_backend_is_a_backend_of_the_registry() -> None:
    # models.py and sound/settings.py spell their Literals out: both are part of reuse keys' code versions
    # (the writers' and the sound stage's), so editing them would make stored films again.
    assert _choices(FilmRequest, "writer") == {*backends.WRITERS, "auto"}
    assert _choices(FilmRequest, "renderer") == set(backends.RENDERERS)
    assert _choices(SoundSettings, "engine") == set(backends.SOUND_ENGINES)
    assert _choices(Settings, "writer") == {*backends.WRITERS, "auto"}
    assert _choices(Settings, "renderer") == set(backends.RENDERERS)


@pytest.mark.parametrize("backend", [*backends.WRITERS.values(), *backends.RENDERERS.values(),
                                     *backends.SOUND_ENGINES.values()], ids=lambda b: f"{b.kind}-{b.name}")
def test_every_backend_names_code_that_exists(backend: backends.Backend) -> None:
    module, _ = backend.factory.split(":")
    assert importlib.util.find_spec(module) is not None
    if backend.check is not None:
        module, name = backend.check.split(":")
        assert module == "filmstitch.preflight" and callable(getattr(preflight, name))
    assert backend.extra is None or backend.extra in {"gpu", "modal", "voice"}


def test_backends_are_made_by_name_and_an_unknown_name_is_refused() -> None:
    assert get_renderer("animatic").name == "animatic"
    assert writer_class("offline").__name__ == "OfflineWriter"
    with pytest.raises(ValueError, match="unknown renderer 'flipbook': choose one of 'animatic', 'local-gpu'"):
        get_renderer("flipbook")
    with pytest.raises(ValueError, match="unknown writer 'quill'"):
        writer_class("quill")


def test_the_machine_resources_are_the_ones_the_render_slots_know() -> None:
    assert {b.name: b.resource for b in backends.RENDERERS.values()} == {"animatic": "cpu", "local-gpu": "gpu",
                                                                        "modal": None}
    assert {b.name: b.resource for b in backends.SOUND_ENGINES.values()} == {"offline": "cpu", "local-gpu": "gpu",
                                                                            "modal": None}
    assert {b.resource for b in backends.WRITERS.values()} == {None}


@pytest.mark.parametrize("backend", backends.SOUND_ENGINES.values(), ids=lambda b: b.name)
def test_every_sound_backend_is_made_of_engines_the_stage_can_make(backend: backends.SoundBackend) -> None:
    assert callable(backends.voice_engine_factory(backend.voice))
    factory = backends.ambience_engine_factory(backend.ambience)
    assert (factory is None) == (backend.ambience == "procedural") and (factory is None or callable(factory))


def test_the_sound_stage_makes_its_engines_by_name_and_refuses_an_unknown_one() -> None:
    assert type(stage.sound_engine("piper", workers=1)).__name__ == "PiperEngine"
    assert stage.ambience_engine("procedural") is None
    with pytest.raises(stage.SoundStageError, match="unknown voice engine 'kazoo': choose one of 'piper'"):
        stage.sound_engine("kazoo")
    with pytest.raises(stage.SoundStageError, match="unknown ambience engine 'rain': choose one of 'procedural'"):
        stage.ambience_engine("rain")
