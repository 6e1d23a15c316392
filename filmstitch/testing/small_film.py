"""A small film made by the real CLI or flow, in a workspace of its own: the unit of the reliability checks.

* :class:`SmallFilm` - a film small enough for seconds of CPU (3 segments, 256x160, 8 fps) with
  every phase present; its FilmRequest, film id and CLI arguments.
* :class:`Workspace` - one folder for films, Prefect results and logs, the Prefect server the runs
  report to, and the storage; :meth:`Workspace.start` runs the CLI (through
  :mod:`filmstitch.testing.faulty_cli`, so faults can be injected) in a process group of its own.
* :class:`Run` - that process: wait, SIGKILL, its output, the film path it printed.
* :func:`run_in_process` - the make-film flow in this process, with faults installed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from filmstitch.models import FilmRequest
from filmstitch.settings import StorageConfig
from filmstitch.storage import FilmStore, ObjectStore
from filmstitch.testing.backend_faults import CallLog, Fault, Injector, installed

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class SmallFilm:
    """A film small enough for a test: seconds of CPU, every phase present."""

    idea: str = "a lighthouse keeper on a stormy island finds a message in a bottle"
    segments: int = 3
    seconds: float = 2.0
    width: int = 256
    height: int = 160
    fps: int = 8
    seed: int = 7
    variants: int = 2
    film_id: str | None = None

    sound: bool = False

    def request(self, writer: str = "offline", renderer: str = "animatic") -> FilmRequest:
        return FilmRequest(
            idea=self.idea,
            segments=self.segments,
            seconds_per_segment=self.seconds,
            width=self.width,
            height=self.height,
            fps=self.fps,
            seed=self.seed,
            variants=self.variants,
            writer=writer,
            renderer=renderer,
            sound=self.sound,
        )

    def id(self, writer: str = "offline", renderer: str = "animatic") -> str:
        return self.film_id or self.request(writer, renderer).film_id()

    def flow_kwargs(self) -> dict[str, Any]:
        """Parameters of the make-film flow (auto picks, offline writer, animatic renderer)."""
        return {"request": self.request(), "auto_pick": True, "film_id": self.film_id}

    def cli_args(self) -> list[str]:
        args = [
            "make",
            self.idea,
            "--auto",
            "--segments",
            str(self.segments),
            "--seconds",
            str(self.seconds),
            "--width",
            str(self.width),
            "--height",
            str(self.height),
            "--fps",
            str(self.fps),
            "--seed",
            str(self.seed),
            "--variants",
            str(self.variants),
            "--writer",
            "offline",
            "--renderer",
            "animatic",
        ]
        args += [] if self.sound else ["--no-sound"]
        return args + (["--film-id", self.film_id] if self.film_id else [])


@dataclass
class Workspace:
    """One folder for films, Prefect results and logs, and the Prefect server the runs report to (None: each
    CLI run starts a temporary server of its own, as `filmstitch make` does with no PREFECT_API_URL set)."""

    root: Path
    api_url: str | None
    env_extra: dict[str, str] = field(default_factory=dict)
    storage: StorageConfig | None = None  # default: local, under root/films

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    @property
    def config(self) -> StorageConfig:
        return self.storage or StorageConfig(root=str(self.root / "films"))

    def store(self, film: SmallFilm) -> FilmStore:
        from filmstitch.storage import open_store

        return FilmStore(open_store(self.config), film.id())

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FILMSTITCH_", "PREFECT_", "ANTHROPIC_"))}
        env |= {
            **({"PREFECT_API_URL": self.api_url} if self.api_url else {}),
            "PREFECT_HOME": str(self.root / "prefect-home"),
            "PREFECT_LOCAL_STORAGE_PATH": str(self.root / "results"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "FILMSTITCH_STORAGE_DIR": self.config.root,
            "PYTHONPATH": str(REPO),
        }
        if self.config.kind == "s3":
            env |= {
                "FILMSTITCH_STORAGE": "s3",
                "FILMSTITCH_S3_BUCKET": self.config.bucket or "",
                "FILMSTITCH_S3_PREFIX": self.config.prefix,
                "FILMSTITCH_S3_ENDPOINT_URL": self.config.endpoint_url or "",
                "FILMSTITCH_S3_REGION": self.config.region or "us-east-1",
            }
        return env | self.env_extra

    def command(self, film: SmallFilm, log: CallLog, faults: Sequence[Fault] = (), record: bool = False) -> list[str]:
        command = [sys.executable, "-m", "filmstitch.testing.faulty_cli", "--log", str(log.path)]
        command += [arg for fault in faults for arg in ("--fault", str(fault))]
        return command + (["--record-storage"] if record else []) + ["--"] + film.cli_args()

    def start(
        self, film: SmallFilm, log: CallLog, faults: Sequence[Fault] = (), record: bool = False, name: str = "run"
    ) -> Run:
        """Start the CLI in its own process group (so a SIGKILL takes ffmpeg children too)."""
        out, err = self.root / f"{name}.stdout", self.root / f"{name}.stderr"
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            process = subprocess.Popen(
                self.command(film, log, faults, record),
                cwd=REPO,
                env=self.env(),
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
        return Run(process, out, err)

    def run(
        self,
        film: SmallFilm,
        log: CallLog,
        faults: Sequence[Fault] = (),
        record: bool = False,
        name: str = "run",
        timeout: float = 240,
    ) -> Run:
        run = self.start(film, log, faults, record, name)
        run.wait(timeout)
        return run


@dataclass
class Run:
    process: subprocess.Popen
    stdout_path: Path
    stderr_path: Path

    def wait(self, timeout: float = 240) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the film did not finish in {timeout:.0f} s; its log ends:\n{self.tail()}") from None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def tail(self, chars: int = 3000) -> str:
        return self.stderr[-chars:]

    def film_path(self) -> Path:
        """The last line the CLI prints is the film's path."""
        lines = self.stdout.strip().splitlines()
        assert self.returncode == 0 and lines, f"the film failed (rc {self.returncode}):\n{self.tail()}"
        return Path(lines[-1])


def film_prefix(film_id: str) -> str:
    """The key prefix every object of the film has in its store (e.g. ``<film_id>/``)."""
    return FilmStore(cast(ObjectStore, _NoStore()), film_id).full_key("x").removesuffix("x")


def film_folder(root: str | Path, film_id: str) -> Path:
    """The folder that holds every file of a film in local storage under `root`."""
    return (Path(root) / film_prefix(film_id)).resolve()


class _NoStore:
    """Stands in for an ObjectStore where only FilmStore's key layout is needed."""


def run_in_process(
    api_url: str, film: SmallFilm, log: CallLog, faults: Sequence[Fault] = (), **overrides: Any
) -> tuple[Any, dict[str, Any]]:
    """Make `film` in this process with `faults` injected (Prefect settings and storage env set by the caller).

    Returns (the FilmResult, or the exception the flow raised, as a caller sees it; the flow run as JSON).
    """
    import uuid

    from filmstitch.flows.make_film import make_film
    from filmstitch.testing.prefect_api import find_run

    name = f"reliability-{uuid.uuid4().hex[:8]}"
    kwargs = film.flow_kwargs()
    film_fields = {k: v for k, v in overrides.items() if k in FilmRequest.model_fields}
    kwargs["request"] = kwargs["request"].model_copy(update=film_fields)
    kwargs |= {k: v for k, v in overrides.items() if k not in film_fields}
    try:
        with installed(Injector(log, faults)):
            outcome: Any = make_film.with_options(flow_run_name=name)(**kwargs)
    except Exception as exc:  # noqa: BLE001 - the flow's failure is the outcome under test
        outcome = exc
    run = find_run(api_url, name)
    assert run is not None, f"flow run {name} is not on the server"
    return outcome, run
