"""Secrets: with a fake API key and fake S3 credentials set, nothing a run leaves
behind contains them: log lines (captured here, and read back from the Prefect server), artifacts,
flow and task run records, manifests, stored objects, persisted task results and exception text.

The run uses everything that handles a secret: the Claude writer (against a local fake of the
Messages API, which echoes the credentials it receives back in its error messages, as a hostile or
buggy endpoint might) and S3 storage (moto). The first run fails on a refused key, the second is
overloaded once and then completes.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import filmstitch.flows.make_film  # noqa: F401 - sets up Prefect's logging now, so caplog's handler is not replaced later
from filmstitch.testing.backend_faults import CallLog
from filmstitch.testing.fake_anthropic import FakeAnthropic
from filmstitch.testing.film_author import FilmAuthor
from filmstitch.testing.prefect_api import drain_prefect_services
from filmstitch.testing.s3 import FAKE_ACCESS_KEY_ID, FAKE_SECRET_ACCESS_KEY, S3Bucket
from filmstitch.testing.small_film import SmallFilm, run_in_process

pytestmark = pytest.mark.prefect_server

API_KEY = "sk-ant-api03-FAKE-" + "Rt4" * 16
FILM = SmallFilm(idea="a locksmith teaches a robot to keep a secret")


@pytest.fixture(autouse=True, scope="module")
def _drained() -> Iterator[None]:
    yield
    drain_prefect_services()


def read_all(api: str, path: str, body: dict) -> list[dict]:
    """Every row of a Prefect `.../filter` endpoint, page by page."""
    rows: list[dict] = []
    while True:
        page = httpx.post(f"{api}/{path}", json=body | {"offset": len(rows), "limit": 200}, timeout=30).json()
        rows += page
        if len(page) < 200:
            return rows


def test_no_secret_reaches_logs_artifacts_records_objects_or_errors(
    prefect_client_settings: str,
    s3_bucket: S3Bucket,
    fake_anthropic: FakeAnthropic,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    api = prefect_client_settings
    config = s3_bucket.config
    for name, value in {
        "ANTHROPIC_API_KEY": API_KEY,
        "FILMSTITCH_CLAUDE_BASE_URL": fake_anthropic.base_url,
        "FILMSTITCH_STORAGE": "s3",
        "FILMSTITCH_S3_BUCKET": config.bucket,
        "FILMSTITCH_S3_PREFIX": config.prefix,
        "FILMSTITCH_S3_ENDPOINT_URL": config.endpoint_url,
        "FILMSTITCH_S3_REGION": config.region,
    }.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)  # everything, the SDKs' request logs included
    caplog.set_level(logging.DEBUG, logger="prefect")

    fake_anthropic.reply_error(401, "authentication_error", "invalid x-api-key", echo_auth=True)
    error, failed_run = run_in_process(api, FILM, CallLog(tmp_path / "failed.jsonl"), writer="claude")
    fake_anthropic.reply_error(529, "overloaded_error", "Overloaded", {"retry-after-ms": "10"}, echo_auth=True)
    fake_anthropic.author = FilmAuthor()  # answers every writer request after the overloaded one
    result, finished_run = run_in_process(api, FILM, CallLog(tmp_path / "finished.jsonl"), writer="claude")

    assert isinstance(error, Exception) and "the API key was refused (401)" in str(error)
    assert failed_run["state"]["type"] == "FAILED" and finished_run["state"]["type"] == "COMPLETED", result
    # The credentials were really used: the fake API got the key, the bucket got the film.
    assert all(
        API_KEY in (r.headers.get("x-api-key"), r.headers.get("authorization", "").removeprefix("Bearer "))
        for r in fake_anthropic.requests
    )
    assert len(fake_anthropic.requests) >= 6

    run_ids = [failed_run["id"], finished_run["id"]]
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    places: dict[str, str] = {
        "captured log lines": "\n".join(formatter.format(record) for record in caplog.records),
        "exception text": "".join(traceback.format_exception(error)) + repr(error),
        "flow runs on the server": httpx.post(
            f"{api}/flow_runs/filter", json={"flow_runs": {"id": {"any_": run_ids}}}
        ).text,
        "task runs on the server": str(read_all(api, "task_runs/filter", {"flow_runs": {"id": {"any_": run_ids}}})),
        "logs on the server": str(read_all(api, "logs/filter", {"logs": {"flow_run_id": {"any_": run_ids}}})),
        "artifacts on the server": str(
            read_all(api, "artifacts/filter", {"artifacts": {"flow_run_id": {"any_": run_ids}}})
        ),
        "stored objects and manifests": "\n".join(
            s3_bucket.client.get_object(Bucket=s3_bucket.name, Key=key)["Body"].read().decode("utf-8", "replace")
            for key in _keys(s3_bucket)
        ),
        "persisted task results": "\n".join(
            p.read_bytes().decode("utf-8", "replace") for p in (tmp_path / "results").rglob("*") if p.is_file()
        ),
    }
    # Each place really holds the run's traces, so a leak would have been seen.
    assert "the API key was refused (401)" in places["captured log lines"]
    assert "Retrying due to status code 529" in places["captured log lines"]  # the reply that echoed the key
    assert places["logs on the server"].count("'message'") >= 20
    assert places["artifacts on the server"].count("'key'") >= 4
    assert '"artifacts"' in places["stored objects and manifests"] and len(_keys(s3_bucket)) >= 30
    assert places["persisted task results"]

    # The API key and the S3 secret key appear nowhere, at any log level, the libraries' own included.
    leaks = [
        f"{what} in {where}"
        for where, text in places.items()
        for what, secret in (("ANTHROPIC_API_KEY", API_KEY), ("S3 secret access key", FAKE_SECRET_ACCESS_KEY))
        if secret in text
    ]
    assert leaks == []
    # The access key id is an identifier, not a secret: S3 puts it in every signed request and presigned
    # link. So it may appear only there: as X-Amz-Credential of the presigned links the film shares (its
    # download link, the checkpoint thumbnails) and in botocore's DEBUG dumps of signed requests.
    places["captured log lines"] = "\n".join(
        formatter.format(r)
        for r in caplog.records
        if not (r.name.startswith("botocore") and r.levelno == logging.DEBUG)
    )
    shown = [where for where, text in places.items() if FAKE_ACCESS_KEY_ID in without_presigned_credentials(text)]
    assert shown == []


def without_presigned_credentials(text: str) -> str:
    """`text` with the X-Amz-Credential parameters of presigned S3 links taken out."""
    return re.sub(r"X-Amz-Credential=[A-Za-z0-9%/_-]+", "X-Amz-Credential=...", text)


def _keys(bucket: S3Bucket) -> list[str]:
    pages = bucket.client.get_paginator("list_objects_v2").paginate(Bucket=bucket.name)
    return [obj["Key"] for page in pages for obj in page.get("Contents", [])]
