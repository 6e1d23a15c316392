"""Chapter marks: a chapter per scene, muxed into the film's MP4 at assembly with the picture and sound
stream-copied, read back by Debian's ffprobe (an independent reader)."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path

import pytest

from filmstitch.models import FilmRequest
from filmstitch.sound.subtitles import Cue, to_srt
from filmstitch.testing import sound_checks as probe
from filmstitch.testing.plans import offline_plan
from filmstitch.video import Chapter, add_chapters, ffmpeg_exe, mux_av, scene_chapters

IDEA = "A stranded astronaut on the moon walks around and discovers nature"


def chapters_of(path: Path) -> list[dict]:
    done = subprocess.run(["ffprobe", "-v", "error", "-show_chapters", "-of", "json", str(path)],
                          capture_output=True, check=True, timeout=60)
    return json.loads(done.stdout)["chapters"]


def packet_hashes(path: Path, stream: str) -> list[str]:
    """(pts, duration, md5 of the bytes) of every packet of a stream: equal lists mean a stream copy."""
    done = subprocess.run(["ffprobe", "-v", "error", "-select_streams", stream, "-show_data_hash", "md5",
                           "-show_entries", "packet=pts_time,duration_time,data_hash", "-of", "csv", str(path)],
                          capture_output=True, check=True, timeout=120, text=True)
    return done.stdout.splitlines()


def silence_m4a(path: Path, seconds: float) -> bytes:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "anullsrc=r=48000:cl=stereo", "-t", f"{seconds}", "-c:a", "aac", "-y", str(path)],
                   check=True, timeout=120)
    return path.read_bytes()


def reader_complaints(path: Path) -> str:
    """What ffmpeg itself (the bundled one) says when it opens the file: errors only."""
    done = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(path), "-f", "null",
                           "-t", "0.1", "-"], capture_output=True, timeout=60, text=True, check=False)
    return done.stderr.strip()


def cues_every(seconds: float, every: float = 6.0) -> list[Cue]:
    cues, start, k = [], 0.5, 1
    while start + 2 < seconds:
        cues.append(Cue(index=k, start=start, end=start + 2.0, text=f"Line {k}, said <quietly>", speaker="narrator",
                        segment=0))
        start, k = start + every, k + 1
    return cues


def muxed_film(folder: Path, seconds: float, fps: int, size: str) -> Path:
    picture = probe.synthetic_picture(folder / "picture.mp4", seconds, fps=fps, size=size)
    film = folder / "film.mp4"
    film.write_bytes(mux_av(picture.read_bytes(), silence_m4a(folder / "mix.m4a", seconds),
                            to_srt(cues_every(seconds)), "eng"))
    return film


def test_the_default_film_has_a_chapter_per_scene_on_the_frame_grid() -> None:
    plan = offline_plan(FilmRequest(idea=IDEA))
    chapters = scene_chapters(plan)
    frames = plan.request.frames_per_clip
    assert [c.title for c in chapters] == [s.title for s in plan.script.scenes] and len(chapters) >= 3
    for chapter, scene in zip(chapters, plan.script.scenes):
        first = min(s.index for s in plan.script.segments if s.scene == scene.index)
        assert chapter.start == first * frames
    assert chapters[0].start == 0 and chapters[-1].end == plan.request.segments * frames + 1
    assert all(a.end == b.start for a, b in itertools.pairwise(chapters))


def test_chapters_are_muxed_with_picture_sound_and_subtitles_copied(tmp_path: Path) -> None:
    """The default film's size and rate (768x512, 24 fps, 80 s), its scenes as chapters."""
    plan = offline_plan(FilmRequest(idea=IDEA))
    film = muxed_film(tmp_path, plan.request.duration_s, plan.request.fps, "768x512")
    chaptered = tmp_path / "chaptered.mp4"
    chaptered.write_bytes(add_chapters(film.read_bytes(), scene_chapters(plan), plan.request.fps, plan.script.title))

    found = chapters_of(chaptered)
    assert [c["tags"]["title"] for c in found] == [s.title for s in plan.script.scenes]
    for mark, chapter in zip(found, scene_chapters(plan)):
        assert float(mark["start_time"]) == pytest.approx(chapter.start / 24, abs=1e-3)
    assert float(found[-1]["end_time"]) == pytest.approx(plan.request.duration_s, abs=0.05)
    # picture and sound are the same packets; the subtitles the same cues
    for stream in ("v", "a"):
        assert packet_hashes(chaptered, stream) == packet_hashes(film, stream), f"stream {stream} was changed"
    assert probe.subtitle_track(chaptered) == probe.subtitle_track(film)
    info = probe.ffprobe(chaptered)
    kinds = [(s["codec_type"], s.get("codec_tag_string")) for s in info["streams"]]
    # the QuickTime chapter track is there (Apple's players read it), beside the three tracks of the film
    assert kinds == [("video", "avc1"), ("audio", "mp4a"), ("subtitle", "tx3g"), ("data", "text")], kinds
    assert [s["tags"]["language"] for s in info["streams"][1:3]] == ["eng", "eng"]
    assert info["format"]["tags"]["title"] == plan.script.title
    assert reader_complaints(chaptered) == ""


def test_a_ten_minute_chapter_at_8_fps_keeps_its_quicktime_track(tmp_path: Path) -> None:
    """The case that broke ffmpeg 9's chapter track (a 32-bit duration overflow): one long chapter, the
    lowest frame rate, subtitles present."""
    film = muxed_film(tmp_path, 600.0, 8, "128x96")
    chaptered = tmp_path / "chaptered.mp4"
    chaptered.write_bytes(add_chapters(film.read_bytes(), [Chapter(title="All of it", start=0, end=4801)], 8))
    assert reader_complaints(chaptered) == ""
    assert [s["codec_type"] for s in probe.ffprobe(chaptered)["streams"]][-1] == "data"
    (mark,) = chapters_of(chaptered)
    assert float(mark["end_time"]) == pytest.approx(600.125, abs=1e-3)
    assert packet_hashes(chaptered, "v") == packet_hashes(film, "v")


@pytest.mark.parametrize("title, shown", [
    ("Act 1; scene=2 # the \\ end", "Act 1; scene=2 # the \\ end"),
    ("two\nlines\r\n and\ttabs", "two lines and tabs"),
    ("[CHAPTER]\nTIMEBASE=1/1\nSTART=0\nEND=1\ntitle=forged", "[CHAPTER] TIMEBASE=1/1 START=0 END=1 title=forged"),
    ("ünïcødé ✨ 月の庭", "ünïcødé ✨ 月の庭"),
])
def test_titles_are_data_never_metadata_syntax(tmp_path: Path, title: str, shown: str) -> None:
    film = muxed_film(tmp_path, 4.0, 8, "128x96")
    chaptered = tmp_path / "chaptered.mp4"
    chaptered.write_bytes(add_chapters(film.read_bytes(), [Chapter(title=title, start=0, end=16),
                                                           Chapter(title="next", start=16, end=33)], 8, title=title))
    found = chapters_of(chaptered)
    assert [c["tags"]["title"] for c in found] == [shown, "next"]
    assert probe.ffprobe(chaptered)["format"]["tags"]["title"] == shown


def test_a_long_title_is_cut_at_a_character_boundary(tmp_path: Path) -> None:
    film = muxed_film(tmp_path, 2.0, 8, "128x96")
    chaptered = tmp_path / "chaptered.mp4"
    title = "月" * 200  # 600 bytes of UTF-8; MP4's Nero chapters keep 255
    chaptered.write_bytes(add_chapters(film.read_bytes(), [Chapter(title=title, start=0, end=17)], 8))
    assert chapters_of(chaptered)[0]["tags"]["title"] == "月" * 85


def test_no_scenes_no_chapters_and_the_film_is_untouched() -> None:
    from filmstitch.testing.plans import handmade_plan

    plan = handmade_plan()
    assert not plan.script.scenes and scene_chapters(plan) == []
    assert add_chapters(b"not even a film", [], 24) == b"not even a film"
