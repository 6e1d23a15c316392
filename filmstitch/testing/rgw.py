"""Ceph's RADOS Gateway for tests: a real S3 server that nobody here wrote, on 127.0.0.1.

One monitor and one OSD keeping objects in memory (``memstore``), no authentication between the
daemons, one RGW in front, all in a temp directory and on free ports; an S3 user with test keys.
Debian's packages: ``apt-get install radosgw ceph-mon ceph-osd ceph-common`` (scripts/test.sh
installs them). A missing binary FAILS the tests that need it, with that command: never a skip.

The daemons run in the foreground as children of the test process (and die with it, through
``PR_SET_PDEATHSIG``), so none outlives the session or benchmark.

The tests' fixtures ``rgw`` (one gateway per session) and ``rgw_bucket`` (a fresh bucket per test) are in
tests/support/servers.py.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx

from filmstitch.app.prefect_server import free_port
from filmstitch.testing.processes import die_with_parent

BINARIES = ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "ceph", "monmaptool")
INSTALL = "apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd ceph-common"
ACCESS_KEY_ID = "RGWFILMSTITCHTEST01"
SECRET_ACCESS_KEY = "rgw-test-secret/Do+Not+Leak+0123456789"
REGION = "us-east-1"  # RGW signs with any region name; this is what boto3 sends by default


def missing_binaries() -> list[str]:
    return [name for name in BINARIES if shutil.which(name) is None]


CEPH_CONF = """\
[global]
fsid = {fsid}
mon host = [v2:127.0.0.1:{mon_v2},v1:127.0.0.1:{mon_v1}]
public addr = 127.0.0.1
ms bind ipv6 = false
# No cephx between the daemons (a throwaway cluster); with auth none, radosgw needs crc mode
# or its monitor connection is refused (EACCES).
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms client mode = crc
osd objectstore = memstore
memstore device bytes = {memstore_bytes}
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 1
osd pool default pgp num = 1
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
# Faster map changes: RGW creates about eight pools at its first start, each a monitor round.
paxos propose interval = 0.05
paxos min wait = 0.01
run dir = {root}/run
admin socket = {root}/run/$name.asok
log file = {root}/log/$name.log
keyring = /dev/null
[mon.a]
mon data = {root}/mon
[osd.0]
osd data = {root}/osd
[client.rgw.a]
# tcp_nodelay: without it every GET waits ~40 ms on Nagle + delayed ACK (45 ms against 4 ms).
rgw frontends = beast endpoint=127.0.0.1:{rgw_port} tcp_nodelay=1
rgw data = {root}/rgw
rgw enable usage log = false
"""


@dataclass
class RadosGateway:
    """A one-node Ceph cluster with an RGW, started by :meth:`start` in `root`, stopped by :meth:`stop`."""

    root: Path
    memstore_bytes: int = 2 * 1024**3
    endpoint_url: str = ""
    access_key_id: str = ACCESS_KEY_ID
    secret_access_key: str = field(default=SECRET_ACCESS_KEY, repr=False)
    start_seconds: float = 0.0
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def conf(self) -> Path:
        return self.root / "ceph.conf"

    def _run(self, *args: str, timeout: float = 60) -> str:
        result = subprocess.run(
            [*args, "-c", str(self.conf)], capture_output=True, text=True, timeout=timeout, preexec_fn=die_with_parent,
            check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr[-2000:]}")
        return result.stdout

    def _daemon(self, *args: str) -> None:
        log = open(self.root / "log" / f"{args[0]}.out", "ab")  # noqa: SIM115 - kept open for the daemon's life
        process = subprocess.Popen(
            [*args, "-c", str(self.conf), "-f"], stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent  # noqa: PLW1509 - only prctl runs
        )
        self.processes.append(process)

    def start(self, timeout_s: float = 180) -> RadosGateway:
        started = time.perf_counter()
        for folder in ("run", "log", "mon", "osd", "rgw"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        fsid, mon_v2, mon_v1, rgw_port = str(uuid.uuid4()), free_port(), free_port(), free_port()
        self.conf.write_text(
            CEPH_CONF.format(
                fsid=fsid, mon_v2=mon_v2, mon_v1=mon_v1, rgw_port=rgw_port, root=self.root,
                memstore_bytes=self.memstore_bytes
            )
        )
        monmap = self.root / "monmap"
        self._run("monmaptool", "--create", "--clobber", "--fsid", fsid,
                  "--addv", "a", f"[v2:127.0.0.1:{mon_v2},v1:127.0.0.1:{mon_v1}]", str(monmap))
        self._run("ceph-mon", "--mkfs", "-i", "a", "--monmap", str(monmap))
        try:
            self._daemon("ceph-mon", "-i", "a")
            osd_id = self._run("ceph", "osd", "create", timeout=timeout_s).strip()
            self._run("ceph-osd", "-i", osd_id, "--mkfs")
            self._daemon("ceph-osd", "-i", osd_id)
            self._daemon("radosgw", "-n", "client.rgw.a")
            self.endpoint_url = f"http://127.0.0.1:{rgw_port}"
            self._wait_until_serving(started + timeout_s)
            self._run("radosgw-admin", "user", "create", "--uid=filmstitch", "--display-name=FilmStitch tests",
                      f"--access-key={ACCESS_KEY_ID}", f"--secret={SECRET_ACCESS_KEY}")
            # The first bucket and object make RGW create its index and data pools: not in any test's time.
            self.client().put_object(Bucket=self.create_bucket("warm-up"), Key="warm-up", Body=b"warm-up")
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.perf_counter() - started
        return self

    def _wait_until_serving(self, deadline: float) -> None:
        while time.perf_counter() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{process.args[0]!s} exited with {process.returncode};"  # type: ignore[index]
                                       f" logs in {self.root / 'log'}")
            try:
                if httpx.get(self.endpoint_url, timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"RGW did not answer within the start limit; logs in {self.root / 'log'}")

    def stop(self) -> None:
        """SIGTERM the gateway, then the OSD, then the monitor; SIGKILL whatever does not go in 20 s."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self.processes.clear()

    def client(self, key_id: str = ACCESS_KEY_ID, secret: str = SECRET_ACCESS_KEY) -> Any:
        return boto3.client(
            "s3", endpoint_url=self.endpoint_url, region_name=REGION, aws_access_key_id=key_id,
            aws_secret_access_key=secret
        )

    def create_bucket(self, name: str | None = None) -> str:
        name = name or f"films-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name
