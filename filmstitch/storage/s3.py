"""S3Store: any S3-compatible bucket (AWS S3, Ceph RGW, MinIO-style stores) through boto3.

* **All-or-nothing objects.** A single PUT is atomic. Every PUT carries the body's SHA-256 as a
  precomputed ``x-amz-checksum-sha256`` header and its MD5 as ``Content-MD5`` (plain headers,
  never an aws-chunked trailer, which several stores reject), so a body damaged on the way is
  refused by the server and sent again, instead of being stored. Ceph RGW 16 checks only the MD5.
* **Compare-and-swap** for read-modify-write: a conditional PUT (``If-Match`` the ETag we read, or
  ``If-None-Match: *`` for a new object), retried on fresh data when another writer won.
* **Stores that would break that are refused at the start.** ``check_writable()`` writes a probe
  object and checks that the store honours both conditions, and learns how it compares
  ETags: AWS and moto take the quoted ETag S3 returns, Ceph RGW 16 only the unquoted one.
* **Flaky networks are survived.** boto3's standard retry mode handles transport faults (500s,
  503 SlowDown, resets, timeouts); tenacity retries what boto3 does not: bodies damaged in
  transit (``BadDigest``) and downloads cut short or failing their checksum.
* **Links that work outside us-east-1.** Presigned URLs are signed for the bucket's region: the
  configured one, else boto3's own (``AWS_REGION``, config files), else the one the bucket reports.
* Credentials live only inside boto3's session and client: never in attributes, messages or logs.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import threading
import uuid
from collections.abc import Callable
from contextlib import suppress
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from filmstitch.settings import Settings, StorageConfig
from filmstitch.storage.base import Metadata, ObjectStore, StoredObject, check_metadata
from filmstitch.storage.errors import ArtifactMissing, StorageError
from filmstitch.storage.keys import WRITE_CHECK_DIR, shorten, validate_key

log = logging.getLogger(__name__)

# S3 error codes meaning "the body was damaged on the way": resending the same bytes is right.
S3_TRANSIT_CODES = frozenset({"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "IncompleteBody"})
# A conditional PUT lost the race to another writer (or the object went away under If-Match).
S3_CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey", "412", "409"})
TRANSIT_ATTEMPTS = 6
CAS_ATTEMPTS = 60
DEFAULT_REGION = "us-east-1"


def _redact_url(url: str | None) -> str:
    """An endpoint URL without any user:password@ part, safe for messages."""
    if not url:
        return "AWS S3"
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _s3_code(exc: BaseException) -> str | None:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) or None
    return None


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


class _LostRace(Exception):
    """A conditional PUT was refused because another writer changed the object first."""


class S3Store(ObjectStore):
    """Any S3-compatible store through boto3. Credentials come from settings or boto3's usual chain."""

    def __init__(
        self,
        config: StorageConfig,
        settings: Settings | None = None,
        *,
        max_attempts: int = 10,
        connect_timeout: float = 5,
        read_timeout: float = 30,
    ) -> None:
        import boto3
        from botocore.config import Config

        if not config.bucket:
            raise StorageError("S3 storage needs a bucket: set FILMSTITCH_S3_BUCKET")
        prefix = config.prefix.strip("/")
        if prefix:
            try:
                validate_key(prefix)
            except ValueError:
                raise StorageError(f"invalid S3 prefix {shorten(prefix)} (FILMSTITCH_S3_PREFIX)") from None
        settings = settings or Settings()
        key_id, secret = settings.s3_access_key_id, settings.s3_secret_access_key
        if bool(key_id) != bool(secret):
            missing = "FILMSTITCH_S3_SECRET_ACCESS_KEY" if key_id else "FILMSTITCH_S3_ACCESS_KEY_ID"
            raise StorageError(f"S3 credentials are incomplete: {missing} is not set")
        credentials = {}
        if key_id and secret:
            credentials = {
                "aws_access_key_id": key_id.get_secret_value(),
                "aws_secret_access_key": secret.get_secret_value(),
            }
        self.bucket = config.bucket
        self.prefix = prefix
        self.endpoint = _redact_url(config.endpoint_url)
        self._endpoint_url = config.endpoint_url
        self._session = boto3.session.Session(**credentials)
        # The configured region, else AWS_REGION (the variable other AWS SDKs read), else boto3's
        # own chain (AWS_DEFAULT_REGION, config files). None: ask the bucket when a link is signed.
        self._region: str | None = config.region or os.environ.get("AWS_REGION") or self._session.region_name
        self._config = Config(
            signature_version="s3v4",
            # "standard" retries 500/502/503/504, throttling (SlowDown), resets and timeouts with
            # jittered exponential backoff; "adaptive" would also rate-limit the client, which
            # only slows a fan-out down when a proxy or endpoint fails at random.
            retries={"mode": "standard", "max_attempts": max_attempts},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_pool_connections=32,
            tcp_keepalive=True,
        )
        self.client = self._make_client(self._region or DEFAULT_REGION)
        self._link_client: Any = self.client if self._region else None
        self._link_lock = threading.Lock()
        # How this store wants If-Match: True for the quoted ETag (AWS), False for the bare one
        # (Ceph RGW 16). Learnt by check_writable(); quoted until then, as S3 documents it.
        self.etag_quoted = True
        self._last_written: dict[str, tuple[bytes, str]] = {}  # full key -> (bytes, ETag) of our last update

    def _make_client(self, region: str) -> Any:
        return self._session.client("s3", endpoint_url=self._endpoint_url, region_name=region, config=self._config)

    def _key(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _error(self, action: str, key: str, exc: Exception) -> StorageError:
        """A safe, specific message: what failed, why, and which setting to check. Never a secret."""
        from botocore.exceptions import EndpointConnectionError, NoCredentialsError

        where = f"bucket {self.bucket!r} at {self.endpoint}"
        code = _s3_code(exc)
        if isinstance(exc, NoCredentialsError):
            reason = "no S3 credentials found: set FILMSTITCH_S3_ACCESS_KEY_ID and FILMSTITCH_S3_SECRET_ACCESS_KEY"
        elif isinstance(exc, EndpointConnectionError):
            reason = "cannot reach the S3 endpoint (FILMSTITCH_S3_ENDPOINT_URL)"
        elif code == "NoSuchBucket":
            reason = "the bucket does not exist: create it or fix FILMSTITCH_S3_BUCKET"
        elif code in ("InvalidAccessKeyId", "InvalidClientTokenId"):
            reason = "the access key id is not known to the endpoint: check FILMSTITCH_S3_ACCESS_KEY_ID"
        elif code == "SignatureDoesNotMatch":
            reason = "the secret access key is wrong: check FILMSTITCH_S3_SECRET_ACCESS_KEY"
        elif code in ("AccessDenied", "403"):
            reason = "access denied: the credentials may not read and write this bucket"
        elif code in ("NotImplemented", "501"):
            reason = "the endpoint does not support this request (conditional writes need a recent S3 API)"
        elif code:
            reason = code
        else:
            reason = type(exc).__name__
        return StorageError(f"S3 {action} of {key} in {where} failed: {reason}")

    # ------------------------------------------------------------------ one request, retried in transit

    def _with_transit_retries(self, action: str, key: str, call: Callable[[], Any]) -> Any:
        """Run `call`, retrying what boto3 does not: bodies damaged in transit, downloads cut short.

        Everything else (conflicts, missing objects, auth) goes straight back to the caller.
        """
        from botocore.exceptions import (
            FlexibleChecksumError,
            IncompleteReadError,
            ReadTimeoutError,
            ResponseStreamingError,
        )
        from urllib3.exceptions import ProtocolError  # an error reply cut short escapes botocore unwrapped

        cut_short = (IncompleteReadError, ResponseStreamingError, FlexibleChecksumError, ReadTimeoutError,
                     ProtocolError)

        def damaged(exc: BaseException) -> bool:
            return isinstance(exc, cut_short) or _s3_code(exc) in S3_TRANSIT_CODES

        def reason(exc: BaseException | None) -> str:
            return (exc and _s3_code(exc)) or type(exc).__name__

        def warn(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning("S3 %s of %s damaged in transit (%s); retrying", action, key, reason(exc))

        retrying = Retrying(
            stop=stop_after_attempt(TRANSIT_ATTEMPTS),
            wait=wait_random_exponential(multiplier=0.1, max=1.0),  # full jitter: spreads retries apart
            retry=retry_if_exception(damaged),
            before_sleep=warn,
            reraise=True,
        )
        try:
            return retrying(call)
        except Exception as exc:
            if damaged(exc):
                raise StorageError(
                    f"S3 {action} of {key} in bucket {self.bucket!r} kept failing in transit: {reason(exc)}"
                ) from None
            raise

    def _put(self, full_key: str, data: bytes, content_type: str, metadata: dict[str, str], **conditions: str) -> str:
        """One PUT with both checksums as plain headers; returns the new ETag."""
        checksums = {
            "ChecksumSHA256": _b64(hashlib.sha256(data).digest()),  # precomputed: a header, not a trailer
            "ContentMD5": _b64(hashlib.md5(data).digest()),  # the one checksum Ceph RGW 16 verifies
        }
        response = self._with_transit_retries(
            "write",
            full_key,
            lambda: self.client.put_object(
                Bucket=self.bucket,
                Key=full_key,
                Body=data,
                ContentType=content_type,
                Metadata=metadata,
                **checksums,
                **conditions,
            ),
        )
        return response.get("ETag", "")

    def _fetch(self, full_key: str) -> tuple[bytes | None, str | None, dict[str, str]]:
        """Bytes, ETag and metadata, or (None, None, {}) if there is no such object.

        The download's checksum is verified by boto3 where the object has one.
        """

        def call() -> tuple[bytes, str, dict[str, str]]:
            response = self.client.get_object(Bucket=self.bucket, Key=full_key, ChecksumMode="ENABLED")
            return response["Body"].read(), response["ETag"], response.get("Metadata", {})

        try:
            return self._with_transit_retries("read", full_key, call)
        except StorageError:
            raise
        except Exception as exc:
            if _s3_code(exc) in ("NoSuchKey", "404"):
                return None, None, {}
            raise

    def _get_or_none(self, key: str) -> tuple[bytes | None, str | None, dict[str, str]]:
        full_key = self._key(key)
        try:
            return self._fetch(full_key)
        except StorageError:
            raise
        except Exception as exc:  # noqa: BLE001 - botocore raises many types; _error/_s3_code sort them
            raise self._error("read", key, exc) from None

    # ------------------------------------------------------------------ the ObjectStore interface

    def put(self, key: str, data: bytes, content_type: str, metadata: Metadata | None = None) -> None:
        full_key = self._key(key)  # a bad key is the caller's ValueError, not a storage failure
        checked = check_metadata(metadata)
        try:
            self._put(full_key, data, content_type, checked)
        except StorageError:
            raise
        except Exception as exc:  # noqa: BLE001 - botocore raises many types; _error/_s3_code sort them
            raise self._error("write", key, exc) from None

    def get(self, key: str) -> bytes:
        return self.read(key).data

    def read(self, key: str) -> StoredObject:
        data, _, metadata = self._get_or_none(key)
        if data is None:
            raise ArtifactMissing(f"artifact {key} is missing in bucket {self.bucket!r}")
        return StoredObject(data, metadata)

    def exists(self, key: str) -> bool:
        full_key = self._key(key)
        try:
            self.client.head_object(Bucket=self.bucket, Key=full_key)
            return True
        except Exception as exc:  # noqa: BLE001 - botocore raises many types; _error/_s3_code sort them
            if _s3_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._error("lookup", key, exc) from None

    def url(self, key: str, expires_s: int = 3600) -> str:
        full_key = self._key(key)
        return self._signing_client().generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": full_key}, ExpiresIn=expires_s
        )

    def list(self, prefix: str) -> list[str]:
        full = self._key(prefix.rstrip("/")) + "/" if prefix else (self.prefix + "/" if self.prefix else "")
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
                keys += [obj["Key"] for obj in page.get("Contents", [])]
        except Exception as exc:  # noqa: BLE001 - botocore raises many types; _error/_s3_code sort them
            raise self._error("list", prefix or "/", exc) from None
        strip = len(self.prefix) + 1 if self.prefix else 0
        return sorted(key[strip:] for key in keys if not key[strip:].startswith(WRITE_CHECK_DIR + "/"))

    def update(
        self,
        key: str,
        change: Callable[[bytes | None], bytes],
        content_type: str,
        metadata: Callable[[bytes], Metadata] | None = None,
    ) -> bytes:
        """Compare-and-swap on the ETag: write only if nobody wrote since we read, else read again.

        A refused write is not always someone else's: when the reply to our PUT was lost, boto3
        retries it and the retry is refused because our own first attempt changed the ETag. So
        after a refusal, if the stored bytes are exactly what we wrote, we are done.
        """
        full_key = self._key(key)
        self.ensure_writable()  # refuses a store that ignores conditions; learns its ETag form
        # What this store last wrote to the key saves a read: if someone else wrote since, the
        # conditional PUT is refused and we read the key afresh, as after any lost race.
        current, etag = self._last_written.get(full_key) or self._get_or_none(key)[:2]

        def swap() -> bytes:
            nonlocal current, etag
            new = change(current)
            condition = {"IfMatch": self._if_match(etag)} if etag else {"IfNoneMatch": "*"}
            self._last_written.pop(full_key, None)
            try:
                written = self._put(full_key, new, content_type, check_metadata(metadata(new) if metadata else None),
                                    **condition)
                if written:
                    self._last_written[full_key] = (new, written)
                return new
            except StorageError:
                raise
            except Exception as exc:  # noqa: BLE001 - botocore raises many types; _error/_s3_code sort them
                if _s3_code(exc) not in S3_CONFLICT_CODES:
                    raise self._error("update", key, exc) from None
            current, etag, _ = self._get_or_none(key)
            if current == new:
                return new
            log.debug("S3 update of %s lost a race; trying again", key)
            raise _LostRace

        retrying = Retrying(
            stop=stop_after_attempt(CAS_ATTEMPTS),
            wait=wait_random_exponential(multiplier=0.05, max=1.0),  # full jitter spreads the writers apart
            retry=retry_if_exception_type(_LostRace),
            reraise=True,
        )
        try:
            return retrying(swap)
        except _LostRace:
            raise StorageError(
                f"S3 update of {key} in bucket {self.bucket!r} failed: {CAS_ATTEMPTS} conflicting writers in a row"
            ) from None

    def _if_match(self, etag: str) -> str:
        return etag if self.etag_quoted else etag.strip('"')

    # ------------------------------------------------------------------ checks before the first write

    def check_writable(self) -> None:
        """Write a probe object, check the store honours conditional writes, delete the probe.

        Proves bucket, credentials and permissions in one go, and refuses (with one clear line) a
        store that would silently let two writers overwrite each other's manifest or film record.
        """
        name = f"{WRITE_CHECK_DIR}/{uuid.uuid4().hex}"
        probe = f"{self.prefix}/{name}" if self.prefix else name
        try:
            etag = self._put(probe, b"filmstitch write check", "text/plain", {})
            self._check_conditional_writes(probe, etag)
        except StorageError:
            raise
        except Exception as exc:  # noqa: BLE001 - botocore raises many types; _error/_s3_code sort them
            raise self._error("write check", name, exc) from None
        finally:
            with suppress(Exception):  # a leftover probe is harmless; delete permission is not required
                self.client.delete_object(Bucket=self.bucket, Key=probe)

    def _check_conditional_writes(self, probe: str, etag: str) -> None:
        attempts = iter(range(1, 100))

        def refused(**condition: str) -> bool:
            """True if the conditional PUT was refused with 412, False if the store wrote it.

            Each try writes different bytes: a 412 that only answers boto3's retry of a PUT whose
            reply was lost (the first attempt landed) is told apart by reading the probe back.
            """
            body = f"filmstitch conditional write check {next(attempts)}".encode()
            try:
                self._put(probe, body, "text/plain", {}, **condition)
                return False
            except Exception as exc:
                if _s3_code(exc) not in ("PreconditionFailed", "412"):
                    raise
            stored, _, _ = self._fetch(probe)
            return stored != body

        def unsupported(what: str) -> StorageError:
            return StorageError(
                f"the S3 store at {self.endpoint} (bucket {self.bucket!r}) does not honour conditional writes:"
                f" {what}. FilmStitch needs If-None-Match and If-Match so that concurrent runs never overwrite"
                " each other's manifest or film record; use AWS S3, Ceph RGW or a MinIO-style store"
                " (FILMSTITCH_S3_ENDPOINT_URL)"
            )

        if not refused(IfNoneMatch="*"):
            raise unsupported("a PUT with If-None-Match: * replaced an existing object")
        for quoted in (True, False):
            if not refused(IfMatch=etag if quoted else etag.strip('"')):
                self.etag_quoted = quoted
                break
        else:
            raise unsupported("a PUT with If-Match and the object's own ETag was refused")
        if not refused(IfMatch=self._if_match('"00000000000000000000000000000000"')):
            raise unsupported("a PUT with If-Match and a wrong ETag replaced the object")

    # ------------------------------------------------------------------ links signed for the bucket's region

    def _signing_client(self) -> Any:
        """A client for the bucket's own region (asked once, when no region was configured)."""
        with self._link_lock:
            if self._link_client is None:
                region = self._bucket_region()
                self._link_client = self.client if region == DEFAULT_REGION else self._make_client(region)
            return self._link_client

    def _bucket_region(self) -> str:
        """The region the bucket reports (HEAD's x-amz-bucket-region, else its location), else us-east-1."""
        with suppress(Exception):
            response = self.client.head_bucket(Bucket=self.bucket)
            region = response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-bucket-region")
            if region:
                return region
        with suppress(Exception):
            location = self.client.get_bucket_location(Bucket=self.bucket).get("LocationConstraint")
            return {None: DEFAULT_REGION, "": DEFAULT_REGION, "EU": "eu-west-1"}.get(location, location)
        return DEFAULT_REGION

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")
