"""Phase 3, assembly: join the clips into the film with ffmpeg (stream copy when possible)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from prefect import task

from filmstitch.reuse import checksums, code_version, key_of
from filmstitch.storage import ArtifactRef
from filmstitch.tasks.common import STAGE, FilmContext
from filmstitch.video import concat_mp4, probe

FILM = "film.mp4"


@task(name="assemble-film", **STAGE)
def assemble_film(ctx: FilmContext, clips: list[ArtifactRef]) -> ArtifactRef:
    maker = {"name": "ffmpeg-concat", "code": code_version("filmstitch.video", "filmstitch.tasks.assemble")}
    reuse_key = key_of("film", maker, clips=list(checksums(dict(enumerate(clips))).values()))
    store = ctx.store()
    reused = store.reuse(FILM, reuse_key)
    if reused is not None:
        return reused
    with tempfile.TemporaryDirectory(prefix="filmstitch-assemble-") as tmp:
        paths = []
        for i, clip in enumerate(clips):
            path = Path(tmp) / f"clip{i:02d}.mp4"
            path.write_bytes(store.get_verified(clip))
            paths.append(path)
        film_path = Path(tmp) / FILM
        copied = concat_mp4(paths, film_path)
        info = probe(film_path)
        return store.put(
            FILM,
            film_path.read_bytes(),
            "video/mp4",
            reuse_key=reuse_key,
            stage="film",
            stream_copied=copied,
            duration_s=round(info.duration, 3),
            frames=info.frames,
            fps=info.fps,
            width=info.width,
            height=info.height,
            clips=[clip.key for clip in clips],
        )
