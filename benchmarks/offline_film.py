"""Time the offline film end to end on this machine, idea to MP4, and print seconds per stage.

    python benchmarks/offline_film.py [--segments 10] [--idea "..."]

Runs make-film with the embedded defaults (offline writer, animatic renderer, local storage)
and auto-picks, in a fresh temporary folder (so nothing is reused from an earlier run), then
reads the task runs back from Prefect to report each stage's wall time.
"""

from __future__ import annotations

import argparse
import inspect
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

#: Task run name prefixes (see the task_run_name of each task) -> stage.
STAGES = {
    "write-script": "writing", "describe-characters": "writing", "describe-environment": "writing",
    "write-keyframe-prompts": "writing", "check-plan": "writing",
    "references-": "references", "keyframe-": "keyframes", "clip-": "clips", "assemble-film": "assembly",
}


def stage_of(run_name: str) -> str | None:
    return next((stage for prefix, stage in STAGES.items() if run_name.startswith(prefix)), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idea", default="a stranded astronaut on the moon walks around and discovers nature")
    parser.add_argument("--segments", type=int, default=10)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="filmstitch-bench-") as tmp:
        os.environ["FILMSTITCH_STORAGE_DIR"] = str(Path(tmp) / "films")
        os.environ["PREFECT_LOCAL_STORAGE_PATH"] = str(Path(tmp) / "results")
        started = time.perf_counter()
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
        from prefect.client.schemas.sorting import TaskRunSort

        from filmstitch.flows.make_film import make_film

        imported = time.perf_counter()
        # The flow takes one FilmRequest (older flows took its fields as parameters).
        if "request" in inspect.signature(make_film.fn).parameters:
            from filmstitch.models import FilmRequest

            parameters = {"request": FilmRequest(idea=args.idea, segments=args.segments)}
        else:
            parameters = {"idea": args.idea, "segments": args.segments}
        state = make_film(**parameters, auto_pick=True, return_state=True)
        finished = time.perf_counter()
        result = state.result()
        with get_client(sync_client=True) as client:
            task_runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])),
                sort=TaskRunSort.EXPECTED_START_TIME_ASC,
                limit=200,
            )
        spans: dict[str, list] = defaultdict(list)
        for run in task_runs:
            stage = stage_of(run.name)
            if stage and run.start_time and run.end_time:
                spans[stage].append((run.start_time, run.end_time))

    print(f"film: {result.duration_s:.1f} s of video, {args.segments} segments, '{result.title}'")
    print(f"{'stage':<12}{'tasks':>6}{'wall s':>9}")
    for stage in ("writing", "references", "keyframes", "clips", "assembly"):
        runs = spans.get(stage, [])
        wall = (max(e for _, e in runs) - min(s for s, _ in runs)).total_seconds() if runs else 0.0
        print(f"{stage:<12}{len(runs):>6}{wall:>9.2f}")
    print(f"{'imports':<18}{imported - started:>9.2f}")
    print(f"{'flow (incl. Prefect server start)':<34}{finished - imported:>9.2f}")
    print(f"{'total':<18}{finished - started:>9.2f}")


if __name__ == "__main__":
    main()
