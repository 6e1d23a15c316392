"""Which processes run a flow run: Prefect's runners and workers start each run in a process whose environment
names the run (PREFECT__FLOW_RUN_ID). Read from /proc (Linux, like the rest of the test machines)."""

from __future__ import annotations

import time

from filmstitch.testing.processes import flow_run_processes


def wait_until_gone(run_id: str, timeout_s: float = 60) -> None:
    """Wait until no process runs the flow run (a suspended run's process exits)."""
    deadline = time.monotonic() + timeout_s
    while pids := flow_run_processes(run_id):
        assert time.monotonic() < deadline, f"flow run {run_id} still has processes {pids}"
        time.sleep(0.5)
