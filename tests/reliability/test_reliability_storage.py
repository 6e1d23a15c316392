"""Flaky and broken storage, whole films.

The storage unit tests (tests/integration/test_storage*.py) cover each fault on single objects; here a whole film
runs through the real CLI against a fault-injecting proxy in front of the S3 server, and against a
missing bucket, wrong credentials and a store that ignores conditional writes (s3rver).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from filmstitch.storage import FilmStore, open_store, sha256_hex
from filmstitch.testing.backend_faults import CallLog
from filmstitch.testing.flaky_proxy import FaultPlan, FlakyProxy
from filmstitch.testing.frames import stored_frames, uninterrupted_frames
from filmstitch.testing.prefect_api import drain_prefect_services
from filmstitch.testing.s3 import S3Bucket
from filmstitch.testing.s3rver import S3rver
from filmstitch.testing.small_film import SmallFilm, Workspace, film_prefix

pytestmark = pytest.mark.prefect_server

FILM = SmallFilm()


@pytest.fixture(autouse=True, scope="module")
def _drained() -> Iterator[None]:
    yield
    drain_prefect_services()


def credentials() -> dict[str, str]:
    return {k: os.environ[k] for k in ("FILMSTITCH_S3_ACCESS_KEY_ID", "FILMSTITCH_S3_SECRET_ACCESS_KEY")}


class Watcher:
    """Reads every object of the film straight from the server while the film is being made.

    Records each version seen per key, so an object that was ever visible half-written or damaged
    under its final key shows up as a second checksum.
    """

    def __init__(self, store: FilmStore) -> None:
        self.store, self.seen = store, defaultdict(set)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        prefix = film_prefix(self.store.film_id)
        while not self._stop.wait(0.05):
            for full_key in self.store.store.list(prefix.rstrip("/")):
                key = full_key.removeprefix(prefix)
                if key not in self.seen or key in ("manifest.json", "film.json", "estimate.json"):
                    self.seen[key].add(sha256_hex(self.store.get(key)))

    def __enter__(self) -> Watcher:  # noqa: PYI034
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_a_film_through_a_flaky_s3_endpoint_completes_and_every_checksum_verifies(
    prefect_api: str, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    direct = FilmStore(open_store(s3_bucket.config), FILM.id())
    plan = FaultPlan(rate=0.2, seed=6, stall_s=0.5)
    with FlakyProxy(s3_bucket.moto.endpoint_url, plan) as proxy, Watcher(direct) as watcher:
        config = s3_bucket.config.model_copy(update={"endpoint_url": proxy.url})
        ws = Workspace(tmp_path, prefect_api, env_extra=credentials(), storage=config)
        run = ws.run(FILM, CallLog(tmp_path / "calls.jsonl"), timeout=420)

    assert run.returncode == 0, run.tail()
    assert proxy.faults >= 10 and len(proxy.counts) >= 5, f"too few faults to mean much: {dict(proxy.counts)}"
    manifest = direct.manifest()
    assert manifest["status"] == "finished" and direct.verify().problems == []
    artifacts = manifest["artifacts"]
    assert len(artifacts) >= 30
    # Nothing partial was ever visible: every version of every artifact seen during the run is the final one.
    damaged = {
        key: len(shas) for key, shas in watcher.seen.items() if key in artifacts and shas != {artifacts[key]["sha256"]}
    }
    assert damaged == {}
    assert set(artifacts) <= set(watcher.seen), "the watcher missed artifacts: it proves nothing"
    assert np.array_equal(stored_frames(direct, tmp_path), uninterrupted_frames(FILM, prefect_api))


def test_a_missing_bucket_fails_at_the_start_and_leaves_nothing(
    prefect_api: str, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    missing = f"no-such-bucket-{uuid.uuid4().hex[:8]}"
    config = s3_bucket.config.model_copy(update={"bucket": missing})
    log = CallLog(tmp_path / "calls.jsonl")
    ws = Workspace(tmp_path, prefect_api, env_extra=credentials(), storage=config)

    run = ws.run(FILM, log)

    message = " ".join(run.stderr.split())
    assert run.returncode == 1, message[-2000:]
    assert (
        f"bucket '{missing}'" in message
        and "the bucket does not exist: create it or fix FILMSTITCH_S3_BUCKET" in message
    )
    assert log.events() == [], "a writer or renderer was called before the storage check"
    assert missing not in {b["Name"] for b in s3_bucket.client.list_buckets()["Buckets"]}
    # Prefect kept the run's failure (the flow persists its result); no task ran, so no task result exists.
    assert len([p for p in (tmp_path / "results").rglob("*") if p.is_file()]) <= 1


@pytest.mark.parametrize("wrong", ["secret", "key_id"])
def test_wrong_credentials_fail_at_the_start_name_the_setting_and_leave_nothing(
    prefect_api: str, s3_bucket: S3Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wrong: str
) -> None:
    key_id, secret = s3_bucket.moto.enable_auth(monkeypatch)
    bad_secret = "wrong-secret-" + uuid.uuid4().hex
    bad_key_id = "AKIAWRONG" + uuid.uuid4().hex[:11].upper()
    given = {
        "FILMSTITCH_S3_ACCESS_KEY_ID": key_id if wrong == "secret" else bad_key_id,
        "FILMSTITCH_S3_SECRET_ACCESS_KEY": bad_secret if wrong == "secret" else secret,
    }
    log = CallLog(tmp_path / "calls.jsonl")
    ws = Workspace(tmp_path, prefect_api, env_extra=given, storage=s3_bucket.config)

    run = ws.run(FILM, log)

    message = " ".join(run.stderr.split())
    assert run.returncode == 1, message[-2000:]
    expected = {
        "secret": "the secret access key is wrong: check FILMSTITCH_S3_SECRET_ACCESS_KEY",
        "key_id": "the access key id is not known to the endpoint: check FILMSTITCH_S3_ACCESS_KEY_ID",
    }[wrong]
    assert expected in message, message[-2000:]
    assert bad_secret not in run.stderr + run.stdout and secret not in run.stderr + run.stdout
    assert log.events() == []
    owner = s3_bucket.moto.client(key_id=key_id, secret=secret)
    assert owner.list_objects_v2(Bucket=s3_bucket.name).get("KeyCount") == 0


def test_a_store_that_ignores_conditional_writes_is_refused_before_any_work(
    prefect_api: str, s3rver: S3rver, tmp_path: Path
) -> None:
    """s3rver overwrites on If-None-Match / If-Match: two runs could lose each other's manifest entries
    or both claim one film id. The run stops at its storage check, naming the problem."""
    config = s3rver.config()
    log = CallLog(tmp_path / "calls.jsonl")
    ws = Workspace(
        tmp_path, prefect_api,
        env_extra={"FILMSTITCH_S3_ACCESS_KEY_ID": "S3RVER", "FILMSTITCH_S3_SECRET_ACCESS_KEY": "S3RVER"},
        storage=config,
    )

    run = ws.run(FILM, log)

    message = " ".join(run.stderr.split())
    assert run.returncode == 1, message[-2000:]
    assert "does not honour conditional writes: a PUT with If-None-Match: * replaced an existing object" in message
    assert log.events() == [], "a writer or renderer was called before the storage check"
    assert s3rver.client().list_objects_v2(Bucket=s3rver.bucket, Prefix=f"{config.prefix}/").get("KeyCount") == 0
