"""The offline engine's words are data (filmstitch/writers/offline/data/): every file parses, and the vocabularies
the writer and the animatic share cover what the models allow."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import get_args

from filmstitch.models import Pose
from filmstitch.renderers.animatic.looks import SPECIES_PLANS
from filmstitch.renderers.animatic.restage import POSE_PHRASES, POSE_WORDS
from filmstitch.writers.offline.casting import ALIASES, BEINGS
from filmstitch.writers.offline.data_files import poses, species
from filmstitch.writers.offline.keyframes import POSE_WORDS as PROMPT_POSES
from filmstitch.writers.offline.lexicon import ACTORS

DATA = Path(__file__).parents[2] / "filmstitch" / "writers" / "offline" / "data"


def test_every_data_file_is_toml() -> None:
    files = sorted(DATA.rglob("*.toml"))
    assert len(files) >= 7
    for path in files:
        assert tomllib.loads(path.read_text(encoding="utf-8")), path


def test_every_pose_has_its_words_for_the_writer_and_the_animatic() -> None:
    assert set(poses()) == set(get_args(Pose))
    assert set(PROMPT_POSES) == set(POSE_PHRASES) == set(POSE_WORDS.values()) == set(get_args(Pose))
    for pose, words in poses().items():
        assert words["prompt"] and words["says"] and pose.replace("_", " ") in words["words"]


def test_one_species_table_feeds_the_reader_the_writer_and_the_animatic() -> None:
    table = species()
    assert ACTORS["octopus"].kind == table["octopus"]["kind"] == "sea_creature"
    assert BEINGS["octopus"][0] == table["octopus"]["look"] and SPECIES_PLANS["octopus"] == table["octopus"]["body"]
    for name, facts in table.items():  # a cousin is a species with a look of its own
        assert facts.get("like") is None or facts["like"] in BEINGS, name
    assert set(ALIASES) <= set(table)
