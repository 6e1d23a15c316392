"""Time the offline 8-minute film against the 80-second film on this machine, stage by stage.

    python benchmarks/long_film.py [--minutes 8] [--idea "..."] [--width 768 --height 512 --fps 24]
                                   [--no-sound] [--only long|short] [--profile DIR]

Both films are made by the make-film flow at the default settings (offline writer, animatic renderer,
local storage, sound, auto-picks), each in a fresh temporary folder so nothing is reused. For each film it
prints when each stage ran (its first task's start and its last task's end, seconds from the run's start:
the speech and the ambience are made while the pictures are drawn, so stages overlap; the mix waits for the
clips), the whole run's wall time, the CPU seconds of this process and everything it started (ffmpeg, the voice
processes, the Prefect server), the machine's load average and the CPU seconds the rest of the machine used
meanwhile (it is shared). Then the ratio of the long film's wall and CPU time to the short one's (goal: at most
6x for a film 6x as long), and the manifest's update time at 75 segments x 3 variants (the long film's own artifact
list, extended from 60 to 75 segments).

`--profile DIR` also samples every thread's Python stack every 10 ms during the long film and writes the
functions that took the most samples (and which stage tasks they ran in) to DIR/long-film-profile.txt.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from typing import Self

import psutil
from stage_times import ORDER, stage_times

# --------------------------------------------------------------------------- what the machine did


@dataclass
class Usage:
    """CPU seconds of this process tree and of the whole machine, and the load average, over a run."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    machine_busy_s: float = 0.0
    load: list[float] = field(default_factory=list)

    @property
    def others_s(self) -> float:
        return max(0.0, self.machine_busy_s - self.cpu_s)


class Meter:
    """Measures a run: this process and its descendants (the ones alive at the end are read directly, the
    ones that ended are in RUSAGE_CHILDREN), the machine's busy CPU seconds, and the 1-minute load every 5 s."""

    def __enter__(self) -> Self:
        self.me = psutil.Process()
        self.started = time.perf_counter()
        self.cpu0 = self._tree_cpu()
        self.machine0 = psutil.cpu_times()
        self.usage = Usage()
        self.stop = threading.Event()
        self.sampler = threading.Thread(target=self._sample_load, daemon=True)
        self.sampler.start()
        return self

    def _sample_load(self) -> None:
        while True:
            self.usage.load.append(os.getloadavg()[0])
            if self.stop.wait(5.0):
                return

    def _tree_cpu(self) -> dict[int, float]:
        """CPU seconds by pid: this process (with its ended children) and every live descendant."""
        own = self.me.cpu_times()
        seconds = {self.me.pid: own.user + own.system + own.children_user + own.children_system}
        for child in self.me.children(recursive=True):
            try:
                times = child.cpu_times()
                seconds[child.pid] = times.user + times.system
            except psutil.Error:
                continue
        return seconds

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.sampler.join()
        cpu1 = self._tree_cpu()
        machine1 = psutil.cpu_times()
        self.usage.wall_s = time.perf_counter() - self.started
        self.usage.cpu_s = sum(value - self.cpu0.get(pid, 0.0) for pid, value in cpu1.items())
        busy = lambda t: sum(t) - t.idle - getattr(t, "iowait", 0.0)  # noqa: E731
        self.usage.machine_busy_s = busy(machine1) - busy(self.machine0)


# --------------------------------------------------------------------------- a sampling profiler


#: Where a thread waits rather than computes (a lock, a pipe, a socket, a future): such samples are not counted.
WAITING = ("threading.py", "selectors.py", "subprocess.py", "queue.py", "_base.py", "socket.py", "ssl.py",
           "connection.py", "filelock", "time.py")


class StackSampler:
    """Every 10 ms, the stack of every other thread: samples of a thread that is waiting (its innermost frame
    is a lock, a pipe, a socket...) are skipped; the others count for their innermost project function and
    for the task function the thread is running. Time in C code (numpy, Pillow, zlib) counts for the Python
    function that called it. Subprocesses (ffmpeg, the voice) are not seen here: the CPU totals count them."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.by_stage: collections.Counter[tuple[str, str]] = collections.Counter()
        self.samples = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        me = threading.get_ident()
        while not self.stop.wait(0.01):
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                stack = traceback.extract_stack(frame)
                if any(part in stack[-1].filename for part in WAITING) or stack[-1].name in ("sleep", "wait"):
                    continue
                ours = [f for f in stack if "/filmstitch/" in f.filename or "/tasks/" in f.filename]
                if not ours:
                    continue
                leaf = ours[-1]
                where = f"{Path(leaf.filename).parent.name}/{Path(leaf.filename).name}:{leaf.name}"
                self.counts[where] += 1
                task = next((f.name for f in stack if "/tasks/" in f.filename), "?")
                self.by_stage[(task, where)] += 1
                self.samples += 1

    def report(self, top: int = 40) -> str:
        lines = [(f"{self.samples} samples of threads in project code, 10 ms apart (waits in Python locks, pipes and "
                 "sockets left out; a wait inside a C call such as select() still counts)"), "",
                 "innermost project function:"]
        lines += [f"{count:>7}  {count / max(1, self.samples):6.1%}  {where}"
                  for where, count in self.counts.most_common(top)]
        lines += ["", "task function / innermost project function:"]
        lines += [f"{count:>7}  {task:<28} {where}" for (task, where), count in self.by_stage.most_common(top)]
        return "\n".join(lines)


# --------------------------------------------------------------------------- one film


@dataclass
class Run:
    name: str
    segments: int
    duration_s: float
    usage: Usage
    stages: dict[str, tuple[int, float, float]]  # stage -> (tasks, first start, last end), s from the run's start
    manifest_keys: list[str]


def make(name: str, request: object, profile: Path | None) -> Run:
    from filmstitch.flows.make_film import make_film
    from filmstitch.settings import StorageConfig
    from filmstitch.storage import FilmStore

    with tempfile.TemporaryDirectory(prefix="filmstitch-long-bench-") as tmp:
        os.environ["FILMSTITCH_STORAGE_DIR"] = str(Path(tmp) / "films")
        os.environ["PREFECT_LOCAL_STORAGE_PATH"] = str(Path(tmp) / "results")
        sampler = StackSampler() if profile else None
        with Meter() as meter:
            if sampler:
                sampler.__enter__()
            try:
                state = make_film(request=request, auto_pick=True, return_state=True)
            finally:
                if sampler:
                    sampler.__exit__()
        result = state.result()
        if sampler and profile:
            profile.mkdir(parents=True, exist_ok=True)
            (profile / f"{name}-film-profile.txt").write_text(sampler.report())
        stages = stage_times(state.state_details.flow_run_id)
        store = FilmStore.open(StorageConfig(root=str(Path(tmp) / "films")), result.film_id)
        keys = list(store.manifest().get("artifacts", {}))
    return Run(name, request.segments, result.duration_s, meter.usage, stages, keys)


def print_run(run: Run) -> None:
    u = run.usage
    load = f"{statistics.mean(u.load):.2f} mean, {max(u.load):.2f} max" if u.load else "n/a"
    print(f"\n{run.name}: {run.segments} segments, {run.duration_s:.1f} s of film")
    print(f"  {'stage':<12}{'tasks':>6}{'from s':>9}{'to s':>9}{'wall s':>9}")
    for stage in ORDER:
        if stage in run.stages:
            tasks, start, end = run.stages[stage]
            print(f"  {stage:<12}{tasks:>6}{start:>9.1f}{end:>9.1f}{end - start:>9.1f}")
    print(f"  whole run: {u.wall_s:.1f} s wall, {u.cpu_s:.1f} CPU s "
          f"({u.cpu_s / u.wall_s:.2f} cores busy)")
    print(f"  machine: load {load} (2 cores); CPU s used by other processes meanwhile: {u.others_s:.1f}")


# --------------------------------------------------------------------------- the manifest at 75 segments


def extended_keys(keys: list[str], segments: int, wanted: int) -> list[str]:
    """A film's artifact keys and, for every segment it lacks up to `wanted`, the keys of its last segment
    under the new number (keyframe kNN, clip cNN, speech sNN): the artifact list of a longer film."""
    pattern = re.compile(r"(?<=/)([kcs])(\d{2,3})(?=/|\.|-)")
    grown = dict.fromkeys(keys)
    for key in keys:
        match = pattern.search(key)
        if not match:
            continue
        kind, number = match.group(1), int(match.group(2))
        last = segments if kind == "k" else segments - 1  # keyframes run 0..segments, the rest 0..segments-1
        if number == last:
            for new in range(last + 1, last + 1 + wanted - segments):
                grown[pattern.sub(f"{kind}{new:02d}", key, count=1)] = None
    return list(grown)


def manifest_speed(keys: list[str]) -> None:
    from filmstitch.settings import StorageConfig
    from filmstitch.storage import FilmStore

    print(f"\nManifest update time: {len(keys)} artifacts (75 segments x 3 variants, local storage)")
    print(f"  {'writers':>7} {'total s':>8} {'ms/put at full size':>20} {'manifest KiB':>13}")
    with tempfile.TemporaryDirectory(prefix="filmstitch-manifest-bench-") as tmp:
        for workers in (1, 8):
            film = FilmStore.open(StorageConfig(root=tmp), f"long-film-{workers}")
            seconds: dict[int, float] = {}

            def put(index: int) -> None:  # runs within this iteration (the pool is joined in it)
                started = time.perf_counter()
                film.put(keys[index], os.urandom(1024), "application/octet-stream",  # noqa: B023
                         reuse_key=f"sha256:{index:064x}", stage=keys[index].split("/")[0])
                seconds[index] = time.perf_counter() - started  # noqa: B023

            started = time.perf_counter()
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(put, range(len(keys))))
            total = time.perf_counter() - started
            last = statistics.median(seconds[i] for i in range(len(keys) - 100, len(keys)))
            size = (Path(tmp) / f"long-film-{workers}" / "manifest.json").stat().st_size
            assert len(film.manifest()["artifacts"]) == len(keys)
            print(f"  {workers:>7} {total:>8.1f} {1000 * last:>20.1f} {size / 1024:>13.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idea", default="a stranded astronaut on the moon walks around and discovers nature")
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--no-sound", action="store_true")
    parser.add_argument("--only", choices=["long", "short"])
    parser.add_argument("--profile", type=Path, help="folder for the long film's sampled profile")
    args = parser.parse_args()

    from filmstitch.models import FilmRequest

    common = {"idea": args.idea, "width": args.width, "height": args.height, "fps": args.fps,
              "sound": not args.no_sound,
                  "writer": "offline", "renderer": "animatic"}
    requests = {"short": FilmRequest(**common), "long": FilmRequest(minutes=args.minutes, **common)}
    print(f"{os.cpu_count()} CPUs; load average at start {os.getloadavg()[0]:.2f}; "
          f"{args.width}x{args.height}, {args.fps} fps, sound {'off' if args.no_sound else 'on'}")
    runs = {}
    # One Prefect server for both films, started before either is timed (its CPU counts: it is a child).
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from filmstitch.app.cli import drain_prefect_workers
    from filmstitch.app.prefect_server import start_server, stop_process_group

    server, api_url = start_server(timeout_s=180)
    try:
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            for name in ("short", "long"):
                if args.only and args.only != name:
                    continue
                runs[name] = make(name, requests[name], args.profile if name == "long" else None)
                print_run(runs[name])
            drain_prefect_workers()
    finally:
        stop_process_group(server)
    if len(runs) == 2:
        short, long = runs["short"], runs["long"]
        print(f"\nlong / short: film {long.duration_s / short.duration_s:.1f}x as long; wall "
              f"{long.usage.wall_s / short.usage.wall_s:.2f}x, CPU {long.usage.cpu_s / short.usage.cpu_s:.2f}x "
              "(goal: at most 6x)")
        for stage in ORDER:
            if stage in short.stages and stage in long.stages:
                wall = [r.stages[stage][2] - r.stages[stage][1] for r in (long, short)]
                print(f"  {stage:<12} wall {wall[0] / max(1e-9, wall[1]):6.2f}x")
    if "long" in runs:
        manifest_speed(extended_keys(runs["long"].manifest_keys, runs["long"].segments, 75))


if __name__ == "__main__":
    main()
