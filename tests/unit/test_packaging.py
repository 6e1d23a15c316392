"""The package as a user installs it: every module of the repository's code is in the wheel under filmstitch/
(flows/, tasks/, deployments/ and modal_workers/ are its subpackages), and nothing generic sits at the top
of site-packages. The code never refers to files outside the repository."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MAPPED = {"filmstitch": "filmstitch", "flows": "filmstitch/flows", "tasks": "filmstitch/tasks",
          "deployments": "filmstitch/deployments", "modal_workers": "filmstitch/modal_workers"}


def test_the_wheel_holds_every_module_under_filmstitch(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(REPO)], check=True, capture_output=True, timeout=300)
    [wheel] = tmp_path.glob("filmstitch-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"filmstitch"}, tops
    expected = {
        f"{MAPPED[folder]}/{path.relative_to(REPO / folder).as_posix()}"
        for folder in MAPPED for path in (REPO / folder).rglob("*.py") if "__pycache__" not in path.parts
    }
    missing = sorted(expected - names)
    assert not missing, f"not in the wheel (add the package to pyproject.toml's list): {missing[:10]}"


def test_nothing_refers_to_files_outside_the_repository() -> None:
    outside = re.compile(r"shared/FACTS\.md|\.\./shared|/work/|the seed's|\bissue \d+\b", re.IGNORECASE)
    found = []
    for folder in ("filmstitch", "flows", "tasks", "deployments", "modal_workers", "docs", "benchmarks",
                   "scripts", "tests"):
        for path in (REPO / folder).rglob("*"):
            if path.suffix in (".py", ".md", ".sh", ".yaml", ".toml") and "__pycache__" not in path.parts:
                for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                    if outside.search(line) and path.name != "test_packaging.py":
                        found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()[:80]}")
    for name in ("README.md", "pyproject.toml", "prefect.yaml"):
        for number, line in enumerate((REPO / name).read_text().splitlines(), 1):
            if outside.search(line):
                found.append(f"{name}:{number}: {line.strip()[:80]}")
    assert not found, "\n".join(found[:20])


def test_the_top_level_folders_are_imported_as_filmstitch_subpackages() -> None:
    """`import flows...` from the repository root would load a second copy of the flows and tasks (their
    Prefect tasks twice over): every import names them as filmstitch.flows, filmstitch.tasks, ..."""
    top_level = re.compile(r"^\s*(from|import)\s+(flows|tasks|deployments|modal_workers)(\.|\s|$)", re.MULTILINE)
    found = [
        str(path.relative_to(REPO))
        for folder in ("filmstitch", "flows", "tasks", "deployments", "modal_workers", "tests", "benchmarks")
        for path in (REPO / folder).rglob("*.py")
        if "__pycache__" not in path.parts and top_level.search(path.read_text(errors="replace"))
    ]
    assert not found, found
