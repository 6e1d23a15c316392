"""Decoded frames of films, for frame-by-frame comparison with a film made in one go."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from filmstitch.storage import FilmStore
from filmstitch.testing.backend_faults import CallLog
from filmstitch.testing.small_film import SmallFilm, Workspace


def film_frames(path: Path) -> np.ndarray:
    from filmstitch.video import decode_frames

    return decode_frames(path)


def stored_frames(store: FilmStore, tmp: Path) -> np.ndarray:
    """Decoded frames of the film.mp4 in `store` (verified against its manifest first)."""
    entry = store.manifest()["artifacts"]["film.mp4"]
    ref = store.reuse("film.mp4", entry.get("reuse_key"))
    assert ref is not None and ref.sha256 == entry["sha256"], "film.mp4 is missing or does not match its manifest"
    path = tmp / f"{store.film_id}-film.mp4"
    path.write_bytes(store.get_verified(ref))
    return film_frames(path)


_UNINTERRUPTED: dict[tuple[SmallFilm, str], np.ndarray] = {}


def uninterrupted_frames(film: SmallFilm, api_url: str) -> np.ndarray:
    """Decoded frames of `film` made in one go, without faults (made once per process, then remembered)."""
    if (film, api_url) not in _UNINTERRUPTED:
        ws = Workspace(Path(tempfile.mkdtemp(prefix="filmstitch-uninterrupted-")), api_url)
        try:
            run = ws.run(film, CallLog(ws.root / "calls.jsonl"), name="uninterrupted")
            _UNINTERRUPTED[(film, api_url)] = film_frames(run.film_path())
        finally:
            shutil.rmtree(ws.root, ignore_errors=True)
    return _UNINTERRUPTED[(film, api_url)]
