"""The GPU benchmark's film arithmetic: the single place the GPU-seconds-per-film numbers come from
(`benchmarks/gpu_benchmark.py --part film`), checked on made-up measurements, and its CPU dry run end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.gpu_benchmark import film_summary, wall_model

ROOT = Path(__file__).resolve().parents[2]


def write_results(out: Path, *, stages: bool) -> None:
    flux = {
        "reference_side": 384,
        "flux_keyframe_batch3_eager_baseline": {"call_s": 7.0, "ms_per_step": 1.0,
                                                "references": [{"side": 512, "call_s": 4.0},
                                                                              {"side": 384, "call_s": 3.0}]},
        "flux_keyframe_batch3_eager_baseline_again": {"call_s": 8.0, "ms_per_step": 1.0},
        "flux_keyframe_batch3_compiled": {"call_s": 5.0, "references": [{"side": 384, "call_s": 2.0}]},
    }
    ltx = {
        "ltx_mp4_encode": {"seconds": 1.0, "bytes": 30_000_000},
        "assembly_concat": {"seconds": 2.0},
        "ltx_clip_eager_baseline": {"call_s": 14.0, "ms_per_step": 1.0},
        "ltx_clip_eager_baseline_again": {"call_s": 16.0, "ms_per_step": 1.0},
        "ltx_clip_compiled": {"call_s": 10.0},
        "ltx_clip_compiled_mp4_one_input": {"per_call_s": 11.0},
    }
    if stages:
        flux["flux_keyframe_batch3_compiled"]["film_stages"] = {
            "references": {"calls": 4, "wall_s": 7.5}, "keyframes": {"calls": 11, "wall_s": 50.0}}
        ltx["ltx_clip_compiled_film_clips"] = {"calls": 10, "wall_s": 92.0}
    out.mkdir(parents=True, exist_ok=True)
    (out / "flux.json").write_text(json.dumps(flux))
    (out / "ltx.json").write_text(json.dumps(ltx))


def test_the_baseline_is_its_calls_added_up_one_at_a_time(tmp_path: Path) -> None:
    write_results(tmp_path, stages=False)
    summary = film_summary(tmp_path)
    # A-B-A means: keyframe batch 7.5 s, clip 15 s; references at 512 px (the size measured first): 4 s.
    assert summary["baseline_eager"] == {"image_s": 4 * 4.0 + 11 * 7.5, "video_s": 10 * (15.0 + 1.0),
                                         "film_s": 98.5 + 160.0, "stages": "summed"}
    assert summary["baseline_eager_references_at_reader_size"]["image_s"] == 4 * 3.0 + 11 * 7.5
    # Without its stages measured, the compiled row is added up the same way (each clip followed by its encode).
    assert summary["compiled"]["film_s"] == 4 * 2.0 + 11 * 5.0 + 10 * (10.0 + 1.0)
    assert summary["compiled"]["stages"] == "summed"


def test_measured_film_stages_count_their_wall_time(tmp_path: Path) -> None:
    write_results(tmp_path, stages=True)
    summary = film_summary(tmp_path)
    assert summary["compiled"] == {"image_s": 57.5, "video_s": 92.0, "film_s": 149.5, "stages": "measured",
                                   "speedup": round(258.5 / 149.5, 2)}
    assert json.loads((tmp_path / "film.json").read_text()) == summary


def test_the_wall_model_adds_a_further_clip_at_what_it_added_to_the_stage(tmp_path: Path) -> None:
    write_results(tmp_path, stages=True)
    ltx = json.loads((tmp_path / "ltx.json").read_text())
    model = wall_model(ltx, "compiled")
    assert model["per_clip_overlapped_s"] == pytest.approx((92.0 - 11.0) / 9)
    transfer = (30_000_000 + 2 * 700_000) / 100e6 + 0.3
    assert model["gpus_10"] == {"local_s": 13.0, "modal_s": round(11.0 + transfer + 2.0, 1)}
    assert model["gpus_1"]["local_s"] == round(11.0 + 9 * 9.0 + 2.0, 1)
    assert wall_model(ltx, "fast") == {}  # nothing measured: no model


def test_the_cpu_dry_run_measures_the_film_stages(tmp_path: Path) -> None:
    """The benchmark's own CPU dry run (tiny pipelines): the lossless and fast rows have their film stages."""
    run = subprocess.run([sys.executable, "benchmarks/gpu_benchmark.py", "--tiny", "--part", "all", "--out",
                          str(tmp_path), "--configs", "compiled,fast"], cwd=ROOT, capture_output=True, text=True,
                         timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    film = json.loads((tmp_path / "film.json").read_text())
    for name in ("compiled", "fast"):
        assert film[name]["stages"] == "measured"
        assert film[name]["film_s"] == pytest.approx(film[name]["image_s"] + film[name]["video_s"], abs=0.11)
    flux = json.loads((tmp_path / "flux.json").read_text())
    assert flux["flux_keyframe_batch3_fast"]["film_stages"]["keyframes"]["calls"] == 11
    assert json.loads((tmp_path / "ltx.json").read_text())["ltx_clip_fast_film_clips"]["calls"] == 10


def test_the_cpu_dry_runs_of_ltx2_and_the_40_gb_cap_record_every_row(tmp_path: Path) -> None:
    """`--tiny --part ltx2` and `--part memory40` (the device commands' CPU dry runs): LTX-Video 0.9.5 and LTX-2
    each timed per clip and per film in every mode, LTX-2 over LTX-Video like against like, and both keyframe
    sizes under the cap with the QC model loaded."""
    for part in ("ltx2", "memory40"):
        run = subprocess.run([sys.executable, "benchmarks/gpu_benchmark.py", "--tiny", "--part", part, "--out",
                              str(tmp_path), "--film-clips", "3"], cwd=ROOT, capture_output=True, text=True,
                             timeout=600, check=False)
        assert run.returncode == 0, run.stderr[-2000:]
    ltx2 = json.loads((tmp_path / "ltx2.json").read_text())
    for row in ("ltx095_clip_eager", "ltx095_clip_compiled", "ltx2_clip_eager", "ltx2_clip_compiled",
                "ltx2_clip_fp8_compiled"):
        assert ltx2[row]["steps"] == 3 and ltx2[row]["per_film_s"] == pytest.approx(3 * ltx2[row]["call_s"], abs=0.1)
        assert "peak_gib" in ltx2[row]
    assert ltx2["ltx2_build"]["transformer_params_b"] >= 0
    assert set(ltx2["ltx2_over_ltx095_per_clip"]) == {"eager", "compiled", "fp8_compiled"}
    assert ltx2["ltx2_over_ltx095_per_clip"]["eager"] == pytest.approx(
        ltx2["ltx2_clip_eager"]["call_s"] / ltx2["ltx095_clip_eager"]["call_s"], abs=0.01)
    memory = json.loads((tmp_path / "memory40.json").read_text())
    assert memory["cap"] == {"gib": None, "qc": "clip"}  # no cap on the CPU
    assert memory["memory40_32x32"]["fits"] and memory["memory40_64x32"]["fits"]


def test_the_film_dry_run_with_ltx2_keeps_the_frame_contract_and_reports_the_clip_sound(tmp_path: Path) -> None:
    """`gpu_film.py --tiny --video-engine ltx-2`: the whole film through LocalGpuRenderer with LTX-2 (weights
    written and loaded from disk), every boundary once (segments x F + 1 frames), each clip's sound a frame longer
    than its segment, and the cross-fade lowering the click at every cut."""
    run = subprocess.run([sys.executable, "benchmarks/gpu_film.py", "--tiny", "--video-engine", "ltx-2", "--sizes",
                          "768x512:3", "--weights", str(tmp_path / "w"), "--out", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads((tmp_path / "film-tiny.json").read_text())
    assert result["video_engine"] == "ltx-2" and "ltx-2" in result["weights"]["folders"]
    film = result["film_128x128"]
    assert film["film"]["frames"] == film["film"]["expected_frames"] == 3 * 8 + 1
    sound = film["clip_sound"]
    assert all(s == pytest.approx(9 / 8, abs=0.02) for s in sound["seconds"])  # F + 1 frames at 8 fps
    assert all(faded < hard for faded, hard in zip(sound["seam_step_crossfade"], sound["seam_step_hard"]))
