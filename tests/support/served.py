"""`filmstitch server` against the session's Prefect server: both deployments served, and the film server.

`served_deployments` starts `filmstitch server --api-url ...` once per session, in its own process group,
with film storage, Prefect home and results under a temp folder, the offline writer and the CPU
animatic renderer. Runs created over REST or from the UI are picked up within about a second.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from filmstitch.app.prefect_server import stop_process_group

REPO = Path(__file__).resolve().parents[2]
DEPLOYMENTS = ("make-film/make-film", "film-batch/film-batch")


@dataclass(frozen=True)
class Served:
    api_url: str
    storage_dir: Path
    log_path: Path
    films_url: str

    @property
    def ui_url(self) -> str:
        return self.api_url.removesuffix("/api")

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


def serve_env(api_url: str, root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FILMSTITCH_") and k != "ANTHROPIC_API_KEY"}
    env.update(
        PREFECT_API_URL=api_url,
        PREFECT_HOME=str(root / "home"),
        PREFECT_LOCAL_STORAGE_PATH=str(root / "results"),
        PREFECT_RUNNER_POLL_FREQUENCY="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        FILMSTITCH_STORAGE_DIR=str(root / "films"),
        FILMSTITCH_WRITER="offline",
        FILMSTITCH_RENDERER="animatic",
    )
    return env


def _wait_until_registered(process: subprocess.Popen, served: Served, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"filmstitch server exited with {process.returncode}:\n{served.log_tail()}")
        found = [httpx.get(f"{served.api_url}/deployments/name/{name}", timeout=10).status_code for name in DEPLOYMENTS]
        if found == [200, 200]:
            return
        time.sleep(0.5)
    raise RuntimeError(f"the deployments were not registered within {timeout_s:.0f} s:\n{served.log_tail()}")


@pytest.fixture(scope="session")
def served_deployments(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from filmstitch.app.prefect_server import free_port

    root = tmp_path_factory.mktemp("served")
    port = free_port()
    served = Served(api_url=prefect_api, storage_dir=root / "films", log_path=root / "serve.log",
                    films_url=f"http://127.0.0.1:{port}")
    with open(served.log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "filmstitch.app.cli", "server", "--api-url", prefect_api, "--films-port", str(port)],
            cwd=REPO, env=serve_env(prefect_api, root), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        _wait_until_registered(process, served)
        yield served
    finally:
        stop_process_group(process)


