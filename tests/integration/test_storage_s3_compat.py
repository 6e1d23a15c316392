"""S3-compatible stores as they really are: Ceph RGW's quirks, a store that ignores conditions, HTTPS uploads, regions.

* Ceph RGW 16.2 compares ``If-Match`` with the bare ETag: the store learns that in its write
  check, so manifest updates work there (the other storage tests run on RGW too).
* s3rver ignores ``If-None-Match`` / ``If-Match``: it is refused before the first write.
* Uploads send the checksum as plain headers, also over HTTPS (no aws-chunked trailer).
* Presigned links are signed for the bucket's region, not a hard-coded us-east-1.
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

import boto3
import httpx
import pytest
from botocore.awsrequest import AWSResponse

from filmstitch.settings import Settings, StorageConfig
from filmstitch.storage import FilmStore, S3Store, StorageError
from filmstitch.testing.rgw import RadosGateway
from filmstitch.testing.s3 import FAKE_ACCESS_KEY_ID, FAKE_SECRET_ACCESS_KEY, MotoS3, S3Bucket
from filmstitch.testing.s3rver import S3rver


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def plain(headers: Any) -> dict[str, str]:
    """botocore's request headers as lower-case names and text values."""
    return {name.lower(): value.decode() if isinstance(value, bytes) else value for name, value in headers.items()}


def code_of(call: Any) -> str:
    try:
        call()
        return "200"
    except Exception as exc:  # noqa: BLE001 - botocore ClientError
        return exc.response["Error"]["Code"]  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- Ceph RGW


def test_rgw_takes_if_match_only_unquoted_and_the_store_learns_it(rgw_bucket: S3Bucket, s3_bucket: S3Bucket) -> None:
    client, bucket = rgw_bucket.client, rgw_bucket.name
    etag = client.put_object(Bucket=bucket, Key="k", Body=b"one")["ETag"]
    assert etag.startswith('"')
    assert code_of(lambda: client.put_object(Bucket=bucket, Key="k", Body=b"two", IfMatch=etag)) == "PreconditionFailed"
    assert code_of(lambda: client.put_object(Bucket=bucket, Key="k", Body=b"two", IfMatch=etag.strip('"'))) == "200"

    keys = {bucket.name: Settings(s3_access_key_id=bucket.server.access_key_id,
                                  s3_secret_access_key=bucket.server.secret_access_key)
            for bucket in (rgw_bucket, s3_bucket)}
    on_rgw, on_moto = S3Store(rgw_bucket.config, keys[rgw_bucket.name]), S3Store(s3_bucket.config, keys[s3_bucket.name])
    on_rgw.ensure_writable()
    on_moto.ensure_writable()
    assert (on_rgw.etag_quoted, on_moto.etag_quoted) == (False, True)
    film = FilmStore(on_rgw, "many-updates")
    for i in range(20):  # every update after the first needs If-Match to work
        film.update_manifest(step=i)
    assert film.manifest()["step"] == 19


def test_rgw_checks_content_md5_but_not_the_sha256_header(rgw_bucket: S3Bucket) -> None:
    """Why every PUT also carries Content-MD5: it is the checksum RGW 16 verifies."""
    from botocore.config import Config

    client = boto3.client(  # boto3's default (legacy) retries would send a BadDigest PUT five times
        "s3", endpoint_url=rgw_bucket.config.endpoint_url, region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
        aws_access_key_id=rgw_bucket.server.access_key_id, aws_secret_access_key=rgw_bucket.server.secret_access_key,
    )
    bucket, body = rgw_bucket.name, b"the whole body"
    wrong_sha = b64(hashlib.sha256(b"another body").digest())
    wrong_md5 = b64(hashlib.md5(b"another body").digest())
    assert code_of(lambda: client.put_object(Bucket=bucket, Key="a", Body=body, ChecksumSHA256=wrong_sha)) == "200"
    assert code_of(lambda: client.put_object(Bucket=bucket, Key="b", Body=body, ContentMD5=wrong_md5)) == "BadDigest"


def test_every_put_carries_both_checksums_as_plain_headers(any_s3_bucket: S3Bucket) -> None:
    store = S3Store(any_s3_bucket.config)
    sent: list[dict[str, str]] = []
    store.client.meta.events.register("before-send.s3.PutObject",
                                      lambda request, **_: sent.append(plain(request.headers)))
    film = FilmStore(store, "film-1")
    data = os.urandom(50_000)
    film.put("clips/seg-00.mp4", data, "video/mp4")
    film.update_manifest(status="finished")
    assert len(sent) >= 1 + 4 + 2  # the write check's probe PUTs, the clip, two manifest writes
    clip = [h for h in sent if h.get("x-amz-checksum-sha256") == b64(hashlib.sha256(data).digest())]
    assert len(clip) == 1 and clip[0]["content-md5"] == b64(hashlib.md5(data).digest())
    for headers in sent:
        assert "x-amz-checksum-sha256" in headers and "content-md5" in headers
        assert "x-amz-trailer" not in headers and "aws-chunked" not in headers.get("content-encoding", "")


def test_over_https_the_checksum_is_a_header_not_an_aws_chunked_trailer(monkeypatch: pytest.MonkeyPatch) -> None:
    """boto3's ChecksumAlgorithm="SHA256" streams an aws-chunked body with a trailer over HTTPS, which
    several stores refuse; a precomputed ChecksumSHA256 is a plain header over the raw body."""
    config = StorageConfig(kind="s3", bucket="films", endpoint_url="https://s3.example.invalid", region="eu-west-1")
    store = S3Store(config, Settings(s3_access_key_id=FAKE_ACCESS_KEY_ID, s3_secret_access_key=FAKE_SECRET_ACCESS_KEY))
    seen: list[Any] = []

    class Raw:
        def stream(self, *args: Any, **kwargs: Any) -> Any:
            yield b""

    def answer(request: Any, **_: Any) -> AWSResponse:  # nothing leaves the machine
        seen.append(request)
        return AWSResponse(request.url, 200, {"ETag": '"0123"'}, Raw())

    store.client.meta.events.register("before-send.s3.PutObject", answer)
    data = os.urandom(10_000)
    store.put("films/f/clip.mp4", data, "video/mp4")
    (request,) = seen
    headers = plain(request.headers)
    assert request.url.startswith("https://") and headers["x-amz-checksum-sha256"] == b64(hashlib.sha256(data).digest())
    assert headers["content-md5"] == b64(hashlib.md5(data).digest())
    assert "x-amz-trailer" not in headers and "aws-chunked" not in headers.get("content-encoding", "")
    assert headers["content-length"] == str(len(data)) and body_bytes(request.body) == data  # the raw body, unframed


def body_bytes(body: Any) -> bytes:
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    body.seek(0)
    return body.read()


# --------------------------------------------------------------------------- s3rver: conditions ignored


def test_s3rver_really_ignores_conditional_writes(s3rver: S3rver) -> None:
    client = s3rver.client()
    client.put_object(Bucket=s3rver.bucket, Key="raw/k", Body=b"first")
    assert code_of(lambda: client.put_object(Bucket=s3rver.bucket, Key="raw/k", Body=b"second",
                                             IfNoneMatch="*")) == "200"
    assert client.get_object(Bucket=s3rver.bucket, Key="raw/k")["Body"].read() == b"second"  # overwritten


def test_a_store_that_ignores_conditional_writes_is_refused_before_the_first_write(
    s3rver: S3rver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FILMSTITCH_S3_ACCESS_KEY_ID", "S3RVER")
    monkeypatch.setenv("FILMSTITCH_S3_SECRET_ACCESS_KEY", "S3RVER")
    film = FilmStore(S3Store(s3rver.config()), "refused-film")
    with pytest.raises(StorageError) as caught:
        film.put("plan/script.json", b"{}", "application/json")
    message = str(caught.value)
    assert "does not honour conditional writes: a PUT with If-None-Match: * replaced an existing object" in message
    assert "FILMSTITCH_S3_ENDPOINT_URL" in message and "\n" not in message and "S3RVER" not in message
    listed = s3rver.client().list_objects_v2(Bucket=s3rver.bucket, Prefix="studio/").get("Contents", [])
    assert listed == []  # not the artifact, not a manifest, not even the probe
    with pytest.raises(StorageError, match="does not honour conditional writes"):
        film.update_manifest(status="running")


# --------------------------------------------------------------------------- regions


@pytest.fixture
def no_region_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))


def credential_scope(url: str) -> str:
    """The region a presigned URL was signed for (X-Amz-Credential=<key>/<date>/<region>/s3/aws4_request)."""
    credential = httpx.URL(url).params["X-Amz-Credential"]
    return credential.split("/")[2]


def test_presigned_links_are_signed_for_the_buckets_own_region(
    moto_s3: MotoS3, s3_bucket: S3Bucket, no_region_settings: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"films-eu-{os.urandom(4).hex()}"
    moto_s3.client().create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    config = s3_bucket.config.model_copy(update={"bucket": name, "region": None})

    film = FilmStore(S3Store(config), "film-1")
    film.put("film.mp4", b"the film", "video/mp4")
    url = film.url("film.mp4")
    assert credential_scope(url) == "eu-west-2"  # asked the bucket: no region was configured anywhere
    assert httpx.get(url).content == b"the film"

    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")
    assert credential_scope(FilmStore(S3Store(config), "film-1").url("film.mp4")) == "ap-southeast-2"
    configured = config.model_copy(update={"region": "ca-central-1"})
    assert credential_scope(FilmStore(S3Store(configured), "film-1").url("film.mp4")) == "ca-central-1"


def test_presigned_links_work_on_rgw_without_a_configured_region(rgw: RadosGateway, rgw_bucket: S3Bucket,
                                                                 no_region_settings: None) -> None:
    config = rgw_bucket.config.model_copy(update={"region": None})
    film = FilmStore(S3Store(config), "film-1")
    film.put("film.mp4", b"the film", "video/mp4")
    response = httpx.get(film.url("film.mp4"))
    assert response.status_code == 200 and response.content == b"the film"
