"""Fixtures that start the local servers of :mod:`filmstitch.testing` for a test or a session.

* ``moto_s3`` (one moto server per session), ``s3_bucket`` (a fresh bucket per test, fake
  credentials in the environment, and the matching ``StorageConfig``), ``any_s3_bucket`` (the same
  on moto and on Ceph RGW: parametrised), ``any_store_config`` (local, moto and RGW).
* ``rgw`` (one Ceph RADOS Gateway per session), ``rgw_bucket`` (a fresh bucket on it per test).
* ``s3rver`` (one s3rver per session, with one bucket: the store that ignores conditional writes).
* ``postgres`` (one PostgreSQL per session; each test takes a database of its own: ``postgres.create_database``).
* ``fake_anthropic`` (a started fake Messages API, stopped after the test).

A server that is not installed FAILS the tests that need it, naming the install command: never a skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from filmstitch.settings import StorageConfig
from filmstitch.testing import postgres as postgres_server
from filmstitch.testing import rgw as rgw_server
from filmstitch.testing import s3rver as s3rver_server
from filmstitch.testing.fake_anthropic import FakeAnthropic
from filmstitch.testing.postgres import PostgresServer
from filmstitch.testing.rgw import RadosGateway
from filmstitch.testing.s3 import REGION, MotoS3, S3Bucket, S3Server, start_moto_server
from filmstitch.testing.s3rver import S3rver, start_s3rver


def require_binaries(what: str, binaries: list[str], install: str) -> None:
    """Fail (never skip) the test when a server it needs is not installed, naming the install command."""
    if binaries:
        pytest.fail(f"{what} is not installed (missing {', '.join(binaries)}): run `{install}`"
                    " (scripts/test.sh does it)", pytrace=False)


# --------------------------------------------------------------------------- S3 buckets: moto, RGW, any


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


@pytest.fixture(scope="session")
def rgw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadosGateway]:
    require_binaries("Ceph's RADOS Gateway", rgw_server.missing_binaries(), rgw_server.INSTALL)
    gateway = RadosGateway(tmp_path_factory.mktemp("rgw")).start()
    print(f"\nCeph RGW started in {gateway.start_seconds:.1f} s at {gateway.endpoint_url}")
    yield gateway
    gateway.stop()


@pytest.fixture
def rgw_bucket(rgw: RadosGateway, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh RGW bucket, its keys in FILMSTITCH_S3_*, and a StorageConfig(kind="s3") for it."""
    return fresh_bucket(rgw, monkeypatch)


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


# --------------------------------------------------------------------------- s3rver, the fake Messages API


@pytest.fixture(scope="session")
def s3rver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3rver]:
    binary = s3rver_server.BINARY
    require_binaries("s3rver", [] if binary.exists() else [str(binary.relative_to(s3rver_server.ROOT))],
                     s3rver_server.INSTALL)
    server = start_s3rver(tmp_path_factory.mktemp("s3rver"))
    yield server
    server.stop()


@pytest.fixture
def fake_anthropic(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropic]:
    # The SDK reads these when they are set; none of them may steer a test elsewhere.
    for name in ("ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_CUSTOM_HEADERS", "ANTHROPIC_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    fake = FakeAnthropic().start()
    try:
        yield fake
    finally:
        fake.stop()


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL (Debian's package) on 127.0.0.1 for the session, as the `postgres` user when we are root."""
    require_binaries("PostgreSQL", postgres_server.missing_binaries(), postgres_server.INSTALL)
    server = PostgresServer().start()
    print(f"\nPostgreSQL started in {server.start_seconds:.1f} s on port {server.port}")
    yield server
    server.stop()
