"""What a film will cost, before it is made: the writer's tokens, the seconds of each render stage, the sound,
and their price, as a low-high range.

* **Writer.** The Claude writer's tokens: those already spent (the film's `usage/*.json`), and those to come
  when the plan is not written yet, modelled per question from the first question's input tokens, counted by
  the API (`messages.count_tokens`) where it can be reached (else estimated at 3.5 characters a token): the
  segment questions repeat the outline, the cast, location and keyframe questions the script (about 270
  tokens a segment), answers run about 200 tokens a segment and 250 a keyframe (measured on the test author's
  answers; docs/cost.md). Priced with the model's list prices (`writers/claude/catalog.py`): low with half the
  input read from the prompt cache, high with every input token written to it. The offline writer costs
  nothing.
* **Renders.** Seconds per call from `renderers/cost.py` (the benchmark's per-call measurements: FLUX.1-dev
  keyframe batches and LTX-Video clips on one H200, eager / compiled / fast; the animatic on the 2-core
  machine), for 3 to 8 reference subjects (the plan is not written yet), N+1 keyframe batches and N clips.
  Low: 0.65x on GPUs, 0.45x on the animatic (calls overlap and warm up, as the whole-film benchmarks
  measured); high: 1.4x plus the first calls' compilation when compiling (95 s on an H100), 3x longer on a
  Modal GPU type the numbers were not measured on. Priced per GPU-second from the table of Modal
  GPU types (`CostSettings.gpu_usd_per_second`) for the modal renderer; local GPUs are counted in GPU-seconds
  and cost nothing here (you own them), the animatic in CPU-seconds.
* **Sound.** The offline voice in CPU-seconds (5.8 s of speech in 0.72 s on 2 cores, plus the ambience); the
  GPU engines from the H200 sound benchmark (7.47 GPU-s for an 80-second film), priced like the renders on
  the sound workers' Modal GPU type.

Plain functions, no Prefect: `filmstitch make` prints the estimate before it starts anything, the make-film
flow logs it first thing and refuses a film whose low estimate is over its budget (`max_cost_usd`).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from filmstitch.models import FilmPlan, FilmRequest
from filmstitch.renderers import cost

Unit = Literal["GPU-s", "CPU-s", "tokens"]

#: Modal's list prices, USD per second of one GPU (modal.com/pricing; H100, A100-80GB, L40S, L4 and T4 as a
#: third-party cheat sheet read them on 2026-05-07; the others as last read: check before relying on them).
MODAL_USD_PER_SECOND: dict[str, float] = {
    "B200": 0.001736, "H200": 0.001261, "H100": 0.001097, "A100-80GB": 0.000694, "A100-40GB": 0.000583,
    "L40S": 0.000542, "A10": 0.000306, "L4": 0.000222, "T4": 0.000164,
}

#: Range around the per-call sum. Calls overlap, two at a time, and warm up: the H200 benchmark's whole films
#: took 0.70x (fast) to 0.88x (compiled) of the per-call sum (benchmarks/results/h200-cost2-film.json), the
#: animatic film on 2 cores at most 0.7x (offline-film-10-ideas-2core.txt); QC retries, a person's edits and
#: slower cards make it longer.
LOW = {"GPU-s": 0.65, "CPU-s": 0.45}
HIGH = 1.4
#: GPU types the per-call numbers were measured on (H200; H100 within 1.5x); others are not measured: their
#: high end is this many times longer (a wide guess, said so in the estimate).
MEASURED_GPUS = ("H200", "H100", "B200")
UNMEASURED_FACTOR = 3.0
#: First calls of a compiled film (FACTS: about 95 s of the H100 film run was compilation).
COMPILE_WARMUP_S = 95.0
#: Reference subjects before the plan exists: at least a character and a location or two; the writers'
#: plans seldom have more than 8.
SUBJECTS = (3, 8)
#: Writer tokens per segment (test author's answers, characters / 4; docs/cost.md).
SCRIPT_TOKENS_PER_SEGMENT = 270
OUTLINE_TOKENS_PER_SEGMENT = 30
SEGMENT_ANSWER_TOKENS = 200
KEYFRAME_ANSWER_TOKENS = 250
CAST_TOKENS = 900
#: Writer range: repairs, a fallback, longer answers.
WRITER_LOW, WRITER_HIGH = 0.75, 1.6
#: Sound: offline voice CPU-seconds per second of film; GPU engines GPU-seconds per second of film (H200).
SOUND_CPU_PER_FILM_SECOND = (0.08, 0.3)
SOUND_GPU_PER_FILM_SECOND = 7.47 / 80.0


class CostSettings(BaseSettings):
    """Prices, from ``FILMSTITCH_COST_*``: `GPU_USD_PER_SECOND` is a JSON object of Modal GPU type -> USD/s;
    `CPU_USD_PER_SECOND` what a second of the machine running the animatic and the offline voice costs (0: your
    own machine; a cloud VM's price, e.g. 0.000047 for 2 vCPUs at $0.17 an hour)."""

    model_config = SettingsConfigDict(env_prefix="FILMSTITCH_COST_", env_file=".env", extra="ignore")

    gpu_usd_per_second: dict[str, float] = Field(default_factory=lambda: dict(MODAL_USD_PER_SECOND))
    cpu_usd_per_second: float = Field(0.0, ge=0)

    def usd_per_second(self, unit: str, gpu: str | None) -> float:
        """The price of a second of `unit` (CPU-s, GPU-s) on a Modal `gpu` type (None: a local GPU, not billed)."""
        if unit == "CPU-s":
            return self.cpu_usd_per_second
        return self.gpu_usd_per_second.get(gpu, 0.0) if gpu else 0.0


class Line(BaseModel):
    """One stage of the estimate: how much of what, and its price, low and high."""

    what: str
    unit: Unit
    low: float
    high: float
    usd_low: float = 0.0
    usd_high: float = 0.0
    note: str = ""


class FilmEstimate(BaseModel):
    """The film's estimate: its lines, the writer's spending so far, the total range in USD."""

    renderer: str
    gpu: str | None = None
    lines: list[Line]
    spent_usd: float = 0.0
    spent_tokens: int = 0

    @property
    def usd_low(self) -> float:
        return round(self.spent_usd + sum(line.usd_low for line in self.lines), 4)

    @property
    def usd_high(self) -> float:
        return round(self.spent_usd + sum(line.usd_high for line in self.lines), 4)

    def seconds(self, unit: Unit) -> tuple[float, float]:
        mine = [line for line in self.lines if line.unit == unit]
        return sum(line.low for line in mine), sum(line.high for line in mine)

    def summary(self) -> str:
        """A few lines for the terminal and the run's log."""
        where = f"{self.renderer}" + (f" on {self.gpu}" if self.gpu else "")
        lines = [f"Estimate for this film ({where}): ${self.usd_low:.2f}-${self.usd_high:.2f}"
                 + (f" (${self.spent_usd:.2f} already spent by the writer)" if self.spent_usd else "")]
        for line in self.lines:
            price = f", ${line.usd_low:.2f}-${line.usd_high:.2f}" if line.usd_high else ""
            note = f" ({line.note})" if line.note else ""
            lines.append(f"  {line.what}: {_n(line.low)}-{_n(line.high)} {line.unit}{price}{note}")
        for unit in ("GPU-s", "CPU-s"):
            low, high = self.seconds(unit)  # type: ignore[arg-type]
            if high:
                lines.append(f"  total: {_n(low)}-{_n(high)} {unit}")
        return "\n".join(lines)

    def over_budget(self, budget: float | None) -> str | None:
        """One line refusing the film when even its low estimate passes `budget` (USD); None when it fits."""
        if budget is None or self.usd_low <= budget:
            return None
        shown = f"{budget:.2f}" if budget >= 0.01 else f"{budget:g}"
        return (f"this film's estimate is ${self.usd_low:.2f}-${self.usd_high:.2f}, over its budget of ${shown} "
                "(--max-cost / max_cost_usd): make it shorter, use a cheaper renderer or model, or raise the budget")


def _n(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


# --------------------------------------------------------------------------- the writer


def writer_questions(segments: int, chunk: int) -> int:
    """Segment (and keyframe) questions: chunks of at most `chunk` segments (scenes kept whole add a few)."""
    return max(1, math.ceil(segments / chunk))


def writer_tokens(request: FilmRequest, base: int, chunk: int = 12) -> tuple[int, int]:
    """(input, output) tokens of the four writer calls, from `base`, the first question's input tokens."""
    n = request.segments
    chunks = writer_questions(n, chunk)
    script = SCRIPT_TOKENS_PER_SEGMENT * n
    tokens_in = (base + chunks * (base + OUTLINE_TOKENS_PER_SEGMENT * n) + 2 * (base + script)
                 + chunks * (base + script + CAST_TOKENS))
    tokens_out = (300 + OUTLINE_TOKENS_PER_SEGMENT * n + SEGMENT_ANSWER_TOKENS * n + 800
                  + KEYFRAME_ANSWER_TOKENS * (n + 1))
    return tokens_in, tokens_out


def writer_line(request: FilmRequest, writer: str, base: int | None, counted: bool) -> Line:
    """The writer's tokens to come and their price (Claude), or nothing (the offline writer)."""
    if writer != "claude" or base is None:
        return Line(what="writer (offline story engine)", unit="tokens", low=0, high=0)
    from filmstitch.writers.claude import family_for, load_settings

    settings = load_settings()
    tokens_in, tokens_out = writer_tokens(request, base, settings.chunk_segments)
    low_in, high_in = tokens_in * WRITER_LOW, tokens_in * WRITER_HIGH
    low_out, high_out = tokens_out * WRITER_LOW, tokens_out * WRITER_HIGH
    price = family_for(settings.model).price
    usd_low = usd_high = 0.0
    if price is not None:
        rates = price.base
        usd_low = (low_in / 2 * rates.input + low_in / 2 * rates.cache_read + low_out * rates.output) / 1e6
        usd_high = (high_in * rates.cache_write_1h + high_out * rates.output) / 1e6
    basis = "first question counted by the API" if counted else "first question estimated at 3.5 characters a token"
    return Line(what=f"writer ({settings.model})", unit="tokens", low=round(low_in + low_out),
                high=round(high_in + high_out), usd_low=round(usd_low, 4), usd_high=round(usd_high, 4),
                note=basis + ("" if price else "; no price known for this model"))


def approximate_base(request: FilmRequest) -> int:
    """The first question's input tokens without the API: its text at 3.5 characters a token."""
    from filmstitch.writers.claude import prompts

    spec, text = prompts.outline_task(request)
    return round((len(prompts.SYSTEM_PROMPT) + len(request.idea) + len(str(spec)) + len(text)) / 3.5)


# --------------------------------------------------------------------------- the renders and the sound


def render_lines(request: FilmRequest, renderer: str, gpu_settings: Any, prices: CostSettings,
                 subjects: int | None = None) -> tuple[list[Line], str | None]:
    """Reference, keyframe and clip lines for `renderer`, and the GPU type they are priced on. `subjects`: the
    written plan's characters and locations (None: the plan is not written, SUBJECTS is the range)."""
    plan = FilmPlan.model_construct(request=request)  # cost.seconds reads the request only
    unit: Unit = "CPU-s" if renderer == "animatic" else "GPU-s"
    gpu = getattr(gpu_settings, "modal_gpu", None) if renderer == "modal" else None
    usd_per_s = prices.usd_per_second(unit, gpu)
    variants = request.variants
    few, many = (subjects, subjects) if subjects is not None else SUBJECTS
    parts = [
        (f"references ({few}-{many} subjects x {variants})" if few != many else
         f"references ({few} subjects x {variants})",
         cost.seconds(renderer, plan, "keyframes", few * variants, gpu_settings),
         cost.seconds(renderer, plan, "keyframes", many * variants, gpu_settings)),
        (f"keyframes ({request.keyframe_count} x {variants})",
         *[cost.seconds(renderer, plan, "keyframes", request.keyframe_count * variants, gpu_settings)] * 2),
        (f"clips ({request.segments})", *[cost.seconds(renderer, plan, "clip", request.segments, gpu_settings)] * 2),
    ]
    warmup = COMPILE_WARMUP_S if unit == "GPU-s" and cost.gpu_mode(gpu_settings) == "compiled" else 0.0
    slower = UNMEASURED_FACTOR if gpu and gpu not in MEASURED_GPUS else 1.0
    lines = []
    for i, (what, low, high) in enumerate(parts):
        low, high = low * LOW[unit], high * HIGH * slower + (warmup if i == 0 else 0.0)
        notes = ["incl. first-call compilation"] if i == 0 and warmup else []
        if i == 0 and slower > 1:
            notes.append(f"measured on an H200, not on {gpu}: high end x{slower:g}")
        lines.append(Line(what=what, unit=unit, low=round(low, 1), high=round(high, 1),
                          usd_low=round(low * usd_per_s, 4), usd_high=round(high * usd_per_s, 4),
                          note="; ".join(notes)))
    return lines, gpu


def sound_line(request: FilmRequest, prices: CostSettings) -> Line | None:
    if not request.sound:
        return None
    from filmstitch.sound.settings import SoundSettings

    settings = SoundSettings()
    duration = request.segments * request.seconds_per_segment
    if settings.engine == "offline":
        low, high = (duration * share for share in SOUND_CPU_PER_FILM_SECOND)
        cpu = prices.cpu_usd_per_second
        return Line(what="sound (offline voice, ambience, mix)", unit="CPU-s", low=round(low, 1), high=round(high, 1),
                    usd_low=round(low * cpu, 4), usd_high=round(high * cpu, 4))
    seconds = duration * SOUND_GPU_PER_FILM_SECOND
    per_s = prices.usd_per_second("GPU-s", settings.modal_gpu if settings.engine == "modal" else None)
    return Line(what=f"sound ({settings.engine} engines)", unit="GPU-s", low=round(seconds * LOW["GPU-s"], 1),
                high=round(seconds * HIGH, 1), usd_low=round(seconds * LOW["GPU-s"] * per_s, 4),
                usd_high=round(seconds * HIGH * per_s, 4))


# --------------------------------------------------------------------------- the film


def estimate_film(
    request: FilmRequest, *, writer_base: int | None = None, counted: bool = False, spent: list[dict] | None = None,
    plan_written: bool = False, cost_settings: CostSettings | None = None, subjects: int | None = None,
) -> FilmEstimate:
    """The estimate of a resolved request. `writer_base`: the first question's input tokens (None: estimated
    from its text); `spent`: the usage records already stored; `plan_written`: no writer calls to come;
    `subjects`: the written plan's characters and locations (None: a range)."""
    renderer = request.renderer or "animatic"
    prices = cost_settings or CostSettings()
    gpu_settings = None
    if renderer != "animatic":
        from filmstitch.engines import GpuSettings

        gpu_settings = GpuSettings()
    lines: list[Line] = []
    if not plan_written:
        base = writer_base if writer_base is not None else (approximate_base(request) if request.writer == "claude"
                                                            else None)
        lines.append(writer_line(request, request.writer or "offline", base, counted))
    renders, gpu = render_lines(request, renderer, gpu_settings, prices, subjects)
    lines += renders
    sound = sound_line(request, prices)
    if sound is not None:
        lines.append(sound)
    records = spent or []
    return FilmEstimate(renderer=renderer, gpu=gpu, lines=lines,
                        spent_usd=round(sum(float(r.get("cost_usd", 0.0)) for r in records), 4),
                        spent_tokens=sum(int(r.get("input_tokens", 0)) + int(r.get("output_tokens", 0))
                                         + int(r.get("cache_read_tokens", 0)) + int(r.get("cache_write_tokens", 0))
                                         for r in records))


def count_writer_base(request: FilmRequest, gate: Any = None, *, read_blocks: bool = True) -> tuple[int | None, bool]:
    """The first question's input tokens counted by the API (`messages.count_tokens`), and whether they were;
    (None, False) for the offline writer, (estimate, False) when the API cannot be asked. `read_blocks=False`
    (the CLI, before any Prefect server): a key kept in a Prefect Secret block is not read, the count estimated."""
    if request.writer != "claude":
        return None, False
    from filmstitch.writers import WriterError
    from filmstitch.writers.claude import ClaudeWriter, load_settings

    try:
        if not read_blocks and load_settings().api_key_block:
            return approximate_base(request), False
        return ClaudeWriter(gate=gate).count_outline_tokens(request), True
    except WriterError:
        return approximate_base(request), False
