"""Nothing stale, nothing damaged: reuse keys, self-describing objects, verify, repair, records.

Each test runs on a local directory, on moto and on Ceph's RADOS Gateway. The promises:

* ``FilmStore.reuse(key, reuse_key)`` returns an artifact only if it was made from exactly these
  inputs and its bytes match the manifest; damaged, missing or other-input artifacts are None.
* Every artifact object carries its own sha256, size, content type, reuse key and meta, so a
  truncated, invalid or missing manifest is rebuilt from the objects alone (``repair()``),
  leaving out (and reporting) every object whose bytes do not match.
* Records (film.json) survive damage: a damaged record reads as None, never as wrong data.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filmstitch.settings import StorageConfig
from filmstitch.storage import FilmStore, LocalStore, ManifestDamaged, ObjectStore, VerifyReport

REUSE = "sha256:" + "a" * 64


@pytest.fixture
def film(any_store_config: StorageConfig) -> FilmStore:
    return FilmStore.open(any_store_config, "film-1")


def raw_put(store: ObjectStore, key: str, data: bytes) -> None:
    """Write behind FilmStore's back, with no metadata (a tamperer, a bug elsewhere, a disk fault)."""
    store.put(key, data, "application/octet-stream")


def corrupt(film: FilmStore, key: str, data: bytes) -> None:
    """Change an object's bytes and keep its metadata, as bit rot or a stray partial overwrite would."""
    full_key = film.full_key(key)
    film.store.put(full_key, data, "application/octet-stream", film.store.read(full_key).metadata)


def delete(film: FilmStore, key: str) -> None:
    if isinstance(film.store, LocalStore):
        (film.store.root / film.full_key(key)).unlink()
    else:
        film.store.client.delete_object(Bucket=film.store.bucket, Key=film.store._key(film.full_key(key)))


def make_film(film: FilmStore) -> dict[str, bytes]:
    """A small film's worth of artifacts, each with its own reuse key and meta, plus top-level fields."""
    payloads = {
        "plan/script.json": b'{"title": "Moon garden"}',
        "refs/hero-v0.png": os.urandom(5000),
        "clips/seg-00.mp4": os.urandom(70_000),
        "clips/seg-01.mp4": b"",
        "film.mp4": os.urandom(120_000),
    }
    for i, (key, data) in enumerate(payloads.items()):
        film.put(key, data, "video/mp4" if key.endswith("mp4") else "application/octet-stream",
                 reuse_key=f"inputs-{i}", stage=key.split("/")[0], index=i, title="Moon garden é")
    film.update_manifest(status="finished", title="Moon garden")
    return payloads


# --------------------------------------------------------------------------- reuse


def test_put_stores_the_entry_with_the_object_itself(film: FilmStore) -> None:
    ref = film.put("clips/seg-00.mp4", b"clip" * 100, "video/mp4", reuse_key=REUSE, seed=7, title="é ☾")
    assert ref.reuse_key == REUSE
    entry = film.manifest()["artifacts"]["clips/seg-00.mp4"]
    assert entry["reuse_key"] == REUSE and entry["meta"] == {"seed": 7, "title": "é ☾"}

    own = film.store.read(film.full_key("clips/seg-00.mp4")).metadata
    assert own["sha256"] == ref.sha256 and own["size"] == "400" and own["content-type"] == "video/mp4"
    assert own["reuse-key"] == REUSE and json.loads(own["meta"]) == {"seed": 7, "title": "é ☾"}
    assert own["written-at"] == entry["written_at"]
    # Hidden bookkeeping (sidecars, lock files, write checks) is never listed as a key.
    assert film.store.list(film.film_id) == ["film-1/clips/seg-00.mp4", "film-1/manifest.json"]


def test_reuse_needs_the_same_reuse_key_and_intact_bytes(film: FilmStore, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="filmstitch.storage")
    ref = film.put("clips/seg-00.mp4", b"clip" * 50, "video/mp4", reuse_key=REUSE)
    assert film.reuse("clips/seg-00.mp4", REUSE) == ref

    assert film.reuse("clips/seg-00.mp4", "sha256:" + "b" * 64) is None
    assert film.reuse("clips/seg-00.mp4") is None  # no reuse key matches only an entry recorded without one
    assert film.reuse("clips/never-made.mp4", REUSE) is None
    corrupt(film, "clips/seg-00.mp4", b"CLIP" * 50)  # damaged, same size
    assert film.reuse("clips/seg-00.mp4", REUSE) is None
    raw_put(film.store, film.full_key("clips/seg-00.mp4"), b"clip" * 49)  # truncated
    assert film.reuse("clips/seg-00.mp4", REUSE) is None
    delete(film, "clips/seg-00.mp4")
    assert film.reuse("clips/seg-00.mp4", REUSE) is None

    reasons = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO and "made again" in r.getMessage()]
    assert [m.split(": ", 1)[1] for m in reasons] == [
        "it was made from other inputs",
        "it was made from other inputs",
        "not made yet",
        "its bytes do not match the manifest (damaged)",
        "its bytes do not match the manifest (damaged)",
        "it is missing from storage",
    ]
    film.put("clips/seg-00.mp4", b"clip" * 50, "video/mp4", reuse_key=REUSE)
    assert film.reuse("clips/seg-00.mp4", REUSE) == ref  # rebuilt: reused again


def test_bad_reuse_keys_are_refused(film: FilmStore) -> None:
    for bad in ["", "has space", "é", "x" * 257, "line\nbreak"]:
        with pytest.raises(ValueError, match="invalid reuse key"):
            film.put("a.bin", b"a", "application/octet-stream", reuse_key=bad)
    assert film.store.list(film.film_id) == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=1, max_size=3000), where=st.floats(0, 1),
       damage=st.sampled_from(["flip", "cut", "grow"]))
def test_property_a_damaged_artifact_is_never_reused(tmp_path: Path, data: bytes, where: float, damage: str) -> None:
    film = FilmStore.open(StorageConfig(root=str(tmp_path / "store")), "prop")
    film.put("clips/x.mp4", data, "video/mp4", reuse_key=REUSE)
    at = min(int(where * len(data)), len(data) - 1)
    damaged = {
        "flip": data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :],
        "cut": data[:at],
        "grow": data + b"\0",
    }[damage]
    raw_put(film.store, film.full_key("clips/x.mp4"), damaged)
    assert film.reuse("clips/x.mp4", REUSE) is None
    assert film.verify().damaged == ["clips/x.mp4"]


# --------------------------------------------------------------------------- verify


def test_verify_reports_ok_damaged_missing_and_unlisted(film: FilmStore) -> None:
    payloads = make_film(film)
    assert film.verify() == VerifyReport(film_id="film-1", manifest_ok=True, ok=sorted(payloads))

    raw_put(film.store, film.full_key("clips/seg-00.mp4"), b"not the clip")
    delete(film, "refs/hero-v0.png")
    raw_put(film.store, film.full_key("stray/notes.txt"), b"written by hand")
    report = film.verify()
    assert report.manifest_ok and not report.healthy
    assert report.damaged == ["clips/seg-00.mp4"] and report.missing == ["refs/hero-v0.png"]
    assert report.unlisted == ["stray/notes.txt"] and report.problems == ["clips/seg-00.mp4", "refs/hero-v0.png"]
    assert report.ok == ["clips/seg-01.mp4", "film.mp4", "plan/script.json"]


def test_verify_of_a_damaged_manifest_checks_each_object_against_its_own_metadata(film: FilmStore) -> None:
    make_film(film)
    corrupt(film, "film.mp4", b"damaged")
    raw_put(film.store, film.full_key("stray/notes.txt"), b"by hand")
    truncate_manifest(film)
    report = film.verify()
    assert report.unlisted == ["stray/notes.txt"]
    assert not report.manifest_ok and report.damaged == ["film.mp4"] and not report.repaired
    assert report.ok == ["clips/seg-00.mp4", "clips/seg-01.mp4", "plan/script.json", "refs/hero-v0.png"]
    with pytest.raises(ManifestDamaged, match="filmstitch verify film-1 --repair"):
        film.manifest()


# --------------------------------------------------------------------------- repair


def truncate_manifest(film: FilmStore) -> bytes:
    whole = film.store.get(film.full_key("manifest.json"))
    raw_put(film.store, film.full_key("manifest.json"), whole[: len(whole) // 2])
    return whole


@pytest.mark.parametrize("damage", ["truncated", "not json", "not a manifest", "deleted"])
def test_repair_rebuilds_the_manifest_from_the_objects(film: FilmStore, damage: str) -> None:
    payloads = make_film(film)
    before = film.manifest()["artifacts"]
    if damage == "truncated":
        truncate_manifest(film)
    elif damage == "deleted":
        delete(film, "manifest.json")
    else:
        raw_put(film.store, film.full_key("manifest.json"), b"\x00garbage" if damage == "not json" else b"[1, 2]")

    report = film.repair()
    assert report.repaired and report.manifest_ok and report.healthy
    assert report.ok == sorted(payloads) and report.damaged == report.missing == report.unlisted == []
    rebuilt = film.manifest()
    assert rebuilt["artifacts"] == before  # every field, reuse keys, meta and written_at included
    assert rebuilt["film_id"] == "film-1" and "repaired_at" in rebuilt
    for i, key in enumerate(payloads):
        assert film.reuse(key, f"inputs-{i}") is not None
    assert film.repair().repaired is False  # a healthy manifest is left alone


def test_repair_leaves_out_what_does_not_verify(film: FilmStore) -> None:
    make_film(film)
    corrupt(film, "film.mp4", b"damaged")  # bytes match neither entry nor metadata
    raw_put(film.store, film.full_key("stray/notes.txt"), b"by hand")  # no metadata to rebuild from
    truncate_manifest(film)

    report = film.repair()
    assert report.repaired and report.damaged == ["film.mp4"] and report.unlisted == ["stray/notes.txt"]
    artifacts = film.manifest()["artifacts"]
    assert "film.mp4" not in artifacts and "stray/notes.txt" not in artifacts and len(artifacts) == 4
    assert film.reuse("film.mp4", "inputs-4") is None  # made again, never served
    film.put("film.mp4", b"the real film", "video/mp4", reuse_key="inputs-4")
    assert film.reuse("film.mp4", "inputs-4") is not None and film.verify().healthy


def test_repair_of_a_readable_manifest_keeps_its_fields_drops_bad_entries_adds_lost_ones(film: FilmStore) -> None:
    make_film(film)
    delete(film, "refs/hero-v0.png")
    corrupt(film, "clips/seg-00.mp4", b"damaged")
    # An artifact whose manifest entry was never recorded (the writer died between the two writes).
    manifest = film.manifest()
    film.put("clips/seg-02.mp4", b"late clip", "video/mp4", reuse_key="inputs-late")
    raw_put(film.store, film.full_key("manifest.json"), json.dumps(manifest).encode())

    report = film.repair()
    assert report.repaired and report.missing == ["refs/hero-v0.png"] and report.damaged == ["clips/seg-00.mp4"]
    repaired = film.manifest()
    assert repaired["status"] == "finished" and repaired["title"] == "Moon garden"
    assert sorted(repaired["artifacts"]) == ["clips/seg-01.mp4", "clips/seg-02.mp4", "film.mp4", "plan/script.json"]
    assert film.reuse("clips/seg-02.mp4", "inputs-late") is not None


def test_an_artifact_whose_meta_is_too_big_for_s3_metadata_is_made_again_after_a_repair(film: FilmStore) -> None:
    big = {"prompt": "a fox " * 600}  # 3.6 KB: S3 keeps 2 KB of user metadata
    film.put("refs/fox.png", b"png", "image/png", reuse_key=REUSE, **big)
    assert film.reuse("refs/fox.png", REUSE).meta == big  # the manifest keeps it all
    assert "meta" not in film.store.read(film.full_key("refs/fox.png")).metadata
    truncate_manifest(film)
    report = film.repair()
    assert report.unlisted == ["refs/fox.png"] and film.reuse("refs/fox.png", REUSE) is None


def test_repair_if_damaged_reads_once_when_all_is_well(film: FilmStore) -> None:
    make_film(film)
    assert film.repair_if_damaged() is None
    truncate_manifest(film)
    report = film.repair_if_damaged()
    assert report is not None and report.repaired and film.manifest()["artifacts"]


# --------------------------------------------------------------------------- records


def test_a_record_round_trips_and_a_damaged_one_reads_as_none(film: FilmStore,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    identity = {"identity": {"idea": "a fox learns to fly", "seed": 3}, "incarnation": "abc"}
    assert film.read_record("film.json") is None
    film.write_record("film.json", identity)
    assert film.read_record("film.json") == identity
    assert "film.json" not in film.manifest()["artifacts"] and film.verify().ok == ["film.json"]

    whole = film.get("film.json")
    raw_put(film.store, film.full_key("film.json"), whole[: len(whole) // 2])  # truncated
    assert film.read_record("film.json") is None
    raw_put(film.store, film.full_key("film.json"), whole.replace(b"a fox", b"a fix"))  # still valid JSON
    assert film.read_record("film.json") is None
    assert "record film.json of film film-1 is damaged" in caplog.text

    raw_put(film.store, film.full_key("film.json"),
            json.dumps(identity).encode())  # written before records had checksums
    assert film.read_record("film.json") == identity


def test_update_record_treats_a_damaged_record_as_absent(film: FilmStore) -> None:
    raw_put(film.store, film.full_key("film.json"), b'{"identity": {"idea": "a fo')
    seen: list[object] = []
    stored = film.update_record("film.json", lambda current: seen.append(current) or current or {"identity": "new"})
    assert seen == [None] and stored == {"identity": "new"} and film.read_record("film.json") == stored


def test_concurrent_claims_of_one_record_have_one_winner(any_store_config: StorageConfig) -> None:
    """Eight runs claim one film id at once with different films: all see the same, single winner."""
    results: list[dict] = []

    def claim(worker: int) -> None:
        film = FilmStore.open(any_store_config, "contested")
        results.append(film.update_record("film.json", lambda current: current or {"identity": worker}))

    threads = [threading.Thread(target=claim, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and len({json.dumps(r) for r in results}) == 1
    assert FilmStore.open(any_store_config, "contested").read_record("film.json") == results[0]
