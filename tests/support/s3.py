"""A real S3-compatible server for tests: moto's ThreadedMotoServer on 127.0.0.1, reached by boto3 over HTTP.

moto leaves out two things real S3 does that our storage relies on, so a small WSGI layer in
front of it (:class:`S3Fidelity`) adds them back, the way AWS documents them:

* A PUT whose body does not match its ``Content-MD5``, ``x-amz-checksum-*`` or signed
  ``x-amz-content-sha256`` header is refused (400 ``BadDigest`` / ``XAmzContentSHA256Mismatch``)
  and nothing is stored. moto 5.2 stores it anyway (its code has a TODO for this).
* Conditional PUTs (``If-Match`` / ``If-None-Match``) are atomic. moto checks the condition and
  then stores in two steps, so two racing writers could both pass; here they are serialised.

Fixtures: ``moto_s3`` (one server per session), ``s3_bucket`` (a fresh bucket per test, fake
credentials in the environment, and the matching ``StorageConfig``), ``any_s3_bucket`` (the same
on moto and on Ceph RGW, ``tests/support/rgw.py``: parametrised), ``any_store_config`` (local,
moto and RGW).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import logging
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import boto3
import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from filmstitch.settings import StorageConfig

FAKE_ACCESS_KEY_ID = "AKIAFILMSTITCHTEST01"
FAKE_SECRET_ACCESS_KEY = "fake-secret/Do+Not+Leak+0123456789abcdefXYZ"
REGION = "us-east-1"

_DIGESTS: dict[str, Callable[[bytes], bytes]] = {
    "HTTP_CONTENT_MD5": lambda body: hashlib.md5(body).digest(),
    "HTTP_X_AMZ_CHECKSUM_SHA256": lambda body: hashlib.sha256(body).digest(),
    "HTTP_X_AMZ_CHECKSUM_SHA1": lambda body: hashlib.sha1(body).digest(),
    "HTTP_X_AMZ_CHECKSUM_CRC32": lambda body: binascii.crc32(body).to_bytes(4, "big"),
}


class S3Fidelity:
    """WSGI middleware: body checksums verified and conditional PUTs atomic, as on real S3."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.conditional_lock = threading.Lock()
        self.counts: Counter[str] = Counter()  # "rejected", "conditional_puts", "sha256_checksummed_puts", "puts"
        self._counts_lock = threading.Lock()

    def _count(self, name: str) -> None:
        with self._counts_lock:
            self.counts[name] += 1

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        if environ["REQUEST_METHOD"] not in ("PUT", "POST"):
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        if environ["REQUEST_METHOD"] == "PUT":
            self._count("puts")
        if "HTTP_X_AMZ_CHECKSUM_SHA256" in environ:
            self._count("sha256_checksummed_puts")
        problem = self._digest_problem(environ, body)
        if problem:
            self._count("rejected")
            return _error(start_response, "400 Bad Request", *problem)
        if "HTTP_IF_MATCH" in environ or "HTTP_IF_NONE_MATCH" in environ:
            self._count("conditional_puts")
            with self.conditional_lock:  # check-and-store as one step; the body is already in memory
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)

    @staticmethod
    def _digest_problem(environ: dict[str, Any], body: bytes) -> tuple[str, str] | None:
        for header, digest in _DIGESTS.items():
            claimed = environ.get(header)
            if claimed and claimed != base64.b64encode(digest(body)).decode():
                return "BadDigest", "The checksum you specified did not match the calculated checksum."
        signed = environ.get("HTTP_X_AMZ_CONTENT_SHA256", "")
        if len(signed) == 64 and signed != hashlib.sha256(body).hexdigest():
            return "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed."
        return None


def _error(start_response: Callable, status: str, code: str, message: str) -> list[bytes]:
    xml = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    start_response(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(xml)))])
    return [xml.encode()]


class FidelityMotoServer(ThreadedMotoServer):
    """moto's ThreadedMotoServer with :class:`S3Fidelity` in front of its WSGI app."""

    def __init__(self, ip_address: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(ip_address=ip_address, port=port, verbose=False)
        self.fidelity = S3Fidelity(DomainDispatcherApplication(create_backend_app))

    def _server_entry(self) -> None:  # same as moto's, with the middleware wrapped around the app
        self._server = make_server(self._ip_address, self._port, self.fidelity, threaded=True)
        self._server_ready_event.set()
        self._server.serve_forever()


@dataclass
class MotoS3:
    """A running moto server: its endpoint, and clients for setting up and inspecting buckets."""

    server: FidelityMotoServer
    endpoint_url: str
    fidelity: S3Fidelity = field(repr=False)
    access_key_id: str = FAKE_ACCESS_KEY_ID  # any key works while moto's auth is off
    secret_access_key: str = field(default=FAKE_SECRET_ACCESS_KEY, repr=False)

    def client(self, service: str = "s3", key_id: str = "setup", secret: str = "setup") -> Any:
        return boto3.client(
            service, endpoint_url=self.endpoint_url, region_name=REGION, aws_access_key_id=key_id, aws_secret_access_key=secret
        )

    def create_bucket(self, name: str | None = None) -> str:
        name = name or f"films-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name

    def enable_auth(self, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
        """Turn on moto's credential checks for this test; returns a key pair allowed to use S3.

        With auth on, unknown access keys get 403 InvalidAccessKeyId and wrong secrets
        SignatureDoesNotMatch, as on AWS. monkeypatch turns it off again after the test.
        """
        import moto.settings

        iam = self.client("iam")
        user = f"filmstitch-{uuid.uuid4().hex[:8]}"
        iam.create_user(UserName=user)
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        iam.put_user_policy(UserName=user, PolicyName="s3-all", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
        return key["AccessKeyId"], key["SecretAccessKey"]


def start_moto_server() -> MotoS3:
    """Start moto (with S3 fidelity) on a free port of 127.0.0.1. Call ``.server.stop()`` when done."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per request is noise
    server = FidelityMotoServer("127.0.0.1", 0)
    server.start()
    host, port = server.get_host_and_port()
    return MotoS3(server=server, endpoint_url=f"http://{host}:{port}", fidelity=server.fidelity)


class S3Server(Protocol):
    """What the tests need of an S3 server: moto (:class:`MotoS3`) or Ceph RGW (``tests.support.rgw``)."""

    endpoint_url: str
    access_key_id: str
    secret_access_key: str

    def client(self) -> Any: ...

    def create_bucket(self, name: str | None = None) -> str: ...


@dataclass
class S3Bucket:
    """One test's bucket: its name, the StorageConfig pointing at it, a raw boto3 client, its server."""

    name: str
    config: StorageConfig
    client: Any
    server: S3Server

    @property
    def moto(self) -> MotoS3:
        """The moto server, for tests of moto-only hooks (fidelity counts, auth switch)."""
        assert isinstance(self.server, MotoS3), "this test needs the moto server"
        return self.server


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    moto = start_moto_server()
    yield moto
    moto.server.stop()


def fresh_bucket(server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    """A new bucket on `server`, its credentials in FILMSTITCH_S3_*, and a StorageConfig(kind="s3") for it."""
    monkeypatch.setenv("FILMSTITCH_S3_ACCESS_KEY_ID", server.access_key_id)
    monkeypatch.setenv("FILMSTITCH_S3_SECRET_ACCESS_KEY", server.secret_access_key)
    name = server.create_bucket()
    config = StorageConfig(kind="s3", bucket=name, prefix="studio", endpoint_url=server.endpoint_url, region=REGION)
    return S3Bucket(name=name, config=config, client=server.client(), server=server)


@pytest.fixture
def s3_bucket(moto_s3: MotoS3, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    """A fresh moto bucket, fake credentials in FILMSTITCH_S3_*, and a StorageConfig(kind="s3") for it."""
    return fresh_bucket(moto_s3, monkeypatch)


@pytest.fixture(params=["moto", "rgw"])
def any_s3_bucket(request: pytest.FixtureRequest) -> S3Bucket:
    """A fresh bucket on moto, then on Ceph RGW: the same test against both servers."""
    return request.getfixturevalue("s3_bucket" if request.param == "moto" else "rgw_bucket")


@pytest.fixture(params=["local", "moto", "rgw"])
def any_store_config(request: pytest.FixtureRequest, tmp_path: Path) -> StorageConfig:
    """The same test on a local directory, on moto and on Ceph's RADOS Gateway."""
    if request.param == "local":
        return StorageConfig(kind="local", root=str(tmp_path / "store"))
    return request.getfixturevalue({"moto": "s3_bucket", "rgw": "rgw_bucket"}[request.param]).config


# --------------------------------------------------------------------------- a film's worth of writes under faults


@dataclass
class FaultRunReport:
    """What happened when one film's artifacts were written through a FlakyProxy."""

    objects_written: int
    manifest_updates: int
    requests: int
    faults: dict[str, int]
    rejected_by_server: int | None  # counted by moto's fidelity layer; None on other servers
    artifacts_lost: int
    checksum_mismatches: int
    partial_objects_seen: int
    objects_watched: int  # how many objects the watcher read while the film was written
    seconds: float

    @property
    def faults_injected(self) -> int:
        return sum(self.faults.values())


PAYLOAD_SIZES = (0, 1, 517, 4096, 65_537, 300_000, 1_048_576, 2_500_000)


def film_payloads(objects: int, seed: int) -> dict[str, bytes]:
    """`objects` artifacts of assorted sizes (empty to 2.5 MB), reproducible from `seed`."""
    rng = random.Random(seed)
    return {f"clips/{i:03d}.bin": rng.randbytes(PAYLOAD_SIZES[i % len(PAYLOAD_SIZES)]) for i in range(objects)}


def run_film_through_faults(
    server: S3Server, plan: Any, *, objects: int = 60, workers: int = 6, read_timeout: float = 1.0, film_id: str = "flaky-film"
) -> FaultRunReport:
    """Write a film's artifacts (and manifest updates) through a FlakyProxy, then audit the bucket.

    While it runs, a watcher reads every object that becomes visible under its final key directly
    from the server and compares it with what was meant to be written: a partial or damaged object
    ever being visible counts in ``partial_objects_seen``. Afterwards the manifest is checked
    against the payloads: missing entries or objects are ``artifacts_lost``, wrong bytes
    ``checksum_mismatches``.
    """
    from filmstitch.settings import Settings
    from filmstitch.storage import FilmStore, S3Store, sha256_hex
    from tests.support.flaky_proxy import FlakyProxy

    settings = Settings(s3_access_key_id=server.access_key_id, s3_secret_access_key=server.secret_access_key)
    bucket = server.create_bucket()
    payloads = film_payloads(objects, plan.seed)
    expected = {key: sha256_hex(data) for key, data in payloads.items()}
    direct_config = StorageConfig(kind="s3", bucket=bucket, prefix="studio", endpoint_url=server.endpoint_url, region=REGION)
    direct = FilmStore(S3Store(direct_config, settings), film_id)
    fidelity = server.fidelity if isinstance(server, MotoS3) else None
    rejected_before = fidelity.counts["rejected"] if fidelity else 0

    partial_seen: list[str] = []
    checked: set[str] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for full_key in direct.store.list(direct.full_key("clips")):
                key = full_key.removeprefix(f"{film_id}/")
                if key not in checked:
                    checked.add(key)
                    if sha256_hex(direct.get(key)) != expected[key]:
                        partial_seen.append(key)
            done.wait(0.05)

    started = time.perf_counter()
    with FlakyProxy(server.endpoint_url, plan) as proxy:
        flaky_config = direct_config.model_copy(update={"endpoint_url": proxy.url})
        film = FilmStore(S3Store(flaky_config, settings, read_timeout=read_timeout), film_id)
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()

        def write(index_key: tuple[int, str]) -> None:
            index, key = index_key
            film.put(key, payloads[key], "application/octet-stream", stage="clip", index=index)
            if index % 10 == 9:
                film.update_manifest(progress=index + 1)

        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(write, enumerate(payloads)))
        seconds = time.perf_counter() - started
        done.set()
        watcher.join()
        faults, requests = dict(proxy.counts), proxy.requests

    manifest = direct.manifest()["artifacts"]
    lost = [key for key in payloads if key not in manifest or not direct.exists(key)]
    mismatched = set(direct.verify().problems) | {k for k, entry in manifest.items() if entry["sha256"] != expected.get(k)}
    return FaultRunReport(
        objects_written=len(payloads),
        manifest_updates=len(payloads) + objects // 10,
        requests=requests,
        faults=faults,
        rejected_by_server=fidelity.counts["rejected"] - rejected_before if fidelity else None,
        artifacts_lost=len(lost),
        checksum_mismatches=len(mismatched),
        partial_objects_seen=len(partial_seen),
        objects_watched=len(checked),
        seconds=seconds,
    )
