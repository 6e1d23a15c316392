"""Serve FilmStitch's deployments, as declared in `prefect.yaml`, from one local process.

Why `serve` and not a work pool + worker for local use: one process registers the deployments and
executes their runs (each run in its own subprocess), with no pull step, no pool to create first and
nothing to keep in step between two commands. The flows are loaded by module path from the installed
package, so it does not matter which directory the command starts in. The work pool in `prefect.yaml`
is for a shared server with workers elsewhere (`prefect deploy --all` + `prefect worker start`).

`prefect.yaml` stays the one declaration of both deployments: this module reads names, entrypoints,
descriptions, tags, parameters, schedules and the work pool from it, so the ways never disagree.

    python -m deployments.serve                  # serve both, against PREFECT_API_URL (`filmstitch server` does this)
    python -m deployments.serve --register-only  # register both on the prefect.yaml work pool, for
                                                 # `prefect worker start --pool filmstitch` (see below)

`--register-only` exists because `prefect deploy --all` of Prefect 3.8.8 stops after the first deployment
of a work pool with `422 ... workers/filter ... limit: Input should be a valid integer` (its client
sends `limit: null`); registering through the Python API does not touch that endpoint.
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

from tasks.common import GPU_LIMIT

PREFECT_YAML = Path(__file__).resolve().parent.parent / "prefect.yaml"
DEFAULT_GPU_SLOTS = 2


def deployment_specs(path: Path = PREFECT_YAML) -> list[dict[str, Any]]:
    """The `deployments:` entries of prefect.yaml."""
    specs = yaml.safe_load(path.read_text())["deployments"]
    for spec in specs:
        missing = {"name", "entrypoint"} - set(spec)
        if missing:
            raise ValueError(f"{path}: a deployment lacks {sorted(missing)}")
    return specs


def import_flow(entrypoint: str) -> Flow:
    """`flows/make_film.py:make_film` -> the flow object, imported as a module (not from the file)."""
    file, _, name = entrypoint.partition(":")
    module = importlib.import_module(file.removesuffix(".py").replace("/", "."))
    flow = getattr(module, name, None)
    if not isinstance(flow, Flow):
        raise ValueError(f"{entrypoint} is not a Prefect flow")
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
            )
        )
    return deployments


def register(path: Path = PREFECT_YAML, suffix: str = "", gpu_slots: int | None = None) -> list[str]:
    """Create the process work pool(s) if missing and register every deployment on them. Returns their ids."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    ensure_gpu_limit(gpu_slots)
    with get_client(sync_client=True) as client:
        for pool in {spec["work_pool"]["name"] for spec in deployment_specs(path)}:
            try:
                client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
            except ObjectAlreadyExists:
                pass
    return [str(deployment.apply()) for deployment in runner_deployments(path, work_pool=True, suffix=suffix)]


def ensure_gpu_limit(slots: int | None = None) -> int:
    """Create the `filmstitch-gpu` global concurrency limit. An existing one keeps its size (it may have
    been changed in the UI) unless `slots` is given. Returns the limit in force."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        if slots is not None:
            client.upsert_global_concurrency_limit_by_name(GPU_LIMIT, slots)
            return slots
        try:
            return client.read_global_concurrency_limit_by_name(GPU_LIMIT).limit
        except ObjectNotFound:
            client.upsert_global_concurrency_limit_by_name(GPU_LIMIT, DEFAULT_GPU_SLOTS)
            return DEFAULT_GPU_SLOTS


def serve(limit: int | None = None, gpu_slots: int | None = None, path: Path = PREFECT_YAML) -> None:
    """Register every deployment and execute their runs until interrupted (at most `limit` at once)."""
    from prefect import serve as prefect_serve

    ensure_gpu_limit(gpu_slots)
    prefect_serve(*runner_deployments(path), limit=limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="Runs executed at the same time (default: no limit).")
    parser.add_argument("--gpu-slots", type=int, default=None, help=f"Size of the {GPU_LIMIT} concurrency limit.")
    parser.add_argument("--register-only", action="store_true", help="Register on the work pool and exit.")
    args = parser.parse_args()
    if args.register_only:
        for deployment_id in register(gpu_slots=args.gpu_slots):
            print(f"registered deployment {deployment_id}")
        return
    serve(limit=args.limit, gpu_slots=args.gpu_slots)


if __name__ == "__main__":
    main()
