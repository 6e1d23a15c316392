"""How long the sound stage takes: offline on this machine, and GPU-seconds per film for the GPU engines.

    python benchmarks/sound_benchmark.py              # the default film's sound stage, offline (Piper, procedural)
    python benchmarks/sound_benchmark.py --gpu        # SpeechT5 + Stable Audio 3 Medium, full-size random weights
    python benchmarks/sound_benchmark.py --gpu --tiny # the GPU path on tiny models (a CPU smoke run)

Offline, it prints seconds per step of the stage for the default film (10 segments of 8 s at 24 fps, the
offline writer's plan): voice casting, speech (segments side by side, ``--workers``), ambience, the mix
(two-pass loudness, AAC, stems), subtitle files and the mux with a synthetic picture. It prints the CPU
seconds of each step too (this process and its Piper and ffmpeg children) and the load average: on a
shared machine wall time grows with the other jobs, CPU time does not; on an idle two-core machine the
wall time of a step is about its CPU time divided by the cores it can use.

On a GPU it prints the GPU-seconds one film costs: ten speech batches (one per segment, as the flow
fans them out) and one bed per location run. The weights are random, so SpeechT5 never predicts its stop
token: every batch is held to the length real speech would have (``--frames-per-char`` mel frames per
character, 4.1 = the ~15 characters a second Piper speaks) and the timing is a real model's. Results are
printed as JSON (``--json PATH`` writes them too).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from filmstitch.models import FilmRequest
from filmstitch.testing.plans import offline_plan

IDEA = "A stranded astronaut on the moon walks around and discovers nature"


def cpu_seconds() -> float:
    """CPU time of this process and of the children it waited for (Piper, ffmpeg): unlike wall time, it
    does not grow when other jobs share the cores."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def offline(workers: int) -> dict:
    from filmstitch.sound import stage
    from filmstitch.testing.sound_checks import synthetic_picture

    plan = offline_plan(FilmRequest(idea=IDEA))
    times: dict[str, float] = {}
    cpu: dict[str, float] = {}

    def timed(name: str, step):
        wall, used = time.perf_counter(), cpu_seconds()
        result = step()
        times[name], cpu[name] = time.perf_counter() - wall, cpu_seconds() - used
        return result

    engine = timed("engine", stage.sound_engine)
    plan = timed("cast", lambda: stage.cast_voices(plan, voices=engine.voices()))
    def speak_all() -> list:
        with ThreadPoolExecutor(workers) as pool:
            spoken = list(pool.map(lambda s: stage.speak_segment(plan, s, engine), range(plan.request.segments)))
        engine.close()  # the Piper processes end here, so their CPU time is counted (RUSAGE_CHILDREN)
        return spoken

    speech = timed("speech", speak_all)
    beds = timed("ambience", lambda: {loc: stage.ambience_bed(plan, loc) for loc in plan.script.locations})
    mix = timed("mix", lambda: stage.mix_film(plan, speech, beds))
    timed("subtitles", lambda: stage.subtitle_files(mix.cues, plan.script.language))
    with tempfile.TemporaryDirectory() as tmp:
        picture = synthetic_picture(Path(tmp) / "picture.mp4", plan.request.duration_s).read_bytes()
        timed("mux", lambda: stage.mux_film(picture, mix.m4a, mix.cues, plan.script.language))
    times["sound stage"], cpu["sound stage"] = sum(times.values()), sum(cpu.values())
    lines = sum(len(s.lines) for s in speech)
    return {"mode": "offline", "segments": plan.request.segments, "lines": lines, "workers": workers,
            "load_average_1min": round(os.getloadavg()[0], 2),
            "seconds": {k: round(v, 2) for k, v in times.items()},
            "cpu_seconds": {k: round(v, 2) for k, v in cpu.items()},
            "speech_seconds_synthesised": round(sum(line.speech_s for s in speech for line in s.lines), 1),
            "integrated_lufs": mix.report.integrated_lufs, "true_peak_dbtp": mix.report.true_peak_dbtp}


def gpu(tiny: bool, frames_per_char: float, repeats: int) -> dict:
    import torch

    from filmstitch.engines.audio import StableAudioAmbienceEngine
    from filmstitch.engines.tts import SpeechT5Engine
    from filmstitch.sound.ambience import location_spans, piece_bounds
    from filmstitch.sound.casting import cast_voices
    from filmstitch.sound.settings import SoundSettings
    from filmstitch.testing.tiny_sound import (
        TINY_SPEAKERS,
        char_tokenizer,
        full_speecht5,
        full_stable_audio3,
        tiny_speecht5,
        tiny_stable_audio3,
    )

    cuda = torch.cuda.is_available() and not tiny
    device = torch.device("cuda" if cuda else "cpu")

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    mark = time.perf_counter()
    if tiny:
        model, vocoder = tiny_speecht5()
        speakers = {voice: torch.randn(8).numpy() for voice in TINY_SPEAKERS}
        pipe = tiny_stable_audio3()
    else:
        model, vocoder = full_speecht5(device)
        speakers = {voice: torch.randn(512).numpy() for voice in ("awb", "bdl", "clb", "jmk", "ksp", "rms", "slt")}
        pipe = full_stable_audio3(device)
    voice = SpeechT5Engine(model, vocoder, char_tokenizer(), speakers, device, torch.float32,
                           min_len_ratio=frames_per_char, max_len_ratio=frames_per_char)
    settings = SoundSettings(ambience_steps=2 if tiny else 8, device="cuda" if cuda else "cpu")
    ambience = StableAudioAmbienceEngine.from_pipeline(pipe, settings, device)
    sync()
    build_s = time.perf_counter() - mark

    plan = cast_voices(offline_plan(FilmRequest(idea=IDEA)), {}, voice.voices())
    # a segment's lines as the stage speaks them (stage.segment_lines; the stage module itself needs ffmpeg)
    batches = [[(segment.narration, plan.narrator),
                *((line.line, plan.character(line.speaker).voice) for line in segment.dialogue)]
               for segment in plan.script.segments]
    voice.synthesize(batches[0][:1])  # warm-up: CUDA context, kernels
    ambience.bed("wind", 48_000 * 2, 0)
    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats()

    speech_runs, bed_runs = [], []
    for _ in range(repeats):
        per_segment = []
        for batch in batches:
            mark = time.perf_counter()
            out = voice.synthesize(batch)
            sync()
            per_segment.append(time.perf_counter() - mark)
        speech_runs.append(per_segment)
        spans = [piece_bounds(plan, span) for spans in location_spans(plan).values() for span in spans]
        mark = time.perf_counter()
        for start, end in spans:
            ambience.bed("wind over a grey plain, distant low hum", end - start, 1)
        sync()
        bed_runs.append(time.perf_counter() - mark)
    speech_film = statistics.median(sum(run) for run in speech_runs)
    bed_film = statistics.median(bed_runs)
    audio_s = sum(len(s.samples) / s.rate for s in out)
    result = {
        "mode": "gpu-tiny" if tiny else "gpu",
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "torch": torch.__version__,
        "speecht5_params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
        "stable_audio_dit_params_m": round(sum(p.numel() for p in pipe.transformer.parameters()) / 1e6, 1),
        "build_s": round(build_s, 2),
        "repeats": repeats,
        "speech_gpu_s_per_film": round(speech_film, 2),
        "speech_gpu_s_per_segment": [round(statistics.median(r[k] for r in speech_runs), 3)
                                     for k in range(len(batches))],
        "last_batch_audio_s": round(audio_s, 2),
        "ambience_gpu_s_per_film": round(bed_film, 2),
        "ambience_seconds_of_bed": round(sum(end - start for start, end in spans) / 48_000, 1),
        "ambience_steps": settings.ambience_steps,
        "sound_gpu_s_per_film": round(speech_film + bed_film, 2),
    }
    if cuda:
        result["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpu", action="store_true", help="GPU-seconds of the GPU engines per film")
    parser.add_argument("--tiny", action="store_true", help="with --gpu: tiny models on the CPU (smoke run)")
    parser.add_argument("--workers", type=int, default=2, help="segments spoken side by side (offline)")
    parser.add_argument("--frames-per-char", type=float, default=4.1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    result = gpu(args.tiny, args.frames_per_char, args.repeats) if args.gpu else offline(args.workers)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
