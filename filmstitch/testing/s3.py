"""A real S3-compatible server for tests: moto's ThreadedMotoServer on 127.0.0.1, reached by boto3 over HTTP.

moto leaves out two things real S3 does that our storage relies on, so a small WSGI layer in
front of it (:class:`S3Fidelity`) adds them back, the way AWS documents them:

* A PUT whose body does not match its ``Content-MD5``, ``x-amz-checksum-*`` or signed
  ``x-amz-content-sha256`` header is refused (400 ``BadDigest`` / ``XAmzContentSHA256Mismatch``)
  and nothing is stored. moto 5.2 stores it anyway (its code has a TODO for this).
* Conditional PUTs (``If-Match`` / ``If-None-Match``) are atomic. moto checks the condition and
  then stores in two steps, so two racing writers could both pass; here they are serialised.

The tests' fixtures (``moto_s3``, ``s3_bucket``, ``any_s3_bucket``, ``any_store_config``) are in
tests/support/servers.py.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import logging
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import boto3
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from filmstitch.settings import StorageConfig

if TYPE_CHECKING:
    from pytest import MonkeyPatch

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
            return ("XAmzContentSHA256Mismatch",
                    "The provided 'x-amz-content-sha256' header does not match what was computed.")
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
            service, endpoint_url=self.endpoint_url, region_name=REGION, aws_access_key_id=key_id,
            aws_secret_access_key=secret
        )

    def create_bucket(self, name: str | None = None) -> str:
        name = name or f"films-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name

    def enable_auth(self, monkeypatch: MonkeyPatch) -> tuple[str, str]:
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
    """What the tests need of an S3 server: moto (:class:`MotoS3`) or Ceph RGW (:mod:`filmstitch.testing.rgw`)."""

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
