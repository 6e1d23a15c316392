"""Storage: local directory and S3 (moto over real HTTP) behave the same and keep their promises.

Promises tested: round trips, a manifest that lists every artifact with the right sha256 and
size, tamper detection, key validation (nothing ever lands outside ``films/<film_id>/``),
atomic writes, presigned URLs, no manifest entry lost with concurrent threads or processes,
films that survive a flaky network, and clear, secret-free errors for full disks, missing
buckets and wrong credentials.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import traceback
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filmstitch import storage
from filmstitch.settings import StorageConfig
from filmstitch.storage import (
    WRITE_CHUNK,
    FilmStore,
    LocalStore,
    ObjectStore,
    S3Store,
    StorageError,
    open_store,
)
from filmstitch.testing.flaky_proxy import FaultPlan, FlakyProxy
from filmstitch.testing.s3 import FAKE_ACCESS_KEY_ID, FAKE_SECRET_ACCESS_KEY, MotoS3, S3Bucket
from filmstitch.testing.s3_fault_run import run_film_through_faults

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(any_store_config: StorageConfig) -> StorageConfig:
    """The same promises on a local directory, on moto and on Ceph's RADOS Gateway."""
    return any_store_config


@pytest.fixture
def film(config: StorageConfig) -> FilmStore:
    return FilmStore.open(config, "film-1")


def raw_put(store: ObjectStore, key: str, data: bytes) -> None:
    """Write behind FilmStore's back (a tamperer, or a bug elsewhere)."""
    store.put(key, data, "application/octet-stream")


# --------------------------------------------------------------------------- basics


def test_round_trip(film: FilmStore) -> None:
    ref = film.put("refs/hero-v0.png", b"\x89PNG-bytes", "image/png", stage="reference", variant=0)
    assert (ref.key, ref.size, ref.sha256) == ("refs/hero-v0.png", 10, hashlib.sha256(b"\x89PNG-bytes").hexdigest())
    assert ref.meta == {"stage": "reference", "variant": 0}
    assert film.get("refs/hero-v0.png") == b"\x89PNG-bytes"
    assert film.get_verified(ref) == b"\x89PNG-bytes"
    film.put_json("plan/script.json", {"title": "Moon garden", "beats": ["é", "☾"]})
    assert film.get_json("plan/script.json") == {"title": "Moon garden", "beats": ["é", "☾"]}
    assert film.exists("refs/hero-v0.png") and not film.exists("refs/nope.png")
    with pytest.raises(storage.ArtifactMissing):
        film.get("refs/nope.png")


def test_manifest_lists_every_artifact_with_checksum_and_size(film: FilmStore) -> None:
    payloads = {f"clips/seg-{i:02d}.mp4": os.urandom(size) for i, size in enumerate([0, 1, 100, 4096, 70_000,
                                                                                     1_100_000])}
    for key, data in payloads.items():
        film.put(key, data, "video/mp4", segment=key)
    film.update_manifest(status="finished", title="Moon garden")

    manifest = film.manifest()
    assert manifest["film_id"] == "film-1" and manifest["status"] == "finished" and manifest["title"] == "Moon garden"
    assert set(manifest["artifacts"]) == set(payloads)
    for key, data in payloads.items():
        entry = manifest["artifacts"][key]
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["size"] == len(data)
        assert entry["content_type"] == "video/mp4" and entry["meta"] == {"segment": key}
    assert film.verify().problems == []
    with pytest.raises(ValueError):
        film.update_manifest(artifacts={})
    with pytest.raises(ValueError):
        film.put("manifest.json", b"{}", "application/json")


def test_verify_and_get_verified_catch_tampering(film: FilmStore) -> None:
    ok = film.put("a.bin", b"a" * 100, "application/octet-stream")
    same_size = film.put("b.bin", b"b" * 100, "application/octet-stream")
    other_size = film.put("c.bin", b"c" * 100, "application/octet-stream")
    gone = film.put("d.bin", b"d" * 100, "application/octet-stream")
    raw_put(film.store, film.full_key("b.bin"), b"B" * 100)
    raw_put(film.store, film.full_key("c.bin"), b"c" * 99)
    raw_put(film.store, film.full_key("d.bin"), b"")  # replaced below by a deletion where possible
    if isinstance(film.store, LocalStore):
        (film.store.root / film.full_key("d.bin")).unlink()

    assert film.verify().problems == ["b.bin", "c.bin", "d.bin"]
    assert film.get_verified(ok) == b"a" * 100
    for ref in (same_size, other_size, gone):
        with pytest.raises(StorageError):
            film.get_verified(ref)


def test_reuse_only_returns_intact_recorded_artifacts(film: FilmStore) -> None:
    ref = film.put("clips/seg-00.mp4", b"clip" * 50, "video/mp4", seed=7)
    assert film.reuse("clips/seg-00.mp4") == ref
    assert film.reuse("clips/never-made.mp4") is None
    raw_put(film.store, film.full_key("clips/unrecorded.mp4"), b"stray")  # on disk but not in the manifest
    assert film.reuse("clips/unrecorded.mp4") is None

    raw_put(film.store, film.full_key("clips/seg-00.mp4"), b"CLIP" * 50)  # corrupted, same size
    assert film.reuse("clips/seg-00.mp4") is None
    raw_put(film.store, film.full_key("clips/seg-00.mp4"), b"clip" * 49)  # truncated
    assert film.reuse("clips/seg-00.mp4") is None
    film.put("clips/seg-00.mp4", b"clip" * 50, "video/mp4", seed=7)
    assert film.reuse("clips/seg-00.mp4") == ref


def test_corrupt_manifest_is_a_clear_error(film: FilmStore) -> None:
    film.put("a.bin", b"a", "application/octet-stream")
    raw_put(film.store, film.full_key("manifest.json"), b"{not json")
    with pytest.raises(StorageError, match="manifest of film film-1 is not valid JSON"):
        film.manifest()
    with pytest.raises(StorageError, match="not valid JSON"):
        film.put("b.bin", b"b", "application/octet-stream")


# --------------------------------------------------------------------------- keys never escape the film


BAD_KEYS = [
    "",
    "../x",
    "..",
    ".",
    "/abs",
    "/etc/passwd",
    "a/../../b",
    "a/./b",
    "a//b",
    "a/",
    "a\\..\\b",
    "..\\x",
    "clips\\seg.mp4",
    ".hidden",
    "a/.tmp-123",
    "\uff0e\uff0e/x",  # full-width dots
    "a\u2215..\u2215b",  # division slash
    "caf\u00e9.png",
    "a\x00b",
    "ok.png\n",
    "a b",
    "%2e%2e/x",
    "x" * 129,
    "/".join(["a"] * 17),
    "/".join(["abcdefgh"] * 60),
]


def test_bad_keys_are_refused_before_any_io(film: FilmStore) -> None:
    before = film.store.list("")
    for key in BAD_KEYS:
        for name, attempt in {
            "put": lambda key=key: film.put(key, b"x", "text/plain"),
            "get": lambda key=key: film.get(key),
            "exists": lambda key=key: film.exists(key),
            "url": lambda key=key: film.url(key),
            "put_json": lambda key=key: film.put_json(key, {"a": 1}),
            "reuse": lambda key=key: film.reuse(key, "k"),
        }.items():
            with pytest.raises(ValueError):
                attempt()
                pytest.fail(f"{name}({key!r}) was not refused")
    assert film.store.list("") == before


def test_bad_film_ids_are_refused(config: StorageConfig) -> None:
    for film_id in ["", "../x", "Film", "a/b", "a.b", "-x", "x" * 81, "f\n", "f\u00e9"]:
        with pytest.raises(ValueError, match="invalid film id"):
            FilmStore.open(config, film_id)


NASTY_PARTS = st.sampled_from(
    ["..", ".", "", "a", "b.txt", "\\", "..\\x", "%2e%2e", "\x00", "\u00e9", "\uff0e\uff0e", "\u2215", " ", "~", "-x",
     "x" * 130, "ok\n"]
)
KEYS = st.one_of(
    st.text(max_size=200),
    st.lists(NASTY_PARTS, max_size=6).map("/".join),
    st.from_regex(r"[A-Za-z0-9./_\\-]{1,40}", fullmatch=True),
)
FILM_IDS = st.one_of(
    st.text(max_size=90),
    st.sampled_from(["film-1", "..", "a/b", "UPPER", "ok_1", "", "x" * 81, "x" * 80]),
    st.from_regex(r"[a-z0-9_./-]{1,12}", fullmatch=True),
)


def assert_key_stays_in_film(store: ObjectStore, all_keys: Callable[[], list[str]], film_id: str, key: str) -> None:
    """Either ValueError, or the object is exactly <film_id>/<key> (the store is rooted at the films folder)
    and everything stays inside a valid film id's folder."""
    try:
        film = FilmStore(store, film_id)
        film.put(key, b"payload", "text/plain")
    except ValueError:
        pass
    else:
        assert store.get(f"{film_id}/{key}") == b"payload"
    for stored in all_keys():
        parts = stored.split("/")
        assert ".." not in parts and "" not in parts and storage.FILM_ID.fullmatch(parts[0]), stored


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(film_id=FILM_IDS, key=KEYS)
def test_property_local_writes_never_leave_the_film_prefix(tmp_path: Path, film_id: str, key: str) -> None:
    store = LocalStore(tmp_path / "store")

    def all_files() -> list[str]:
        # Everything under tmp_path, hidden files included: nothing may appear outside the store root.
        found = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()]
        assert all(f.startswith("store/") for f in found), found
        return [f.removeprefix("store/") for f in found if not Path(f).name.startswith(".")]

    assert_key_stays_in_film(store, all_files, film_id, key)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(film_id=FILM_IDS, key=KEYS)
def test_property_s3_writes_never_leave_the_film_prefix(s3_bucket: S3Bucket, film_id: str, key: str) -> None:
    store = S3Store(s3_bucket.config)

    def all_objects() -> list[str]:
        found = [o["Key"] for o in s3_bucket.client.list_objects_v2(Bucket=s3_bucket.name).get("Contents", [])]
        assert all(k.startswith("studio/") for k in found), found
        return [k.removeprefix("studio/") for k in found if not k.startswith("studio/.filmstitch-write-check/")]

    assert_key_stays_in_film(store, all_objects, film_id, key)


# --------------------------------------------------------------------------- atomic local writes


class WriterDied(BaseException):
    """Stands for the writer being interrupted (KeyboardInterrupt, SystemExit...)."""


def fail_writes_under(monkeypatch: pytest.MonkeyPatch, root: Path, exc: BaseException, after_bytes: int = 0) -> None:
    """os.write to files under `root` writes `after_bytes` and then raises `exc` (other files unaffected)."""
    real_write = os.write
    written: dict[int, int] = {}

    def write(fd: int, data: bytes) -> int:
        if not os.readlink(f"/proc/self/fd/{fd}").startswith(str(root)):
            return real_write(fd, data)
        room = after_bytes - written.get(fd, 0)
        if room <= 0:
            raise exc
        n = real_write(fd, bytes(data[:room]))
        written[fd] = written.get(fd, 0) + n
        return n

    monkeypatch.setattr(os, "write", write)


def hidden_files(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob(".tmp-*"))


@pytest.mark.parametrize(
    "exc", [WriterDied(), OSError(errno.ENOSPC, "No space left on device"), OSError(errno.EIO, "Input/output error")]
)
def test_local_write_that_dies_midway_leaves_old_object_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exc: BaseException
) -> None:
    film = FilmStore.open(StorageConfig(root=str(tmp_path)), "f")
    old = film.put("clips/seg.mp4", b"old clip", "video/mp4")
    manifest_before = film.manifest()
    fail_writes_under(monkeypatch, tmp_path, exc, after_bytes=WRITE_CHUNK + 10)

    with pytest.raises(WriterDied if isinstance(exc, WriterDied) else StorageError):
        film.put("clips/seg.mp4", os.urandom(3 * WRITE_CHUNK), "video/mp4")
    monkeypatch.undo()

    assert film.get_verified(old) == b"old clip"
    assert film.manifest() == manifest_before
    assert hidden_files(tmp_path) == []
    assert film.verify().problems == []


def test_local_writer_killed_midway_never_exposes_a_partial_file(tmp_path: Path) -> None:
    """SIGKILL during the write: the final name keeps the old bytes; the orphan temp is swept later."""
    store = LocalStore(tmp_path)
    store.put("films/f/clip.mp4", b"old", "video/mp4")
    child = textwrap.dedent(
        f"""
        import os, signal
        from filmstitch.storage import LocalStore
        real_write, calls = os.write, []
        def write(fd, data):
            calls.append(fd)
            if len(calls) == 2:  # the first megabyte is on disk: die now
                os.kill(os.getpid(), signal.SIGKILL)
            return real_write(fd, data)
        os.write = write
        LocalStore({str(tmp_path)!r}).put("films/f/clip.mp4", b"n" * (3 * {WRITE_CHUNK}), "video/mp4")
        """
    )
    result = subprocess.run([sys.executable, "-c", child], cwd=ROOT, capture_output=True, timeout=60, check=False)
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()

    assert store.get("films/f/clip.mp4") == b"old"
    assert store.list("films") == ["films/f/clip.mp4"]
    orphans = list(tmp_path.rglob(".tmp-*"))
    assert len(orphans) == 1 and orphans[0].stat().st_size == WRITE_CHUNK  # it really died mid-write
    assert store.sweep_temp_files(older_than_s=0) == 1
    assert hidden_files(tmp_path) == []


# --------------------------------------------------------------------------- URLs


def test_presigned_url_downloads_the_bytes(any_s3_bucket: S3Bucket) -> None:
    s3_bucket = any_s3_bucket
    film = FilmStore.open(s3_bucket.config, "film-1")
    data = os.urandom(200_000)
    film.put("final/film.mp4", data, "video/mp4")
    url = film.url("final/film.mp4", expires_s=600)
    assert url.startswith(s3_bucket.config.endpoint_url) and "X-Amz-Signature=" in url
    assert s3_bucket.server.secret_access_key not in url
    response = httpx.get(url)
    assert response.status_code == 200 and response.content == data


def test_local_url_is_a_file_uri_of_the_bytes(tmp_path: Path) -> None:
    film = FilmStore.open(StorageConfig(root=str(tmp_path)), "film-1")
    film.put("final/film.mp4", b"mp4", "video/mp4")
    url = film.url("final/film.mp4")
    assert url.startswith("file://") and Path(url.removeprefix("file://")).read_bytes() == b"mp4"


# --------------------------------------------------------------------------- concurrency


def test_concurrent_threads_lose_no_manifest_entry(config: StorageConfig) -> None:
    def writer(worker: int) -> None:
        film = FilmStore.open(config, "busy-film")  # a store per task, as the flow's tasks do
        for i in range(8):
            film.put(f"w{worker}/a{i}.bin", f"{worker}:{i}".encode(), "text/plain")
            if i % 4 == 0:
                film.update_manifest(**{f"progress_{worker}": i})

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    film = FilmStore.open(config, "busy-film")
    manifest = film.manifest()
    assert set(manifest["artifacts"]) == {f"w{w}/a{i}.bin" for w in range(8) for i in range(8)}
    assert all(manifest[f"progress_{w}"] == 4 for w in range(8))
    assert film.verify().problems == []


def _process_writer(config_json: str, worker: int, count: int, barrier: multiprocessing.synchronize.Barrier) -> None:
    """Runs in a separate (spawned) process: records `count` artifacts in one shared film."""
    film = FilmStore.open(StorageConfig.model_validate_json(config_json), "shared-film")
    film.manifest()  # warm up the connection, then start together to maximise contention
    barrier.wait(timeout=60)
    for i in range(count):
        film.put(f"p{worker}/a{i}.bin", f"{worker}:{i}".encode(), "text/plain")


def test_concurrent_processes_lose_no_manifest_entry(config: StorageConfig) -> None:
    """Separate processes share no lock: the flock (local) or the conditional PUT (S3) must hold."""
    workers, count = 3, 12
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers)
    processes = [
        context.Process(target=_process_writer,
                        args=(config.model_dump_json(), w, count, barrier)) for w in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * workers

    film = FilmStore.open(config, "shared-film")
    assert set(film.manifest()["artifacts"]) == {f"p{w}/a{i}.bin" for w in range(workers) for i in range(count)}
    assert film.verify().problems == []


def test_s3_update_loses_the_race_then_retries_on_fresh_data(s3_bucket: S3Bucket) -> None:
    """Another writer slips in between our read and our write: the conditional PUT refuses ours, we redo it."""
    store, competitor = S3Store(s3_bucket.config), S3Store(s3_bucket.config)
    store.ensure_writable()  # the conditional-write probe, before we count conditional PUTs
    store.put("films/f/log.txt", b"start", "text/plain")
    seen: list[bytes | None] = []

    def change(current: bytes | None) -> bytes:
        seen.append(current)
        if len(seen) == 1:
            competitor.put("films/f/log.txt", b"start+theirs", "text/plain")
        return (current or b"") + b"+mine"

    conditional_before = s3_bucket.moto.fidelity.counts["conditional_puts"]
    store.update("films/f/log.txt", change, "text/plain")
    assert seen == [b"start", b"start+theirs"]
    assert store.get("films/f/log.txt") == b"start+theirs+mine"
    assert s3_bucket.moto.fidelity.counts["conditional_puts"] - conditional_before == 2

    created: list[bytes | None] = []
    store.update("films/f/new.txt", lambda current: created.append(current) or b"first", "text/plain")
    assert created == [None] and store.get("films/f/new.txt") == b"first"


# --------------------------------------------------------------------------- a flaky network


def test_s3_server_refuses_a_body_that_does_not_match_its_checksum(moto_s3: MotoS3, s3_bucket: S3Bucket) -> None:
    """The fidelity layer really rejects damaged bodies (else the fault test below would prove nothing)."""
    import base64

    wrong = base64.b64encode(hashlib.sha256(b"the whole body").digest()).decode()
    response = httpx.put(
        f"{moto_s3.endpoint_url}/{s3_bucket.name}/studio/films/f/x.bin",
        content=b"the whole",
        headers={"x-amz-checksum-sha256": wrong, "x-amz-sdk-checksum-algorithm": "SHA256"},
    )
    assert response.status_code == 400 and "<Code>BadDigest</Code>" in response.text
    assert "Contents" not in s3_bucket.client.list_objects_v2(Bucket=s3_bucket.name)


def test_s3_puts_carry_a_sha256_checksum(s3_bucket: S3Bucket) -> None:
    counts = s3_bucket.moto.fidelity.counts
    before_puts, before_checksummed = counts["puts"], counts["sha256_checksummed_puts"]
    film = FilmStore.open(s3_bucket.config, "film-1")
    for i in range(3):
        film.put(f"a{i}.bin", b"x" * i, "application/octet-stream")
    assert counts["puts"] - before_puts >= 6  # 3 objects + 3 manifest writes (+ the write check)
    assert counts["sha256_checksummed_puts"] - before_checksummed == counts["puts"] - before_puts


@pytest.mark.parametrize("server", ["moto_s3", "rgw"])
def test_film_survives_flaky_s3(request: pytest.FixtureRequest, server: str) -> None:
    """60 objects + manifest updates through ~20% faults: all arrive, all verify, nothing partial ever shows."""
    plan = FaultPlan(rate=0.2, seed=20261124, stall_s=1.0)
    report = run_film_through_faults(request.getfixturevalue(server), plan, objects=60, workers=6, read_timeout=0.5)
    print(f"\nflaky S3 ({server}): {report}")

    assert report.artifacts_lost == 0
    assert report.checksum_mismatches == 0
    assert report.partial_objects_seen == 0
    assert report.objects_watched >= 30, "the watcher saw too few objects to prove anything"
    assert report.faults_injected >= 0.1 * report.requests and len(report.faults) >= 5  # the faults really happened
    if report.rejected_by_server is not None:  # moto's fidelity layer counts what the server refused
        assert report.rejected_by_server >= report.faults.get("truncate_body", 0)  # damaged bodies refused, not stored


@pytest.mark.parametrize(("kind", "in_a_row"), [("truncate_body", 2), ("cut_response", 2), ("reset_after", 1)])
def test_each_damaging_fault_is_survived(any_s3_bucket: S3Bucket, kind: str, in_a_row: int) -> None:
    """Every request hit: bodies cut in transit, replies cut short, replies lost after the server acted.

    reset_after on the manifest's conditional PUT is the subtle one: boto3's retry is refused
    (412) because our own first attempt already landed; the store must notice, not loop.
    RGW 16 ignores x-amz-checksum-sha256: it catches a cut body by the signed payload hash over
    HTTP, and by Content-MD5 over HTTPS (where boto3 does not sign the payload).
    """
    s3_bucket = any_s3_bucket
    plan = FaultPlan(rate=1.0, seed=1, weights={kind: 1.0}, max_consecutive=in_a_row)
    with FlakyProxy(s3_bucket.config.endpoint_url, plan) as proxy:
        film = FilmStore(S3Store(s3_bucket.config.model_copy(update={"endpoint_url": proxy.url})), "film-1")
        data = os.urandom(100_000)
        ref = film.put("clips/seg-00.mp4", data, "video/mp4")
        assert film.get_verified(ref) == data and film.reuse("clips/seg-00.mp4") == ref
    assert proxy.counts[kind] >= 2 * in_a_row
    direct = FilmStore.open(s3_bucket.config, "film-1")
    assert direct.get("clips/seg-00.mp4") == data and direct.verify().problems == []


# --------------------------------------------------------------------------- preflight and secrets


def test_local_disk_full_is_one_clear_error_before_the_first_write(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "store"
    fail_writes_under(monkeypatch, root, OSError(errno.ENOSPC, "No space left on device"))
    film = FilmStore.open(StorageConfig(root=str(root)), "f")
    with pytest.raises(StorageError, match=r"not writable: No space left on device \(FILMSTITCH_STORAGE_DIR\)"):
        film.put("a.bin", b"a", "application/octet-stream")
    monkeypatch.undo()
    assert [p for p in root.rglob("*")] == []  # nothing, not even a temp file or a film directory


def test_local_low_free_space_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = storage.local.shutil.disk_usage
    monkeypatch.setattr(storage.local.shutil, "disk_usage", lambda path: real(path)._replace(free=3 * 2**20))
    with pytest.raises(StorageError, match="only 3 MiB free"):
        LocalStore(tmp_path).check_writable()


def test_local_root_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "films.txt").write_text("not a directory")
    with pytest.raises(StorageError, match="not writable"):
        FilmStore.open(StorageConfig(root=str(tmp_path / "films.txt")), "f").put("a.bin", b"a", "text/plain")


def test_fsync_failure_is_an_error_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    film = FilmStore.open(StorageConfig(root=str(tmp_path)), "f")
    film.put("a.bin", b"a", "text/plain")
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        target = os.readlink(f"/proc/self/fd/{fd}")
        if target.startswith(str(tmp_path)) and not Path(target).is_dir():
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(StorageError, match="Input/output error"):
        film.put("b.bin", b"b", "text/plain")
    monkeypatch.undo()
    assert not film.exists("b.bin") and hidden_files(tmp_path) == [] and list(film.manifest()["artifacts"]) == ["a.bin"]


def s3_failures(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, StorageError], str]:
    """Provoke each S3 setup failure; returns the error of each case, and the valid secret used."""
    results: dict[str, StorageError] = {}
    missing = s3_bucket.config.model_copy(update={"bucket": "no-such-bucket-filmstitch"})
    with pytest.raises(StorageError) as caught:
        FilmStore.open(missing, "f").put("a.bin", b"a", "text/plain")
    results["missing bucket"] = caught.value
    assert "no-such-bucket-filmstitch" not in [b["Name"] for b in s3_bucket.client.list_buckets()["Buckets"]]

    key_id, secret = s3_bucket.moto.enable_auth(monkeypatch)
    for case, (use_id, use_secret) in {
        "unknown key id": (FAKE_ACCESS_KEY_ID, FAKE_SECRET_ACCESS_KEY),
        "wrong secret": (key_id, FAKE_SECRET_ACCESS_KEY),
    }.items():
        monkeypatch.setenv("FILMSTITCH_S3_ACCESS_KEY_ID", use_id)
        monkeypatch.setenv("FILMSTITCH_S3_SECRET_ACCESS_KEY", use_secret)
        with pytest.raises(StorageError) as caught:
            FilmStore.open(s3_bucket.config, "f").put("a.bin", b"a", "text/plain")
        results[case] = caught.value

    monkeypatch.setenv("FILMSTITCH_S3_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("FILMSTITCH_S3_SECRET_ACCESS_KEY", secret)
    assert FilmStore.open(s3_bucket.config,
                          "f").manifest()["artifacts"] == {}  # the right keys work: nothing was written
    assert s3_bucket.moto.client("s3", key_id, secret).list_objects_v2(Bucket=s3_bucket.name).get("KeyCount") == 0

    monkeypatch.delenv("FILMSTITCH_S3_ACCESS_KEY_ID")
    with pytest.raises(StorageError) as caught:
        FilmStore.open(s3_bucket.config, "f")
    results["half the credentials"] = caught.value

    unreachable = s3_bucket.config.model_copy(update={"endpoint_url": "http://127.0.0.1:9"})
    monkeypatch.setenv("FILMSTITCH_S3_ACCESS_KEY_ID", FAKE_ACCESS_KEY_ID)
    with pytest.raises(StorageError) as caught:
        S3Store(unreachable, max_attempts=1).check_writable()
    results["unreachable endpoint"] = caught.value
    return results, secret


def test_s3_setup_failures_are_clear_and_never_leak_secrets(
    s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # botocore's debug logging included
    errors, real_secret = s3_failures(s3_bucket, monkeypatch)

    assert "bucket does not exist" in str(errors["missing bucket"])
    assert "no-such-bucket-filmstitch" in str(errors["missing bucket"])
    assert "FILMSTITCH_S3_ACCESS_KEY_ID" in str(errors["unknown key id"])
    assert "secret access key is wrong" in str(errors["wrong secret"])
    assert "FILMSTITCH_S3_ACCESS_KEY_ID is not set" in str(errors["half the credentials"])
    assert "cannot reach the S3 endpoint" in str(errors["unreachable endpoint"])

    for case, exc in errors.items():
        text = "".join(traceback.format_exception(exc)) + repr(exc)
        assert FAKE_SECRET_ACCESS_KEY not in text, case
        assert FAKE_ACCESS_KEY_ID not in text and real_secret not in text, case
    assert caplog.records, "expected botocore debug records to scan"
    for record in caplog.records:
        message = record.getMessage()
        assert FAKE_SECRET_ACCESS_KEY not in message, record.name
        if record.levelno >= logging.INFO or record.name.startswith("filmstitch"):
            assert FAKE_ACCESS_KEY_ID not in message, record.name


def test_open_store_shares_one_store_per_config(config: StorageConfig) -> None:
    assert open_store(config) is open_store(config)
