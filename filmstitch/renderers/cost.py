"""What rendering a part costs, before it runs: GPU-seconds on the GPU renderers, CPU-seconds on the animatic.

Estimates, not promises: each comes from a measurement at the defaults (768x512, 24 fps, 8 s clips, three
variants) scaled linearly by pixels, frames, variants and denoising steps.

* GPU (one H200, random full-size weights; docs/gpu.md, benchmarks/results/h200-cost2-flux.json and
  h200-cost2-ltx.json): a batch of three FLUX.1-dev keyframes at 28 steps took 7.19 s eager, 5.26 s compiled,
  1.03 s in fast mode (12 steps); an LTX-Video clip of 193 frames at 40 steps 14.08 s eager, 10.14 s compiled,
  2.11 s in fast mode (16 steps), plus 0.87 s to encode it. One call on its own, as a retake makes it: a whole
  film's stages, two calls at a time, cost less per call. Kontext edits were not measured: the picture being
  edited joins the sequence, so a step costs about twice a keyframe's (modelled as 2.2x); Fill repaints cost
  what a keyframe does.
* CPU (the animatic, measured on the 2-core development machine): three keyframe variants 1.1 s, one clip of
  192 frames 8.0 s.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from filmstitch.models import FilmPlan

Work = Literal["keyframes", "clip", "edit", "repaint"]

DEFAULT_PIXELS = 768 * 512
#: Seconds of one variant (or one clip frame) per denoising step at 768x512 on one H200.
GPU_KEYFRAME_VARIANT_STEP = {"eager": 7.19 / 3 / 28, "compiled": 5.26 / 3 / 28, "fast": 1.03 / 3 / 12}
GPU_CLIP_FRAME_STEP = {"eager": 14.08 / 193 / 40, "compiled": 10.14 / 193 / 40, "fast": 2.11 / 193 / 16}
GPU_CLIP_ENCODE_PER_FRAME = 0.87 / 192
#: An instruction edit (Kontext) against a keyframe, per step: the edited picture's tokens join the sequence.
KONTEXT_FACTOR = 2.2
#: The animatic, per keyframe variant and per clip frame at 768x512.
CPU_KEYFRAME_VARIANT = 1.1 / 3
CPU_CLIP_FRAME = 8.0 / 192


class PartCost(BaseModel):
    """One render a retake will run, and what it costs."""

    what: str
    seconds: float
    on: Literal["GPU", "CPU"]


class Estimate(BaseModel):
    """What a retake will render and what that costs, shown before it runs."""

    parts: list[PartCost]
    writer_tokens: int = 0
    basis: str
    #: USD per second of what the renders run on (filmstitch.estimate.CostSettings: a Modal GPU type's price, or
    #: the CPU price for the animatic); 0: not billed. `gpu`: the Modal GPU type, None elsewhere.
    usd_per_second: float = 0.0
    gpu: str | None = None

    @property
    def usd(self) -> float:
        return round((self.gpu_seconds + self.cpu_seconds) * self.usd_per_second, 4)

    def over_budget(self, budget: float | None) -> str | None:
        """One line refusing the retake when its price passes `budget` (USD); None when it fits."""
        if budget is None or self.usd <= budget:
            return None
        # Seconds as the summary writes them: a short retake's "0 CPU-s" beside its dollars would say it is free.
        seconds = f"{_seconds(self.gpu_seconds)} GPU-s on {self.gpu}" if self.gpu else \
            f"{_seconds(self.cpu_seconds)} CPU-s"
        return (f"this retake's estimate is ${self.usd:.2f} ({seconds}), over its budget of ${budget:g} "
                "(--max-cost / max_cost_usd): fewer variants, or raise the budget")

    @property
    def gpu_seconds(self) -> float:
        return sum(p.seconds for p in self.parts if p.on == "GPU")

    @property
    def cpu_seconds(self) -> float:
        return sum(p.seconds for p in self.parts if p.on == "CPU")

    def summary(self) -> str:
        """One line: "Will render ...: about 31 GPU-seconds; the writer is not called."."""
        if not self.parts:
            return "Nothing to render (the takes exist): the film is joined again; the writer is not called."
        renders = "; ".join(f"{p.what} ~{_seconds(p.seconds)} {p.on}-s" for p in self.parts)
        totals = [f"about {_seconds(total)} {on}-seconds" for on, total in (("GPU", self.gpu_seconds),
                                                                          ("CPU", self.cpu_seconds)) if total]
        writer = f"the writer: about {self.writer_tokens} tokens" if self.writer_tokens else "the writer is not called"
        price = f" (${self.usd:.2f}{f' on {self.gpu}' if self.gpu else ''})" if self.usd_per_second else ""
        return f"Will render {renders}: {' + '.join(totals)}{price}; {writer}."


def _seconds(value: float) -> str:
    return f"{value:.1f}" if value < 10 else f"{value:,.0f}"


def seconds(renderer: str, plan: FilmPlan, work: Work, count: int, settings: object | None = None) -> float:
    """Estimated seconds of `work` on `renderer`: `count` variants (keyframes, edits, repaints) or clips."""
    request = plan.request
    pixels = request.width * request.height / DEFAULT_PIXELS
    if renderer == "animatic":
        if work == "clip":
            return count * (request.frames_per_clip + 1) * CPU_CLIP_FRAME * pixels
        return count * CPU_KEYFRAME_VARIANT * pixels
    mode = gpu_mode(settings)
    if work == "clip":
        steps = _steps(settings, "video", mode)
        frames = request.frames_per_clip + 1
        return count * frames * (GPU_CLIP_FRAME_STEP[mode] * steps + GPU_CLIP_ENCODE_PER_FRAME) * pixels
    steps = _steps(settings, "image", mode)
    factor = KONTEXT_FACTOR if work == "edit" else 1.0
    return count * GPU_KEYFRAME_VARIANT_STEP[mode] * steps * factor * pixels


def on(renderer: str) -> Literal["GPU", "CPU"]:
    return "CPU" if renderer == "animatic" else "GPU"


def gpu_mode(settings: object | None) -> Literal["eager", "compiled", "fast"]:
    if settings is not None and getattr(settings, "fast", False):
        return "fast"
    if settings is not None and getattr(settings, "compile", False):
        return "compiled"
    return "eager"


def _steps(settings: object | None, kind: str, mode: str) -> int:
    if settings is None:
        return {"image": 28, "video": 40}[kind] if mode != "fast" else {"image": 16, "video": 20}[kind]
    name = "effective_image_steps" if kind == "image" else "effective_video_steps"
    return int(getattr(settings, name))


def basis(renderer: str, settings: object | None = None) -> str:
    if renderer == "animatic":
        return "CPU-seconds of the animatic, measured on a 2-core machine at 768x512 and scaled"
    return (f"GPU-seconds on one H200 ({gpu_mode(settings)}), from the benchmarks in docs/gpu.md scaled by "
            "pixels, frames, variants and steps; Modal GPUs differ")
