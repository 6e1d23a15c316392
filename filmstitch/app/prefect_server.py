"""Start and find a local Prefect server (SQLite), for the CLI and the tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def is_healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to send SIGTERM when the process that started it dies (even by
    SIGKILL), so a killed `filmstitch server` never leaves its Prefect server serving on its own."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except OSError:  # not Linux: the server outlives a SIGKILLed parent, as any child process would
        pass
    os.setsid()  # its own process group, so stop_server can stop it and all its children


def start_server(
    port: int | None = None, home: Path | None = None, log_path: Path | None = None, timeout_s: float = 120,
    watch_parent: bool = True,
) -> tuple[subprocess.Popen, str]:
    """Start `prefect server start` on 127.0.0.1 and wait until it answers. Returns (process, API URL).
    With `watch_parent` the server stops when this process dies, however it dies."""
    port = port or free_port()
    env = os.environ.copy()
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.pop("PREFECT_API_URL", None)
    api_url = f"http://127.0.0.1:{port}/api"
    # The UI's pages call the API at this URL; by default it is built from PREFECT_SERVER_API_PORT
    # (4200), not from --port, so on any other port the UI would show "Can't connect to Server API".
    env.setdefault("PREFECT_UI_API_URL", api_url)
    env.setdefault("PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT", "false")
    if home:
        env["PREFECT_HOME"] = str(home)
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL
    process = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
        **({"preexec_fn": _die_with_parent} if watch_parent else {"start_new_session": True}),
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Prefect server exited with code {process.returncode} while starting")
        if is_healthy(api_url):
            return process, api_url
        time.sleep(0.5)
    process.terminate()
    raise RuntimeError(f"the Prefect server did not answer on {api_url} within {timeout_s:.0f} s")


def stop_server(process: subprocess.Popen, grace_s: float = 15) -> None:
    """Stop the server and everything it started (it runs in its own process group)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; make sure no child of it keeps serving.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        return
