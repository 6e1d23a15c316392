"""The `filmstitch` command line: bad input and missing backends refused before any work, the terminal
checkpoint (contact sheet, one question, Enter accepts), unanswered checkpoints, and a clean end (the film's
path is the last line, in every mode)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest
from typer.testing import CliRunner

from filmstitch import preflight
from filmstitch.app.cli import app

SMALL = ["--segments", "2", "--seconds", "2", "--width", "256", "--height", "160", "--fps", "8", "--no-sound"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["", "--auto"], "The idea is empty"),
        (["a cat", "--width", "100", "--auto"], "width"),
        (["a cat", "--width", "770", "--auto"], "multiple of 32"),
        (["a cat", "--writer", "gpt", "--auto"], "writer"),
        (["a cat", "--renderer", "blender", "--auto"], "renderer"),
        (["a \x07 cat", "--auto"], "control character"),
        (["a \u202e cat", "--auto"], "U+202E RIGHT-TO-LEFT OVERRIDE"),
        (["a cat", "--pause-timeout", "-1"], "--pause-timeout must be 10 s to 7 days"),
        (["a cat", "--pause-timeout", "0"], "--pause-timeout must be 10 s to 7 days"),
        (["a cat", "--film-id", "../up"], "invalid film id '../up'"),
        (["a cat", "--minutes", "30"], "less than or equal to 10"),
        (["a cat", "--voice", "Lena"], "--voice takes NAME=VOICE"),
    ],
)
def test_bad_input_is_refused_before_any_work(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["make", *args, "--out", str(tmp_path / "films")])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "films").exists()


def test_unknown_option_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["make", "a cat", "--colour", "red"])
    assert result.exit_code == 2 and "No such option" in result.output


@pytest.mark.parametrize(
    ("args", "env", "missing", "message"),
    [
        (["--writer", "claude"], {"ANTHROPIC_API_KEY": ""}, None,
         "the claude writer needs an API key: set ANTHROPIC_API_KEY"),
        (["--renderer", "modal"], {}, "modal", "pip install 'filmstitch[modal]'"),
        (["--renderer", "modal"], {"MODAL_TOKEN_ID": "", "HOME": "/nonexistent"}, None,
         "needs Modal credentials on the machine that runs the flow: run `modal token new`"),
        (["--renderer", "local-gpu"], {}, "diffusers", "pip install 'filmstitch[gpu]'"),
        (["--renderer", "local-gpu"], {"FILMSTITCH_GPU_FLUX_DIR": "/no/flux"}, None,
         "/no/flux does not exist (set FILMSTITCH_GPU_FLUX_DIR"),
    ],
)
def test_missing_backends_are_one_clear_line_before_anything_starts(
    args: list[str], env: dict, missing: str | None, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value) if value else monkeypatch.delenv(name, raising=False)
    if missing:
        real = preflight._missing
        monkeypatch.setattr(preflight, "_missing", lambda module: module == missing or real(module))
    started = time.monotonic()
    result = CliRunner().invoke(app, ["make", "a cat", "--auto", *args, "--out", str(tmp_path / "films")])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.output  # printed verbatim: no markup eaten
    assert "Traceback" not in result.output and not (tmp_path / "films").exists()
    assert time.monotonic() - started < 10  # no Prefect server was started


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL",) and not k.startswith("FILMSTITCH_")}
    return env | {"FILMSTITCH_STORAGE_DIR": str(tmp_path / "films"), "PREFECT_HOME": str(tmp_path / "prefect"),
                  "COLUMNS": "400", "NO_COLOR": "1"} | extra


#: An EDITOR that changes one line of the script page it is given (the first segment's narration).
EDITOR = """import sys, pathlib
path = pathlib.Path(sys.argv[1])
lines = path.read_text(encoding="utf-8").splitlines()
lines = ["s0.narration: 'Sand to the horizon, and not a drop of water.'" if line.startswith("s0.narration:") else line
         for line in lines]
path.write_text("\\n".join(lines) + "\\n", encoding="utf-8")
"""


def test_terminal_checkpoint_one_question_each(prefect_api: str, tmp_path: Path) -> None:
    """Without --auto, at a terminal: the script first, changed in the EDITOR; then the contact sheet's path,
    one question per checkpoint, a bad answer is asked again, Enter accepts the recommendations, and the last
    line printed is the film."""
    editor = tmp_path / "editor.py"
    editor.write_text(EDITOR, encoding="utf-8")
    child = pexpect.spawn(
        sys.executable, ["-m", "filmstitch.app.cli", "make", "a girl crosses the desert to find water", *SMALL],
        env=cli_env(tmp_path, PREFECT_API_URL=prefect_api, EDITOR=f"{sys.executable} {editor}"),
        encoding="utf-8", timeout=180,
    )
    sheets = []
    try:
        child.expect("the film is waiting for you to read the script")
        child.expect(r"'e' opens it in your editor \(EDITOR\)\.[^>]*> ")
        child.sendline("e")
        child.expect("Changed: s0.narration")
        child.expect("Script sent: ACCEPT")
        for answers in (["", ], ["0:9", "0:2"]):  # checkpoint 1: Enter; checkpoint 2: a bad answer, then a change
            child.expect(r"All variants, labelled: (\S+\.jpg)")
            sheets.append(Path(child.match.group(1)))
            # Checkpoint 2 also says how to edit a pick ('0:1 edit "..."') before the prompt.
            child.expect(r"type changes \(e\.g\. [^)]*\)\.[^>]*> ")
            for answer in answers:
                child.sendline(answer)
                if answer == "0:9":
                    child.expect("row 0 has variants 0-2, not 9")
                    child.expect(r"> ")
            child.expect("Picks sent: ACCEPT")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)  # a failed expectation must not leave the film waiting at a prompt
    assert child.exitstatus == 0, child.before
    assert all(sheet.is_file() for sheet in sheets)
    film = Path(child.before.strip().splitlines()[-1])
    assert film.name == "film.mp4" and film.is_file()
    references = (film.parent / "picks" / "references.json").read_text()
    keyframes = (film.parent / "picks" / "keyframes.json").read_text()
    assert '"picked_by": "person (accepted recommendation)"' in references
    assert '"picked_by": "person"' in keyframes and '"0": 2' in keyframes
    plan = json.loads((film.parent / "plan" / "plan.json").read_text())
    assert plan["script"]["segments"][0]["narration"] == "Sand to the horizon, and not a drop of water."


def test_the_terminal_script_checkpoint_shows_the_estimate_before_the_question(
    prefect_api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the terminal the script checkpoint says what the film will cost now that its plan is written (the
    estimate the dialog, the review page and REST show), before it asks; a CPU-second priced at a dollar makes
    the animatic's estimate dollars. The film is left at its first question."""
    from filmstitch.models import FilmPlan
    from filmstitch.settings import StorageConfig
    from filmstitch.tasks.estimate import script_cost

    monkeypatch.setenv("FILMSTITCH_COST_CPU_USD_PER_SECOND", "1.0")
    child = pexpect.spawn(
        sys.executable, ["-m", "filmstitch.app.cli", "make", "a fox teaches a hen to swim", *SMALL],
        env=cli_env(tmp_path, PREFECT_API_URL=prefect_api, FILMSTITCH_COST_CPU_USD_PER_SECOND="1.0"),
        encoding="utf-8", timeout=180,
    )
    try:
        child.expect("the film is waiting for you to read the script")
        child.expect(r"Enter keeps the script as written[^>]*> ")
        shown = child.before.replace("\r\n", "\n")
    finally:
        child.close(force=True)  # nothing more is needed of this film
    [folder] = (tmp_path / "films").iterdir()
    plan = FilmPlan.model_validate_json((folder / "plan" / "plan.json").read_text())
    cost = script_cost(plan.request, StorageConfig(root=str(tmp_path / "films")), folder.name, len(plan.subjects))
    lines = cost.splitlines()
    assert lines and "$0.00-$0.00" not in lines[0] and "CPU-s" in cost, cost  # priced, for the written plan
    assert all(f"\n  {line}\n" in shown for line in lines), (cost, shown)
    assert shown.index(lines[0]) < shown.index("Prefect UI:")  # read first, before where else to answer


def run_cli(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    """stdout and stderr together, as a terminal shows them; stdin closed."""
    return subprocess.run([sys.executable, "-m", "filmstitch.app.cli", *args], env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout, check=False)


def test_nobody_answers_and_the_film_is_finished(tmp_path: Path) -> None:
    """No terminal, nobody in the UI: both checkpoints time out into the recommended picks; exit 0, the run's
    own Prefect server stopped, and the last line is the film."""
    result = run_cli(["make", "a crow guards a lighthouse", *SMALL, "--pause-timeout", "10"], cli_env(tmp_path))
    assert result.returncode == 0, result.stdout[-3000:]
    film = Path(result.stdout.strip().splitlines()[-1])
    assert film.name == "film.mp4" and film.is_file()
    for checkpoint in ("script", "references", "keyframes"):
        assert '"picked_by": "auto (nobody answered)"' in (film.parent / "picks" / f"{checkpoint}.json").read_text()
    assert "Error logging to API" not in result.stdout


def test_auto_ends_on_the_films_path_even_with_markup_in_the_text(tmp_path: Path) -> None:
    result = run_cli(["make", "a robot named [/x] finds [redacted] treasure", "--auto", *SMALL], cli_env(tmp_path))
    assert result.returncode == 0, result.stdout[-3000:]
    lines = result.stdout.strip().splitlines()
    assert Path(lines[-1]).is_file() and lines[-1].endswith("film.mp4")
    assert "Stopping temporary server" not in result.stdout
