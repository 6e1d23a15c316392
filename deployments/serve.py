"""Serve FilmStitch's deployments, as declared in `prefect.yaml`, from one local process.

Why `serve` and not a work pool + worker for local use: one process registers the deployments and
executes their runs (each run in its own subprocess), with no pull step, no pool to create first and
nothing to keep in step between two commands. The flows are loaded by module path from the installed
package, so it does not matter which directory the command starts in. The work pool in `prefect.yaml`
is for a shared server with workers elsewhere (`prefect deploy --all` + `prefect worker start`).

`prefect.yaml` stays the one declaration of every deployment: this module reads names, entrypoints,
descriptions, tags, parameters, schedules and the work pool from it, so the ways never disagree.

    python -m filmstitch.deployments.serve                  # serve them all, against PREFECT_API_URL
                                                            # (`filmstitch server`)
    python -m filmstitch.deployments.serve --register-only  # register them on the prefect.yaml work pool, for
                                                 # `prefect worker start --pool filmstitch` (see below)

`prefect deploy --all` (Prefect's own CLI) registers them as well, from the same file.

A work pool's process worker runs each flow in a temporary directory that it deletes afterwards, so every
deployment registered here carries the directory it was registered from as its `working_dir`: relative
settings (the films folder, `.env`, `ideas.txt`) mean the same there as here.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import Any

import yaml
from prefect import Flow
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import Cron, Schedule

PREFECT_YAML = Path(__file__).resolve().parent.parent / "prefect.yaml"


def deployment_specs(path: Path = PREFECT_YAML) -> list[dict[str, Any]]:
    """The `deployments:` entries of prefect.yaml."""
    specs = yaml.safe_load(path.read_text())["deployments"]
    for spec in specs:
        missing = {"name", "entrypoint"} - set(spec)
        if missing:
            raise ValueError(f"{path}: a deployment lacks {sorted(missing)}")
    return specs


def import_flow(entrypoint: str) -> Flow:
    """`flows/make_film.py:make_film` -> the flow object, imported as `filmstitch.flows.make_film` (not from the
    file: the folders at the top of the repository are filmstitch's subpackages)."""
    file, _, name = entrypoint.partition(":")
    module = importlib.import_module("filmstitch." + file.removesuffix(".py").replace("/", "."))
    flow = getattr(module, name, None)
    if not isinstance(flow, Flow):
        raise ValueError(f"{entrypoint} is not a Prefect flow")  # noqa: TRY004 - bad input, reported as such
    return flow


def schedules(spec: dict[str, Any], switched: dict[str, bool] | None = None) -> list[Schedule]:
    """prefect.yaml's cron schedules. `active` comes from prefect.yaml the first time; after that a switch
    flipped in the UI (passed in `switched`, by slug) is kept, so a restart does not undo it."""
    result = []
    for entry in spec.get("schedules") or []:
        if "cron" not in entry:
            raise ValueError(f"deployment {spec['name']}: only cron schedules are supported here, got {entry}")
        active = (switched or {}).get(entry.get("slug"), entry.get("active", True))
        result.append(
            Cron(entry["cron"], timezone=entry.get("timezone"), active=active,
                 parameters=entry.get("parameters") or {}, slug=entry.get("slug"))
        )
    return result


def switched_schedules(flow_name: str, deployment_name: str) -> dict[str, bool]:
    """Slug -> active of the deployment's schedules as the server has them now (empty if it has none)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(f"{flow_name}/{deployment_name}")
        except ObjectNotFound:
            return {}
    return {s.slug: s.active for s in deployment.schedules if s.slug}


def runner_deployments(path: Path = PREFECT_YAML, work_pool: bool = False, suffix: str = "") -> list[RunnerDeployment]:
    """One RunnerDeployment per prefect.yaml deployment (named `name + suffix`), served by this process or,
    with `work_pool`, on the work pool prefect.yaml names. Parameter descriptions come from the docstrings."""
    deployments = []
    for spec in deployment_specs(path):
        flow = import_flow(spec["entrypoint"])
        name = spec["name"] + suffix
        deployments.append(
            flow.to_deployment(
                name=name,
                description=spec.get("description"),
                tags=spec.get("tags"),
                parameters=spec.get("parameters") or {},
                schedules=schedules(spec, switched_schedules(flow.name, name) if spec.get("schedules") else None),
                entrypoint_type=EntrypointType.MODULE_PATH,
                work_pool_name=spec["work_pool"]["name"] if work_pool else None,
                work_queue_name=spec["work_pool"].get("work_queue_name") if work_pool else None,
                job_variables={"working_dir": str(Path.cwd())} if work_pool else None,
            )
        )
    return deployments


def register(path: Path = PREFECT_YAML, suffix: str = "") -> list[str]:
    """Create the process work pool(s) if missing and register every deployment on them. Returns their ids."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client:
        for pool in {spec["work_pool"]["name"] for spec in deployment_specs(path)}:
            try:
                client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
            except ObjectAlreadyExists:
                pass
    return [str(deployment.apply()) for deployment in runner_deployments(path, work_pool=True, suffix=suffix)]


def crash_orphaned_runs(path: Path = PREFECT_YAML) -> int:
    """Mark the runs of our deployments that a previous, killed `filmstitch server` left running, pending or
    paused as Crashed: nothing runs them any more (their process died with that server), and a server that
    adopted them silently would show them running for ever. Their films resume from storage when run again.
    Only called when this process started the Prefect server itself. Returns how many were marked."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    names = [spec["name"] for spec in deployment_specs(path)]
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(
                any_=[StateType.RUNNING, StateType.PENDING, StateType.PAUSED]))),
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=names)),
            limit=200,
        )
        for run in runs:
            client.set_flow_run_state(run.id, Crashed(
                message="The filmstitch server that ran this film stopped. Run the film again: finished work is "
                "reused."), force=True)
    return len(runs)


def serve(limit: int | None = None, path: Path = PREFECT_YAML) -> None:
    """Register every deployment and execute their runs until interrupted (at most `limit` at once)."""
    from prefect import serve as prefect_serve

    prefect_serve(*runner_deployments(path), limit=limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="Runs executed at the same time (default: no limit).")
    parser.add_argument("--register-only", action="store_true", help="Register on the work pool and exit.")
    args = parser.parse_args()
    if args.register_only:
        for deployment_id in register():
            print(f"registered deployment {deployment_id}")
        return
    serve(limit=args.limit)


if __name__ == "__main__":
    main()
