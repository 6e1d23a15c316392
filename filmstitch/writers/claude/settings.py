"""Settings of the Claude writer and its API key: read once, checked before any call.

The key is ``ANTHROPIC_API_KEY`` (the name every Anthropic tool uses), unless
``FILMSTITCH_CLAUDE_API_KEY_BLOCK`` names a Prefect Secret block to load it from. It is held as a
``SecretStr`` and removed from every message the writer raises or logs (:func:`scrub`).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from filmstitch.writers.base import WriterError
from filmstitch.writers.claude.catalog import DEFAULT_MODEL

Effort = Literal["low", "medium", "high", "xhigh", "max"]


class ClaudeSettings(BaseSettings):
    """Settings of the Claude writer, from ``FILMSTITCH_CLAUDE_*`` environment variables (or ``.env``)."""

    model_config = SettingsConfigDict(
        env_prefix="FILMSTITCH_CLAUDE_", env_file=".env", extra="ignore", populate_by_name=True
    )

    model: str = Field(DEFAULT_MODEL, min_length=1, description="Model id, e.g. claude-sonnet-5-5.")
    max_tokens: int = Field(16_000, ge=1024, le=128_000, description="Output limit per answer (answers are streamed).")
    effort: Effort | None = Field(
        "medium", description="output_config.effort, sent to models that accept it. None: the model's default."
    )
    thinking: Literal["auto", "off", "adaptive"] = Field(
        "auto", description="auto: no up-front thinking where the model allows it, else adaptive. off: refuse a "
        "model that always thinks. adaptive: let the model decide."
    )
    output: Literal["auto", "json_schema", "tool"] = Field(
        "auto", description="How answers are constrained: json_schema (structured outputs), tool (a forced tool "
        "call), or auto: json_schema where the model has structured outputs, else tool."
    )
    chunk_segments: int = Field(
        12, ge=2, le=40, description="Segments (and keyframes) asked for in one answer; long films take several."
    )
    temperature: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Sampling temperature. API version 2026-10-21 (anthropic SDK 2.x) rejects it, so it is "
        "only sent to a custom base_url (a gateway that still accepts it). None: not sent.",
    )
    fallback_model: str | None = Field(
        DEFAULT_MODEL, description="The model a question is asked of once more when the model refuses it "
        "(stop_reason refusal). Empty: a refusal is final. The same model as `model`: a refusal is final too.",
    )
    cache_ttl: Literal["auto", "5m", "1h"] = Field(
        "auto", description="Prompt-cache lifetime of the shared prefix. auto: 1 hour for the prefixes read again "
        "after a person's checkpoint (docs/claude-writer.md), 5 minutes for the rest; 5m or 1h: every breakpoint.",
    )
    models_api: bool = Field(
        True, description="Ask the Models API for the model's lifecycle and capabilities (the catalogue is the "
        "fallback when the key may not read it).",
    )
    max_repairs: int = Field(2, ge=0, le=5, description="Repair turns after an invalid answer, per call.")
    max_retries: int = Field(4, ge=0, le=10, description="SDK retries on 408/409/429/5xx/529/connection errors.")
    timeout: float = Field(
        120.0, gt=0, le=600,
        description="Seconds to wait for the connection or for the next bytes of a streamed answer."
    )
    base_url: str | None = Field(None, description="None: the Anthropic API. Tests point it at a local server.")
    appearance_share: float = Field(
        0.3, gt=0.0, le=1.0, description="Share of a description's distinctive words a keyframe prompt must repeat."
    )
    api_key_block: str | None = Field(None, description="Name of a Prefect Secret block holding the key.")
    api_key: SecretStr | None = Field(None, validation_alias="ANTHROPIC_API_KEY", repr=False)


def describe_validation_error(error: ValidationError, limit: int = 20) -> list[str]:
    """Pydantic errors as 'where: what' lines, without echoing the (possibly long) input."""
    lines = []
    for item in error.errors(include_url=False, include_input=False)[:limit]:
        where = ".".join(str(part) for part in item["loc"]) or "arguments"
        lines.append(f"{where}: {item['msg']}")
    if error.error_count() > limit:
        lines.append(f"... and {error.error_count() - limit} more problems")
    return lines


def load_settings() -> ClaudeSettings:
    """Read the settings, turning a validation error into a message that names the variables."""
    try:
        return ClaudeSettings()
    except ValidationError as error:
        problems = "; ".join(describe_validation_error(error))
        raise WriterError(f"invalid FILMSTITCH_CLAUDE_* settings: {problems}") from None


def resolve_api_key(settings: ClaudeSettings) -> SecretStr:
    """The key from the named Prefect Secret block, else from ANTHROPIC_API_KEY; a clear error if neither."""
    if settings.api_key_block:
        from prefect.blocks.system import Secret

        try:
            value = Secret.load(settings.api_key_block, _sync=True).get()
        except Exception as error:  # noqa: BLE001 - any failure means: no key; the type is enough to say why
            raise WriterError(
                f"could not load the Prefect Secret block {settings.api_key_block!r} named by "
                f"FILMSTITCH_CLAUDE_API_KEY_BLOCK ({type(error).__name__}); check `prefect block ls`"
            ) from None
        if not isinstance(value, str) or not value.strip():
            raise WriterError(f"the Prefect Secret block {settings.api_key_block!r} holds no API key string")
        return SecretStr(value.strip())
    if settings.api_key is not None and settings.api_key.get_secret_value().strip():
        return SecretStr(settings.api_key.get_secret_value().strip())
    raise WriterError(
        "no Anthropic API key: set ANTHROPIC_API_KEY, or FILMSTITCH_CLAUDE_API_KEY_BLOCK to the name of a "
        "Prefect Secret block holding it (or use FILMSTITCH_WRITER=offline)"
    )


KEY_PATTERN = re.compile(r"sk-ant-[A-Za-z0-9_\-]+")


def scrub(text: str, key: SecretStr | None) -> str:
    """Remove the key (and anything shaped like an Anthropic key) from a message we are about to show."""
    if key is not None and key.get_secret_value():
        text = text.replace(key.get_secret_value(), "[redacted]")
    return KEY_PATTERN.sub("[redacted]", text)
