"""Waiting for a fan-out of tasks, with a progress bar in the UI."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.futures import PrefectFuture, as_completed

from filmstitch.tasks.common import FilmContext


def artifact_key(film_id: str, what: str) -> str:
    """Prefect artifact keys allow lower-case letters, digits and dashes only."""
    return f"{what}-{film_id}".replace("_", "-")[:100]


def fan_out(film: FilmContext, stage: str, futures: Sequence[PrefectFuture]) -> list[Any]:
    """Wait for every task of a stage, updating a progress artifact as they finish; results in submit order.
    A failed task raises its error here (the others keep their stored results)."""
    progress = create_progress_artifact(
        progress=0.0, key=artifact_key(film.film_id, f"progress-{stage}"), description=f"{stage}: 0 of {len(futures)}"
    )
    for done, _ in enumerate(as_completed(list(futures)), start=1):
        update_progress_artifact(progress, 100.0 * done / len(futures), description=f"{stage}: {done} of {len(futures)}")
    return [future.result() for future in futures]
