"""A real Prefect server (SQLite) for the tests, and helpers to drive paused runs over REST."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect.settings import PREFECT_API_URL, PREFECT_HOME, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

from filmstitch.app.client import RETRY_STATUSES
from filmstitch.app.prefect_server import start_server, stop_process_group
from filmstitch.testing.prefect_api import drain_prefect_services, find_run


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start `prefect server start` once for the session; yield its API URL."""
    home = tmp_path_factory.mktemp("prefect-home")
    process, api_url = start_server(home=home, log_path=home / "server.log", timeout_s=180)
    try:
        yield api_url
    finally:
        drain_prefect_services()
        stop_process_group(process)


@pytest.fixture
def prefect_client_settings(prefect_api: str, tmp_path: Path) -> Iterator[str]:
    """Point this test's flows at the server, with results persisted under the test's folder."""
    with temporary_settings(
        updates={PREFECT_API_URL: prefect_api, PREFECT_HOME: tmp_path / "home",
                 PREFECT_LOCAL_STORAGE_PATH: tmp_path / "results"}
    ):
        yield prefect_api


class FlowThread:
    """Runs a flow call in a thread (with the test's Prefect settings) and keeps its outcome."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                self.outcome["result"] = call()
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                self.outcome["error"] = exc

        self.thread = threading.Thread(target=contextvars.copy_context().run, args=(run,), daemon=True)
        self.thread.start()

    def result(self, timeout: float = 300) -> Any:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the flow did not finish in time"
        if "error" in self.outcome:
            raise self.outcome["error"]
        return self.outcome["result"]


def wait_for_pause(api_url: str, run_name: str, seen: set[str], flow: FlowThread, timeout: float = 240) -> dict:
    """Wait until the run is paused at a checkpoint not seen before; return the run JSON."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert flow.thread.is_alive() or "error" not in flow.outcome, f"flow failed: {flow.outcome.get('error')!r}"
        run = find_run(api_url, run_name)
        state = (run or {}).get("state") or {}
        keyset = (state.get("state_details") or {}).get("run_input_keyset")
        if state.get("type") == "PAUSED" and keyset and keyset["schema"] not in seen and form_is_written(
                api_url, run["id"], keyset):
            seen.add(keyset["schema"])
            return run
        time.sleep(0.5)
    raise AssertionError(f"run {run_name} never paused")


def form_is_written(api_url: str, run_id: str, keyset: dict) -> bool:
    """Prefect sets the Paused state first and writes its form after it (schema, then description): an answer
    sent in between is refused ("Run input schema not found"). The question is open once the description is
    there."""
    return all(httpx.get(f"{api_url}/flow_runs/{run_id}/input/{keyset[part]}", timeout=30).status_code == 200
               for part in ("schema", "description"))


def resume(api_url: str, run_id: str, run_input: dict) -> dict:
    """The server's answer to a resume (ACCEPT or REJECT). A busy SQLite answers 503 under load (one CI run
    failed so); like FilmStitchClient and Prefect's own client, such answers are retried."""
    for attempt in range(6):
        response = httpx.post(f"{api_url}/flow_runs/{run_id}/resume", json={"run_input": run_input}, timeout=30)
        if response.status_code not in RETRY_STATUSES:
            break
        time.sleep(0.25 * 2**attempt)
    body = response.json()
    assert "status" in body, f"resume answered {response.status_code}: {body}"
    return body


def read_input(api_url: str, run_id: str, key: str) -> Any:
    response = httpx.get(f"{api_url}/flow_runs/{run_id}/input/{key}", timeout=30)
    response.raise_for_status()
    return response.json()


def past_the_script(films: Any, run_id: str, timeout_s: float = 300) -> Any:
    """Keep the script as written at the script checkpoint (every page: the first answer keeps the rest) and
    return the checkpoint that follows it (a `FilmStitchClient.Checkpoint`): for tests about the picture
    checkpoints."""
    checkpoint = films.wait_for_checkpoint(run_id, timeout_s=timeout_s)
    while checkpoint.script is not None:
        assert films.change_script(run_id, accept_rest=True if checkpoint.more_follow else None).accepted
        checkpoint = films.wait_for_checkpoint(run_id, after=checkpoint, timeout_s=timeout_s)
    return checkpoint
