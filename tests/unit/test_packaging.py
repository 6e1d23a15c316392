"""The package as a user installs it: every module of the repository's code and every data file of the package is
in the wheel under filmstitch/ (flows/, tasks/, deployments/ and modal_workers/ are its subpackages), and nothing
generic sits at the top of site-packages. The code never refers to files outside the repository."""

from __future__ import annotations

import ast
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
    data = {f"filmstitch/{path.relative_to(REPO / 'filmstitch').as_posix()}"
            for path in (REPO / "filmstitch").rglob("*.toml") if "__pycache__" not in path.parts}
    missing = sorted(data - names)
    assert data and not missing, f"data files not in the wheel (add them to package-data): {missing[:10]}"


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


# --------------------------------------------------------------------------- who may import the scaffolding

PRODUCT = ("filmstitch", "flows", "tasks", "deployments", "modal_workers")
#: A string that is a module name of the scaffolding (what `python -m` or `importlib` is given); prose is not.
MODULE_STRING = re.compile(r"(?:tests|filmstitch\.testing)(?:\.\w+)*")


def imported_modules(source: str, module: str) -> set[str]:
    """Every module `source` imports, written out in full (relative imports resolved against `module`), and
    every string that names a module to run or import (``python -m tests.x``, ``import_module("...")``)."""
    tree = ast.parse(source)
    package = module.rsplit(".", 1)[0] if "." in module else ""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, *([base] if base else [])])
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_STRING.fullmatch(node.value):
            found.add(node.value)
    return found


def module_name(path: Path) -> str:
    """`filmstitch/storage/x.py` -> filmstitch.storage.x; the mapped folders (`flows/...`) as filmstitch.flows..."""
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[0] in MAPPED and parts[0] != "filmstitch":
        parts = ["filmstitch", *parts]
    return ".".join(part for part in parts if part != "__init__")


def offending_imports(folders: tuple[str, ...], forbidden: str, exempt: str | None = None) -> list[str]:
    found = []
    for folder in folders:
        for path in sorted((REPO / folder).rglob("*.py")):
            name = module_name(path)
            if "__pycache__" in path.parts or (exempt and (name == exempt or name.startswith(exempt + "."))):
                continue
            bad = {m for m in imported_modules(path.read_text(),
                                               name) if m == forbidden or m.startswith(forbidden + ".")}
            found += [f"{path.relative_to(REPO)} imports {m}" for m in sorted(bad)]
    return found


def test_benchmarks_never_import_the_tests() -> None:
    """Benchmarks take their scaffolding from filmstitch.testing: the tests folder is not part of what they run on."""
    assert offending_imports(("benchmarks",), "tests") == []


def test_the_product_never_imports_its_test_scaffolding() -> None:
    """filmstitch.testing (fault injection, fake servers, tiny models) ships in the wheel but the product never
    loads it: only tests and benchmarks do."""
    assert offending_imports(PRODUCT, "filmstitch.testing", exempt="filmstitch.testing") == []


def test_the_import_check_sees_every_way_of_importing() -> None:
    """The two checks above can fail: each spelling of an import of the scaffolding is caught."""
    spellings = {
        "import tests.support.s3": "tests.support.s3",
        "from tests.support import faults": "tests.support.faults",
        "cmd = [sys.executable, '-m', 'tests.support.faults']": "tests.support.faults",
        "from filmstitch.testing.s3 import MotoS3": "filmstitch.testing.s3",
        "from filmstitch import testing": "filmstitch.testing",
        "from ..testing import plans": "filmstitch.testing.plans",
        "importlib.import_module('filmstitch.testing.fake_anthropic')": "filmstitch.testing.fake_anthropic",
    }
    for source, module in spellings.items():
        assert module in imported_modules(source, "filmstitch.storage.s3"), source
    assert not {m for m in imported_modules("from filmstitch.storage import FilmStore", "filmstitch.app.cli")
                if m.startswith(("tests", "filmstitch.testing"))}
