"""Video in and out with the ffmpeg binary that ships in imageio-ffmpeg (no system ffmpeg needed).

Encoding and concatenation go through ffmpeg-python; reading goes through imageio-ffmpeg's
frame reader. Every renderer and the assembler use these helpers, so all clips share one
codec setup and the final concat can stream-copy.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import ffmpeg
import imageio_ffmpeg
import numpy as np
from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from filmstitch.models import FilmPlan

#: One codec setup for every clip, so assembly can stream-copy.
X264_ARGS = {
    "vcodec": "libx264",
    "pix_fmt": "yuv420p",
    "preset": "veryfast",
    "crf": 18,
    "movflags": "+faststart",
    "fflags": "+bitexact",
    "flags:v": "+bitexact",
    "map_metadata": -1,
}


class VideoError(RuntimeError):
    pass


class VideoInfo(BaseModel):
    width: int
    height: int
    fps: float
    frames: int
    duration: float
    codec: str
    pix_fmt: str


def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def _run(stream: ffmpeg.nodes.OutputStream, stdin: bytes | None = None) -> None:
    try:
        stream.overwrite_output().global_args("-nostdin" if stdin is None else "-y").run(
            cmd=ffmpeg_exe(), input=stdin, capture_stdout=True, capture_stderr=True
        )
    except ffmpeg.Error as exc:
        tail = (exc.stderr or b"").decode(errors="replace").strip().splitlines()[-3:]
        raise VideoError("ffmpeg failed: " + " | ".join(tail)) from None


def encode_frames(frames: Iterable[np.ndarray] | np.ndarray, out_path: Path, fps: int) -> None:
    """Encode RGB uint8 frames (H, W, 3) to an H.264 MP4, streaming them into ffmpeg.

    A whole clip given as one (F, H, W, 3) array goes to ffmpeg in a single write of its buffer (no
    per-frame copies: 226 MB for a 192-frame 768x512 clip); an iterator of frames is written frame by frame.
    """
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4 or frames.shape[-1] != 3 or not len(frames):
            raise VideoError(f"expected frames shaped (F, H, W, 3), got {frames.shape}")
        chunks: Iterable[np.ndarray] = [frames]
        height, width = frames.shape[1:3]
    else:
        iterator = iter(frames)
        first = next(iterator, None)
        if first is None:
            raise VideoError("no frames to encode")
        height, width = first.shape[:2]
        chunks = itertools.chain([first], iterator)
    process = (
        ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{width}x{height}", framerate=fps)
        .output(str(out_path), r=fps, **X264_ARGS)
        .overwrite_output()
        # Errors only: stderr is read after the last frame, so it must never fill its pipe.
        .global_args("-loglevel", "error", "-nostats")
        .run_async(cmd=ffmpeg_exe(), pipe_stdin=True, pipe_stderr=True, quiet=False)
    )
    try:
        for chunk in chunks:
            if chunk.shape[-3:-1] != (height, width):
                raise VideoError(f"frame size changed from {width}x{height} to {chunk.shape[-2]}x{chunk.shape[-3]}")
            # numpy's stubs give ndarray the buffer protocol (__buffer__) only from Python 3.12
            process.stdin.write(memoryview(np.ascontiguousarray(chunk, dtype=np.uint8)).cast("B"))  # type: ignore[arg-type]
        process.stdin.close()
    except BaseException:
        process.kill()
        process.wait()
        raise
    stderr = process.stderr.read()
    if process.wait() != 0:
        tail = stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise VideoError("ffmpeg failed to encode: " + " | ".join(tail))


def encode_mp4(frames: Iterable[np.ndarray] | np.ndarray, fps: int) -> bytes:
    """Encode frames and return the MP4's bytes."""
    with tempfile.TemporaryDirectory(prefix="filmstitch-enc-") as tmp:
        path = Path(tmp) / "clip.mp4"
        encode_frames(frames, path, fps)
        return path.read_bytes()


def probe(path: Path, count_frames: bool = False) -> VideoInfo:
    """Stream parameters and duration of a video file. The exact frame count needs a full decode,
    so it is only taken with `count_frames`; otherwise it is duration x fps."""
    reader = imageio_ffmpeg.read_frames(str(path))
    try:
        meta = next(reader)
    except Exception as exc:  # noqa: BLE001 - imageio-ffmpeg raises several types for a bad file
        raise VideoError(f"cannot read {path.name}: {exc}") from None
    finally:
        reader.close()
    width, height = meta["size"]
    if count_frames:
        frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(path))
    else:
        seconds = float(meta["duration"])
        frames = round(seconds * float(meta["fps"]))
    return VideoInfo(
        width=width,
        height=height,
        fps=float(meta["fps"]),
        frames=frames,
        duration=seconds,
        codec=str(meta.get("codec", "")).split()[0],
        pix_fmt=str(meta.get("pix_fmt", "")).split("(")[0],
    )


def decode_frames(path: Path) -> np.ndarray:
    """All frames as a (N, H, W, 3) uint8 array."""
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    meta = next(reader)
    width, height = meta["size"]
    frames = [np.frombuffer(chunk, dtype=np.uint8).reshape(height, width, 3) for chunk in reader]
    return np.stack(frames)


def concat_mp4(clips: Sequence[Path], out_path: Path) -> bool:
    """Join clips into one MP4. Stream copy when all clips share codec parameters, else re-encode.

    Returns True when the clips were stream-copied.
    """
    if not clips:
        raise VideoError("no clips to assemble")
    infos = [probe(clip) for clip in clips]
    signature = {(i.width, i.height, round(i.fps, 3), i.codec, i.pix_fmt) for i in infos}
    list_file = out_path.with_suffix(".concat.txt")
    list_file.write_text("".join(f"file '{Path(clip).resolve().as_posix()}'\n" for clip in clips))
    try:
        source = ffmpeg.input(str(list_file), format="concat", safe=0)
        if len(signature) == 1:
            _run(source.output(str(out_path), c="copy", movflags="+faststart", map_metadata=-1))
            return True
        width, height = infos[0].width, infos[0].height
        fps = round(infos[0].fps)
        scaled = [
            ffmpeg.input(str(clip)).video.filter("scale", width, height).filter("fps", fps=fps).filter("setsar", 1)
            for clip in clips
        ]
        joined = ffmpeg.concat(*scaled, v=1, a=0)
        _run(joined.output(str(out_path), r=fps, **X264_ARGS))
        return False
    finally:
        list_file.unlink(missing_ok=True)


# --------------------------------------------------------------------------- sound and subtitles


def subtitle_font_dir(directory: Path) -> str:
    """Write Pillow's bundled font (Aileron, SIL OFL) into ``directory`` for libass and return its family
    name: burnt-in subtitles then look the same on every machine, with or without system fonts."""
    from PIL import ImageFont

    face = ImageFont.load_default(size=24)  # a FreeTypeFont (Aileron) where Pillow has FreeType, as here
    (directory / "subtitles.ttf").write_bytes(face.font_bytes)  # type: ignore[union-attr]
    return face.getname()[0]  # type: ignore[union-attr,return-value]


def mux_av(picture: bytes, audio: bytes, subtitles_srt: str, language: str, burn: bool = False) -> bytes:
    """Picture MP4 + audio (AAC .m4a) + subtitles (SRT text) -> one MP4.

    The video is stream-copied, unless ``burn`` draws the subtitles into it (libass via ffmpeg's
    ``subtitles`` filter, then the project's x264 setup). The audio is stream-copied. The subtitles always
    go in as a soft ``mov_text`` track tagged with ``language`` (ISO 639-2, e.g. 'eng'); the audio track is
    tagged the same.
    """
    if not re.fullmatch(r"[a-z]{3}", language):
        raise VideoError(f"subtitle language must be an ISO 639-2 code like 'eng', got {language!r}")
    with tempfile.TemporaryDirectory(prefix="filmstitch-mux-") as tmp:
        folder = Path(tmp)
        (folder / "picture.mp4").write_bytes(picture)
        (folder / "sound.m4a").write_bytes(audio)
        (folder / "subtitles.srt").write_text(subtitles_srt, encoding="utf-8")
        out = folder / "film.mp4"
        video = ffmpeg.input(str(folder / "picture.mp4")).video
        sound = ffmpeg.input(str(folder / "sound.m4a")).audio
        subs = ffmpeg.input(str(folder / "subtitles.srt"), f="srt", sub_charenc="UTF-8")
        if burn:
            fonts = folder / "fonts"
            fonts.mkdir()
            family = subtitle_font_dir(fonts)
            style = f"FontName={family},FontSize=18,Outline=2,Shadow=0,MarginV=18,BorderStyle=1"
            # the paths are ours (a temp folder), never user text
            video = video.filter("subtitles", str(folder / "subtitles.srt"), fontsdir=str(fonts), force_style=style)
            video_args = {k: v for k, v in X264_ARGS.items() if k not in ("movflags", "map_metadata")}
        else:
            video_args = {"c:v": "copy"}
        stream = ffmpeg.output(
            video, sound, subs, str(out), **video_args,
            **{"c:a": "copy", "c:s": "mov_text", "metadata:s:s:0": f"language={language}",
               "metadata:s:a:0": f"language={language}", "movflags": "+faststart", "map_metadata": -1},
        )
        _run(stream)
        return out.read_bytes()


# --------------------------------------------------------------------------- chapters


class Chapter(BaseModel):
    """A chapter mark: from frame ``start`` (inclusive) to frame ``end`` (exclusive) of the film."""

    title: str
    start: int = Field(ge=0)
    end: int


#: Nero chapters (MP4 `chpl`) keep at most 255 bytes of a title: titles are cut at a character boundary first.
MAX_CHAPTER_TITLE_BYTES = 255
#: The characters FFMETADATA gives a meaning to (a line break is folded into a space before escaping).
_FFMETADATA_SPECIAL = re.compile(r"([=;#\\])")


def scene_chapters(plan: FilmPlan) -> list[Chapter]:
    """One chapter per scene, titled with the scene's title, on the frame grid: a scene starts at its first
    segment's first frame and ends where the next scene starts; the last one ends with the film
    (``segments x frames_per_clip + 1`` frames, the clip frame contract). A script without scenes has none."""
    script, frames = plan.script, plan.request.frames_per_clip
    if not script.scenes:
        return []
    firsts: dict[int, int] = {}
    for segment in script.segments:
        firsts.setdefault(segment.scene, segment.index)
    starts = [(first * frames, script.scenes[scene].title) for scene, first in sorted(firsts.items())]
    ends = [start for start, _ in starts[1:]] + [len(script.segments) * frames + 1]
    return [Chapter(title=title, start=start, end=end) for (start, title), end in zip(starts, ends)]


def ffmetadata_value(text: str) -> str:
    """Model or user text as one FFMETADATA value: line breaks and runs of white space folded into one space,
    other invisible characters dropped, cut to MAX_CHAPTER_TITLE_BYTES of UTF-8 at a character boundary, and
    the format's special characters (= ; # and the backslash) escaped with a backslash."""
    visible = "".join(char if char.isprintable() else " " for char in text)
    folded = " ".join(visible.split())
    cut = folded.encode()[:MAX_CHAPTER_TITLE_BYTES].decode(errors="ignore")
    return _FFMETADATA_SPECIAL.sub(r"\\\1", cut)


def ffmetadata(chapters: Sequence[Chapter], fps: int, title: str | None = None) -> str:
    """An FFMETADATA file: the film's title and its chapters, timed in frames (TIMEBASE 1/fps)."""
    lines = [";FFMETADATA1"]
    if title:
        lines.append(f"title={ffmetadata_value(title)}")
    for chapter in chapters:
        lines += ["", "[CHAPTER]", f"TIMEBASE=1/{fps}", f"START={chapter.start}", f"END={chapter.end}",
                  f"title={ffmetadata_value(chapter.title)}"]
    return "\n".join(lines) + "\n"


def add_chapters(film: bytes, chapters: Sequence[Chapter], fps: int, title: str | None = None) -> bytes:
    """The film with its chapter marks and title muxed in; picture and sound are stream-copied.

    An MP4 carries chapters twice: as Nero ``chpl`` (read by VLC, mpv, ffprobe) and as a QuickTime chapter
    text track (Apple's players). ffmpeg 9 times that text track in the least common multiple of the input
    tracks' timescales; with the subtitles' 1/1000000 (what ffmpeg gives mov_text) and 8 fps video's 1/16384,
    a chapter of a few seconds overflows its 32-bit sample duration and the track is left out (players then
    report "Referenced QT chapter track not found"). So the video is retimed to 1/(fps x 1000) (exact: every
    frame time is a whole number of ticks) and the subtitle track is written again at 1/1000 (text to text,
    nothing lost; a stream copy at a new timescale adds empty samples): the chapter track then runs at
    48 kHz or close to it for every fps, and a 10-minute chapter fits.
    """
    if not chapters:
        return film
    for chapter in chapters:
        if chapter.end <= chapter.start:
            raise VideoError(f"chapter {chapter.title!r} ends (frame {chapter.end}) before it starts ({chapter.start})")
    ticks = fps * 1000
    with tempfile.TemporaryDirectory(prefix="filmstitch-chapters-") as tmp:
        folder = Path(tmp)
        (folder / "film.mp4").write_bytes(film)
        (folder / "chapters.txt").write_text(ffmetadata(chapters, fps, title), encoding="utf-8")
        out = folder / "chaptered.mp4"
        command = [
            ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error",
            "-i", str(folder / "film.mp4"), "-f", "ffmetadata", "-i", str(folder / "chapters.txt"),
            "-map", "0", "-map_metadata", "1", "-map_chapters", "1", "-c", "copy",
            "-c:s", "mov_text", "-time_base:s", "1/1000",
            "-time_base:v", f"1/{ticks}", "-video_track_timescale", str(ticks),
            "-movflags", "+faststart", "-y", str(out),
        ]
        done = subprocess.run(command, capture_output=True, timeout=600, check=False)
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
            raise VideoError("ffmpeg failed to add the chapters: " + " | ".join(tail))
        return out.read_bytes()
