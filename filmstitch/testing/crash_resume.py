"""Crash a film at a phase (SIGKILL at a known call), run it again, and measure what the rerun redid.

:data:`PHASE_GATES` says where each phase is crashed; :func:`kill_and_resume` returns a
:class:`ResumeOutcome` (artifacts lost, artifacts rewritten, backend calls beyond the unfinished units).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from filmstitch.models import FilmPlan
from filmstitch.storage import FilmStore
from filmstitch.testing.backend_faults import CallLog, Fault
from filmstitch.testing.small_film import Run, SmallFilm, Workspace

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
