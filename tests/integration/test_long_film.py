"""An 8-minute offline film end to end from the command line, at a small picture size so that CI can afford
it (256x160, 8 fps; sound on: narration, voices, ambience, subtitles): killed while its clips are drawn, run
again, finished and checked from the outside with Debian's ffprobe (duration, frames, chapters, audio,
subtitles). The rerun must reuse every clip and every segment's speech finished before the kill.

What it costs: about 4 minutes on the project's loaded 2-core machine (the first run up to the kill, then
the rest); most of it is the voice (60 segments) and the clips (60 x 64 frames).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

from filmstitch.images import contact_sheet
from filmstitch.models import FilmPlan
from filmstitch.settings import StorageConfig
from filmstitch.storage import FilmStore
from filmstitch.testing import sound_checks as probe
from filmstitch.video import ffmpeg_exe

IDEA = "a lighthouse keeper befriends a storm that speaks in colours"
SIZE = {"width": 256, "height": 160, "fps": 8}
SEGMENTS, FRAMES = 60, 64  # 8 minutes of 8-second segments; 8 s at 8 fps
KILL_AFTER_CLIPS = 12
SHEET = Path(__file__).resolve().parents[1] / "test-artifacts" / "long-film" / "chapters.png"


def command() -> list[str]:
    return [sys.executable, "-m", "filmstitch.app.cli", "make", IDEA, "--minutes", "8", "--auto",
            *[arg for name, value in SIZE.items() for arg in (f"--{name}", str(value))]]


def entries(store: FilmStore, prefix: str) -> dict[str, dict]:
    return {k: v for k, v in store.manifest().get("artifacts", {}).items() if k.startswith(prefix)}


def ffprobe(path: Path) -> dict:
    done = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-show_chapters",
                           "-count_frames", "-of", "json", str(path)], capture_output=True, check=True, timeout=300)
    return json.loads(done.stdout)


def the_film(films: Path) -> FilmStore:
    (folder,) = [path for path in films.iterdir() if path.is_dir()]
    return FilmStore.open(StorageConfig(root=str(films)), folder.name)


def clips_stored(films: Path) -> int:
    """Clips in the film's manifest so far (0 before its folder exists: the films folder holds a lock file
    before it holds the film)."""
    if not films.is_dir() or not any(path.is_dir() for path in films.iterdir()):
        return 0
    return len(entries(the_film(films), "clips/"))


def test_an_eight_minute_film_killed_during_its_clips_resumes_and_finishes(tmp_path: Path) -> None:
    films = tmp_path / "films"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FILMSTITCH_", "PREFECT_")) and k != "ANTHROPIC_API_KEY"}
    env |= {"FILMSTITCH_STORAGE_DIR": str(films), "PREFECT_HOME": str(tmp_path / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180"}

    first = subprocess.Popen(command(), env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    deadline = time.monotonic() + 600
    while clips_stored(films) < KILL_AFTER_CLIPS:
        assert first.poll() is None, "the first run ended before it could be killed"
        assert time.monotonic() < deadline, "the clips did not start in time"
        time.sleep(0.1)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    store = the_film(films)
    clips_before, speech_before = entries(store, "clips/"), entries(store, "sound/speech/")
    assert KILL_AFTER_CLIPS <= len(clips_before) < SEGMENTS, f"the kill came too late: {len(clips_before)} clips"
    assert speech_before and not store.exists("film.mp4")

    second = subprocess.run(command(), env=env, capture_output=True, text=True, timeout=900, check=False)
    assert second.returncode == 0, second.stderr[-3000:]
    path = Path(second.stdout.strip().splitlines()[-1])
    assert path.is_file() and path.name == "film.mp4"

    # Everything finished before the kill was reused, not made again.
    clips_after, speech_after = entries(store, "clips/"), entries(store, "sound/speech/")
    assert len(clips_after) == SEGMENTS
    for before, after in ((clips_before, clips_after), (speech_before, speech_after)):
        for key, entry in before.items():
            assert (after[key]["written_at"], after[key]["sha256"]) == (entry["written_at"], entry["sha256"]), key
    assert store.verify().problems == [] and store.manifest()["status"] == "finished"

    # The film, as a player reads it.
    plan = FilmPlan.model_validate_json((path.parent / "plan" / "plan.json").read_text())
    assert len(plan.script.segments) == SEGMENTS and len(plan.script.scenes) > 1
    info = ffprobe(path)
    video, audio, subtitle = (next(s for s in info["streams"] if s["codec_type"] == kind)
                              for kind in ("video", "audio", "subtitle"))
    frames = SEGMENTS * FRAMES + 1  # the clip frame contract: each boundary frame once
    assert int(video["nb_read_frames"]) == frames and (video["width"], video["height"]) == (256, 160)
    assert abs(float(video["duration"]) - frames / 8) <= 1 / 8
    assert audio["codec_name"] == "aac" and abs(float(audio["duration"]) - 480.0) <= 1 / 8
    assert subtitle["codec_name"] == "mov_text" and subtitle["tags"]["language"] == "eng"
    chapters = info["chapters"]
    assert [c["tags"]["title"] for c in chapters] == [s.title for s in plan.script.scenes]
    cuts = [float(c["start_time"]) for c in chapters[1:]]
    for chapter, scene in zip(chapters, plan.script.scenes):
        first_segment = min(s.index for s in plan.script.segments if s.scene == scene.index)
        assert abs(float(chapter["start_time"]) - first_segment * 8.0) < 1e-3
    assert abs(float(chapters[-1]["end_time"]) - frames / 8) < 1e-3
    cues = probe.srt_times(probe.subtitle_track(path))
    spoken = sum(1 + len(segment.dialogue) for segment in plan.script.segments)
    assert len(cues) >= spoken
    assert not [(start, end) for start, end, _ in cues if any(start < cut < end for cut in cuts)], \
        "a subtitle spans a scene cut"
    assert all(end <= 480.0 + 1e-3 for _, end, _ in cues)
    save_chapter_sheet(path, chapters, cues)


def frame_at(film: Path, seconds: float, out: Path) -> Image.Image:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-ss", f"{seconds:.3f}", "-i", str(film),
                    "-frames:v", "1", "-y", str(out)], check=True, timeout=60)
    return Image.open(out).convert("RGB")


def save_chapter_sheet(film: Path, chapters: list[dict], cues: list[tuple[float, float, str]]) -> None:
    """A row per chapter: the last frame before it and its first frame (the cut), and its first subtitle, in
    test-artifacts/long-film/chapters.png: look at it."""
    rows = []
    for k, chapter in enumerate(chapters):
        start = float(chapter["start_time"])
        tiles = [frame_at(film, max(0.0, start - 0.125), film.with_name("before.png")),
                 frame_at(film, start, film.with_name("after.png"))]
        first_cue = next((text.replace("\n", " ") for begin, _, text in cues if begin >= start), "")
        rows.append((f"{k + 1}. {chapter['tags']['title']} @ {start:.0f} s: {first_cue[:60]}", tiles))
    SHEET.parent.mkdir(parents=True, exist_ok=True)
    sheet = film.with_name("chapters.jpg")
    sheet.write_bytes(contact_sheet(rows, width=256))
    Image.open(sheet).save(SHEET)
