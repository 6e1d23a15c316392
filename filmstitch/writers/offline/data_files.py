"""The engine's words as data: the TOML files of data/, read once each.

Vocabularies (what the reader understands: actors, places, props, verbs...) and tongues (what the engine
writes in each language) are data, shipped inside the package (pyproject.toml's package-data), so that a new
word or a new language is an edit of a data file, not of the code. Grammar (articles, elision, agreement) stays
code, in the modules that use these tables.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib.resources import files
from typing import Any, cast, get_args

from filmstitch.models import Pose


@cache
def load(name: str) -> dict[str, Any]:
    """The parsed data file `data/<name>.toml` ('species', 'tongues/fr'); parsed once, so callers must not change it."""
    resource = files(__package__ or "filmstitch.writers.offline").joinpath("data")
    for part in f"{name}.toml".split("/"):
        resource = resource.joinpath(part)
    return tomllib.loads(resource.read_text(encoding="utf-8"))


def species() -> dict[str, dict[str, Any]]:
    """data/species.toml: every species, what the reader takes it for, how the writer and the animatic show it."""
    return load("species")


def poses() -> dict[Pose, dict[str, Any]]:
    """data/poses.toml: each Pose with the English words for it (shared by the writer and the animatic)."""
    table = load("poses")
    unknown = set(table) - set(get_args(Pose))
    if unknown:  # a typo in the data file would otherwise give a pose nothing can draw
        raise ValueError(f"data/poses.toml: not poses of filmstitch.models.Pose: {sorted(unknown)}")
    return cast(dict[Pose, dict[str, Any]], table)
