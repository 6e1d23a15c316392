"""Runtime settings: which backends to use and where artifacts live.

Read from environment variables prefixed ``FILMSTITCH_`` (or a ``.env`` file). Secrets are
``SecretStr`` so they never print; they are never passed to Prefect as parameters either.
Backends add their own settings classes next to their code (``FILMSTITCH_CLAUDE_*``, ...); which backends there
are is filmstitch.backends.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from filmstitch.backends import RendererName, WriterChoice, WriterName

#: How long a checkpoint may wait for a person, in seconds: the one place these bounds are written.
PAUSE_TIMEOUT_MIN_S, PAUSE_TIMEOUT_MAX_S = 10, 7 * 24 * 3600


def check_pause_timeout(seconds: int, name: str = "pause_timeout_s") -> int:
    """`seconds`, or ValueError naming `name` (a parameter or an option) when it is outside the bounds."""
    if not PAUSE_TIMEOUT_MIN_S <= seconds <= PAUSE_TIMEOUT_MAX_S:
        raise ValueError(f"{name} must be {PAUSE_TIMEOUT_MIN_S} s to 7 days ({PAUSE_TIMEOUT_MAX_S} s), got {seconds}")
    return seconds


class StorageConfig(BaseModel):
    """Where a film's artifacts go. Holds no secrets, so it can be a task input and a cache-key part."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["local", "s3"] = "local"
    root: str = Field("films", description="Local directory (kind=local).")
    bucket: str | None = Field(None, description="Bucket name (kind=s3).")
    prefix: str = Field("films", description="Key prefix inside the bucket (kind=s3).")
    endpoint_url: str | None = Field(None, description="Any S3-compatible endpoint; None means AWS.")
    region: str | None = None

    def describe(self) -> str:
        if self.kind == "local":
            return str(Path(self.root).resolve())
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FILMSTITCH_", env_file=".env", extra="ignore")

    writer: WriterChoice = "auto"
    renderer: RendererName = "animatic"

    storage: Literal["local", "s3"] = "local"
    storage_dir: str = "films"
    s3_bucket: str | None = None
    s3_prefix: str = "films"
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None

    pause_timeout_s: int = Field(3600, ge=PAUSE_TIMEOUT_MIN_S, le=PAUSE_TIMEOUT_MAX_S,
                                 description="How long a checkpoint waits for a person before picking by itself.")

    # How much runs at once: filmstitch.concurrency has the table (one setting per resource).
    cpu_renders: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=256,
                             description="CPU renders (animatic, offline voice) at once on this machine.")
    gpu_slots: int | None = Field(None, ge=1, le=64, description="GPU renders at once on this machine; "
                                  "empty: visible GPUs x FILMSTITCH_GPU_CLIPS_PER_GPU.")
    writer_calls: int = Field(4, ge=1, le=64, description="Writer (Claude) calls at once per Prefect server.")

    notify_webhook_url: SecretStr | None = Field(
        None, description="Where `filmstitch server` points the film-notice webhook (a film waits for a person, a "
        "film or batch failed): saved as the notification block custom-webhook/filmstitch-notify.",
    )

    films_url: str | None = Field(
        None, description="Base URL where this machine's film server serves the local films (set by "
        "`filmstitch server`); links in the UI point there. Empty: no http links for local films.",
    )

    def gpu_slot_count(self) -> int:
        """GPU renders at once on this machine (the `gpu` slots of filmstitch.concurrency)."""
        if self.gpu_slots is not None:
            return self.gpu_slots
        from filmstitch.engines import GpuSettings

        gpus = 1
        try:
            import torch

            gpus = max(1, torch.cuda.device_count())
        except ImportError:
            pass
        return gpus * GpuSettings().clips_per_gpu

    def storage_config(self) -> StorageConfig:
        return StorageConfig(
            kind=self.storage,
            root=self.storage_dir,
            bucket=self.s3_bucket,
            prefix=self.s3_prefix,
            endpoint_url=self.s3_endpoint_url,
            region=self.s3_region,
        )

    def backends(self, writer: str | None = None, renderer: str | None = None) -> tuple[str, str]:
        """(writer, renderer) a run uses: the given names, else these settings; `auto` resolved."""
        chosen = self.model_copy(update={"writer": writer}) if writer else self
        return chosen.resolved_writer(), renderer or self.renderer

    def resolved_writer(self) -> WriterName:
        """`auto` means Claude when an API key is configured, otherwise the offline story engine."""
        if self.writer != "auto":
            return self.writer
        return "claude" if os.environ.get("ANTHROPIC_API_KEY") else "offline"
