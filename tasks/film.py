"""The first step of every film: resolve its backends, check it can be made, claim its id."""

from __future__ import annotations

import logging
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from filmstitch.models import FilmRequest
from filmstitch.preflight import prepare
from filmstitch.settings import Settings, check_pause_timeout
from filmstitch.storage import FilmStore, validate_film_id
from filmstitch.tasks.common import FilmContext

log = logging.getLogger(__name__)

#: What a film is (its resolved request), written by the film's first run and never changed.
FILM_IDENTITY = "film.json"


class FilmIdTaken(ValueError):
    """The film id already names a different film."""


@task(name="open-film", cache_policy=NO_CACHE, persist_result=False)
def open_film(request: FilmRequest, film_id: str | None, pause_timeout_s: int) -> tuple[FilmContext, FilmRequest]:
    """The film's context and its request with the backends named. Everything that can be checked before
    work starts is checked here (backends, storage, the id); a problem is one clear error."""
    settings = Settings()
    check_pause_timeout(pause_timeout_s)
    from filmstitch.tasks.write import writer_gate  # the writer-call limit, also for the model lookup

    request = prepare(request, settings, gate=writer_gate)
    writer, renderer = str(request.writer), str(request.renderer)
    film_id = validate_film_id(film_id) if film_id else request.film_id()
    film = FilmContext(film_id=film_id, storage=settings.storage_config(), writer=writer, renderer=renderer)
    store = film.store()
    repaired = store.repair_if_damaged()  # a damaged manifest is rebuilt from the artifacts before anything
    if repaired is not None:
        log.warning("Film %s: the manifest was damaged and is rebuilt from the stored artifacts (%d kept, %d "
                    "to make again)", film_id, len(repaired.ok), len(repaired.problems))
    claim_film(store, request)
    store.update_manifest(status="running", request=request.model_dump(mode="json"))
    log.info("Film %s: writer=%s renderer=%s storage=%s", film_id, writer, renderer,
             settings.storage_config().describe())
    return film, request


def claim_film(store: FilmStore, request: FilmRequest) -> None:
    """Make sure this film id names this film, before anything is written.

    The first run of a film id records what the film is, atomically (a read-modify-write that keeps what
    is there), so of two runs started at once with different requests under one id exactly one wins; the
    other, and any later run with another request, is refused. A record that cannot be read (a truncated
    file) counts as none and is written again from this request: reuse keys still keep another film's parts
    from being reused.
    """
    wanted: dict[str, Any] = {"identity": request.model_dump(mode="json")}
    store.store.ensure_writable()
    stored = store.update_record(FILM_IDENTITY,
                                 lambda current: current if current is not None and _identity(current) else wanted)
    if _identity(stored) != wanted["identity"]:
        raise FilmIdTaken(
            f"film id {store.film_id!r} already holds a different film (another idea, settings, writer or renderer); "
            "give this film another id, or leave the id out to derive one from the request"
        )


def _identity(record: dict | None) -> dict | None:
    identity = (record or {}).get("identity")
    return identity if isinstance(identity, dict) else None
