"""Serve FilmStitch's deployments, as declared in `prefect.yaml`, from one local process.

Why `serve` and not a work pool + worker for local use: one process registers the deployments and
executes their runs (each run in its own subprocess), with no pull step, no pool to create first and
nothing to keep in step between two commands. The flows are loaded by module path from the installed
package, so it does not matter which directory the command starts in. The work pool in `prefect.yaml`
is for a shared server with workers elsewhere (`prefect deploy --all` + `prefect worker start`, or
`filmstitch server --pool`).

`prefect.yaml` stays the one declaration of every deployment, and every key of a deployment means here what
it means to `prefect deploy --all` (docs/deployments.md has the table): name, entrypoint, description, tags,
version, version_type, parameters, enforce_parameter_schema, paused, concurrency_limit (a number or
limit / collision_strategy / grace_period_seconds), schedules (cron, interval, rrule), triggers (Prefect
automations that run the deployment; see `film-notice`), and, on a work pool, work_pool (name,
work_queue_name, job_variables) and pull steps. A key that a way of running cannot honour is refused with
one line before anything is registered, never dropped: build and push steps (none of these deployments
builds anything), SLAs (Prefect Cloud only), a singular `schedule:` (prefect deploy ignores it), and, when `filmstitch
server` executes the runs itself,
job_variables and pull steps (they are instructions to a worker; `filmstitch server --pool` hands the runs to
workers and honours them).

    python -m filmstitch.deployments.serve                  # serve them all, against PREFECT_API_URL
                                                            # (`filmstitch server`)
    python -m filmstitch.deployments.serve --register-only  # register them on the prefect.yaml work pool, for
                                                 # `prefect worker start --pool filmstitch` (see below)

`prefect deploy --all` (Prefect's own CLI) registers them as well, from the same file.

A work pool's process worker runs each flow in a temporary directory that it deletes afterwards, so every
deployment registered here on a pool carries the directory it was registered from as its `working_dir`
(unless prefect.yaml gives job_variables.working_dir or pull steps): relative settings (the films folder,
`.env`, `ideas.txt`) mean the same there as here, as Prefect's default pull step does for `prefect deploy`.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
from pathlib import Path
from typing import Any

import yaml
from prefect import Flow
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import Schedule

PREFECT_YAML = Path(__file__).resolve().parent.parent / "prefect.yaml"

#: The keys of a prefect.yaml deployment Prefect 3.8.8's `prefect deploy` reads (prefect/cli/deploy/_models.py).
DEPLOYMENT_KEYS = {
    "name", "entrypoint", "flow_name", "description", "tags", "version", "version_type", "parameters",
    "enforce_parameter_schema", "paused", "concurrency_limit", "schedule", "schedules", "triggers",
    "work_pool", "build", "push", "pull", "sla",
}
WORK_POOL_KEYS = {"name", "work_queue_name", "job_variables"}
SCHEDULE_KEYS = {"cron", "interval", "rrule", "timezone", "anchor_date", "day_or", "active", "parameters", "slug"}
#: Top-level keys of prefect.yaml: steps that apply to every deployment, and metadata.
TOP_KEYS = {"name", "prefect-version", "build", "push", "pull", "deployments", "definitions"}


class PrefectYamlError(ValueError):
    """A prefect.yaml key this way of running cannot honour; the message is one line that names it."""


def load_prefect_yaml(path: Path = PREFECT_YAML) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text()) or {}
    unknown = set(document) - TOP_KEYS
    if unknown:
        raise PrefectYamlError(f"{path.name}: unknown top-level key(s) {sorted(unknown)}: prefect deploy ignores "
                               f"them, FilmStitch refuses them")
    return document


def deployment_specs(path: Path = PREFECT_YAML) -> list[dict[str, Any]]:
    """The `deployments:` entries of prefect.yaml, each with the file's top-level pull steps (if it has none of
    its own, as `prefect deploy` does). Unknown keys and build/push steps are refused here, for every way."""
    document = load_prefect_yaml(path)
    for step in ("build", "push"):
        if document.get(step):
            raise PrefectYamlError(f"{path.name}: top-level `{step}` steps are not run by FilmStitch (workers import "
                                   f"the installed package): remove them")
    specs = document.get("deployments") or []
    for spec in specs:
        missing = {"name", "entrypoint"} - set(spec)
        if missing:
            raise PrefectYamlError(f"{path.name}: a deployment lacks {sorted(missing)}")
        where = f"{path.name}: deployment {spec['name']}"
        unknown = set(spec) - DEPLOYMENT_KEYS
        unknown |= {f"work_pool.{key}" for key in set(spec.get("work_pool") or {}) - WORK_POOL_KEYS}
        if unknown:
            raise PrefectYamlError(f"{where}: unknown key(s) {sorted(unknown)}: prefect deploy would ignore them, "
                                   f"FilmStitch refuses them")
        for key in ("build", "push"):
            if spec.get(key):
                raise PrefectYamlError(f"{where}: `{key}` steps are not run by FilmStitch (workers import the "
                                       f"installed package): remove them")
        if "schedule" in spec:  # prefect deploy reads only `schedules` (prefect/cli/deploy/_schedules.py)
            raise PrefectYamlError(f"{where}: `schedule:` is ignored by prefect deploy: write it as a list under "
                                   f"`schedules:`")
        if spec.get("sla"):
            raise PrefectYamlError(f"{where}: `sla` needs Prefect Cloud; a self-hosted Prefect server has no SLAs")
        if "pull" not in spec and document.get("pull"):
            spec["pull"] = document["pull"]
    return specs


def import_flow(entrypoint: str) -> Flow:
    """`flows/make_film.py:make_film` -> the flow object, imported as `filmstitch.flows.make_film` (not from the
    file: the folders at the top of the repository are filmstitch's subpackages)."""
    file, _, name = entrypoint.partition(":")
    module = importlib.import_module("filmstitch." + file.removesuffix(".py").replace("/", "."))
    flow = getattr(module, name, None)
    if not isinstance(flow, Flow):
        raise TypeError(f"{entrypoint} is not a Prefect flow")
    return flow


def schedules(spec: dict[str, Any], switched: dict[str, bool] | None = None) -> list[Schedule]:
    """prefect.yaml's `schedules` (cron, interval in seconds, rrule), as `prefect deploy` reads them. `active` comes
    from prefect.yaml the first time; after that a switch flipped in the UI (passed in `switched`, by slug) is
    kept, so a restart does not undo it."""
    result = []
    for entry in spec.get("schedules") or []:
        unknown = set(entry) - SCHEDULE_KEYS
        if unknown or not {"cron", "interval", "rrule"} & set(entry):
            raise PrefectYamlError(f"deployment {spec['name']}: a schedule needs one of cron, interval, rrule and "
                                   f"only {sorted(SCHEDULE_KEYS)}; got {sorted(entry)}")
        fields = dict(entry)
        if isinstance(fields.get("interval"), int | float):
            fields["interval"] = datetime.timedelta(seconds=fields["interval"])
        if isinstance(fields.get("anchor_date"), str):
            fields["anchor_date"] = datetime.datetime.fromisoformat(fields["anchor_date"])
        fields["active"] = (switched or {}).get(entry.get("slug"), entry.get("active", True))
        fields["parameters"] = entry.get("parameters") or {}
        result.append(Schedule(**fields))
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


def concurrency_limit(spec: dict[str, Any]) -> Any:
    """`concurrency_limit: 4` or `{limit, collision_strategy, grace_period_seconds}`, as `prefect deploy` reads it."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig

    value = spec.get("concurrency_limit")
    return ConcurrencyLimitConfig(**value) if isinstance(value, dict) else value


def triggers(spec: dict[str, Any]) -> list[Any]:
    """The deployment's `triggers` as the automations `prefect deploy` makes of them (each runs the deployment
    when its events happen; named `<deployment>__automation_<n>` unless named)."""
    from prefect.events import DeploymentTriggerTypes
    from pydantic import TypeAdapter

    adapter = TypeAdapter(DeploymentTriggerTypes)
    return [adapter.validate_python({"name": f"{spec['name']}__automation_{i}", **entry})
            for i, entry in enumerate(spec.get("triggers") or [], start=1)]


class PullSteps:
    """prefect.yaml's pull steps as a RunnerDeployment's storage, the way `prefect deploy` passes them (its own
    shim is private): the worker runs them before the flow; nothing is pulled here."""

    def __init__(self, steps: list[dict[str, Any]]) -> None:
        self.pull_steps = steps
        self._base_path = Path.cwd()

    def set_base_path(self, path: Path) -> None:
        self._base_path = path

    @property
    def destination(self) -> Path:
        return self._base_path

    @property
    def pull_interval(self) -> int:
        return 60

    async def pull_code(self) -> None:
        return None

    def to_pull_step(self) -> list[dict[str, Any]]:
        return self.pull_steps


def runner_deployments(
    path: Path = PREFECT_YAML, work_pool: bool = False, suffix: str = "", read_switches: bool = True
) -> list[RunnerDeployment]:
    """One RunnerDeployment per prefect.yaml deployment (named `name + suffix`), served by this process or,
    with `work_pool`, on the work pool prefect.yaml names. Parameter descriptions come from the docstrings.
    Refuses (PrefectYamlError, one line) what the chosen way cannot honour. `read_switches=False` does not ask
    the server for schedules switched in the UI (a check before the server is up)."""
    deployments = []
    for spec in deployment_specs(path):
        flow = import_flow(spec["entrypoint"])
        where = f"{path.name}: deployment {spec['name']}"
        if spec.get("flow_name", flow.name) != flow.name:
            raise PrefectYamlError(
                f"{where}: flow_name {spec['flow_name']!r} is not the entrypoint's flow ({flow.name})")
        pool = spec.get("work_pool") or {}
        job_variables = dict(pool.get("job_variables") or {})
        pull = spec.get("pull")
        if not work_pool and (job_variables or pull):
            key = "work_pool.job_variables" if job_variables else "pull"
            raise PrefectYamlError(f"{where}: `{key}` is for a worker, and `filmstitch server` runs this flow "
                                   f"itself: use `filmstitch server --pool` with workers, or remove it")
        if work_pool and not pool.get("name"):
            raise PrefectYamlError(f"{where}: no work_pool.name to register it on")
        if work_pool and not pull:
            job_variables.setdefault("working_dir", str(Path.cwd()))
        name = spec["name"] + suffix
        deployment = flow.to_deployment(
            name=name,
            description=spec.get("description"),
            tags=spec.get("tags"),
            version=spec.get("version"),
            version_type=spec.get("version_type"),
            parameters=spec.get("parameters") or {},
            enforce_parameter_schema=spec.get("enforce_parameter_schema", True),
            paused=spec.get("paused"),
            concurrency_limit=concurrency_limit(spec),
            schedules=schedules(spec, switched_schedules(flow.name, name)
                                if read_switches and spec.get("schedules") else None),
            triggers=triggers(spec),
            entrypoint_type=EntrypointType.MODULE_PATH,
            work_pool_name=pool.get("name") if work_pool else None,
            work_queue_name=pool.get("work_queue_name") if work_pool else None,
            job_variables=job_variables or None,
        )
        if work_pool and pull:
            deployment.storage = PullSteps(pull)
        deployments.append(deployment)
    return deployments


def register(path: Path = PREFECT_YAML, suffix: str = "") -> list[str]:
    """Create the process work pool(s) if missing and register every deployment on them. Returns their ids."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    deployments = runner_deployments(path, work_pool=True, suffix=suffix)  # refused keys: before anything is made
    with get_client(sync_client=True) as client:
        for pool in {deployment.work_pool_name for deployment in deployments}:
            try:
                client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
            except ObjectAlreadyExists:
                pass
    return [str(deployment.apply()) for deployment in deployments]


def crash_orphaned_runs(path: Path = PREFECT_YAML) -> int:
    """Mark the runs of our deployments that a previous, killed `filmstitch server` left running, pending or
    paused (not suspended) as Crashed: nothing runs them any more (their process died with that server), and a server
    that adopted them silently would show them running for ever. Their films resume from storage when run again.
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
        # A suspended run (a film waiting for a person, filmstitch.flows.asking) has no process to lose: it stays.
        runs = [run for run in runs if not (run.state and run.state.state_details.pause_reschedule)]
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
        url = os.environ.get("FILMSTITCH_NOTIFY_WEBHOOK_URL")
        if url:  # the notification block the film-notice automations send through
            from filmstitch.flows.notices import save_webhook_block

            print(f"saved the notification block {save_webhook_block(url)}")
        for deployment_id in register():
            print(f"registered deployment {deployment_id}")
        return
    serve(limit=args.limit)


if __name__ == "__main__":
    main()
