"""Phase 3, assembly: the clips joined into the picture (stream copy when possible), then the mix and the
subtitle track muxed in (and the subtitles burnt into the picture when the request asks for it), then a
chapter mark per scene."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from prefect import task

from filmstitch.models import FilmPlan
from filmstitch.reuse import film_inputs, film_maker, key_of
from filmstitch.sound import stage as sound_stage
from filmstitch.storage import ArtifactRef, FilmStore
from filmstitch.tasks.common import STAGE, FilmContext
from filmstitch.tasks.sound import SoundRef, stored_cues
from filmstitch.tasks.takes import FILM, Cut, cut_plan_key, plan_bytes, plan_checksum
from filmstitch.video import add_chapters, concat_mp4, probe, scene_chapters


@task(name="assemble-film", **STAGE)
def assemble_film(
    film: FilmContext, plan: FilmPlan, clips: list[ArtifactRef], sound: SoundRef | None, cut: Cut | None = None
) -> ArtifactRef:
    """film.mp4 from the clips and the sound. With the `cut` (which take of every part it uses,
    filmstitch.tasks.takes), the film and that record are written in one manifest edit, with the plan the film
    is cut from stored beside them (plan/cuts/, by checksum)."""
    mixed = {"mix": sound.mix, "cues": sound.cues} if sound else None
    cut_plan = plan_checksum(plan) if cut else None
    reuse_key = key_of("film", film_maker(), **film_inputs(plan, clips, mixed, cut, cut_plan))
    store = film.store()
    reused = store.reuse(FILM, reuse_key)
    if reused is not None:
        return reused
    plan_key = store_cut_plan(store, plan) if cut else None
    with tempfile.TemporaryDirectory(prefix="filmstitch-assemble-") as tmp:
        paths = []
        for i, clip in enumerate(clips):
            path = Path(tmp) / f"clip{i:02d}.mp4"
            path.write_bytes(store.get_verified(clip))
            paths.append(path)
        picture = Path(tmp) / "picture.mp4"
        copied = concat_mp4(paths, picture)
        film_path = Path(tmp) / FILM
        if sound is None:
            picture.rename(film_path)
        else:
            film_path.write_bytes(sound_stage.mux_film(
                picture.read_bytes(), store.get_verified(sound.mix), stored_cues(store, sound),
                plan.script.language, burn=plan.request.burn_subtitles))
        mark_scenes(film_path, plan)
        info = probe(film_path)
        put = store.put if cut is None else functools.partial(
            store.put_film, film_uses={part: use.model_dump(exclude_none=True) for part, use in cut.uses.items()},
            plan=plan_key, made_by=cut.made_by, writer_plan=cut.writer_plan)
        return put(
            FILM,
            film_path.read_bytes(),
            "video/mp4",
            reuse_key=reuse_key,
            stage="film",
            stream_copied=copied and not plan.request.burn_subtitles,
            duration_s=round(info.duration, 3),
            frames=info.frames,
            fps=info.fps,
            width=info.width,
            height=info.height,
            sound=sound is not None,
            chapters=len(scene_chapters(plan)),
            clips=[clip.key for clip in clips],
        )


def store_cut_plan(store: FilmStore, plan: FilmPlan) -> str:
    """Store the plan a film is cut from under plan/cuts/ by its checksum (never overwritten: a film.mp4 written
    later, or a run killed in between, always finds its own plan). Returns its key."""
    data = plan_bytes(plan)
    key = cut_plan_key(plan_checksum(plan))
    if store.reuse(key, None) is None:
        store.put(key, data, "application/json", stage="plan")
    return key


def mark_scenes(film_path: Path, plan: FilmPlan) -> None:
    """A chapter mark per scene, titled with the scene's title, and the film's title (stream copy)."""
    film_path.write_bytes(add_chapters(film_path.read_bytes(), scene_chapters(plan), plan.request.fps,
                                       title=plan.script.title))
