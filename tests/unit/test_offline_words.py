"""The offline engine's words are data (filmstitch/writers/offline/data/): every file parses, and the vocabularies
the writer and the animatic share cover what the models allow."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import get_args

from filmstitch.models import Pose
from filmstitch.renderers.animatic.restage import POSE_PHRASES, POSE_WORDS
from filmstitch.writers.offline.data_files import poses
from filmstitch.writers.offline.keyframes import POSE_WORDS as PROMPT_POSES

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
