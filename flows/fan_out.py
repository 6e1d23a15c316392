"""Waiting for a fan-out of tasks, with a progress bar in the UI."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.client.orchestration import get_client
from prefect.futures import PrefectFuture, as_completed

from filmstitch.tasks.common import FilmContext, artifact_key


def fan_out(film: FilmContext, stage: str, futures: Sequence[PrefectFuture]) -> list[Any]:
    """Wait for every task of a stage, updating a progress artifact as they finish; results in submit order.
    A failed task raises its error here (the others keep their stored results).

    The progress card is removed once the stage is done, so that the run's Artifacts tab ends with the film
    alone at the top (Prefect's UI does not order a run's artifacts); a failed stage keeps its card."""
    progress = create_progress_artifact(
        progress=0.0, key=artifact_key(film.film_id, f"progress-{stage}"), description=f"{stage}: 0 of {len(futures)}"
    )
    for done, _ in enumerate(as_completed(list(futures)), start=1):
        update_progress_artifact(progress, 100.0 * done / len(futures),
                                 description=f"{stage}: {done} of {len(futures)}")
    results = [future.result() for future in futures]
    with contextlib.suppress(Exception), get_client(sync_client=True) as client:  # a card left behind is cosmetic
        client.delete_artifact(progress)
    return results
