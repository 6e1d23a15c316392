"""Time the offline film end to end on this machine, idea to MP4 with sound, and print seconds per stage.

    python benchmarks/offline_film.py [--segments 10] [--idea "..." | --ideas FILE] [--look DIR] [--no-sound]

Runs make-film with the embedded defaults (offline writer, animatic renderer, offline voice, local storage)
and auto-picks, in a fresh temporary folder (so nothing is reused from an earlier run), then reads the task
runs back from Prefect to report when each stage ran (its first task's start to its last task's end; the
voices and the ambience are made while the pictures are drawn, so stages overlap).

`--look DIR` keeps what a person would check of each film in DIR: a contact sheet (a frame from the middle
of every segment, with its narration), a spectrogram of the mix (ffmpeg's showspectrumpic), the film's
loudness and true peak (ffmpeg's ebur128), and the film itself. `--ideas FILE` makes one film per line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from stage_times import ORDER, stage_times  # benchmarks/, this script's folder

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def make_one(idea: str, segments: int, sound: bool, look: Path | None) -> float:
    """One film from nothing; prints its stage table and returns its wall time."""
    from filmstitch.flows.make_film import make_film
    from filmstitch.models import FilmRequest

    with tempfile.TemporaryDirectory(prefix="filmstitch-bench-") as tmp:
        os.environ["FILMSTITCH_STORAGE_DIR"] = str(Path(tmp) / "films")
        os.environ["PREFECT_LOCAL_STORAGE_PATH"] = str(Path(tmp) / "results")
        started = time.perf_counter()
        state = make_film(request=FilmRequest(idea=idea, segments=segments, sound=sound), auto_pick=True,
                          return_state=True)
        wall = time.perf_counter() - started
        result = state.result()
        stages = stage_times(state.state_details.flow_run_id)
        print(f"\n{idea!r}: {result.duration_s:.1f} s of video, {segments} segments, '{result.title}'")
        print(f"{'stage':<12}{'tasks':>6}{'from s':>9}{'to s':>9}")
        for stage in ORDER:
            if stage in stages:
                tasks, start, end = stages[stage]
                print(f"{stage:<12}{tasks:>6}{start:>9.1f}{end:>9.1f}")
        print(f"{'whole run (incl. Prefect start on the first film)':<50}{wall:>8.1f} s")
        if look:
            keep(Path(result.location), look, idea)
    return wall


def keep(film: Path, look: Path, idea: str) -> None:
    """The film, its contact sheet, the mix's spectrogram and its loudness, under look/<slug>/."""
    from PIL import Image

    from filmstitch import images
    from filmstitch.models import FilmPlan
    from filmstitch.video import ffmpeg_exe

    folder = look / re.sub(r"[^a-z0-9]+", "-", idea.lower()).strip("-")[:40]
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(film, folder / "film.mp4")
    plan = FilmPlan.model_validate_json((film.parent / "plan" / "plan.json").read_text())
    seconds = plan.request.seconds_per_segment
    tiles = []
    for segment in plan.script.segments:
        frame = folder / f"s{segment.index:02d}.png"
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-ss", f"{(segment.index + 0.5) * seconds:.2f}",
                        "-i", str(film), "-frames:v", "1", str(frame)], check=True)
        tiles.append(Image.open(frame).convert("RGB"))
        frame.unlink()
    rows = [(f"{plan.script.title}: segments {i}-{min(i + 4, len(tiles) - 1)}", tiles[i:i + 5])
            for i in range(0, len(tiles), 5)]
    (folder / "contact-sheet.jpg").write_bytes(images.contact_sheet(rows, width=300))
    (folder / "script.txt").write_text("\n".join(
        f"{s.index}: {s.narration} | {' / '.join(f'{d.speaker}: {d.line}' for d in s.dialogue)}"
        for s in plan.script.segments) + "\n")
    if plan.request.sound:
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(film), "-lavfi",
                        "showspectrumpic=s=1600x400:legend=1:scale=log", str(folder / "spectrogram.png")], check=True)
        meter = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(film), "-map", "0:a",
                                "-af", "ebur128=peak=true", "-f", "null", "-"], capture_output=True, text=True,
                               check=False)
        summary = meter.stderr[meter.stderr.rfind("Summary:"):]
        loudness = {"integrated_lufs": re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1),
                    "true_peak_dbtp": re.search(r"Peak:\s+(-?[\d.]+) dBFS", summary).group(1)}
        (folder / "loudness.json").write_text(json.dumps(loudness) + "\n")
        print(f"  mix: {loudness['integrated_lufs']} LUFS integrated, true peak {loudness['true_peak_dbtp']} dBTP")
    print(f"  kept in {folder}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idea", default="a stranded astronaut on the moon walks around and discovers nature")
    parser.add_argument("--ideas", type=Path, help="a file with one idea per line: one film each")
    parser.add_argument("--segments", type=int, default=10)
    parser.add_argument("--no-sound", action="store_true")
    parser.add_argument("--look", type=Path, help="keep each film's contact sheet, spectrogram and loudness here")
    args = parser.parse_args()
    ideas = [line.strip() for line in args.ideas.read_text().splitlines() if line.strip()] if args.ideas \
        else [args.idea]

    started = time.perf_counter()
    import filmstitch.flows.make_film  # noqa: F401  (imports counted apart from the films)

    print(f"imports {time.perf_counter() - started:.1f} s; {os.cpu_count()} CPUs; "
          f"load average {os.getloadavg()[0]:.2f}")
    walls = [make_one(idea, args.segments, not args.no_sound, args.look) for idea in ideas]
    print(f"\nfilms: {len(walls)}; wall s each: {', '.join(f'{w:.1f}' for w in walls)}; "
          f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
