"""`filmstitch verify FILM [--repair]` on a real film made by the CLI, damaged behind FilmStitch's back.

The film is made once per module (`filmstitch make "a fox learns to fly" --auto --no-sound` at 256x160, 3
segments, against the session's Prefect server, through filmstitch/testing/faulty_cli.py so every renderer
and writer call is counted); each test damages a fresh copy of it. What must hold: a healthy film verifies
(exit 0, a JSON report); a damaged or missing file is named and exits 1; a damaged manifest is said to be
damaged and `--repair` rebuilds it with every artifact; a damaged film.json does not make the next `make`
think the id holds another film; and a rerun after any of these reuses every part (no render, no writer
call, every manifest entry keeps its `written_at`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from filmstitch.testing.backend_faults import CallLog
from filmstitch.testing.prefect_api import drain_prefect_services
from filmstitch.testing.small_film import REPO, SmallFilm, Workspace

#: What a film keeps beside its manifest's artifacts: its identity and its cost estimate (tasks/estimate.py).
RECORDS = {"film.json", "estimate.json"}

pytestmark = pytest.mark.prefect_server

FILM = SmallFilm(idea="a fox learns to fly", segments=3, seconds=1.0, width=256, height=160, fps=8)


@dataclass
class Made:
    """The film as the first run left it."""

    pristine: Path  # a copy of the films folder
    artifacts: dict[str, dict[str, Any]]  # its manifest entries
    film_sha256: str


@pytest.fixture(scope="module")
def made(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Made]:
    ws = Workspace(tmp_path_factory.mktemp("verify-made"), prefect_api)
    log = CallLog(ws.root / "calls.jsonl")
    run = ws.run(FILM, log, timeout=420)
    film = run.film_path()
    assert film.name == "film.mp4" and film.is_file()
    assert log.calls()["clip"] == FILM.segments
    artifacts = ws.store(FILM).manifest()["artifacts"]
    pristine = ws.root / "pristine"
    shutil.copytree(Path(ws.config.root), pristine, symlinks=True)
    yield Made(pristine, artifacts, artifacts["film.mp4"]["sha256"])
    drain_prefect_services()


@pytest.fixture
def ws(made: Made, prefect_api: str, tmp_path: Path) -> Workspace:
    """A fresh copy of the made film in a workspace of its own."""
    workspace = Workspace(tmp_path, prefect_api)
    shutil.copytree(made.pristine, workspace.config.root, symlinks=True)
    return workspace


def verify(ws: Workspace, *args: str) -> tuple[int, dict[str, Any], str]:
    """Run `filmstitch verify` as a person would; (exit code, the JSON report, what it says on stderr)."""
    done = subprocess.run([sys.executable, "-m", "filmstitch.app.cli", "verify", *args], cwd=REPO, env=ws.env(),
                          capture_output=True, text=True, timeout=120, check=False)
    report = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, report, " ".join(done.stderr.split())


def folder(ws: Workspace) -> Path:
    return Path(ws.config.root) / FILM.id()


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def cut_in_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def rerun_reuses_everything(ws: Workspace, made: Made, name: str) -> None:
    """`filmstitch make` of the same film again: it finishes, calls no renderer or writer, rewrites nothing."""
    log = CallLog(ws.root / f"{name}.jsonl")
    run = ws.run(FILM, log, name=name, timeout=420)
    film = run.film_path()
    stderr = " ".join(run.stderr.split())
    assert "already holds a different film" not in stderr
    assert sum(log.calls().values()) == 0, f"the rerun made parts again: {dict(log.calls())}"
    store = ws.store(FILM)
    after = store.manifest()["artifacts"]
    assert set(after) == set(made.artifacts)
    assert {k: (e["sha256"], e["written_at"]) for k, e in after.items()} == {
        k: (e["sha256"], e["written_at"]) for k, e in made.artifacts.items()
    }
    assert film == folder(ws) / "film.mp4" and store.verify().healthy


# --------------------------------------------------------------------------- verify


def test_a_healthy_film_verifies(ws: Workspace, made: Made) -> None:
    code, report, said = verify(ws, FILM.id())
    assert code == 0, said
    assert report["film_id"] == FILM.id() and report["manifest_ok"] is True
    assert set(report["ok"]) == set(made.artifacts) | RECORDS
    assert report["damaged"] == report["missing"] == report["unlisted"] == []
    assert f"film {FILM.id()}" in said and "intact" in said


def test_out_names_the_films_folder_as_for_make(ws: Workspace, made: Made, tmp_path: Path) -> None:
    """`--out DIR`, as `filmstitch make --out DIR` made it: the folder named wins over the environment's."""
    moved = tmp_path / "elsewhere"
    shutil.copytree(ws.config.root, moved, symlinks=True)
    flip_byte(moved / FILM.id() / "film.mp4")
    code, report, said = verify(ws, FILM.id(), "--out", str(moved))
    assert code == 1 and report["damaged"] == ["film.mp4"], said
    assert verify(ws, FILM.id())[0] == 0  # the environment's folder is untouched


@pytest.mark.parametrize("key", ["clips/c01/take-1.mp4", "film.mp4", "keyframes/k02/take-1/v1.png"])
def test_a_flipped_byte_is_named_and_fails(ws: Workspace, key: str) -> None:
    flip_byte(folder(ws) / key)
    code, report, said = verify(ws, FILM.id())
    assert code == 1
    assert report["damaged"] == [key] and report["missing"] == [] and key not in report["ok"]
    assert key in said


def test_a_missing_film_mp4_is_named_and_fails(ws: Workspace) -> None:
    (folder(ws) / "film.mp4").unlink()
    code, report, said = verify(ws, FILM.id())
    assert code == 1 and report["missing"] == ["film.mp4"] and report["damaged"] == []
    assert "film.mp4" in said


def test_a_truncated_manifest_is_said_to_be_damaged_and_repair_rebuilds_it(ws: Workspace, made: Made) -> None:
    cut_in_half(folder(ws) / "manifest.json")
    code, report, said = verify(ws, FILM.id())
    assert code == 1 and report["manifest_ok"] is False
    assert "manifest" in said and "damaged" in said and f"filmstitch verify {FILM.id()} --repair" in said
    # Each object carries its own checksum: without the manifest, verify still checks every one.
    assert set(report["ok"]) == set(made.artifacts) | RECORDS and report["damaged"] == []

    code, report, said = verify(ws, FILM.id(), "--repair")
    assert code == 0, said
    assert report["repaired"] is True and report["manifest_ok"] is True
    assert "rebuilt" in said
    rebuilt = ws.store(FILM).manifest()["artifacts"]
    assert set(rebuilt) == set(made.artifacts)
    for key, entry in made.artifacts.items():
        assert {name: rebuilt[key][name] for name in ("sha256", "size", "reuse_key", "written_at")} == {
            name: entry[name] for name in ("sha256", "size", "reuse_key", "written_at")
        }, key
    code, report, _ = verify(ws, FILM.id())
    assert code == 0 and report["manifest_ok"] is True and report["damaged"] == []

    # The rebuilt manifest has no takes table; the rerun finds every take by its artifacts.
    rerun_reuses_everything(ws, made, "after-repair")


def test_repair_leaves_a_damaged_clip_out_and_the_rerun_makes_only_it(ws: Workspace, made: Made) -> None:
    flip_byte(folder(ws) / "clips/c01/take-1.mp4")
    cut_in_half(folder(ws) / "manifest.json")
    code, report, said = verify(ws, FILM.id(), "--repair")
    assert code == 1 and report["repaired"] is True and report["damaged"] == ["clips/c01/take-1.mp4"]
    assert "clips/c01/take-1.mp4" in said
    assert "clips/c01/take-1.mp4" not in ws.store(FILM).manifest()["artifacts"]

    log = CallLog(ws.root / "rerun.jsonl")
    ws.run(FILM, log, name="rerun", timeout=420).film_path()
    # The clip is drawn again with the same bytes, so the film's inputs are unchanged: film.mp4 is reused.
    assert dict(log.calls()) == {"clip": 1}
    store = ws.store(FILM)
    assert store.verify().healthy
    assert store.manifest()["artifacts"]["film.mp4"]["sha256"] == made.film_sha256


def test_a_healthy_film_needs_no_repair(ws: Workspace, made: Made) -> None:
    manifest = (folder(ws) / "manifest.json").read_bytes()
    code, report, said = verify(ws, FILM.id(), "--repair")
    assert code == 0 and report["repaired"] is False, said
    assert (folder(ws) / "manifest.json").read_bytes() == manifest


def test_a_film_that_is_not_there_is_one_clear_line(ws: Workspace) -> None:
    code, report, said = verify(ws, "no-such-film")
    assert code == 2 and report == {}
    assert said.startswith("error:") and "no film 'no-such-film'" in said
    code, report, said = verify(ws, "../" + FILM.id())
    assert code == 2 and report == {} and "invalid film id" in said


# --------------------------------------------------------------------------- the next make


def test_a_truncated_film_json_does_not_block_the_next_make(ws: Workspace, made: Made) -> None:
    cut_in_half(folder(ws) / "film.json")
    code, report, said = verify(ws, FILM.id())
    assert code == 1 and report["damaged"] == ["film.json"], said
    rerun_reuses_everything(ws, made, "after-film-json")
    identity = ws.store(FILM).read_record("film.json")
    assert identity is not None and identity["identity"]["idea"] == FILM.idea
    code, report, _ = verify(ws, FILM.id())
    assert code == 0 and "film.json" in report["ok"]


def test_a_truncated_manifest_is_repaired_by_the_next_make(ws: Workspace, made: Made) -> None:
    cut_in_half(folder(ws) / "manifest.json")
    rerun_reuses_everything(ws, made, "after-manifest")
