"""The mix: speech placed on the frame grid, ambience under it (ducked), loudness-normalised, AAC-encoded.

1. **Place.** Every line goes in at a sample position: its segment's first sample (exact integer arithmetic
   on the frame grid, :func:`filmstitch.sound.timing.segment_start_sample`) plus its layout onset, minus
   where its speech starts inside its own WAV; lines that ran long were moved by
   :func:`filmstitch.sound.timing.place_film`. Each line is levelled to the same speech RMS first, so the
   narrator and the characters sit at one level, and the voice stem gets a gentle dialogue compressor
   (:func:`compress`), so that its peaks allow -16 LUFS under -1 dBTP.
2. **Ambience.** Each location's bed pieces are added where they belong; neighbouring locations overlap
   by the cross-fade and their ramps add up to constant power. When the clips carry their own sound (LTX-2,
   :mod:`filmstitch.sound.clips`), ``clip_sound`` (``FILMSTITCH_SOUND_CLIP_SOUND``) says what it becomes:
   ``bed`` (default): the clips' sound, joined by 20 ms cross-fades at the cuts and levelled
   :data:`CLIP_BED_DB` under the speech, replaces the ambience beds as the ambience and effects bed (ducked and
   normalised as they are); ``soundtrack``: the clips' sound is the whole soundtrack (no narration voice: for
   prompts that carry the dialogue themselves; the subtitles still follow the narration's timing); ``off``: the
   ambience beds as before, the clips' sound unused.
3. **Duck.** The ambience drops by :data:`DUCK_DB` under speech: the voice stem's 10 ms RMS says where
   speech is; the gain follows it with a fast attack (starting a little *before* the onset, as a mixer
   would ride the fader) and a slow release, so the bed breathes back in between lines.
4. **Loudness** (EBU R128, two passes). Pass one: ffmpeg's ``ebur128`` measures the mix (integrated
   loudness, its gating threshold, loudness range, true peak); a look-ahead limiter (:func:`limit_peaks`)
   takes off only the peaks that the one gain to :data:`TARGET_LUFS` would push over :data:`TARGET_TP`,
   and the limited mix is measured again. Pass two: ffmpeg's ``loudnorm`` with those measurements and
   ``linear=true`` applies that single gain (it would fall back to its dynamic mode only if one gain could
   not do it; the report says which mode ran). The target peak keeps a margin under -1 dBTP because AAC
   encoding overshoots peaks a little.
5. **Encode and measure.** Pass two writes AAC-LC, 48 kHz stereo, into an .m4a, cut and padded
   (``atrim``/``apad``) to exactly ``segments * frames_per_clip / fps`` seconds of samples. ``ebur128``
   then measures the encoded file (integrated loudness, loudness range, true peak) for the report, while the
   stems are encoded to FLAC at the same gain.

The subtitle cues come from where the speech was placed, and follow the scenes: no cue spans a scene cut
(:func:`scene_cuts`, :func:`filmstitch.sound.subtitles.cues_for`).
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from scipy.ndimage import minimum_filter1d, uniform_filter1d

from filmstitch.models import FilmPlan
from filmstitch.sound.ambience import location_spans, wav_to_pieces
from filmstitch.sound.audio import (
    SAMPLE_RATE,
    AudioError,
    db_to_gain,
    frame_rms,
    from_wav,
    run_ffmpeg,
    to_wav,
)
from filmstitch.sound.clips import clip_sound_stem
from filmstitch.sound.subtitles import TimedLine, cues_for
from filmstitch.sound.timing import SegmentFit, film_samples, place_film, segment_start_sample
from filmstitch.sound.tracks import MixReport, SegmentSpeech, SoundMix
from filmstitch.video import ffmpeg_exe

TARGET_LUFS = -16.0
TARGET_TP = -2.0
#: The promise (EBU R128 delivery): the encoded mix's true peak never above this. TARGET_TP keeps a margin.
MAX_TRUE_PEAK = -1.0
#: loudnorm keeps one linear gain only while the measured loudness range is within this target (it falls back to
#: dynamic compression above it): a film of narration, dialogue and ambience measures 10-16 LU, so 20.
TARGET_LRA = 20.0
#: Level of speech before normalisation (RMS of its audible windows) and of the ambience relative to it.
SPEECH_RMS_DB = -20.0
AMBIENCE_DB = -9.0
DUCK_DB = 9.0
DUCK_ATTACK_S = 0.08
DUCK_RELEASE_S = 0.6
DUCK_LOOKAHEAD_S = 0.12
AAC_BITRATE = "192k"
COMPRESS_ABOVE_DB = -4.0
COMPRESS_RATIO = 3.0
#: Level of the clips' own sound used as the bed, relative to speech (its audible windows' RMS), before ducking.
CLIP_BED_DB = -12.0


def level_speech(samples: np.ndarray) -> np.ndarray:
    """A line scaled so the RMS of its audible 10 ms windows is SPEECH_RMS_DB."""
    rms = frame_rms(samples, SAMPLE_RATE)
    active = rms[rms >= rms.max() * db_to_gain(-30)] if len(rms) and rms.max() > 0 else rms
    if not len(active):
        return samples
    level = float(np.sqrt(np.mean(active.astype(np.float64) ** 2)))
    return samples * (db_to_gain(SPEECH_RMS_DB) / level)


def compress(voice: np.ndarray, threshold_db: float = SPEECH_RMS_DB + COMPRESS_ABOVE_DB,
             ratio: float = COMPRESS_RATIO) -> np.ndarray:
    """A gentle speech compressor (what a dialogue mixer puts on every voice): above the threshold, the
    level rises 1/ratio as fast. RMS over 5 ms windows, attack 5 ms, release 80 ms. It lowers the peaks
    of plosives and stressed syllables, so the film can be -16 LUFS with its true peak under -1 dBTP."""
    window = SAMPLE_RATE // 200
    rms = frame_rms(voice, SAMPLE_RATE, window_s=1 / 200)
    level_db = 20 * np.log10(np.maximum(rms, 1e-9))
    reduction = np.maximum(0.0, level_db - threshold_db) * (1 - 1 / ratio)
    attack, release = np.exp(-1 / 1.0), np.exp(-1 / 16.0)  # in 5 ms windows
    smoothed, held = np.empty_like(reduction), 0.0
    for i, target in enumerate(reduction):
        coeff = attack if target > held else release
        held = coeff * held + (1 - coeff) * target
        smoothed[i] = held
    centres = (np.arange(len(smoothed)) + 0.5) * window
    gain_db = np.interp(np.arange(len(voice)), centres, -smoothed) if len(smoothed) else np.zeros(len(voice))
    return (voice * 10 ** (gain_db / 20)).astype(np.float32)


def speech_layout(plan: FilmPlan, speech: Sequence[SegmentSpeech]) -> tuple[list[list[float]], list[str]]:
    """Absolute speech onsets (seconds) of every line, per segment, and what moved (timing.place_film)."""
    by_segment = {s.segment: s for s in speech}
    missing = [i for i in range(plan.request.segments) if i not in by_segment]
    if missing:
        raise ValueError(f"speech is missing for segments {missing}")
    fits = [SegmentFit(fit=by_segment[i].fit, onsets=[line.layout_onset_s for line in by_segment[i].lines],
                       slots=[line.slot_s for line in by_segment[i].lines]) for i in range(plan.request.segments)]
    placement = place_film(fits, plan.request.frames_per_clip / plan.request.fps)
    return placement.onsets, placement.spills


def voice_stem(plan: FilmPlan, speech: Sequence[SegmentSpeech]) -> tuple[np.ndarray, list[TimedLine], list[str]]:
    """(mono voice stem, where each line's speech sits, spills), every line placed by sample position."""
    request = plan.request
    total = film_samples(request.segments, request.frames_per_clip, request.fps)
    stem = np.zeros(total, dtype=np.float32)
    onsets, spills = speech_layout(plan, speech)
    timed = []
    ordered = sorted(speech, key=lambda s: s.segment)
    for segment_speech, row in zip(ordered, onsets):
        seg_start = segment_start_sample(segment_speech.segment, request.frames_per_clip, request.fps)
        seg_offset_s = seg_start / SAMPLE_RATE
        for line, onset in zip(segment_speech.lines, row):
            samples, rate = from_wav(line.wav, f"segment {line.segment} line {line.line}")
            if rate != SAMPLE_RATE or samples.ndim != 1:
                raise AudioError(f"segment {line.segment} line {line.line}: expected 48 kHz mono speech")
            # the segment's exact first sample, plus the onset within the segment, minus the WAV's lead-in
            at = seg_start + round((onset - seg_offset_s) * SAMPLE_RATE) - round(line.onset_s * SAMPLE_RATE)
            samples = level_speech(samples)
            lo, hi = max(0, at), min(total, at + len(samples))
            stem[lo:hi] += samples[lo - at: hi - at]
            start_s = (at + round(line.onset_s * SAMPLE_RATE)) / SAMPLE_RATE
            timed.append(TimedLine(segment=line.segment, speaker=line.speaker, text=line.text, start=start_s,
                                   end=start_s + line.speech_s,
                                   pauses=[at / SAMPLE_RATE + p for p in line.pauses_s]))
    return stem, timed, spills


def scene_cuts(plan: FilmPlan) -> list[float]:
    """Film time (seconds, on the sample grid) of every cut to a new scene: the first sample of each segment
    whose scene differs from the one before."""
    request, segments = plan.request, plan.script.segments
    return [segment_start_sample(s.index, request.frames_per_clip, request.fps) / SAMPLE_RATE
            for before, s in itertools.pairwise(segments) if s.scene != before.scene]


def ambience_stem(plan: FilmPlan, beds: Mapping[str, bytes]) -> np.ndarray:
    """Every location's bed pieces added at their places (stereo)."""
    request = plan.request
    total = film_samples(request.segments, request.frames_per_clip, request.fps)
    stem = np.zeros((total, 2), dtype=np.float32)
    for location, spans in location_spans(plan).items():
        if location not in beds:
            raise ValueError(f"no ambience bed for location {location!r}")
        for start, piece in wav_to_pieces(plan, spans, beds[location]):
            stem[start: start + len(piece)] += piece[: total - start]
    return stem


def duck_gain(voice: np.ndarray) -> np.ndarray:
    """Per-sample ambience gain: 1 in silence, -DUCK_DB under speech, with attack, release and look-ahead."""
    hop = SAMPLE_RATE // 100
    rms = frame_rms(voice, SAMPLE_RATE)
    active = (rms > db_to_gain(SPEECH_RMS_DB - 25)).astype(np.float64)
    ahead = int(DUCK_LOOKAHEAD_S * 100)
    active = np.maximum(active, np.concatenate([active[ahead:], np.zeros(ahead)]))
    attack, release = np.exp(-1 / (DUCK_ATTACK_S * 100)), np.exp(-1 / (DUCK_RELEASE_S * 100))
    env, level = np.empty_like(active), 0.0
    for i, target in enumerate(active):  # one-pole follower per 10 ms window (8000 windows for 80 s)
        coeff = attack if target > level else release
        level = coeff * level + (1 - coeff) * target
        env[i] = level
    gain = db_to_gain(-DUCK_DB) ** env
    centres = (np.arange(len(gain)) + 0.5) * hop
    return np.interp(np.arange(len(voice)), centres, gain).astype(np.float32) if len(gain) else np.ones(len(voice))


def measure(path: Path | bytes) -> dict[str, float]:
    """EBU R128 facts of an audio file (or WAV bytes), by ffmpeg's ``ebur128`` filter: integrated loudness
    (LUFS), its gating threshold (LUFS), loudness range (LU) and true peak (dBTP)."""
    source, stdin = (["-f", "wav", "-i", "pipe:0"], path) if isinstance(path, bytes) else (["-i", str(path)], None)
    done = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostats", *source, "-af", "ebur128=peak=true",
                           "-f", "null", "-"], input=stdin, capture_output=True, timeout=300, check=False)
    text = done.stderr.decode(errors="replace")
    if done.returncode != 0 or "Summary:" not in text:
        raise AudioError("loudness measurement: ffmpeg failed: " + " | ".join(text.strip().splitlines()[-2:]))
    summary = text[text.rfind("Summary:"):]

    def number(label: str) -> float:
        match = re.search(label + r":\s*(-?[\d.]+|-inf)", summary)
        if not match:
            raise AudioError(f"loudness measurement: ebur128 gave no {label}")
        return float(match.group(1))

    return {"integrated": number("I"), "threshold": number("Threshold"), "range": number("LRA"),
            "true_peak": number("Peak")}


def limit_peaks(mix: np.ndarray, ceiling_db: float, window_s: float = 0.01) -> np.ndarray:
    """A look-ahead peak limiter: the gain each sample needs to stay under the ceiling, spread by a minimum
    filter over two windows and smoothed over one, so it is already down when a peak arrives (no clipping)
    and never lower than the peak needs."""
    ceiling = db_to_gain(ceiling_db)
    peak = np.abs(mix).max(axis=1) if mix.ndim == 2 else np.abs(mix)
    needed = np.minimum(1.0, ceiling / np.maximum(peak, 1e-9))
    if needed.min() >= 1.0:
        return mix
    width = max(1, int(window_s * SAMPLE_RATE))
    gain = uniform_filter1d(minimum_filter1d(needed, size=2 * width + 1), size=width)
    return mix * (gain[:, None] if mix.ndim == 2 else gain)


def normalise_and_encode(mix: np.ndarray, out: Path, margin_db: float = 0.0) -> tuple[str, float]:
    """Steps 4 and 5 of the module docstring: measure, limit the peaks that one linear gain would push over
    the target, measure again, then loudnorm (linear, with those measurements) into AAC, cut to the exact
    sample count. `margin_db` lowers the peak target further. Returns (loudnorm's mode, the gain in dB)."""
    total = len(mix)
    target_tp = TARGET_TP - margin_db
    second = measure(to_wav(mix))
    limited = mix
    for _ in range(3):  # limiting lowers the loudness a little, so the gain rises: check, at most three times
        gain_db = TARGET_LUFS - second["integrated"]
        if second["true_peak"] + gain_db <= target_tp - 0.2:
            break
        limited = limit_peaks(limited, target_tp - 0.6 - gain_db)
        second = measure(to_wav(limited))
    source = out.with_name("limited.wav")
    source.write_bytes(to_wav(limited))
    loudnorm = (f"loudnorm=I={TARGET_LUFS}:TP={target_tp}:LRA={TARGET_LRA}:measured_I={second['integrated']}"
                f":measured_TP={second['true_peak']}:measured_LRA={second['range']}"
                f":measured_thresh={second['threshold']}:linear=true:print_format=json")
    chain = f"{loudnorm},aresample={SAMPLE_RATE},apad=whole_len={total},atrim=end_sample={total}"
    command = [ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(source), "-af", chain, "-c:a", "aac",
               "-b:a", AAC_BITRATE, "-ar", str(SAMPLE_RATE), "-ac", "2", "-movflags", "+faststart",
               "-map_metadata", "-1", "-fflags", "+bitexact", "-y", str(out)]
    done = subprocess.run(command, capture_output=True, timeout=600, check=False)
    text = done.stderr.decode(errors="replace")
    if done.returncode != 0:
        raise AudioError("loudness normalisation: ffmpeg failed: " + " | ".join(text.strip().splitlines()[-3:]))
    blocks = re.findall(r"\{[^{}]*\}", text)
    mode = json.loads(blocks[-1]).get("normalization_type", "unknown") if blocks else "unknown"
    return mode, round(TARGET_LUFS - second["integrated"], 2)


def encode_within_peak(mix: np.ndarray, out: Path) -> tuple[str, float, dict[str, float]]:
    """normalise_and_encode, then the encoded file measured, not assumed: a true peak over MAX_TRUE_PEAK (seen
    once in twelve offline films: -0.0 dBTP at a voice line's first transient) is encoded again with a lower
    peak target. Returns (loudnorm's mode, the gain in dB, the encoded file's measurements)."""
    for margin_db in (0.0, 1.5, 3.0):
        mode, gain_db = normalise_and_encode(mix, out, margin_db)
        facts = measure(out)
        if facts["true_peak"] <= MAX_TRUE_PEAK:
            break
    return mode, gain_db, facts


def encode_flac(samples: np.ndarray) -> bytes:
    return run_ffmpeg(["-f", "wav", "-i", "pipe:0", "-c:a", "flac", "-f", "flac", "pipe:1"], to_wav(samples),
                      "encoding a stem")


def level_to(samples: np.ndarray, level_db: float) -> np.ndarray:
    """Samples scaled so the RMS of their audible 10 ms windows is ``level_db`` (as :func:`level_speech`)."""
    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    rms = frame_rms(mono, SAMPLE_RATE)
    if not len(rms) or rms.max() <= 0:
        return samples
    active = rms[rms >= rms.max() * db_to_gain(-30)]
    return samples * (db_to_gain(level_db) / float(np.sqrt(np.mean(active.astype(np.float64) ** 2))))


CLIP_SOUND_MODES = ("bed", "soundtrack", "off")


def mix_film(plan: FilmPlan, speech: Sequence[SegmentSpeech], beds: Mapping[str, bytes],
             clip_sounds: Sequence[bytes] | None = None, clip_sound: str = "bed") -> SoundMix:
    """The film's mix, stems and cues (the module docstring's five steps). ``clip_sounds``: one WAV per segment
    (LTX-2 clips), used as ``clip_sound`` says (step 2)."""
    request = plan.request
    if clip_sound not in CLIP_SOUND_MODES:
        raise ValueError(f"clip_sound must be one of {', '.join(CLIP_SOUND_MODES)}, got {clip_sound!r}")
    if clip_sounds is not None and len(clip_sounds) != request.segments:
        raise ValueError(f"{len(clip_sounds)} clip sounds for {request.segments} segments")
    use_clips = clip_sounds is not None and clip_sound != "off"
    total = film_samples(request.segments, request.frames_per_clip, request.fps)
    voice, timed, spills = voice_stem(plan, speech)
    voice = compress(voice)
    if use_clips:
        clips = clip_sound_stem(clip_sounds, request.frames_per_clip, request.fps)
    if use_clips and clip_sound == "soundtrack":
        named = [("soundtrack", level_to(clips, SPEECH_RMS_DB))]
        mix = named[0][1]
    else:
        bed = level_to(clips, SPEECH_RMS_DB + CLIP_BED_DB) if use_clips else ambience_stem(plan, beds) * db_to_gain(
            AMBIENCE_DB)
        ambience = bed * duck_gain(voice)[:, None]
        named = [("voice", voice), ("ambience", ambience)]
        mix = voice[:, None] + ambience
    with tempfile.TemporaryDirectory(prefix="filmstitch-mix-") as tmp, ThreadPoolExecutor(2) as pool:
        m4a = Path(tmp) / "mix.m4a"
        mode, gain_db, facts = encode_within_peak(mix, m4a)
        gain = db_to_gain(gain_db)
        stems = {name: pool.submit(encode_flac, stem * gain) for name, stem in named}
        m4a_bytes = m4a.read_bytes()
        stem_bytes = {name: future.result() for name, future in stems.items()}
    cues = cues_for(timed, total / SAMPLE_RATE, scene_cuts(plan))
    report = MixReport(integrated_lufs=facts["integrated"], true_peak_dbtp=facts["true_peak"],
                       loudness_range_lu=facts["range"], duration_s=total / SAMPLE_RATE, samples=total,
                       normalisation=mode, gain_db=gain_db, spills=spills)
    return SoundMix(m4a=m4a_bytes, stems=stem_bytes, cues=cues, report=report)
