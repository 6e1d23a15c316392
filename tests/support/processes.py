"""Which processes run a flow run: Prefect's runners and workers start each run in a process whose environment
names the run (PREFECT__FLOW_RUN_ID). Read from /proc (Linux, like the rest of the test machines)."""

from __future__ import annotations

import time
from pathlib import Path


def flow_run_processes(run_id: str) -> list[int]:
    """The ids of the live processes that run flow run `run_id`."""
    wanted = f"PREFECT__FLOW_RUN_ID={run_id}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if wanted in environ and state != "Z":
            found.append(int(proc.name))
    return found


def wait_until_gone(run_id: str, timeout_s: float = 60) -> None:
    """Wait until no process runs the flow run (a suspended run's process exits)."""
    deadline = time.monotonic() + timeout_s
    while pids := flow_run_processes(run_id):
        assert time.monotonic() < deadline, f"flow run {run_id} still has processes {pids}"
        time.sleep(0.5)
