"""Keys, film ids and checksums: validated before any I/O, so nothing lands outside ``<film_id>/``.

A key is a relative path of safe parts. Names starting with "." are never keys: the stores keep
their own bookkeeping under such names (temp files, lock files, metadata sidecars, the S3 write
check), so no artifact can ever collide with it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

KEY_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
FILM_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,79}")
MAX_KEY_CHARS = 512  # well inside S3's 1024-byte key limit, with room for prefix and film id
MAX_KEY_PARTS = 16
MANIFEST = "manifest.json"
TEMP_PREFIX = ".tmp-"  # hidden local temp files
WRITE_CHECK_DIR = ".filmstitch-write-check"
# A reuse key names the inputs an artifact was made from (in practice a hash): printable ASCII,
# so it can travel as S3 user metadata (an HTTP header) unchanged.
REUSE_KEY = re.compile(r"[\x21-\x7e]{1,256}")


def shorten(text: str, limit: int = 80) -> str:
    """repr() of `text`, cut at `limit` characters: for messages about untrusted input."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def validate_key(key: str) -> str:
    """A relative key of safe parts: ASCII letters, digits, '.', '_', '-'; no part starts with '.'.

    That rules out '..', '.', absolute paths, backslashes, empty parts, control characters,
    unicode look-alikes (full-width dots and slashes) and hidden names (the stores' own files).
    """
    if not isinstance(key, str) or not key:
        raise ValueError("invalid artifact key: it must be a non-empty string")
    parts = key.split("/")
    if len(key) > MAX_KEY_CHARS or len(parts) > MAX_KEY_PARTS:
        raise ValueError(f"invalid artifact key {shorten(key)}: longer than {MAX_KEY_CHARS} characters"
                         f" or {MAX_KEY_PARTS} parts")
    if not all(KEY_PART.fullmatch(part) for part in parts):
        raise ValueError(
            f"invalid artifact key {shorten(key)}: use '/'-separated parts of letters, digits, '.', '_' and '-'"
            " (each starting with a letter or digit)"
        )
    return key


def validate_film_id(film_id: str) -> str:
    if not isinstance(film_id, str) or not FILM_ID.fullmatch(film_id):
        shown = shorten(film_id) if isinstance(film_id, str) else type(film_id).__name__
        raise ValueError(f"invalid film id {shown}: lower-case letters, digits, '-' and '_', at most 80")
    return film_id


def validate_reuse_key(reuse_key: str | None) -> str | None:
    if reuse_key is not None and (not isinstance(reuse_key, str) or not REUSE_KEY.fullmatch(reuse_key)):
        raise ValueError("invalid reuse key: 1 to 256 printable ASCII characters without spaces")
    return reuse_key


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
