"""A real PostgreSQL for tests and benchmarks, on 127.0.0.1, the way rgw.py starts Ceph's RADOS Gateway.

`initdb` into a temporary folder, then `postgres` in the foreground as a child of the test process (it dies
with it, through ``PR_SET_PDEATHSIG``), on a free port, its unix socket in the same folder, fsync off (a
throwaway database). PostgreSQL refuses to run as root: when the tests run as root, the server runs as the
``postgres`` system user (Debian's package creates it) in a folder it owns.

Debian's package: ``apt-get install postgresql`` (scripts/test.sh installs it). A missing binary FAILS the
tests that need it, with that command: never a skip. The fixture ``postgres`` is in tests/support/servers.py.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from filmstitch.app.prefect_server import free_port
from filmstitch.testing.processes import die_with_parent

INSTALL = "apt-get install -y --no-install-recommends postgresql"
USER = "filmstitch"
DATABASE = "prefect"


def bin_dir() -> Path:
    """Debian keeps the server binaries out of PATH, one folder per major version: the newest installed."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True)
    return versions[0] if versions else Path("/usr/lib/postgresql/15/bin")


def missing_binaries() -> list[str]:
    return [name for name in ("initdb", "postgres", "pg_isready") if not (bin_dir() / name).exists()]


@dataclass
class PostgresServer:
    """One PostgreSQL cluster in its own temporary folder: :meth:`start`, :attr:`url`, :meth:`stop`."""

    root: Path | None = None
    port: int = 0
    start_seconds: float = 0.0
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The SQLAlchemy URL Prefect takes (PREFECT_API_DATABASE_CONNECTION_URL, `filmstitch server
        --database-url`)."""
        return self.url_for(DATABASE)

    def url_for(self, database: str) -> str:
        return f"postgresql+asyncpg://{USER}@127.0.0.1:{self.port}/{database}"

    def _as_server_user(self) -> dict:
        """Run as `postgres` when we are root (PostgreSQL will not run as root)."""
        if os.geteuid() != 0:
            return {}
        return {"user": "postgres", "group": "postgres", "extra_groups": []}

    def _run(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False,
                                **self._as_server_user())
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr[-2000:]}")
        return result.stdout

    def start(self, timeout_s: float = 120) -> PostgresServer:
        started = time.perf_counter()
        # pytest's temp folders are private to root; the postgres user needs a folder of its own.
        self.root = Path(tempfile.mkdtemp(prefix="filmstitch-postgres-"))
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
        data, socket_dir = self.root / "data", self.root
        self._run(str(bin_dir() / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--locale=C.UTF-8")
        self.port = free_port()
        log = open(self.root / "postgres.log", "ab")  # noqa: SIM115 - kept open for the server's life
        self.process = subprocess.Popen(
            [str(bin_dir() / "postgres"), "-D", str(data), "-p", str(self.port), "-k", str(socket_dir),
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off", "-c", "max_connections=200"],
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent,  # noqa: PLW1509 - as rgw.py
            **self._as_server_user(),
        )
        try:
            self._wait_until_ready(started + timeout_s)
            self.create_database(DATABASE)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.perf_counter() - started
        return self

    def _wait_until_ready(self, deadline: float) -> None:
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.process.returncode}: {self.log_tail()}")
            ready = subprocess.run([str(bin_dir() / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                                   capture_output=True, check=False)
            if ready.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"PostgreSQL did not answer within the start limit: {self.log_tail()}")

    def create_database(self, name: str) -> str:
        """A new, empty database (one Prefect server each); returns its URL."""
        self._run(str(bin_dir() / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, name)
        return self.url_for(name)

    def log_tail(self, chars: int = 2000) -> str:
        path = (self.root or Path("/nonexistent")) / "postgres.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"

    def stop(self) -> None:
        """Fast shutdown (SIGINT: clients are disconnected), then the folder is removed."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(2)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
