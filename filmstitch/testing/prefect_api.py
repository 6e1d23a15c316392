"""Reading a Prefect server over REST, and flushing what Prefect still queues in this process."""

from __future__ import annotations

import httpx


def find_run(api_url: str, run_name: str) -> dict | None:
    """The flow run named `run_name` as the server's JSON, or None."""
    runs = httpx.post(f"{api_url}/flow_runs/filter", json={"flow_runs": {"name": {"any_": [run_name]}}}).json()
    return runs[0] if runs else None


def drain_prefect_services(timeout: float = 30) -> None:
    """Send the logs and events Prefect still queues in this process, while the server is up.

    Otherwise they are sent at interpreter exit, after the test server stopped, and the exit waits
    a minute or more on connection retries.
    """
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for service in (APILogWorker, EventsWorker):
        service.drain_all(timeout=timeout)


def state_history(api_url: str, run_id: str) -> list[tuple[str, str]]:
    """Every state the run passed through, oldest first, as (type, name): what the server recorded."""
    states = httpx.get(f"{api_url}/flow_run_states/", params={"flow_run_id": run_id}, timeout=30).json()
    return [(s["type"], s["name"]) for s in sorted(states, key=lambda s: s["timestamp"])]
