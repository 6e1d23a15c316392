"""The whole film through the CLI on a GPU: `filmstitch make IDEA --auto --renderer local-gpu`, end to end.

Full-size FLUX.1-dev, FLUX.1-Redux, CLIP-L and LTX-Video 0.9.5 architectures with random weights are written
to a weights directory in the real layout (benchmarks/gpu_film.py's `write_weights`), then the real command
runs against them: its own Prefect server, the offline writer, both checkpoints picked automatically,
keyframes with their continuity QC, clips, seam QC, assembly. Random weights make noise pictures; what this
shows is that every path of a real film runs, with the real shapes, memory and frame counts.

Prints one JSON object: wall time per stage (from the film's manifest: the first and last artifact each
stage wrote), the command's wall time, peak GPU memory (nvidia-smi, sampled every 250 ms), and the film's
frames and duration (ffprobe).

    python benchmarks/gpu_cli_film.py --weights /root/weights --out $OUT --segments 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Self

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
IDEA = "a stranded astronaut on the moon walks around and discovers nature"


class MemorySampler:
    """Peak GPU memory in use (MiB, every GPU summed) while the film runs."""

    def __init__(self) -> None:
        self.peak = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                                     capture_output=True, text=True, check=False).stdout
            except FileNotFoundError:  # no GPU here (the --tiny dry run)
                return
            used = sum(int(x) for x in out.split() if x.strip().isdigit())
            self.peak = max(self.peak, used)
            self.stop.wait(0.25)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)


def stage_times(manifest: dict) -> dict[str, float]:
    """Seconds from the first to the last artifact each stage wrote (their `written_at`)."""
    spans: dict[str, list[dt.datetime]] = {}
    for entry in manifest["artifacts"].values():
        stage = entry.get("meta", {}).get("stage", "other")
        spans.setdefault(stage, []).append(dt.datetime.fromisoformat(entry["written_at"]))
    return {stage: round((max(t) - min(t)).total_seconds(), 1) for stage, t in sorted(spans.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--segments", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=480)
    parser.add_argument("--tiny", action="store_true", help="A CPU dry run on tiny models at 128x128.")
    args = parser.parse_args()

    from benchmarks.gpu_film import TINY_ENV, weights_env, write_weights

    started = time.monotonic()
    written = write_weights(args.weights, is_tiny=args.tiny)
    weights_s = round(time.monotonic() - started, 1)
    env = os.environ | weights_env(args.weights) | {"FILMSTITCH_STORAGE_DIR": str(args.out / "films"),
                                                    "PREFECT_HOME": str(args.out / "prefect")}
    command = [sys.executable, "-m", "filmstitch.app.cli", "make", IDEA, "--auto", "--renderer", "local-gpu",
               "--no-sound", "--segments", str(args.segments)]
    if args.tiny:
        env |= TINY_ENV
        command += ["--width", "128", "--height", "128", "--fps", "8", "--seconds", "1"]
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with MemorySampler() as memory:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=args.timeout, check=False)
    wall = round(time.monotonic() - started, 1)
    (args.out / "make.log").write_text(done.stdout + "\n---\n" + done.stderr)
    args.out.joinpath("result.json").write_text("")  # filled below
    result: dict = {"weights_written_s": weights_s, "weights": written, "command": " ".join(command[2:]),
                    "returncode": done.returncode, "wall_s": wall, "peak_gpu_mib": memory.peak}
    if done.returncode == 0:
        film = Path(done.stdout.strip().splitlines()[-1])
        manifest = json.loads((film.parent / "manifest.json").read_text())
        from filmstitch.video import probe

        info = probe(film, count_frames=True)
        result |= {"film": str(film), "stages_s": stage_times(manifest), "frames": info.frames,
                   "duration_s": round(info.duration, 3), "size": f"{info.width}x{info.height}", "fps": info.fps,
                   "film_bytes": film.stat().st_size}
    else:
        result["stderr_tail"] = done.stderr[-3000:]
    (args.out / "result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
