"""Fault injection for the reliability tests and `benchmarks/reliability_report.py`.

Nothing here is product code, and the product holds no test hooks: faults are injected by
wrapping the real backends where the stage tasks look them up (``tasks.*.get_renderer``,
``filmstitch.tasks.write.get_writer``, ``filmstitch.tasks.assemble.concat_mp4``).

* :class:`CallLog` - every backend call as JSON lines in a file (start / end / the fault), safe
  across threads and processes, so a render counter can be read from outside a process.
* :class:`Fault` + :class:`Injector` - fail the Nth call of a method: ``transient`` (a
  ``ConnectionError``, which the stage tasks retry), ``permanent`` (``retryable = False``) or
  ``hang`` (block until the process is SIGKILLed: a crash at a known point of a known phase).
* The driver: ``python -m tests.support.faults --log L --fault clip:2:hang -- make IDEA --auto ...``
  runs the real ``filmstitch`` CLI in a process with the faults installed.
* :func:`kill_and_resume` - start a film, SIGKILL it at a phase's gate, run it again, and measure
  what the second run redid (:class:`ResumeOutcome`).
"""

from __future__ import annotations

from tests.support.prefect import drain_prefect_services  # noqa: F401  (re-exported for the reliability tests)

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from filmstitch.models import FilmPlan, FilmRequest, Subject
from filmstitch.renderers.base import RenderedImage, Renderer
from filmstitch.settings import StorageConfig
from filmstitch.storage import FilmStore
from filmstitch.writers.base import Writer

REPO = Path(__file__).resolve().parents[2]

# --------------------------------------------------------------------------- call log


class CallLog:
    """Append-only JSON lines, one per event. O_APPEND writes of one short line do not interleave."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def write(self, **event: Any) -> None:
        line = (json.dumps(event | {"pid": os.getpid(), "at": time.time()}) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        rows = [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
        return [row for row in rows if event is None or row["event"] == event]

    def calls(self) -> Counter[str]:
        """Backend calls started, by method (a call that failed or hung counts: it was attempted)."""
        return Counter(row["method"] for row in self.events("start"))

    def faults(self) -> int:
        return len([row for row in self.events() if row["event"] in FAULT_ACTIONS])


# --------------------------------------------------------------------------- faults

FaultAction = Literal["hang", "transient", "permanent"]
FAULT_ACTIONS = ("hang", "transient", "permanent")


class InjectedTransientError(ConnectionError):
    """What a flaky GPU worker or network does: the same call may well work next time."""


class InjectedPermanentError(RuntimeError):
    """What a broken model or bad input does: trying again cannot help (the tasks do not retry it)."""

    retryable = False


@dataclass(frozen=True)
class Fault:
    """Fail calls ``call`` .. ``call + times - 1`` (1-based, counted per process) of one backend method.

    Methods: the Renderer's (``reference_variants``, ``keyframe_variants``, ``clip``), the Writer's
    (``write_script``, ``describe_characters``, ``describe_environments``, ``write_keyframes``) and
    ``concat`` (the assembly's ffmpeg join).
    """

    method: str
    call: int = 1
    action: FaultAction = "transient"
    times: int = 1

    @classmethod
    def parse(cls, text: str) -> Fault:
        """``method:call:action[:times]``, e.g. ``clip:2:hang``."""
        parts = text.split(":")
        if len(parts) not in (3, 4) or parts[2] not in FAULT_ACTIONS:
            raise ValueError(f"bad fault {text!r}: expected method:call:{'|'.join(FAULT_ACTIONS)}[:times]")
        return cls(parts[0], int(parts[1]), parts[2], int(parts[3]) if len(parts) == 4 else 1)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"{self.method}:{self.call}:{self.action}:{self.times}"

    def hits(self, method: str, call: int) -> bool:
        return method == self.method and self.call <= call < self.call + self.times


class Injector:
    """Counts and logs every backend call, and fails the ones its faults name."""

    def __init__(self, log: CallLog, faults: Sequence[Fault] = ()) -> None:
        self.log = log
        self.faults = list(faults)
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def call(self, kind: str, method: str, unit: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self._counts[method] += 1
            number = self._counts[method]
        self.log.write(event="start", kind=kind, method=method, unit=unit, call=number)
        fault = next((f for f in self.faults if f.hits(method, number)), None)
        if fault is not None:
            self.log.write(event=fault.action, kind=kind, method=method, unit=unit, call=number)
            if fault.action == "hang":
                threading.Event().wait()  # until the test SIGKILLs this process
            if fault.action == "transient":
                raise InjectedTransientError("connection reset by the GPU worker (injected fault)")
            raise InjectedPermanentError("CUDA error: device-side assert triggered (injected fault)")
        result = fn(*args, **kwargs)
        self.log.write(event="end", kind=kind, method=method, unit=unit, call=number)
        return result


class FaultyRenderer(Renderer):
    """The real renderer, with every call going through an :class:`Injector`."""

    def __init__(self, inner: Renderer, injector: Injector) -> None:
        self.inner, self.injector, self.name = inner, injector, inner.name

    def identity(self) -> dict[str, Any]:  # the inner renderer's: a fault changes no picture
        return self.inner.identity()

    def reference_variants(self, plan: FilmPlan, subject: Subject, seeds: list[int]) -> list[bytes]:
        return self.injector.call(
            "renderer", "reference_variants", subject.id, self.inner.reference_variants, plan, subject, seeds
        )

    def keyframe_variants(
        self, plan: FilmPlan, index: int, references: dict[str, RenderedImage], seeds: list[int]
    ) -> list[bytes]:
        return self.injector.call(
            "renderer",
            "keyframe_variants",
            f"k{index:02d}",
            self.inner.keyframe_variants,
            plan,
            index,
            references,
            seeds,
        )

    def clip(
        self,
        plan: FilmPlan,
        segment: int,
        first: RenderedImage,
        last: RenderedImage,
        references: dict[str, RenderedImage],
        seed: int,
    ) -> bytes:
        return self.injector.call(
            "renderer", "clip", f"s{segment:02d}", self.inner.clip, plan, segment, first, last, references, seed
        )


class FaultyWriter(Writer):
    """The real writer, with every call going through an :class:`Injector`; usage is the inner writer's."""

    def __init__(self, inner: Writer, injector: Injector) -> None:
        super().__init__()
        self.inner, self.injector, self.label = inner, injector, inner.label

    def identity(self) -> dict[str, Any]:  # the inner writer's: a fault changes no answer
        return self.inner.identity()

    def take_usage(self) -> list:
        return self.inner.take_usage()

    def write_script(self, request: FilmRequest) -> Any:
        return self.injector.call("writer", "write_script", "script", self.inner.write_script, request)

    def describe_characters(self, request: FilmRequest, script: Any) -> Any:
        return self.injector.call(
            "writer", "describe_characters", "characters", self.inner.describe_characters, request, script
        )

    def describe_environments(self, request: FilmRequest, script: Any) -> Any:
        return self.injector.call(
            "writer", "describe_environments", "environment", self.inner.describe_environments, request, script
        )

    def write_keyframes(self, request: FilmRequest, script: Any, characters: Any, environment: Any) -> Any:
        return self.injector.call(
            "writer",
            "write_keyframes",
            "keyframes",
            self.inner.write_keyframes,
            request,
            script,
            characters,
            environment,
        )


def patches(injector: Injector) -> list[tuple[Any, str, Any]]:
    """(module, name, replacement) for every place a stage task looks a backend up."""
    from filmstitch import tasks
    from filmstitch.tasks import assemble, clips, keyframes, references, write  # noqa: F401 - loads them
    from filmstitch.renderers import get_renderer
    from filmstitch.video import concat_mp4
    from filmstitch.writers import get_writer

    def renderer(name: str) -> Renderer:
        return FaultyRenderer(get_renderer(name), injector)

    def writer(name: str) -> Writer:
        return FaultyWriter(get_writer(name), injector)

    def concat(clips: Sequence[Path], out_path: Path) -> bool:
        return injector.call("assembler", "concat", "film", concat_mp4, clips, out_path)

    return [
        (tasks.references, "get_renderer", renderer),
        (tasks.keyframes, "get_renderer", renderer),
        (tasks.clips, "get_renderer", renderer),
        (tasks.write, "get_writer", writer),
        (tasks.assemble, "concat_mp4", concat),
    ]


@contextlib.contextmanager
def installed(injector: Injector) -> Iterator[Injector]:
    """Route the stage tasks' backend calls through `injector` in this process, restoring them after."""
    replaced = patches(injector)
    originals = [(module, name, getattr(module, name)) for module, name, _ in replaced]
    for module, name, replacement in replaced:
        setattr(module, name, replacement)
    try:
        yield injector
    finally:
        for module, name, original in originals:
            setattr(module, name, original)


def record_storage(log: CallLog) -> None:
    """Log every key this process reads, writes, lists or looks up through an ObjectStore (event "storage")."""
    from filmstitch import storage

    for cls in (storage.LocalStore, storage.S3Store):
        for op in ("put", "get", "exists", "update", "list", "url"):
            original = getattr(cls, op)

            def wrapper(
                self: Any, key: str, *args: Any, _op: str = op, _original: Any = original, **kwargs: Any
            ) -> Any:
                log.write(event="storage", op=_op, key=key)
                return _original(self, key, *args, **kwargs)

            setattr(cls, op, wrapper)


# --------------------------------------------------------------------------- films and workspaces


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
        command = [sys.executable, "-m", "tests.support.faults", "--log", str(log.path)]
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
    return FilmStore(_NoStore(), film_id).full_key("x").removesuffix("x")


def film_folder(root: str | Path, film_id: str) -> Path:
    """The folder that holds every file of a film in local storage under `root`."""
    return (Path(root) / film_prefix(film_id)).resolve()


class _NoStore:
    """Stands in for an ObjectStore where only FilmStore's key layout is needed."""


def film_frames(path: Path) -> np.ndarray:
    from filmstitch.video import decode_frames

    return decode_frames(path)


def stored_frames(store: FilmStore, tmp: Path) -> np.ndarray:
    """Decoded frames of the film.mp4 in `store` (verified against its manifest first)."""
    entry = store.manifest()["artifacts"]["film.mp4"]
    ref = store.reuse("film.mp4", entry.get("reuse_key"))
    assert ref is not None and ref.sha256 == entry["sha256"], "film.mp4 is missing or does not match its manifest"
    path = tmp / f"{store.film_id}-film.mp4"
    path.write_bytes(store.get_verified(ref))
    return film_frames(path)


_UNINTERRUPTED: dict[tuple[SmallFilm, str], np.ndarray] = {}


def uninterrupted_frames(film: SmallFilm, api_url: str) -> np.ndarray:
    """Decoded frames of `film` made in one go, without faults (made once per process, then remembered)."""
    if (film, api_url) not in _UNINTERRUPTED:
        ws = Workspace(Path(tempfile.mkdtemp(prefix="filmstitch-uninterrupted-")), api_url)
        try:
            run = ws.run(film, CallLog(ws.root / "calls.jsonl"), name="uninterrupted")
            _UNINTERRUPTED[(film, api_url)] = film_frames(run.film_path())
        finally:
            shutil.rmtree(ws.root, ignore_errors=True)
    return _UNINTERRUPTED[(film, api_url)]


def run_in_process(
    api_url: str, film: SmallFilm, log: CallLog, faults: Sequence[Fault] = (), **overrides: Any
) -> tuple[Any, dict[str, Any]]:
    """Make `film` in this process with `faults` injected (Prefect settings and storage env set by the caller).

    Returns (the FilmResult, or the exception the flow raised, as a caller sees it; the flow run as JSON).
    """
    import uuid

    from filmstitch.flows.make_film import make_film
    from tests.support.prefect import find_run

    from filmstitch.models import FilmRequest

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


# --------------------------------------------------------------------------- crash and resume

#: Where each phase is crashed: its gate call hangs until SIGKILL. Fan-outs hang their second unit,
#: so other units of the same phase finish (and must be reused) while one is cut off mid-render.
PHASE_GATES: dict[str, Fault] = {
    "writing": Fault("describe_environments", 1, "hang"),
    "references": Fault("reference_variants", 2, "hang"),
    "keyframes": Fault("keyframe_variants", 2, "hang"),
    "clips": Fault("clip", 2, "hang"),
    "assembly": Fault("concat", 1, "hang"),
}

WRITER_OUTPUTS = {
    "write_script": "plan/script.json",
    "describe_characters": "plan/characters.json",
    "describe_environments": "plan/locations.json",
    "write_keyframes": "plan/keyframes.json",
}


def units_expected(film: SmallFilm, artifacts: dict[str, dict], store: FilmStore) -> dict[str, int]:
    """How many calls of each backend method a whole film needs."""
    # Keyframes: one take per boundary, and one more for each boundary --auto drew again (weak continuity).
    takes = store.manifest().get("takes", {})
    keyframe_takes = sum(len(t) for part, t in takes.items() if part.startswith("keyframes/"))
    units = dict.fromkeys(WRITER_OUTPUTS, 1) | {
        "keyframe_variants": max(film.segments + 1, keyframe_takes),
        "clip": film.segments,
        "concat": 1,
    }
    if "plan/plan.json" in artifacts:
        units["reference_variants"] = len(FilmPlan.model_validate(store.get_json("plan/plan.json")).subjects)
    return units


def units_finished(film: SmallFilm, artifacts: dict[str, dict]) -> dict[str, int]:
    """How many units of each method are completely stored (all variants, image and thumbnail)."""
    per_image_unit = 2 * film.variants

    def complete_groups(prefix: str) -> int:
        """Takes (`<prefix><part>/take-<n>/...`) whose every variant is stored, picture and thumbnail."""
        groups = Counter(tuple(key.split("/")[1:3]) for key in artifacts
                         if key.startswith(prefix) and key.endswith((".png", ".jpg")))
        return sum(1 for n in groups.values() if n >= per_image_unit)

    finished = {method: int(key in artifacts) for method, key in WRITER_OUTPUTS.items()}
    return finished | {
        "reference_variants": complete_groups("references/"),
        "keyframe_variants": complete_groups("keyframes/"),
        "clip": sum(1 for key in artifacts if key.startswith("clips/")),
        "concat": int("film.mp4" in artifacts),
    }


@dataclass
class ResumeOutcome:
    """A film crashed at a phase and run again: what was there, what the rerun did."""

    phase: str
    before: dict[str, dict]  # manifest entries at the crash
    after: dict[str, dict]  # manifest entries when the rerun finished
    expected: dict[str, int]  # calls per method a whole film needs
    finished_before: dict[str, int]  # units per method stored at the crash
    rerun_calls: Counter[str]  # backend calls the rerun made, per method
    bad_after: list[str]  # keys failing verification after the rerun
    film: Path | None
    rerun_error: str = ""

    @property
    def artifacts_lost(self) -> int:
        """Artifacts stored before the crash that are gone, changed or corrupt after the rerun."""
        gone = [k for k, e in self.before.items() if k not in self.after or self.after[k]["sha256"] != e["sha256"]]
        return len(set(gone) | set(self.bad_after))

    @property
    def rewritten(self) -> list[str]:
        """Artifacts stored before the crash that the rerun wrote again (their written_at changed)."""
        return sorted(k for k, e in self.before.items() if self.after.get(k, {}).get("written_at") != e["written_at"])

    @property
    def stages_redone(self) -> int:
        """Backend calls of the rerun beyond the units that were not finished at the crash."""
        return sum(
            max(0, self.rerun_calls[m] - (self.expected.get(m, 0) - self.finished_before.get(m, 0)))
            for m in self.rerun_calls
        )

    @property
    def completed(self) -> bool:
        return self.film is not None and not self.bad_after


def wait_until(condition: Callable[[], bool], run: Run, what: str, timeout: float = 180) -> None:
    """Poll `condition`; fail clearly if the run ended first or time ran out."""
    deadline = time.monotonic() + timeout
    while not condition():
        if run.returncode is not None:
            raise AssertionError(f"the run ended (rc {run.returncode}) before {what}; its log ends:\n{run.tail()}")
        if time.monotonic() > deadline:
            run.kill()
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; the log ends:\n{run.tail()}")
        time.sleep(0.05)


def crash_at(ws: Workspace, film: SmallFilm, phase: str, log: CallLog, name: str = "crashed") -> dict[str, dict]:
    """Run the film until `phase`'s gate hangs and every other unit of that phase is stored; SIGKILL it.

    Waiting for the phase to go quiet means nothing is half-way through a write at the kill, so
    every unit is either completely stored (and must be reused) or not stored at all.
    Returns the manifest's artifacts at the kill.
    """
    gate = PHASE_GATES[phase]
    store = ws.store(film)
    run = ws.start(film, log, [gate], name=name)

    def gate_reached() -> bool:
        return any(row["event"] == "hang" for row in log.events())

    def phase_quiet() -> bool:
        artifacts = store.manifest().get("artifacts", {})
        expected = units_expected(film, artifacts, store)[gate.method]
        return units_finished(film, artifacts)[gate.method] >= expected - 1

    wait_until(gate_reached, run, f"the {phase} gate ({gate})")
    wait_until(phase_quiet, run, f"the other units of {phase} to be stored")
    time.sleep(0.2)  # let a manifest write that raced the last check land, then take the snapshot after the kill
    run.kill()
    return dict(store.manifest().get("artifacts", {}))


def kill_and_resume(ws: Workspace, film: SmallFilm, phase: str) -> ResumeOutcome:
    """Crash the film in `phase` (SIGKILL), run the same command again, and report what the rerun redid."""
    crashed_log, rerun_log = CallLog(ws.root / f"{phase}-crashed.jsonl"), CallLog(ws.root / f"{phase}-rerun.jsonl")
    before = crash_at(ws, film, phase, crashed_log)
    store = ws.store(film)
    assert "film.mp4" not in before, f"the film finished before the {phase} crash"
    finished = units_finished(film, before)

    rerun = ws.run(film, rerun_log, name=f"{phase}-rerun")
    film_path = rerun.film_path() if rerun.returncode == 0 else None
    after = dict(store.manifest().get("artifacts", {}))
    return ResumeOutcome(
        phase=phase,
        before=before,
        after=after,
        expected=units_expected(film, after, store),
        finished_before=finished,
        rerun_calls=rerun_log.calls(),
        bad_after=store.verify().problems,
        film=film_path,
        rerun_error="" if film_path else rerun.tail(),
    )


# --------------------------------------------------------------------------- the driver


def main(argv: Sequence[str] | None = None) -> None:
    """Run the filmstitch CLI with faults installed (for crash tests that need a process to kill)."""
    parser = argparse.ArgumentParser(prog="python -m tests.support.faults", description=main.__doc__)
    parser.add_argument("--log", required=True, help="JSON-lines file for backend calls and faults.")
    parser.add_argument("--fault", action="append", default=[], type=Fault.parse, help="method:call:action[:times]")
    parser.add_argument("--record-storage", action="store_true", help="Also log every storage key touched.")
    parser.add_argument("cli", nargs=argparse.REMAINDER, help="-- then the filmstitch CLI's arguments")
    args = parser.parse_args(argv)
    cli = args.cli[1:] if args.cli[:1] == ["--"] else args.cli
    log = CallLog(args.log)
    if args.record_storage:
        record_storage(log)
    from filmstitch.app.cli import app

    with installed(Injector(log, args.fault)):
        app(args=cli, prog_name="filmstitch")


if __name__ == "__main__":
    main()
