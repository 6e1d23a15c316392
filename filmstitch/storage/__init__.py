"""Artifact storage: a local directory or any S3-compatible bucket, behind one small interface.

Layout: ``<film_id>/<key>`` under the films folder (the local root defaults to ``./films``, the
S3 prefix to ``films``), plus ``<film_id>/manifest.json`` listing every artifact with its sha256,
size and reuse key. One module per job:

=================  ===========================================================================
``keys``           key and film-id validation (nothing ever leaves the film's prefix), checksums
``errors``         ``StorageError`` (messages safe to show), ``ArtifactMissing``, ``ManifestDamaged``
``base``           ``ObjectStore``: bytes plus a little metadata by key
``local``          ``LocalStore``: atomic files (temp, fsync, rename), sidecar metadata, file locks
``s3``             ``S3Store``: checksummed PUTs, compare-and-swap, conditional-write probe, regions
``opening``        ``open_store``: one store per config and process
``group_commit``   batches concurrent manifest edits into one write
``manifest``       ``ArtifactRef``, ``VerifyReport``, the manifest and object-metadata formats
``film``           ``FilmStore``: put / reuse / verify / repair / records of one film
=================  ===========================================================================

The guarantees: no half-written object is ever visible; no manifest entry is ever lost, with any
number of threads and processes writing one film; a damaged, missing or stale artifact is never
handed out by ``FilmStore.reuse``; a damaged manifest can be rebuilt from the objects; flaky
networks are survived; problems (full disk, missing bucket, wrong credentials, a store that
ignores conditional writes) surface before the first write as one clear ``StorageError``.
"""

from filmstitch.storage.base import ObjectStore, StoredObject
from filmstitch.storage.errors import ArtifactMissing, ManifestDamaged, StorageError
from filmstitch.storage.film import FilmStore
from filmstitch.storage.keys import FILM_ID, MANIFEST, sha256_hex, validate_film_id, validate_key
from filmstitch.storage.local import WRITE_CHUNK, LocalStore
from filmstitch.storage.manifest import ArtifactRef, VerifyReport
from filmstitch.storage.opening import open_store
from filmstitch.storage.s3 import S3Store

__all__ = [
    "FILM_ID",
    "MANIFEST",
    "WRITE_CHUNK",
    "ArtifactMissing",
    "ArtifactRef",
    "FilmStore",
    "LocalStore",
    "ManifestDamaged",
    "ObjectStore",
    "S3Store",
    "StorageError",
    "StoredObject",
    "VerifyReport",
    "open_store",
    "sha256_hex",
    "validate_film_id",
    "validate_key",
]
