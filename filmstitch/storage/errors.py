"""The two errors storage raises. Their messages are safe to show: they never hold a credential."""

from __future__ import annotations


class StorageError(RuntimeError):
    """A storage problem, with a message that is safe to show (no credentials)."""


class ArtifactMissing(StorageError):
    """The artifact (or manifest) is not in the store."""


class ManifestDamaged(StorageError):
    """The film's manifest is there but unreadable: FilmStore.repair() rebuilds it from the objects."""
