"""Machine slots (filmstitch.concurrency): at most N renders of a resource at once on the machine, across the
threads of one process and across processes, and every slot given back."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from filmstitch import backends
from filmstitch.concurrency import machine_slot
from filmstitch.tasks.common import render_slot

HOLD = """
import json, sys, time
from filmstitch.concurrency import machine_slot
with machine_slot(sys.argv[1], int(sys.argv[2])) as slot:
    start = time.monotonic()
    time.sleep(0.6)
    print(json.dumps([slot, start, time.monotonic()]))
"""


def overlapping(spans: list[tuple[float, float]]) -> int:
    """The most spans open at one moment."""
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


@pytest.fixture(autouse=True)
def lock_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FILMSTITCH_LOCK_DIR", str(tmp_path / "locks"))
    return tmp_path / "locks"


@pytest.mark.parametrize("slots", [1, 2])
def test_threads_of_one_process_share_the_slots(slots: int) -> None:
    spans: list[tuple[float, float]] = []
    held: list[int] = []

    def render() -> None:
        with machine_slot("gpu", slots) as slot:
            start = time.monotonic()
            held.append(slot)
            time.sleep(0.3)
            spans.append((start, time.monotonic()))

    threads = [threading.Thread(target=render) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(spans) == 5 and overlapping(spans) == slots
    assert set(held) == set(range(slots))


def test_processes_on_one_machine_share_the_slots(lock_dir: Path) -> None:
    """Three processes, two slots: never three at once (several flow runs served by `filmstitch server`)."""
    env = {"FILMSTITCH_LOCK_DIR": str(lock_dir), "PATH": "/usr/bin:/bin"}
    processes = [subprocess.Popen([sys.executable, "-c", HOLD, "cpu", "2"], stdout=subprocess.PIPE, text=True,
                                  env=env | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])})
                 for _ in range(3)]
    results = [json.loads(p.communicate(timeout=60)[0]) for p in processes]
    assert all(p.returncode == 0 for p in processes)
    assert overlapping([(start, end) for _, start, end in results]) == 2


def test_a_slot_is_given_back_when_the_render_fails() -> None:
    with pytest.raises(RuntimeError), machine_slot("gpu", 1):
        raise RuntimeError("the render broke")
    with machine_slot("gpu", 1) as slot:  # would wait for ever if the slot were still held
        assert slot == 0


def test_modal_renders_hold_no_machine_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    """Modal limits itself (max_containers x concurrent inputs): ten Modal clips run at once."""
    monkeypatch.setenv("FILMSTITCH_GPU_SLOTS", "1")
    started: list[float] = []

    def render() -> None:
        with render_slot(backends.renderer("modal")):
            started.append(time.monotonic())
            time.sleep(0.3)

    threads = [threading.Thread(target=render) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert max(started) - min(started) < 0.25


def test_local_gpu_renders_take_the_gpu_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILMSTITCH_GPU_SLOTS", "2")
    spans: list[tuple[float, float]] = []

    def render() -> None:
        with render_slot(backends.renderer("local-gpu")):
            start = time.monotonic()
            time.sleep(0.3)
            spans.append((start, time.monotonic()))

    threads = [threading.Thread(target=render) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert overlapping(spans) == 2
