"""A film killed during phase 3 resumes on the next run: finished clips are reused, not re-rendered."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from filmstitch.models import FilmRequest
from filmstitch.settings import StorageConfig
from filmstitch.storage import FilmStore

IDEA = "a lighthouse keeper on a stormy island finds a message in a bottle"
FILM = dict(segments=6, seconds_per_segment=4.0, width=384, height=256, fps=12)


def command() -> list[str]:
    return [
        sys.executable, "-m", "filmstitch.cli", "make", IDEA, "--auto",
        "--segments", str(FILM["segments"]), "--seconds", str(FILM["seconds_per_segment"]),
        "--width", str(FILM["width"]), "--height", str(FILM["height"]), "--fps", str(FILM["fps"]),
    ]


def clip_entries(store: FilmStore) -> dict[str, dict]:
    return {k: v for k, v in store.manifest().get("artifacts", {}).items() if k.startswith("clips/")}


def test_kill_during_clips_then_rerun_reuses_finished_clips(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env |= {
        "FILMSTITCH_STORAGE_DIR": str(tmp_path / "films"),
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    film_id = FilmRequest(idea=IDEA, **FILM).resolved("offline", "animatic").film_id()
    store = FilmStore.open(StorageConfig(root=str(tmp_path / "films")), film_id)

    first = subprocess.Popen(command(), env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    deadline = time.monotonic() + 240
    while len(clip_entries(store)) < 2:
        assert first.poll() is None, "the first run ended before it could be killed"
        assert time.monotonic() < deadline, "no clip was rendered in time"
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    before = clip_entries(store)
    assert 2 <= len(before) < FILM["segments"], f"kill came too late: {len(before)} clips"
    assert not store.exists("film.mp4")

    second = subprocess.run(command(), env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]
    film = Path(second.stdout.strip().splitlines()[-1])
    assert film.is_file() and film.name == "film.mp4"

    after = clip_entries(store)
    assert len(after) == FILM["segments"]
    for key, entry in before.items():
        assert after[key]["written_at"] == entry["written_at"], f"{key} was rendered again"
        assert after[key]["sha256"] == entry["sha256"]
    assert store.verify().problems == []
    assert store.manifest()["status"] == "finished"


def test_a_deleted_film_folder_is_made_again_not_served_from_stale_cache(
    prefect_client_settings: str, tmp_path: Path, monkeypatch
) -> None:
    """Prefect's cache must not point at artifacts that are gone: the film's incarnation changes."""
    import shutil

    from flows.make_film import make_film

    monkeypatch.setenv("FILMSTITCH_STORAGE_DIR", str(tmp_path / "films"))
    small = dict(segments=2, seconds_per_segment=2.0, width=256, height=160, fps=8)
    first = make_film(idea=IDEA, auto_pick=True, **small)
    shutil.rmtree(tmp_path / "films")
    second = make_film(idea=IDEA, auto_pick=True, **small)
    film = Path(second.location.removeprefix("file://"))
    assert film.is_file()
    assert second.sha256 == first.sha256  # same inputs, same seed: the same film, rendered again
    store = FilmStore.open(StorageConfig(root=str(tmp_path / "films")), second.film_id)
    assert store.verify().problems == [] and len([k for k in store.manifest()["artifacts"] if k.startswith("clips/")]) == 2
