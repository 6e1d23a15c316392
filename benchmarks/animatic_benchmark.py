"""Time the offline writer and the animatic renderer on a full-size film: plan, references, keyframes, clips.

    python benchmarks/animatic_benchmark.py [--clips N] [--idea "..."] [--width 768 --height 512]

The offline writer is timed first, from a cold cache, for 10, 60 and 75 segments (the long films).

Prints wall and CPU seconds per reference batch (3 variants of one subject), per keyframe
batch (3 variants of one boundary), per clip (192 frames at 24 fps by default, encoding
included) and the clip frame rate. Runs single-threaded, so on a 2-core machine the
pipeline (which renders two tasks at once) should do better in wall time per film.
The plan comes from the offline story engine, so it is the film `filmstitch make` renders.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from typing import Self

from filmstitch.models import FilmRequest, derive_seed
from filmstitch.renderers.animatic import AnimaticRenderer
from filmstitch.renderers.base import RenderedImage
from filmstitch.testing.plans import offline_plan
from filmstitch.writers.offline import draft


def _children_cpu() -> float:
    """CPU seconds used by finished child processes (the ffmpeg encoder)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Timer:
    """Wall time, this process's CPU time and the encoder's CPU time of each timed block."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.child: list[float] = []

    def __enter__(self) -> Self:
        self._wall, self._cpu, self._child = time.perf_counter(), time.process_time(), _children_cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall.append(time.perf_counter() - self._wall)
        self.cpu.append(time.process_time() - self._cpu)
        self.child.append(_children_cpu() - self._child)

    def line(self, what: str) -> str:
        return (
            f"{what:<28} n={len(self.wall):<3} wall mean {statistics.mean(self.wall):6.3f} s  "
            f"max {max(self.wall):6.3f} s   cpu mean {statistics.mean(self.cpu):6.3f} s "
            f"+ ffmpeg {statistics.mean(self.child):6.3f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idea", default="a stranded astronaut on the moon walks around and discovers nature")
    parser.add_argument("--clips", type=int, default=4, help="how many of the film's clips to render")
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--segments", type=int, default=10)
    args = parser.parse_args()

    for segments in (10, 60, 75):
        draft.cache_clear()
        started = time.perf_counter()
        long_plan = offline_plan(FilmRequest(idea=args.idea, segments=segments))
        print(f"offline writer, {segments:>2} segments: {1000 * (time.perf_counter() - started):7.1f} ms "
              f"({len(long_plan.script.scenes)} scenes, {len(long_plan.environments)} locations, "
              f"{len(long_plan.characters)} characters)")

    request = FilmRequest(idea=args.idea, segments=args.segments, width=args.width, height=args.height)
    plan = offline_plan(request)
    renderer = AnimaticRenderer()
    started = time.perf_counter()

    refs, chosen = Timer(), {}
    for subject in plan.subjects:
        seeds = [derive_seed(request.seed, "reference", subject.id, v) for v in range(request.variants)]
        with refs:
            pngs = renderer.reference_variants(plan, subject, seeds)
        chosen[subject.id] = RenderedImage(variant=1, seed=seeds[1], png=pngs[1])
    print(refs.line("reference batch (3 PNGs)"))

    kfs, keyframes = Timer(), []
    for keyframe in plan.keyframes:
        seeds = [derive_seed(request.seed, "keyframe", keyframe.index, v) for v in range(request.variants)]
        present = {s.id: chosen[s.id] for s in plan.subjects_at(keyframe.index)}
        with kfs:
            pngs = renderer.keyframe_variants(plan, keyframe.index, present, seeds)
        pick = keyframe.index % request.variants
        keyframes.append(RenderedImage(variant=pick, seed=seeds[pick], png=pngs[pick]))
    print(kfs.line("keyframe batch (3 PNGs)"))

    clips = Timer()
    for segment in range(min(args.clips, request.segments)):
        with clips:
            renderer.clip(
                plan,
                segment,
                keyframes[segment],
                keyframes[segment + 1],
                chosen,
                derive_seed(request.seed, "clip", segment),
            )
    print(clips.line(f"clip ({request.frames_per_clip} frames)"))
    frames = request.frames_per_clip
    print(
        f"clip frame rate              {frames / statistics.mean(clips.wall):6.1f} frames/s wall, "
        f"{frames / statistics.mean(clips.cpu):6.1f} frames/s per CPU second (encoder runs in its own process)"
    )
    whole = sum(refs.wall) + sum(kfs.wall) + statistics.mean(clips.wall) * request.segments
    cpu = sum(refs.cpu) + sum(kfs.cpu) + (statistics.mean(clips.cpu) + statistics.mean(clips.child)) * request.segments
    print(f"CPU seconds for the whole film's pictures (drawing + encoding, any load): {cpu:5.1f} s")
    print(
        f"estimated whole film, one thread: {whole:5.1f} s  ({request.segments} clips, {len(plan.subjects)} "
        f"subjects, {len(plan.keyframes)} keyframes at {args.width}x{args.height}); "
        f"this run took {time.perf_counter() - started:5.1f} s"
    )


if __name__ == "__main__":
    main()
