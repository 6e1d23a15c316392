"""What every stage task shares: the film context, retry and cache settings, variant references."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from prefect.cache_policies import INPUTS, TASK_SOURCE
from prefect.tasks import exponential_backoff
from pydantic import BaseModel, ConfigDict

from filmstitch.settings import Settings, StorageConfig
from filmstitch.storage import ArtifactRef, FilmStore


class FilmContext(BaseModel):
    """Where a film lives and which backends make it. No secrets: it is a cache-key part."""

    model_config = ConfigDict(frozen=True)

    film_id: str
    storage: StorageConfig
    writer: str
    renderer: str
    #: Changes when a film's folder is deleted and made again, so cached results never point at lost files.
    incarnation: str = ""

    def store(self) -> FilmStore:
        return FilmStore.open(self.storage, self.film_id)


class VariantRef(BaseModel):
    """One rendered variant (a reference or a keyframe) as stored."""

    model_config = ConfigDict(frozen=True)

    variant: int
    seed: int
    image: ArtifactRef
    thumb: ArtifactRef


#: Errors that the same call would raise again: bad input, invalid output, a bug, a missing package.
PERMANENT_ERRORS = (ValueError, TypeError, KeyError, AttributeError, ImportError, NotImplementedError)


def retry_when_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry unless the error is permanent (or says so itself, like a rejected API key)."""
    try:
        state.result()
    except Exception as exc:  # the task's own exception, re-raised by Prefect
        return not isinstance(exc, PERMANENT_ERRORS) and getattr(exc, "retryable", True)
    return False


#: Retries with exponential backoff and jitter, for every stage.
RETRIES: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": exponential_backoff(backoff_factor=2),
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": retry_when_transient,
}

#: Same inputs, same task code -> the persisted result is reused across runs (crash and resume).
CACHED: dict[str, Any] = {"cache_policy": INPUTS + TASK_SOURCE, "persist_result": True}

_render_slots: dict[str, threading.BoundedSemaphore] = {}
_slots_guard = threading.Lock()

#: The Prefect global concurrency limit every GPU render holds a slot of, across all runs, batches and
#: machines that share a Prefect server. `filmstitch server` creates it (`--gpu-slots`); where it does
#: not exist Prefect skips it with a warning, so a film without a server still runs.
GPU_LIMIT = "filmstitch-gpu"
GPU_RENDERERS = frozenset({"local-gpu", "modal"})


@contextlib.contextmanager
def render_slot(renderer: str) -> Iterator[None]:
    """Wait for a slot to render in: on this machine a semaphore per renderer (animatic, local GPU; Modal
    scales out by itself), then, for GPU renderers, a slot of the `filmstitch-gpu` global limit."""
    with _local_slot(renderer), _gpu_slot(renderer):
        yield


@contextlib.contextmanager
def _local_slot(renderer: str) -> Iterator[None]:
    if renderer == "modal":
        yield
        return
    with _slots_guard:
        if renderer not in _render_slots:  # settings are read once, when the first render asks
            _render_slots[renderer] = threading.BoundedSemaphore(Settings().render_workers)
        slot = _render_slots[renderer]
    with slot:
        yield


@contextlib.contextmanager
def _gpu_slot(renderer: str) -> Iterator[None]:
    if renderer not in GPU_RENDERERS:
        yield
        return
    from prefect.concurrency.sync import concurrency

    # Taken after the local slot, so a render queued on this machine does not sit on a global slot.
    with concurrency(GPU_LIMIT, occupy=1):
        yield


def reuse_variants(store: FilmStore, prefix: str, seeds: list[int]) -> list[VariantRef] | None:
    """Variants already stored under `prefix` (all of them intact), or None."""
    refs = []
    for variant, seed in enumerate(seeds):
        image = store.reuse(f"{prefix}-v{variant}.png")
        thumb = store.reuse(f"{prefix}-v{variant}.jpg")
        if image is None or thumb is None:
            return None
        refs.append(VariantRef(variant=variant, seed=seed, image=image, thumb=thumb))
    return refs


def store_variants(store: FilmStore, prefix: str, pngs: list[bytes], seeds: list[int], stage: str) -> list[VariantRef]:
    """Store each variant's PNG and its thumbnail; keys are `<prefix>-v<N>.png/.jpg`."""
    from filmstitch.images import thumbnail_jpeg

    if len(pngs) != len(seeds):
        raise RuntimeError(f"{stage}: the renderer returned {len(pngs)} images for {len(seeds)} seeds")
    refs = []
    for variant, (png, seed) in enumerate(zip(pngs, seeds)):
        image = store.put(f"{prefix}-v{variant}.png", png, "image/png", stage=stage, variant=variant, seed=seed)
        thumb = store.put(f"{prefix}-v{variant}.jpg", thumbnail_jpeg(png), "image/jpeg", stage=stage, variant=variant)
        refs.append(VariantRef(variant=variant, seed=seed, image=image, thumb=thumb))
    return refs
