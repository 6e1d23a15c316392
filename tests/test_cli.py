"""The `filmstitch` command line: clear errors for bad input, and the terminal prompt at checkpoints."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import pytest
from typer.testing import CliRunner

from filmstitch.app.cli import app


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["", "--auto"], "The idea is empty"),
        (["a cat", "--width", "100", "--auto"], "width"),
        (["a cat", "--width", "770", "--auto"], "multiple of 32"),
        (["a cat", "--writer", "gpt", "--auto"], "writer"),
        (["a cat", "--renderer", "blender", "--auto"], "renderer"),
        (["a \x07 cat", "--auto"], "control character"),
    ],
)
def test_bad_input_is_refused_before_any_work(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["make", *args, "--out", str(tmp_path / "films")])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "films").exists()


def test_unknown_option_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["make", "a cat", "--colour", "red"])
    assert result.exit_code == 2 and "No such option" in result.output


def test_terminal_prompt_answers_both_checkpoints(prefect_api: str, tmp_path: Path) -> None:
    """Without --auto, at a terminal: the variants' paths are shown, a bad answer is asked again,
    picks go to the server, and the last line printed is the film."""
    env = dict(os.environ, PREFECT_API_URL=prefect_api, FILMSTITCH_STORAGE_DIR=str(tmp_path / "films"),
               PREFECT_HOME=str(tmp_path / "prefect"), COLUMNS="400", NO_COLOR="1")
    child = pexpect.spawn(
        sys.executable,
        ["-m", "filmstitch.app.cli", "make", "a girl crosses the desert to find water", "--segments", "2",
         "--seconds", "2", "--width", "256", "--height", "160", "--fps", "8"],
        env=env, encoding="utf-8", timeout=180,
    )
    answered = 0
    shown: list[str] = []
    while True:
        index = child.expect([r"variant 2: (\S+\.png)", r"\[default 0\]: ", pexpect.EOF])
        if index == 0:
            shown.append(child.match.group(1))
        elif index == 1:
            if answered == 0:
                child.sendline("7")  # out of range: asked again
                child.expect("choose 0-2")
            child.sendline("2")
            answered += 1
        else:
            break
    child.close()
    assert child.exitstatus == 0, child.before
    assert answered == 3 + 3  # 2 characters + environment, then keyframes 0..2
    assert all(Path(p).is_file() for p in shown) and len(shown) == answered
    film = Path(child.before.strip().splitlines()[-1])
    assert film.name == "film.mp4" and film.is_file()
    picks = (film.parent / "picks" / "keyframes.json").read_text()
    assert '"picked_by": "person"' in picks and '"picks": [\n    2,\n    2,\n    2\n  ]' in picks
