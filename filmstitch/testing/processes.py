"""Small helpers for the local servers the tests and benchmarks start (RGW, s3rver), and which processes run a
flow run: Prefect's runners and workers start each run in a process whose environment names the run
(PREFECT__FLOW_RUN_ID), read from /proc (Linux, like the rest of the test machines)."""

from __future__ import annotations

import ctypes
import signal
from pathlib import Path


def die_with_parent() -> None:
    """Runs in the child before exec: the kernel sends it SIGTERM when the process that started it dies."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


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
