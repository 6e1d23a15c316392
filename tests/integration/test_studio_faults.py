"""The studio under a fault, cheaply: `filmstitch server --pool` on a real PostgreSQL, three
`prefect worker start --type process` workers, a batch of four small films, and one worker SIGKILLed while it
renders a film. Every film finishes, the killed worker's film on another worker, nothing is rendered twice, and no
finished film's state history holds a Failed or Crashed state. Which live worker finishes which film is Prefect's
polling race (one fast worker may claim them all), so the test asks only that the films ran on more than one.
The full figures (12 films against one worker, a server restart, 20 films waiting at a checkpoint) are
`python benchmarks/reliability_report.py --part studio`.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from filmstitch.app.client import FilmStitchClient
from filmstitch.testing.postgres import PostgresServer
from filmstitch.testing.studio import SMALL, Studio, batch_figures, film_store, rendering_film, wait_for, written

IDEAS = ["a heron learns to fish at night", "a tram driver finds a lost glove", "a moth falls for a streetlamp",
         "a snowman wants to see summer"]


@pytest.mark.prefect_server
def test_a_worker_killed_mid_film_loses_nothing_and_renders_nothing_twice(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    # Flow runs send a heartbeat every 30 s (Prefect's least; its default is 180): the batch takes a film whose
    # process died with its worker for dead after 90 s of silence, not 9 minutes.
    studio = Studio(tmp_path, postgres.create_database("faults"), heartbeat_s=30)
    try:
        start_s = studio.start_server()
        for n in range(3):
            studio.start_worker(f"worker-{n}")
        with FilmStitchClient(studio.api) as films:
            started = time.monotonic()
            batch = films.create_batch_run(IDEAS, parallel_films=len(IDEAS), film=SMALL)
            batch_worker = wait_for(lambda: studio.worker_running(batch.id), 240, "the batch never started")
            # A film that is rendering (some parts stored, its process alive) on a worker that does not run
            # the batch: SIGKILL that worker; what the film had stored then must not be made again.
            run, worker, film_id = wait_for(
                lambda: rendering_film(studio, studio.batch_films(batch.id), {batch_worker}), 240,
                "no film was rendering on a worker other than the batch's")
            studio.kill_worker(worker)
            before = written(film_store(studio, film_id))
            films.wait(batch.id, timeout_s=420)
            wall_s = time.monotonic() - started
        figures = batch_figures(studio, batch.id, IDEAS, {film_id: before}, wall_s)
    finally:
        studio.stop()
    print(f"\nserver up in {start_s:.0f} s; killed {worker} while it rendered {run['name']} "
          f"({len(before)} parts stored); {figures.row()}")
    assert figures.problems == []
    assert (figures.finished, figures.lost, figures.stuck, figures.made_twice, figures.failure_states) == \
        (len(IDEAS), 0, 0, 0, 0)
    # Every finished film names the worker that finished it; the killed worker's film was finished by a live one.
    assert sum(figures.per_worker.values()) == len(IDEAS), figures.per_worker
    assert set(figures.per_worker) - {worker} and len(set(figures.per_worker) | {worker}) >= 2, figures.per_worker
