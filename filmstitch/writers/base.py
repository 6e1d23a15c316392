"""The writer interface: four calls that turn an idea into a film plan.

Implementations: ``offline`` (a deterministic story engine, no language model) and ``claude``
(the Anthropic Messages API). Each call is its own Prefect task in ``tasks/write.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from filmstitch.models import Character, Environment, FilmRequest, Keyframe, Script


class WriterError(RuntimeError):
    """A writer failure with a message safe to show. `retryable` tells Prefect whether to try again."""

    retryable = False


class TransientWriterError(WriterError):
    retryable = True


class CallUsage(BaseModel):
    """Token usage and estimated cost of one writer call (zero for the offline writer)."""

    model_config = ConfigDict(frozen=True)

    stage: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    #: Of cache_write_tokens, those written for an hour (priced at 2x input instead of 1.25x).
    cache_write_1h_tokens: int = 0
    #: Of output_tokens, those spent thinking (billed as output; the API's output_tokens_details).
    thinking_tokens: int = 0
    cost_usd: float = 0.0
    attempts: int = 1
    #: The model declined (stop_reason refusal); the question may have gone on to the fallback model.
    refused: bool = False
    #: This question was asked of `model` because `fallback_for` refused it.
    fallback_for: str | None = None


class Writer(ABC):
    #: The name `get_writer` knows it by.
    name: ClassVar[str]
    #: Shown in the film's metadata, so nobody mistakes an offline film for a model's work.
    label: str
    #: A person's checkpoint follows these calls (set by the tasks layer); a writer may cache for longer then.
    pause_ahead: bool = False
    #: Modules whose source shapes what this writer writes: their hash is part of its reuse keys.
    code_modules: ClassVar[tuple[str, ...]] = ()

    def settings_identity(self) -> dict[str, Any]:
        """Settings that change what the writer writes (never secrets)."""
        return {}

    def identity(self) -> dict[str, Any]:
        """What makes this writer's answers: name, code version and settings (filmstitch.reuse)."""
        from filmstitch.reuse import code_version

        modules = (*self.code_modules, "filmstitch.writers.base", "filmstitch.models")
        return {"name": self.name, "code": code_version(*modules), "settings": self.settings_identity()}

    def __init__(self, *, gate: Callable[[], AbstractContextManager[Any]] | None = None) -> None:
        """`gate`: a context-manager factory each model request runs inside (the tasks layer passes the
        Prefect concurrency limit on writer calls, so the domain imports no Prefect). None: no gate."""
        self.usage: list[CallUsage] = []
        self.gate = gate

    def take_usage(self) -> list[CallUsage]:
        """Usage recorded since the last call (tasks store it in the manifest)."""
        usage, self.usage = self.usage, []
        return usage

    @abstractmethod
    def write_script(self, request: FilmRequest) -> Script: ...

    @abstractmethod
    def describe_characters(self, request: FilmRequest, script: Script) -> list[Character]: ...

    @abstractmethod
    def describe_environments(self, request: FilmRequest, script: Script) -> list[Environment]:
        """One Environment per location id the script uses (``script.locations``), in that order."""

    @abstractmethod
    def write_keyframes(
        self, request: FilmRequest, script: Script, characters: list[Character], environments: list[Environment]
    ) -> list[Keyframe]: ...
