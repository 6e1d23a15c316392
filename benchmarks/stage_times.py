"""When each stage of a make-film run ran, read back from the run's task runs in Prefect (for the film
benchmarks: offline_film.py, long_film.py)."""

from __future__ import annotations

import collections

#: Task run name prefixes (the task_run_name of each task) -> stage.
STAGES = {
    "write-script": "writing", "describe-characters": "writing", "describe-locations": "writing",
    "write-keyframe-prompts": "writing", "check-plan": "writing",
    "cast-voices": "speech", "speech-": "speech", "ambience-": "ambience", "mix-sound": "mix",
    "references-": "references", "keyframe-": "keyframes", "clip-": "clips", "check-seams": "seam QC",
    "assemble-film": "assembly",
}
ORDER = ("writing", "speech", "ambience", "references", "keyframes", "clips", "seam QC", "mix", "assembly")


def stage_of(run_name: str) -> str | None:
    return next((stage for prefix, stage in STAGES.items() if run_name.startswith(prefix)), None)


def stage_times(flow_run_id: object) -> dict[str, tuple[int, float, float]]:
    """stage -> (tasks, first start, last end), in seconds from the run's first task start. Stages overlap:
    speech and ambience are made while the pictures are drawn."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    runs: list = []
    with get_client(sync_client=True) as client:
        while page := client.read_task_runs(  # the server answers at most 200 at a time
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                sort=TaskRunSort.EXPECTED_START_TIME_ASC, limit=200, offset=len(runs)):
            runs += page
    spans: dict[str, list] = collections.defaultdict(list)
    for run in runs:
        stage = stage_of(run.name)
        if stage and run.start_time and run.end_time:
            spans[stage].append((run.start_time, run.end_time))
    origin = min(start for items in spans.values() for start, _ in items)
    return {stage: (len(items), (min(s for s, _ in items) - origin).total_seconds(),
                    (max(e for _, e in items) - origin).total_seconds()) for stage, items in spans.items()}
