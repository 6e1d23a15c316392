"""Phase 3, assembly: join the clips into the film with ffmpeg (stream copy when possible)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from prefect import task

from filmstitch.storage import ArtifactRef
from filmstitch.video import concat_mp4, probe
from tasks.common import CACHED, RETRIES, FilmContext


@task(name="assemble-film", **RETRIES, **CACHED)
def assemble_film(ctx: FilmContext, clips: list[ArtifactRef]) -> ArtifactRef:
    store = ctx.store()
    with tempfile.TemporaryDirectory(prefix="filmstitch-assemble-") as tmp:
        paths = []
        for i, clip in enumerate(clips):
            path = Path(tmp) / f"clip{i:02d}.mp4"
            path.write_bytes(store.get_verified(clip))
            paths.append(path)
        film_path = Path(tmp) / "film.mp4"
        copied = concat_mp4(paths, film_path)
        info = probe(film_path)
        return store.put(
            "film.mp4",
            film_path.read_bytes(),
            "video/mp4",
            stage="film",
            stream_copied=copied,
            duration_s=round(info.duration, 3),
            frames=info.frames,
            fps=info.fps,
            width=info.width,
            height=info.height,
            clips=[clip.key for clip in clips],
        )
