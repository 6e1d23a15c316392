"""FilmStore: one film's artifacts under ``<film_id>/`` of a store, its manifest, and its records.

The promise: **a damaged or stale artifact is never handed out.** ``reuse(key, reuse_key)`` gives
back finished work only if the manifest says it was made from exactly these inputs (the reuse
key) and its bytes are there and match the recorded sha256 and size; anything else is None, and
the caller makes it again. ``verify()`` checks every artifact; ``repair()`` rebuilds a lost or
damaged manifest from the objects, which each carry their own checksum and reuse key.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from filmstitch.settings import StorageConfig
from filmstitch.storage.base import ObjectStore
from filmstitch.storage.errors import ArtifactMissing, ManifestDamaged, StorageError
from filmstitch.storage.group_commit import group_commit
from filmstitch.storage.keys import MANIFEST, now_iso, sha256_hex, validate_film_id, validate_key, validate_reuse_key
from filmstitch.storage.manifest import (
    ArtifactRef,
    VerifyReport,
    artifact_metadata,
    decode_record,
    dump_manifest,
    encode_record,
    entry_from_metadata,
    is_record,
    manifest_entry,
    record_metadata,
    ref_from_entry,
)
from filmstitch.storage.opening import open_store

log = logging.getLogger(__name__)


class FilmStore:
    """One film's artifacts under ``<film_id>/`` of the store, plus its manifest and records."""

    def __init__(self, store: ObjectStore, film_id: str) -> None:
        self.store = store
        self.film_id = validate_film_id(film_id)
        # The store is rooted at the films folder: ./films locally, the "films" prefix on S3.
        self.base = film_id

    @classmethod
    def open(cls, config: StorageConfig, film_id: str) -> FilmStore:
        return cls(open_store(config), film_id)

    def full_key(self, key: str) -> str:
        return f"{self.base}/{validate_key(key)}"

    # ------------------------------------------------------------------ artifacts

    def put(
        self, key: str, data: bytes, content_type: str, *, reuse_key: str | None = None, **meta: Any
    ) -> ArtifactRef:
        """Write atomically, then record it in the manifest (a crash in between only means redoing it).

        The object carries its own sha256, size, content type, reuse key and meta as metadata,
        so the manifest entry can be rebuilt from the object alone.
        """
        return self._put(key, data, content_type, reuse_key, meta)

    def _put(
        self, key: str, data: bytes, content_type: str, reuse_key: str | None, meta: dict[str, Any],
        also: Callable[[dict[str, Any]], None] | None = None,
    ) -> ArtifactRef:
        """`put`, with `also` applied to the manifest in the same edit that records the artifact."""
        if key == MANIFEST:
            raise ValueError(f"{MANIFEST!r} is reserved for the film's manifest")
        full_key = self.full_key(key)
        ref = ArtifactRef(
            key=key,
            sha256=sha256_hex(data),
            size=len(data),
            content_type=content_type,
            meta=meta,
            reuse_key=validate_reuse_key(reuse_key),
        )
        written_at = now_iso()
        self.store.ensure_writable()
        self.store.put(full_key, data, content_type, artifact_metadata(ref, written_at))
        entry = manifest_entry(ref, written_at)

        def record(manifest: dict[str, Any]) -> None:
            manifest["artifacts"][key] = entry
            if also is not None:
                also(manifest)

        self._change_manifest(record)
        return ref

    def put_json(
        self, key: str, model: BaseModel | dict | list, *, reuse_key: str | None = None, **meta: Any
    ) -> ArtifactRef:
        if isinstance(model, BaseModel):
            text = model.model_dump_json(indent=2)
        else:
            text = json.dumps(model, indent=2, ensure_ascii=False)
        return self.put(key, text.encode(), "application/json", reuse_key=reuse_key, **meta)

    def get(self, key: str) -> bytes:
        return self.store.get(self.full_key(key))

    def get_verified(self, ref: ArtifactRef) -> bytes:
        data = self.get(ref.key)
        if not ref.matches(data):
            raise StorageError(f"artifact {ref.key} of film {self.film_id} does not match its checksum")
        return data

    def get_json(self, key: str) -> Any:
        return json.loads(self.get(key))

    def exists(self, key: str) -> bool:
        return self.store.exists(self.full_key(key))

    def url(self, key: str, expires_s: int = 3600) -> str:
        return self.store.url(self.full_key(key), expires_s)

    def reuse(self, key: str, reuse_key: str | None = None) -> ArtifactRef | None:
        """The finished artifact at `key`, only if it was made from these inputs and is intact.

        That is: its manifest entry has exactly this `reuse_key` (None matches only an entry
        recorded without one), and its bytes are there and match the recorded sha256 and size.
        Otherwise None, so the caller makes it again; the reason is logged at INFO.
        """
        validate_key(key)
        validate_reuse_key(reuse_key)
        entry = self.manifest()["artifacts"].get(key)
        if entry is None:
            self._not_reused(key, "not made yet")
            return None
        ref = ref_from_entry(entry)
        if ref.reuse_key != reuse_key:
            self._not_reused(key, "it was made from other inputs")
            return None
        try:
            data = self.get(key)
        except ArtifactMissing:
            self._not_reused(key, "it is missing from storage")
            return None
        if not ref.matches(data):
            self._not_reused(key, "its bytes do not match the manifest (damaged)")
            return None
        return ref

    def take(self, part: str, reuse_key: str) -> int:
        """The take number of `part` (e.g. "keyframes/k04") made from `reuse_key`: the existing take with that
        key, else the next number, recorded atomically. Takes are never overwritten or deleted, so a retake or
        a changed setting never loses the earlier pictures, and switching back finds them.

        A manifest rebuilt by `repair` has no takes table; a take is then recognised by its artifacts
        (`<part>/take-<n>...` stored with that reuse key)."""
        validate_key(part)
        manifest = self.manifest()
        found = _take_of(manifest, part, reuse_key)
        if found is not None:  # the common case: no write needed
            return found
        chosen: list[int] = []

        def record(manifest: dict[str, Any]) -> None:
            chosen.clear()
            takes = manifest.setdefault("takes", {}).setdefault(part, [])
            number = _take_of(manifest, part, reuse_key)
            if number is None:
                used = {t["take"] for t in takes} | set(_takes_in_artifacts(manifest, part).values())
                number = max(used, default=0) + 1
            if all(t["take"] != number for t in takes):
                takes.append({"take": number, "reuse_key": reuse_key, "created_at": now_iso()})
            chosen.append(number)

        self.store.ensure_writable()
        self._change_manifest(record)
        return chosen[0]

    # ------------------------------------------------------------------ takes and what the film uses

    def takes(self) -> dict[str, list[dict[str, Any]]]:
        """Every take of every part, oldest first: `{"clips/c06": [{"take": 1, "reuse_key": ..., "created_at":
        ..., "about": {...}}, ...]}`. Takes known only from their artifacts (a rebuilt manifest) are listed too."""
        manifest = self.manifest()
        table = {part: [dict(t) for t in takes] for part, takes in manifest.get("takes", {}).items()}
        for key, entry in manifest.get("artifacts", {}).items():
            match = _PART_TAKE.match(key)
            if match and entry.get("reuse_key"):
                listed = table.setdefault(match["part"], [])
                if all(t["take"] != int(match["take"]) for t in listed):
                    listed.append({"take": int(match["take"]), "reuse_key": entry["reuse_key"],
                                   "created_at": entry.get("written_at")})
        return {part: sorted(takes, key=lambda t: t["take"]) for part, takes in sorted(table.items())}

    def describe_take(self, part: str, take: int, *, made_since: str | None = None, **about: Any) -> None:
        """Record how a take was made (its seed, an edited prompt, an edit...) beside it in the takes table,
        for `filmstitch takes` and for switching back to it. Merged into what is recorded already; with
        `made_since` (a time from `now_iso`), only if the take was made since then (a take that was reused,
        not made, keeps its own story)."""
        validate_key(part)

        def record(manifest: dict[str, Any]) -> None:
            for entry in manifest.setdefault("takes", {}).setdefault(part, []):
                if entry["take"] == take:
                    if made_since is None or str(entry.get("created_at", "")) >= made_since:
                        entry["about"] = {**entry.get("about", {}), **about}
                    return
            raise StorageError(f"{part} of film {self.film_id} has no take {take}")

        self.store.ensure_writable()
        self._change_manifest(record)

    def film_uses(self) -> dict[str, dict[str, Any]]:
        """Which take (and variant) of every part the film uses now: `{"keyframes/k04": {"take": 2, "variant":
        1}, "clips/c06": {"take": 3}, ...}`; empty before the film is first assembled."""
        return dict(self.manifest().get("film_uses", {}))

    def put_film(
        self, key: str, data: bytes, content_type: str, *, reuse_key: str, film_uses: dict[str, dict[str, Any]],
        **meta: Any,
    ) -> ArtifactRef:
        """Write the film and, in the same manifest edit, which take of every part it uses (`film_uses`): the
        record and the film never disagree, even when a run is killed in between. The file itself is replaced
        atomically, so the film is always the old one or the new one, whole."""

        def record_uses(manifest: dict[str, Any]) -> None:
            manifest["film_uses"] = film_uses

        return self._put(key, data, content_type, reuse_key, {**meta, "uses": film_uses}, also=record_uses)

    def _not_reused(self, key: str, why: str) -> None:
        log.info("%s of film %s will be made again: %s", key, self.film_id, why)

    # ------------------------------------------------------------------ the manifest

    def manifest(self) -> dict[str, Any]:
        try:
            data = self.store.get(self.full_key(MANIFEST))
        except ArtifactMissing:
            return {"film_id": self.film_id, "artifacts": {}}
        return self._parse_manifest(data)

    def _parse_manifest(self, data: bytes) -> dict[str, Any]:
        try:
            manifest = json.loads(data)
        except ValueError:
            raise self._damaged_manifest("is not valid JSON") from None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("artifacts", {}), dict):
            raise self._damaged_manifest("is malformed")
        manifest.setdefault("artifacts", {})
        return manifest

    def _damaged_manifest(self, what: str) -> ManifestDamaged:
        return ManifestDamaged(
            f"the manifest of film {self.film_id} {what}; rebuild it from the stored artifacts"
            f" with `filmstitch verify {self.film_id} --repair`"
        )

    def update_manifest(self, **fields: Any) -> None:
        """Merge top-level fields (status, plan summary, usage, ...) into the manifest."""
        if "artifacts" in fields or "film_id" in fields:
            raise ValueError("'artifacts' and 'film_id' are maintained by the store")
        self.store.ensure_writable()
        self._change_manifest(lambda manifest: manifest.update(fields))

    def _change_manifest(self, edit: Callable[[dict[str, Any]], Any]) -> None:
        """Apply `edit` to the newest manifest atomically, batched with concurrent edits in this process."""
        committer = group_commit(
            self.store, self.full_key(MANIFEST), decode=self._decode_for_edit, encode=self._encode_manifest
        )
        committer.apply(edit)

    def _decode_for_edit(self, current: bytes | None) -> dict[str, Any]:
        return self._parse_manifest(current) if current is not None else {"artifacts": {}}

    def _encode_manifest(self, manifest: dict[str, Any]) -> bytes:
        manifest["film_id"] = self.film_id
        manifest["updated_at"] = now_iso()
        return dump_manifest(manifest)

    # ------------------------------------------------------------------ verify and repair

    def verify(self) -> VerifyReport:
        """Check every artifact's bytes against the manifest (or, if the manifest is damaged, against
        each object's own metadata). Reads everything; writes nothing."""
        return self._survey()[0]

    def repair(self) -> VerifyReport:
        """Rebuild the manifest from what is stored, keeping only artifacts whose bytes verify.

        An entry is kept when its object matches it; an object whose entry is missing or stale
        gets one from its own metadata if its bytes match that; everything else is left out and
        reported (damaged, missing, unlisted), so the next run makes it again. Top-level fields
        (status, request, ...) are kept where the old manifest is readable. Run it while no run
        is writing this film.
        """
        report, rebuilt = self._survey(rebuild=True)
        if not report.repaired:
            return report
        surveyed = set(report.ok) | set(report.damaged) | set(report.missing) | set(report.unlisted)

        def rewrite(current: bytes | None) -> bytes:
            readable = (self._parse_or_none(current) if current is not None else None) or {"artifacts": {}}
            fields = {name: value for name, value in readable.items() if name != "artifacts"}
            # Entries recorded after the survey began belong to a writer we did not see: keep them.
            later = {key: entry for key, entry in readable["artifacts"].items() if key not in surveyed}
            fields.update(artifacts=rebuilt | later, repaired_at=now_iso())
            return self._encode_manifest(fields)

        self.store.ensure_writable()
        self.store.update(self.full_key(MANIFEST), rewrite, "application/json")
        log.warning(
            "rebuilt the manifest of film %s: %d artifacts kept, %d damaged, %d missing, %d unlisted left out",
            self.film_id, len(rebuilt), len(report.damaged), len(report.missing), len(report.unlisted),
        )
        return report

    def _parse_or_none(self, data: bytes) -> dict[str, Any] | None:
        try:
            return self._parse_manifest(data)
        except ManifestDamaged:
            return None

    def _survey(self, rebuild: bool = False) -> tuple[VerifyReport, dict[str, dict[str, Any]]]:
        """Read every object of the film once and judge it against the manifest and its own metadata.

        Returns the report (as verify() sees it, or as repair() will leave it) and the entries a
        rebuilt manifest would hold.
        """
        prefix = f"{self.base}/"
        stored = {key.removeprefix(prefix) for key in self.store.list(self.base)} - {MANIFEST}
        try:
            raw: bytes | None = self.store.get(self.full_key(MANIFEST))
        except ArtifactMissing:
            raw = None
        old = self._parse_or_none(raw) if raw is not None else None
        manifest_ok = old is not None or (raw is None and not stored)
        entries: dict[str, dict[str, Any]] = old["artifacts"] if old else {}

        found: dict[str, list[str]] = {"ok": [], "damaged": [], "missing": [], "unlisted": []}
        rebuilt: dict[str, dict[str, Any]] = {}
        for key in sorted(stored | set(entries)):
            entry = entries.get(key)
            try:
                data, metadata = self.store.read(self.full_key(key))
            except ArtifactMissing:
                if entry is not None:
                    found["missing"].append(key)
                continue
            if is_record(metadata):
                intact = metadata.get("sha256") == sha256_hex(data) and decode_record(data) is not None
                found["ok" if intact else "damaged"].append(key)
                continue
            entry_ok = entry is not None and ref_from_entry(entry).matches(data)
            own = entry_from_metadata(key, metadata)
            own_ok = own is not None and ref_from_entry(own).matches(data)
            keep = entry if entry_ok else own if own_ok else None
            if keep is not None:
                rebuilt[key] = keep
            if rebuild:
                verdict = "ok" if keep else "damaged" if (entry or own) else "unlisted"
            elif old is not None:
                verdict = ("ok" if entry_ok else "damaged") if entry else "unlisted"
            else:
                verdict = ("ok" if own_ok else "damaged") if own else "unlisted"
            found[verdict].append(key)

        # A rebuilt manifest is needed when the old one is unreadable, absent while objects exist, or stale.
        changed = (raw is not None or bool(stored)) if old is None else rebuilt != entries
        report = VerifyReport(film_id=self.film_id, manifest_ok=manifest_ok, **found)
        if rebuild:
            report = report.model_copy(update={"repaired": changed, "manifest_ok": manifest_ok or changed})
        return report, rebuilt

    def repair_if_damaged(self) -> VerifyReport | None:
        """repair() only when the manifest is unreadable (one read otherwise): for the start of a run."""
        try:
            self.manifest()
            return None
        except ManifestDamaged:
            return self.repair()

    # ------------------------------------------------------------------ records (film.json)

    def read_record(self, key: str) -> dict[str, Any] | None:
        """The JSON record at `key`; None if there is none or it is damaged (logged), never an error."""
        try:
            data = self.get(key)
        except ArtifactMissing:
            return None
        record = decode_record(data)
        if record is None:
            log.warning("record %s of film %s is damaged; it is treated as absent", key, self.film_id)
        return record

    def write_record(self, key: str, record: dict[str, Any]) -> None:
        """Store a small JSON record atomically, with its own checksum (kept out of the manifest)."""
        self.update_record(key, lambda _current: record)

    def update_record(self, key: str, change: Callable[[dict[str, Any] | None], dict[str, Any]]) -> dict[str, Any]:
        """Atomic read-modify-write of a record across threads and processes; returns what is stored.

        `change` gets the current record, or None if there is none or it is damaged; it may be
        called more than once (another writer got in first), so it must not have side effects.
        """
        if key == MANIFEST:
            raise ValueError(f"{MANIFEST!r} is reserved for the film's manifest")

        def change_bytes(current: bytes | None) -> bytes:
            record = decode_record(current) if current is not None else None
            if current is not None and record is None:
                log.warning("record %s of film %s is damaged; it is written anew", key, self.film_id)
            return encode_record(change(record))

        self.store.ensure_writable()
        stored = self.store.update(self.full_key(key), change_bytes, "application/json", metadata=record_metadata)
        record = decode_record(stored)
        assert record is not None
        return record


_TAKE = re.compile(r"/take-(\d+)(?:/|\.)")
#: `keyframes/k04/take-2/v1.png` -> part keyframes/k04, take 2.
_PART_TAKE = re.compile(r"^(?P<part>.+?)/take-(?P<take>\d+)(?:/|\.)")


def _takes_in_artifacts(manifest: dict[str, Any], part: str) -> dict[str, int]:
    """reuse key -> take number, read off the artifacts stored under `<part>/take-<n>`."""
    found: dict[str, int] = {}
    for key, entry in manifest.get("artifacts", {}).items():
        if key.startswith(part + "/take-") and entry.get("reuse_key"):
            match = _TAKE.search(key[len(part):])
            if match:
                found.setdefault(entry["reuse_key"], int(match.group(1)))
    return found


def _take_of(manifest: dict[str, Any], part: str, reuse_key: str) -> int | None:
    for take in manifest.get("takes", {}).get(part, []):
        if take["reuse_key"] == reuse_key:
            return take["take"]
    return _takes_in_artifacts(manifest, part).get(reuse_key)
