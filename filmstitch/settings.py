"""Runtime settings: which backends to use and where artifacts live.

Read from environment variables prefixed ``FILMSTITCH_`` (or a ``.env`` file). Secrets are
``SecretStr`` so they never print; they are never passed to Prefect as parameters either.
Backends add their own settings classes next to their code (``FILMSTITCH_CLAUDE_*``, ...).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

WriterName = Literal["auto", "offline", "claude"]
RendererName = Literal["animatic", "modal", "local-gpu"]


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

    writer: WriterName = "auto"
    renderer: RendererName = "animatic"

    storage: Literal["local", "s3"] = "local"
    storage_dir: str = "films"
    s3_bucket: str | None = None
    s3_prefix: str = "films"
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None

    pause_timeout_s: int = Field(3600, ge=1, description="How long a checkpoint waits before picking by itself.")
    render_workers: int = Field(2, ge=1, le=64, description="Renders run at once by the local renderer.")

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

    def resolved_writer(self) -> Literal["offline", "claude"]:
        """`auto` means Claude when an API key is configured, otherwise the offline story engine."""
        if self.writer != "auto":
            return self.writer
        return "claude" if os.environ.get("ANTHROPIC_API_KEY") else "offline"
