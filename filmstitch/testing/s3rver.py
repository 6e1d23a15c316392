"""s3rver (npm), an S3 look-alike that ignores conditional writes: the store FilmStitch must refuse.

s3rver 3.7.1 answers ``If-None-Match: *`` and ``If-Match`` PUTs by overwriting, so on it two runs
could silently overwrite each other's manifest. The tests show it being refused before the first
write. It is installed into ``.test-servers/`` of the repository (ignored by git) by
``npm install --prefix .test-servers s3rver@3.7.1`` (scripts/test.sh does it); a missing
install FAILS the test with that command, never skips it.

The tests' fixture ``s3rver`` (one server per session, with one bucket) is in tests/support/servers.py.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx

from filmstitch.app.prefect_server import free_port
from filmstitch.settings import StorageConfig
from filmstitch.testing.processes import die_with_parent

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / ".test-servers" / "node_modules" / ".bin" / "s3rver"
INSTALL = "npm install --prefix .test-servers s3rver@3.7.1"
ACCESS_KEY_ID = SECRET_ACCESS_KEY = "S3RVER"  # s3rver's built-in account
REGION = "us-east-1"


@dataclass
class S3rver:
    process: subprocess.Popen
    endpoint_url: str
    bucket: str

    def client(self) -> Any:
        return boto3.client(
            "s3", endpoint_url=self.endpoint_url, region_name=REGION,
            aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY,
        )

    def config(self) -> StorageConfig:
        return StorageConfig(kind="s3", bucket=self.bucket, prefix="studio", endpoint_url=self.endpoint_url,
                             region=REGION)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_s3rver(directory: Path, timeout_s: float = 30) -> S3rver:
    port = free_port()
    process = subprocess.Popen(
        [str(BINARY), "-d", str(directory), "-a", "127.0.0.1", "-p", str(port), "--silent"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl runs
    )
    server = S3rver(process, f"http://127.0.0.1:{port}", f"films-{uuid.uuid4().hex[:12]}")
    deadline = time.perf_counter() + timeout_s
    while True:
        try:
            httpx.get(server.endpoint_url, timeout=2)
            break
        except httpx.HTTPError:
            if process.poll() is not None or time.perf_counter() > deadline:
                server.stop()
                raise RuntimeError(f"s3rver did not start (exit code {process.poll()})") from None
            time.sleep(0.1)
    server.client().create_bucket(Bucket=server.bucket)
    return server
