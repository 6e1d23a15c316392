"""A whole film made on S3, on moto and on Ceph's RADOS Gateway, equals the film made on local storage.

The film is small (2 segments, 256x160) but goes through every stage of the real flow, in this
process, against the session's Prefect server. On each S3 server: the run finishes, every
artifact verifies, the film's bytes equal the local film's, its presigned link downloads them,
and a rerun rewrites nothing (every manifest entry keeps its ``written_at``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect.settings import PREFECT_API_URL, PREFECT_HOME, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

from filmstitch.models import FilmRequest
from filmstitch.settings import StorageConfig
from filmstitch.storage import FilmStore

pytestmark = pytest.mark.prefect_server

FILM = FilmRequest(
    idea="a lighthouse keeper on a stormy island finds a message in a bottle",
    segments=2, seconds_per_segment=2.0, width=256, height=160, fps=8, seed=7, variants=2,
    writer="offline", renderer="animatic", sound=False,  # the offline voice is not bit-reproducible
)


def use_storage(monkeypatch: pytest.MonkeyPatch, config: StorageConfig) -> None:
    """Point Settings() (and so the flow) at `config`; S3 credentials are already in the environment."""
    monkeypatch.setenv("FILMSTITCH_STORAGE", config.kind)
    monkeypatch.setenv("FILMSTITCH_STORAGE_DIR", config.root)
    if config.kind == "s3":
        monkeypatch.setenv("FILMSTITCH_S3_BUCKET", config.bucket or "")
        monkeypatch.setenv("FILMSTITCH_S3_PREFIX", config.prefix)
        monkeypatch.setenv("FILMSTITCH_S3_ENDPOINT_URL", config.endpoint_url or "")
        monkeypatch.setenv("FILMSTITCH_S3_REGION", config.region or "")


def make(api: str, home: Path) -> Any:
    from filmstitch.flows.make_film import make_film

    with temporary_settings(
        updates={PREFECT_API_URL: api, PREFECT_HOME: home / "prefect-home",
                 PREFECT_LOCAL_STORAGE_PATH: home / "results"}
    ):
        return make_film(request=FILM, auto_pick=True)


@pytest.fixture(scope="module")
def local_film(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[bytes]:
    """The film's bytes made on local storage, once for the module."""
    home = tmp_path_factory.mktemp("local-film")
    with pytest.MonkeyPatch.context() as monkeypatch:
        config = StorageConfig(kind="local", root=str(home / "films"))
        use_storage(monkeypatch, config)
        result = make(prefect_api, home)
        yield FilmStore.open(config, result.film_id).get("film.mp4")


@pytest.mark.parametrize("server", ["moto", "rgw"])
def test_a_whole_film_on_s3_equals_the_local_one(
    request: pytest.FixtureRequest, server: str, local_film: bytes, prefect_api: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bucket = request.getfixturevalue({"moto": "s3_bucket", "rgw": "rgw_bucket"}[server])
    use_storage(monkeypatch, bucket.config)

    result = make(prefect_api, tmp_path)
    store = FilmStore.open(bucket.config, result.film_id)
    report = store.verify()
    assert report.healthy and report.problems == [], report
    manifest = store.manifest()
    assert manifest["status"] == "finished" and len([k for k in manifest["artifacts"] if k.startswith("clips/")]) == 2
    film = store.get("film.mp4")
    assert film == local_film and result.sha256 == manifest["artifacts"]["film.mp4"]["sha256"]
    assert httpx.get(store.url("film.mp4")).content == film

    written = {key: entry["written_at"] for key, entry in manifest["artifacts"].items()}
    again = make(prefect_api, tmp_path)
    assert again.sha256 == result.sha256
    assert {key: entry["written_at"] for key, entry in store.manifest()["artifacts"].items()} == written
