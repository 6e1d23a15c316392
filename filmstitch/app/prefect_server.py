"""Start and find a local Prefect server, for the CLI and the tests: SQLite under its home by default, or
PostgreSQL when given a database URL (docs/deployments.md, "PostgreSQL")."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
from filelock import FileLock


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def is_healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


DATABASE_SCHEMES = {"postgresql+asyncpg": "postgresql+asyncpg", "postgresql": "postgresql+asyncpg",
                    "postgres": "postgresql+asyncpg", "sqlite+aiosqlite": "sqlite+aiosqlite"}


def database_url(url: str) -> str:
    """The SQLAlchemy URL Prefect's server takes (PREFECT_API_DATABASE_CONNECTION_URL): `postgresql://...` as
    psql and most hosts write it becomes `postgresql+asyncpg://...` (asyncpg comes with Prefect). Anything
    else is refused with one line that never shows the password."""
    parts = urlsplit(url.strip())
    scheme = DATABASE_SCHEMES.get(parts.scheme)
    if scheme is None or (scheme.startswith("postgresql") and not parts.hostname and "host=" not in parts.query):
        raise ValueError(f"the database URL must look like postgresql://USER:PASSWORD@HOST:PORT/DATABASE "
                         f"(got a {parts.scheme or 'scheme-less'} URL)")
    return urlunsplit(parts._replace(scheme=scheme))


def describe_database(url: str | None) -> str:
    """Where the database is, for messages: never the password."""
    if not url:
        return "SQLite"
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        return f"SQLite at {parts.path}"
    port = f":{parts.port}" if parts.port else ""
    return f"PostgreSQL at {parts.hostname or '(socket)'}{port}{parts.path}"


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to send SIGTERM when the process that started it dies (even by
    SIGKILL), so a killed `filmstitch server` never leaves its Prefect server serving on its own."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except OSError:  # not Linux: the server outlives a SIGKILLed parent, as any child process would
        pass
    os.setsid()  # its own process group, so stop_process_group can stop it and all its children


def start_server(
    port: int | None = None, home: Path | None = None, log_path: Path | None = None, timeout_s: float = 120,
    watch_parent: bool = True, database: str | None = None,
) -> tuple[subprocess.Popen, str]:
    """Start `prefect server start` on 127.0.0.1 and wait until it answers. Returns (process, API URL).
    With `watch_parent` the server stops when this process dies, however it dies. `database` is a
    PostgreSQL URL (see `database_url`); without it the server keeps SQLite under its home.

    Servers on one Prefect home share its SQLite database, and a server migrates it as it starts: two
    starting at once (films started together in two terminals) can lock each other out, and one exits.
    So starts on one home take turns (a file lock there), each until its server answers."""
    home = Path(home or os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    with FileLock(home / ".filmstitch-server-start.lock", timeout=timeout_s):
        return _start(port or free_port(), home, log_path, timeout_s, watch_parent, database)


def _start(
    port: int, home: Path, log_path: Path | None, timeout_s: float, watch_parent: bool, database: str | None
) -> tuple[subprocess.Popen, str]:
    env = os.environ.copy()
    if database:  # only the server process gets it: clients talk to the server, never to the database
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url(database)
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.pop("PREFECT_API_URL", None)
    api_url = f"http://127.0.0.1:{port}/api"
    # The UI's pages call the API at this URL; by default it is built from PREFECT_SERVER_API_PORT
    # (4200), not from --port, so on any other port the UI would show "Can't connect to Server API".
    env.setdefault("PREFECT_UI_API_URL", api_url)
    env.setdefault("PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT", "false")
    env["PREFECT_HOME"] = str(home)
    # Without a log of its own, the server writes to a temporary file: read back if it fails to start.
    log = open(log_path, "ab") if log_path else tempfile.TemporaryFile()  # noqa: SIM115 - the server keeps it
    process = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
        **({"preexec_fn": _die_with_parent} if watch_parent else {"start_new_session": True}),
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Prefect server exited with code {process.returncode} while starting: "
                               f"{last_line(log, log_path)}")
        if is_healthy(api_url):
            return process, api_url
        time.sleep(0.5)
    process.terminate()
    raise RuntimeError(f"the Prefect server did not answer on {api_url} within {timeout_s:.0f} s")


def last_line(log: object, log_path: Path | None) -> str:
    """The last line the server wrote (its error), from its log file or the temporary one."""
    try:
        if log_path:
            text = Path(log_path).read_bytes()
        else:
            log.seek(0)
            text = log.read()
    except (OSError, ValueError):
        return "(no log)"
    lines = [line for line in text.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else "(it wrote nothing)"


def stop_process_group(process: subprocess.Popen, grace_s: float = 15) -> None:
    """Stop a process started in its own process group (a Prefect server, a runner, a worker) and everything
    it started: SIGTERM, then SIGKILL after ``grace_s``."""
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
