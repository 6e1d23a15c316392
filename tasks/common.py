"""What every stage task shares: the film context, retries, render slots, stored variants.

Tasks are retried (exponential backoff with jitter) but never cached by Prefect: finished work is reused
through reuse keys checked against the film's manifest (filmstitch.reuse), the one reuse mechanism.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff
from pydantic import BaseModel, ConfigDict

from filmstitch.backends import Backend
from filmstitch.concurrency import machine_slot
from filmstitch.settings import Settings, StorageConfig
from filmstitch.storage import ArtifactRef, FilmStore


class FilmContext(BaseModel):
    """Where a film lives and which backends make it. Holds no secrets (it is a task parameter)."""

    model_config = ConfigDict(frozen=True)

    film_id: str
    storage: StorageConfig
    writer: str
    renderer: str

    def store(self) -> FilmStore:
        return FilmStore.open(self.storage, self.film_id)


class VariantRef(BaseModel):
    """One rendered variant (a reference or a keyframe) as stored: the picture and its thumbnail."""

    model_config = ConfigDict(frozen=True)

    variant: int
    seed: int
    image: ArtifactRef
    thumb: ArtifactRef

    @property
    def sha256(self) -> str:
        return self.image.sha256


def artifact_key(film_id: str, what: str) -> str:
    """A Prefect artifact key for one of a film's artifacts (lower-case letters, digits and dashes only)."""
    return f"{what}-{film_id}".replace("_", "-")[:100]


#: Errors that the same call would raise again: bad input, invalid output, a bug, a missing package.
PERMANENT_ERRORS = (ValueError, TypeError, KeyError, AttributeError, ImportError, NotImplementedError)


def retry_when_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry unless the error is permanent (or says so itself, like a rejected API key)."""
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - the task's own exception, re-raised by Prefect
        return not isinstance(exc, PERMANENT_ERRORS) and getattr(exc, "retryable", True)
    return False


#: Every stage task: retried with exponential backoff and jitter; results are not cached or persisted by
#: Prefect (reuse keys and the film's manifest decide what is reused, and verify it).
STAGE: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": exponential_backoff(backoff_factor=2),
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": retry_when_transient,
    "cache_policy": NO_CACHE,
    "persist_result": False,
}


@contextlib.contextmanager
def render_slot(backend: Backend) -> Iterator[None]:
    """Wait for a slot of the machine resource `backend` holds (filmstitch.backends); Modal backends limit
    themselves (max_containers x concurrent inputs) and hold none."""
    settings = Settings()
    if backend.resource is None:
        yield
    elif backend.resource == "gpu":
        with machine_slot("gpu", settings.gpu_slot_count()):
            yield
    else:
        with machine_slot("cpu", settings.cpu_renders):
            yield


def stored_take(store: FilmStore, part: str, reuse_key: str, name: str) -> tuple[str, ArtifactRef | None]:
    """(where `name` of the take of `part` made from `reuse_key` lives, the artifact there if it is intact):
    e.g. ("clips/c06/take-3.mp4", None) when that clip is still to be made."""
    key = f"{part}/take-{store.take(part, reuse_key)}{name}"
    return key, store.reuse(key, reuse_key)


def variant_keys(part: str, take: int, variant: int) -> tuple[str, str]:
    """Where variant `variant` of take `take` of `part` (e.g. "keyframes/k04") lives: picture, thumbnail."""
    return f"{part}/take-{take}/v{variant}.png", f"{part}/take-{take}/v{variant}.jpg"


def reuse_variants(store: FilmStore, part: str, reuse_key: str,
                   seeds: list[int]) -> tuple[int, list[VariantRef] | None]:
    """(take number, its stored variants if every one is intact and made from `reuse_key`, else None)."""
    take = store.take(part, reuse_key)
    refs = []
    for variant, seed in enumerate(seeds):
        image_key, thumb_key = variant_keys(part, take, variant)
        image, thumb = store.reuse(image_key, reuse_key), store.reuse(thumb_key, reuse_key)
        if image is None or thumb is None:
            return take, None
        refs.append(VariantRef(variant=variant, seed=seed, image=image, thumb=thumb))
    return take, refs


def store_variants(
    store: FilmStore, part: str, take: int, reuse_key: str, pngs: list[bytes], seeds: list[int], stage: str
) -> list[VariantRef]:
    """Store each variant's PNG and its thumbnail under the take."""
    from filmstitch.images import thumbnail_jpeg

    if len(pngs) != len(seeds):
        raise RuntimeError(f"{stage}: the renderer returned {len(pngs)} images for {len(seeds)} seeds")
    refs = []
    for variant, (png, seed) in enumerate(zip(pngs, seeds)):
        image_key, thumb_key = variant_keys(part, take, variant)
        image = store.put(image_key, png, "image/png", reuse_key=reuse_key, stage=stage, variant=variant, seed=seed)
        thumb = store.put(thumb_key, thumbnail_jpeg(png), "image/jpeg", reuse_key=reuse_key, stage=stage,
                          variant=variant)
        refs.append(VariantRef(variant=variant, seed=seed, image=image, thumb=thumb))
    return refs
