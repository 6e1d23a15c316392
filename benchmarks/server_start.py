"""How long a Prefect server takes to start on SQLite and on PostgreSQL, and to register FilmStitch's deployments.

    python benchmarks/server_start.py [--repeats 2]

Starts a throwaway PostgreSQL (filmstitch/testing/postgres.py: Debian's `postgresql` package), then, `repeats`
times each, `prefect server start` on a fresh SQLite home and on a fresh PostgreSQL database (the first start
creates the tables), and registers the deployments of prefect.yaml on it (`--register-only`, the work pool
path that `filmstitch server --pool` takes). Prints one row per start: seconds until /api/health answers, seconds
to register. No goal: a reference for docs/deployments.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from filmstitch.app.prefect_server import start_server, stop_process_group
from filmstitch.testing.postgres import PostgresServer

REPO = Path(__file__).resolve().parents[1]


def one_start(database: str | None, root: Path) -> tuple[float, float]:
    started = time.perf_counter()
    process, api = start_server(home=root / "home", log_path=root / "server.log", timeout_s=300, database=database)
    healthy = time.perf_counter() - started
    try:
        env = dict(os.environ, PREFECT_API_URL=api, PREFECT_HOME=str(root / "home"))
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "filmstitch.deployments.serve", "--register-only"], cwd=REPO, env=env,
                       check=True, capture_output=True, timeout=300)
        return healthy, time.perf_counter() - started
    finally:
        stop_process_group(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    postgres = PostgresServer().start()
    print(f"PostgreSQL {postgres.start_seconds:.1f} s to start (initdb + postgres)")
    rows: dict[str, list[tuple[float, float]]] = {"SQLite": [], "PostgreSQL": []}
    try:
        for repeat in range(args.repeats):
            for kind, times in rows.items():
                with tempfile.TemporaryDirectory() as folder:
                    database = postgres.create_database(f"bench{repeat}") if kind == "PostgreSQL" else None
                    times.append(one_start(database, Path(folder)))
                    print(f"{kind:<10} start {repeat + 1}: healthy {times[-1][0]:5.1f} s, "
                          f"deployments registered {times[-1][1]:5.1f} s", flush=True)
    finally:
        postgres.stop()
    for kind, times in rows.items():
        print(f"{kind:<10} median: healthy {statistics.median(t[0] for t in times):5.1f} s, "
              f"registered {statistics.median(t[1] for t in times):5.1f} s")


if __name__ == "__main__":
    main()
