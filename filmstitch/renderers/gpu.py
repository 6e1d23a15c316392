"""GPU renderers: FLUX images and LTX-Video 0.9.5 clips (or LTX-2 clips with their sound), in this process or on Modal.

Both renderers turn the plan into the same engine requests (:func:`reference_request`,
:func:`keyframe_request`, :func:`clip_request`: plain keyword arguments of strings, numbers and PNG
bytes, checked here so bad input fails before any GPU work) and differ only in where those requests run:

* ``local-gpu`` (:class:`LocalGpuRenderer`): the engines live in this process, loaded once per GPU
  (:class:`DevicePool`: Prefect runs tasks in threads and builds a renderer per task). Keyframe batches
  and clips go to the least-busy visible GPU, so no GPU idles while work is queued.
* ``modal`` (:class:`ModalRenderer`): each call is one remote call to the deployed
  ``modal_workers/film_gpu.py`` app (``modal.Cls.from_name``). Prefect already fans out (a task per
  subject, boundary and clip, in threads), so Modal sees all of them at once and scales containers.
  The machine that runs the flow needs Modal credentials (``modal token new``).

The prompts: a reference gets a studio / establishing-shot prompt; a keyframe its plan prompt (T5) and
summary (CLIP); a clip a purely visual, chronological description in LTX-Video's style
(:func:`video_prompt`): what moves, who (their short appearance), where (the location's look and light),
how the camera moves between the two keyframes' shots, and the narration last, trimmed.
"""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from filmstitch.engines import GpuSettings, raise_bad_input
from filmstitch.engines.frames import clip_timing
from filmstitch.models import (
    MAX_CLIP_SUMMARY_WORDS,
    MAX_SHORT_APPEARANCE_WORDS,
    Character,
    FilmPlan,
    KeyframeEdit,
    Subject,
)
from filmstitch.renderers import qc
from filmstitch.renderers.base import ClipRender, RenderedImage, Renderer, edit_mask, qc_references

log = logging.getLogger(__name__)

#: FLUX.1-dev (31.4 GiB) and the video engine share a GPU only where it has at least this much memory: with
#: LTX-Video (14.8 GiB) 64 GiB; with LTX-2 (transformer 35.2 GiB, connectors, VAEs and vocoder ~3.5 GiB, Gemma in
#: host memory) 120 GiB, so on an 80 GB H100 FLUX is let go before LTX-2 loads, on a 141 GB H200 both stay.
SHARED_GPU_BYTES = {"ltx-video-0.9.5": 64 * 1024**3, "ltx-2": 120 * 1024**3}
#: LTX-Video reads 256 T5 tokens: about 180 English words.
MAX_VIDEO_PROMPT_WORDS = 170
#: Narration words kept at the end of a clip prompt (mood, not motion).
MAX_NARRATION_WORDS = 30


# ------------------------------------------------------------------------------ plan -> engine requests


def summary_words(text: str, limit: int = MAX_CLIP_SUMMARY_WORDS) -> str:
    """At most `limit` words: CLIP reads 77 tokens and silently drops the rest (the first version's bug)."""
    return " ".join(text.split()[:limit])


def subject_prompts(plan: FilmPlan, subject: Subject) -> tuple[str, str]:
    """(full T5 prompt, short CLIP summary) for a subject's reference image."""
    source = plan.subject_source(subject.id)
    if isinstance(source, Character):  # subject.kind == "character"
        prompt = (
            f"Character reference, full body, standing, facing the camera, plain neutral background, soft even "
            f"studio light, cinematic film still. {source.name}, {source.role}. {source.description}"
        )
        return prompt, summary_words(f"{source.name}, {source.role}: {source.description}")
    prompt = (
        f"Wide establishing shot, no people, cinematic film still. {source.name}. {source.description} "
        f"Lighting: {source.lighting}. Materials: {source.materials}. Atmosphere: {source.atmosphere}."
    )
    return prompt, summary_words(f"{source.name}: {source.description}")


def reference_side(plan: FilmPlan, settings: GpuSettings) -> int:
    """References render square: the size their reader takes (``effective_reference_size``) or the film's height
    if smaller, a multiple of 16."""
    return max(16, min(settings.effective_reference_size, plan.request.height) // 16 * 16)


def reference_request(plan: FilmPlan, subject: Subject, seeds: list[int], settings: GpuSettings) -> dict[str, Any]:
    """Keyword arguments of the image engine's ``reference_pngs``."""
    known = {s.id for s in plan.subjects}
    if subject.id not in known:
        raise ValueError(f"unknown subject {subject.id!r}: the plan has {sorted(known)}")
    prompt, summary = subject_prompts(plan, subject)
    side = reference_side(plan, settings)
    return {"prompt": prompt, "summary": summary, "seeds": list(seeds), "width": side, "height": side}


def keyframe_request(
    plan: FilmPlan, index: int, references: dict[str, RenderedImage], seeds: list[int], settings: GpuSettings
) -> dict[str, Any]:
    """Keyword arguments of the image engine's ``keyframe_pngs``: the full prompt (T5), the <=50-word summary
    (CLIP), and the chosen reference PNGs of every subject present at the boundary with their weights."""
    if not 0 <= index < len(plan.keyframes):
        raise ValueError(f"keyframe index {index} is outside 0..{len(plan.keyframes) - 1}")
    keyframe = plan.keyframes[index]
    present = plan.subjects_at(index)
    missing = [s.id for s in present if s.id not in references]
    if missing:
        raise ValueError(f"keyframe {index} needs the chosen references of {missing}")
    req = plan.request
    return {
        "prompt": keyframe.prompt,
        "summary": summary_words(keyframe.clip_summary),
        "reference_pngs": [references[s.id].png for s in present],
        "reference_weights": [settings.reference_weight_for(s.kind) for s in present],
        "seeds": list(seeds),
        "width": req.width,
        "height": req.height,
    }


SHOT_ORDER = {"wide": 0, "medium": 1, "close": 2}
SHOT_WORDS = {"wide": "a wide shot", "medium": "a medium shot", "close": "a close-up"}


def camera_words(plan: FilmPlan, segment: int) -> str:
    """How the camera moves over a segment, read from its two keyframes' staging (shot size and pan)."""
    start, end = plan.keyframes[segment].staging, plan.keyframes[segment + 1].staging
    if start.shot == end.shot:
        move = f"The camera holds {SHOT_WORDS[start.shot]}"
    elif SHOT_ORDER[end.shot] > SHOT_ORDER[start.shot]:
        move = f"The camera pushes in from {SHOT_WORDS[start.shot]} to {SHOT_WORDS[end.shot]}"
    else:
        move = f"The camera pulls back from {SHOT_WORDS[start.shot]} to {SHOT_WORDS[end.shot]}"
    pan = end.camera_x - start.camera_x
    if abs(pan) >= 0.1:
        move += f" and pans slowly to the {'right' if pan > 0 else 'left'}"
    return move + "."


def short_appearance(plan: FilmPlan, name: str) -> str:
    character = plan.character(name)
    words = (character.appearance.strip() or character.description).split()[:MAX_SHORT_APPEARANCE_WORDS]
    if words and words[0] in ("A", "An", "The"):  # "Mira is a slim astronaut", not "Mira is A slim ..."
        words[0] = words[0].lower()
    return f"{character.name} is {' '.join(words).rstrip('.')}."


def video_prompt(plan: FilmPlan, segment: int) -> str:
    """The clip's prompt in LTX-Video's style: one visual paragraph, in the order things happen.

    The segment's motion (what the camera sees move; the action where the writer gave none), then who is in
    it and what they look like, where it is and how it is lit, how the camera moves, and last the
    narration's first words (mood, not motion), dropped first when the prompt runs long, and left out when the
    script is not in English (the video model reads English).
    """
    scene = plan.script.segments[segment]
    env = plan.segment_environment(segment)
    parts = [scene.motion.strip() or scene.action.strip()]
    parts += [short_appearance(plan, name) for name in scene.characters]
    parts.append(f"The setting is {scene.setting}, {env.name}: {env.description.rstrip('.')}.")
    parts.append(f"Lighting: {env.lighting.rstrip('.')}, {env.time_of_day}.")
    parts.append(camera_words(plan, segment))
    text = " ".join(part for part in parts if part)
    narration = " ".join(scene.narration.split()[:MAX_NARRATION_WORDS])
    told_in_english = plan.script.language == "en"  # the video model reads English: a French narration stays out
    if told_in_english and len(text.split()) + len(narration.split()) <= MAX_VIDEO_PROMPT_WORDS:
        text = f"{text} {narration}"
    return " ".join(text.split()[:MAX_VIDEO_PROMPT_WORDS])


def clip_request(
    plan: FilmPlan, segment: int, first: RenderedImage, last: RenderedImage, seed: int, settings: GpuSettings
) -> dict[str, Any]:
    """Keyword arguments of ``LtxVideoEngine.clip_mp4``: keyframes `segment` and `segment + 1`, the visual prompt,
    the film's frame count, size and rate, and whether this is the last clip (which keeps its closing keyframe)."""
    segments = plan.script.segments
    if not 0 <= segment < len(segments):
        raise ValueError(f"segment {segment} is outside 0..{len(segments) - 1}")
    req = plan.request
    clip_timing(req.frames_per_clip, settings.effective_video_motion, settings.video_max_frames)  # refuses early
    return {
        "first_png": first.png,
        "last_png": last.png,
        "prompt": video_prompt(plan, segment),
        "seed": seed,
        "width": req.width,
        "height": req.height,
        "frames": req.frames_per_clip,
        "fps": req.fps,
        "closing_frame": segment == len(segments) - 1,
    }


def edit_request(
    plan: FilmPlan, index: int, picture: RenderedImage, edit: KeyframeEdit, seeds: list[int]
) -> tuple[str, dict[str, Any]]:
    """(method, keyword arguments) of the edit engine for one keyframe edit: ``instruct_pngs`` (Kontext) for an
    instruction, ``repaint_pngs`` (Fill) for a region or mask, whose prompt is the instruction or else the
    keyframe's own prompt. Bad input (a region outside the frame, an unreadable mask) fails here."""
    if not 0 <= index < len(plan.keyframes):
        raise ValueError(f"keyframe index {index} is outside 0..{len(plan.keyframes) - 1}")
    req = plan.request
    mask = edit_mask(edit, req.width, req.height)
    common = {"picture_png": picture.png, "seeds": list(seeds), "width": req.width, "height": req.height}
    if mask is None:
        return "instruct_pngs", {**common, "instruction": edit.instruction or ""}
    buffer = io.BytesIO()
    mask.save(buffer, format="PNG")
    return "repaint_pngs", {**common, "mask_png": buffer.getvalue(),
                            "prompt": edit.instruction or plan.keyframes[index].prompt}


def qc_request(
    plan: FilmPlan, index: int, references: dict[str, RenderedImage], settings: GpuSettings
) -> tuple[dict[str, bytes], dict[str, float]]:
    """The reference PNGs a keyframe's variants are scored against, and each subject's weight in the score."""
    present = qc_references(plan, index, references)
    kinds = {s.id: s.kind for s in plan.subjects}
    weights = {sid: settings.reference_weight_for(kinds[sid]) for sid in present}
    return {sid: image.png for sid, image in present.items()}, weights


# ------------------------------------------------------------------------------ local GPUs


class DevicePool:
    """Jobs spread over devices, each device's engines loaded once.

    A job takes a slot on the device with the fewest jobs running (ties: the one busy for the shortest time
    so far), so work spreads evenly and no device idles while a job waits. Each device has ``slots`` slots:
    the engines run one job's GPU work at a time, so a second slot lets a clip's CPU work (MP4 encode,
    interpolation) overlap the next clip's denoising. A device's busy time is the wall time it had at least
    one job (overlapping jobs count once); it is logged after every job with the job's own time.
    """

    def __init__(self, devices: list[str], slots: int, make_room: Callable[[str, str], None] | None = None) -> None:
        if not devices or slots < 1:
            raise ValueError(f"a device pool needs devices and slots, got {devices} x {slots}")
        self.devices, self.slots = list(devices), slots
        self.running = dict.fromkeys(self.devices, 0)
        self.busy_s = dict.fromkeys(self.devices, 0.0)
        self._busy_since: dict[str, float] = {}
        self.jobs = dict.fromkeys(self.devices, 0)
        self.engines: dict[tuple[str, str], Any] = {}
        self.loads: list[tuple[str, str]] = []
        self.make_room = make_room
        self._free = threading.Condition()
        self._load_locks: dict[tuple[str, str], threading.Lock] = {}

    def _pick(self) -> str | None:
        open_devices = [d for d in self.devices if self.running[d] < self.slots]
        if not open_devices:
            return None
        return min(open_devices, key=lambda d: (self.running[d], self.busy_s[d], self.devices.index(d)))

    @contextlib.contextmanager
    def slot(self) -> Iterator[str]:
        """A device with a free slot, held for one job; its time is counted as that device's busy time."""
        with self._free:
            device = self._pick()
            while device is None:
                self._free.wait()
                device = self._pick()
            self.running[device] += 1
            started = time.perf_counter()
            self._busy_since.setdefault(device, started)
        try:
            yield device
        finally:
            with self._free:
                now = time.perf_counter()
                held = now - started
                self.running[device] -= 1
                if self.running[device] == 0:  # the device goes idle: its busy stretch ends
                    self.busy_s[device] += now - self._busy_since.pop(device)
                self.jobs[device] += 1
                busy, jobs = self.busy_s[device], self.jobs[device]
                self._free.notify()
            log.info("%s: job of %.1f s; busy %.1f s over %d jobs", device, held, busy, jobs)

    def engine(self, kind: str, device: str, load: Callable[[str], Any]) -> Any:
        """The device's engine of this kind, loaded on first use (once per device, even when asked at once)."""
        key = (kind, device)
        with self._free:
            lock = self._load_locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self.engines:
                if self.make_room is not None:
                    self.make_room(kind, device)
                self.engines[key] = load(device)
                self.loads.append(key)
            return self.engines[key]

    @contextlib.contextmanager
    def run(self, kind: str, load: Callable[[str], Any]) -> Iterator[Any]:
        """A slot on the least-busy device and that device's engine of this kind."""
        with self.slot() as device:
            yield self.engine(kind, device, load)

    def drop(self, kind: str, device: str) -> None:
        self.engines.pop((kind, device), None)

    def busy_report(self) -> dict[str, dict[str, float]]:
        return {d: {"busy_s": round(self.busy_s[d], 3), "jobs": self.jobs[d]} for d in self.devices}


def gpu_settings_identity(settings: GpuSettings) -> dict[str, Any]:
    """The GPU settings that change pixels (where weights are, steps, guidance...), not how fast or where."""
    skip = {"device", "memory_budget_gb", "clips_per_gpu", "compile", "compile_mode", "compile_cache_dir"}
    return {k: v for k, v in settings.model_dump(mode="json").items() if k not in skip and not k.startswith("modal_")}


def shared_gpu_bytes(settings: GpuSettings) -> int:
    """The GPU memory under which the image engine and the settings' video engine take turns on one GPU."""
    return SHARED_GPU_BYTES[settings.video_engine]


class _LocalEngines:
    """The process's engines over the visible GPUs: image, video and QC engines, one of each per GPU."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.settings: GpuSettings | None = None
        self.pool: DevicePool | None = None

    def configure(self) -> tuple[GpuSettings, DevicePool]:
        with self.lock:
            if self.settings is None or self.pool is None:
                self.settings = GpuSettings()
                self.pool = DevicePool(visible_devices(self.settings), self.settings.clips_per_gpu, self._make_room)
            return self.settings, self.pool

    def run(self, kind: str) -> contextlib.AbstractContextManager[Any]:
        settings, pool = self.configure()
        return pool.run(kind, lambda device: load_engine(kind, settings, device))

    def _make_room(self, kind: str, device: str) -> None:
        """Phases run in order (images, then clips): on a GPU too small for both, the other one is let go."""
        other = {"image": "video", "video": "image"}.get(kind)
        settings, pool = self.settings, self.pool
        if other is None or settings is None or pool is None or (other, device) not in pool.engines \
                or not device.startswith("cuda"):  # (configure sets settings and pool together)
            return
        import torch

        from filmstitch.engines.runtime import memory_budget_bytes

        budget = memory_budget_bytes(settings, torch.device(device))
        if budget is not None and budget < shared_gpu_bytes(settings):
            log.info("releasing the %s engine from %s to make room for the %s engine", other, device, kind)
            pool.drop(other, device)
            gc.collect()
            torch.cuda.empty_cache()

    def reset(self) -> None:
        """Forget the loaded engines and settings (tests; a settings change)."""
        with self.lock:
            self.settings, self.pool = None, None


def load_engine(kind: str, settings: GpuSettings, device: str) -> Any:
    """Load one engine of a kind on a device: 'image' (the settings' image engine), 'video', 'edit' (Kontext and
    Fill, each loaded on first use) or 'qc'."""
    if kind == "image":
        from filmstitch.engines.flux2 import load_image_engine

        return load_image_engine(settings, device)
    if kind == "video":
        return load_video_engine(settings, device)
    if kind == "edit":
        from filmstitch.engines.edit import EditEngine

        return EditEngine.load(settings, device)
    if kind == "qc":
        import torch

        from filmstitch.engines import runtime
        from filmstitch.engines.qc import EmbeddingScorer

        where = torch.device(device)
        return EmbeddingScorer.load(settings.effective_qc_dir, where, runtime.resolve_dtype(settings, where))
    raise ValueError(f"unknown engine kind {kind!r}")


def load_video_engine(settings: GpuSettings, device: str | None = None) -> Any:
    """The clip engine the settings choose (``video_engine``): LTX-Video 0.9.5 or LTX-2."""
    if settings.video_engine == "ltx-2":
        from filmstitch.engines.ltx2 import Ltx2VideoEngine

        return Ltx2VideoEngine.load(settings, device)
    from filmstitch.engines.ltx import LtxVideoEngine

    return LtxVideoEngine.load(settings, device)


_ENGINES = _LocalEngines()


def visible_devices(settings: GpuSettings) -> list[str]:
    """'cuda:0', 'cuda:1', ... for every visible GPU, or ['cpu'] where there is none (or the settings say so)."""
    import torch

    from filmstitch.engines.runtime import resolve_device

    if resolve_device(settings).type == "cuda":
        return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return ["cpu"]


class LocalGpuRenderer(Renderer):
    """FLUX and LTX-Video 0.9.5 (or LTX-2) in this process, over the visible GPUs (weights from
    ``FILMSTITCH_GPU_*_DIR``)."""

    name = "local-gpu"
    clip_reads_narration = True  # video_prompt ends with the narration's first words
    code_modules = ("filmstitch.renderers.gpu", "filmstitch.engines")

    def settings_identity(self) -> dict[str, Any]:
        return gpu_settings_identity(_ENGINES.configure()[0])

    def reference_variants(self, plan: FilmPlan, subject: Subject, seeds: list[int]) -> list[bytes]:
        request = reference_request(plan, subject, seeds, _ENGINES.configure()[0])
        with _ENGINES.run("image") as engine:
            return engine.reference_pngs(**request)

    def keyframe_variants(
        self, plan: FilmPlan, index: int, references: dict[str, RenderedImage], seeds: list[int]
    ) -> list[bytes]:
        request = keyframe_request(plan, index, references, seeds, _ENGINES.configure()[0])
        with _ENGINES.run("image") as engine:
            return engine.keyframe_pngs(**request)

    def clip(
        self,
        plan: FilmPlan,
        segment: int,
        first: RenderedImage,
        last: RenderedImage,
        references: dict[str, RenderedImage],
        seed: int,
    ) -> bytes:
        return self.clip_with_sound(plan, segment, first, last, references, seed).mp4

    def clip_with_sound(
        self,
        plan: FilmPlan,
        segment: int,
        first: RenderedImage,
        last: RenderedImage,
        references: dict[str, RenderedImage],
        seed: int,
    ) -> ClipRender:
        request = clip_request(plan, segment, first, last, seed, _ENGINES.configure()[0])
        with _ENGINES.run("video") as engine:
            if getattr(engine, "has_sound", False):
                return ClipRender(**engine.clip_parts(**request))
            return ClipRender(mp4=engine.clip_mp4(**request))

    def check_edit(self, plan: FilmPlan, index: int, edit: KeyframeEdit) -> None:
        super().check_edit(plan, index, edit)
        settings = _ENGINES.configure()[0]
        from filmstitch.engines.runtime import require_dir

        try:  # the weights the edit needs, before any work (a ValueError: bad input for this machine)
            if edit.repaints:
                require_dir(settings.fill_dir, "FLUX.1-Fill-dev", "FILMSTITCH_GPU_FILL_DIR")
            else:
                require_dir(settings.kontext_dir, "FLUX.1-Kontext-dev", "FILMSTITCH_GPU_KONTEXT_DIR")
        except FileNotFoundError as exc:
            raise ValueError(f"cannot edit keyframes here: {exc}") from None

    def edit_keyframe(
        self, plan: FilmPlan, index: int, picture: RenderedImage, edit: KeyframeEdit, seeds: list[int]
    ) -> list[bytes]:
        method, request = edit_request(plan, index, picture, edit, seeds)
        with _ENGINES.run("edit") as engine:
            return getattr(engine, method)(**request)

    def keyframe_qc(
        self, plan: FilmPlan, index: int, references: dict[str, RenderedImage], variants: list[bytes]
    ) -> qc.KeyframeQc:
        settings = _ENGINES.configure()[0]
        pngs, weights = qc_request(plan, index, references, settings)
        with _ENGINES.run("qc") as scorer:
            similarities = scorer.similarity_pngs(variants, pngs)
            method = scorer.method
        return qc.keyframe_qc(index, similarities, weights, method, settings.qc_threshold, identity=True)


# ------------------------------------------------------------------------------ Modal


class ModalRenderer(Renderer):
    """Calls the deployed Modal app (``modal deploy modal_workers/film_gpu.py``): one remote call per method."""

    name = "modal"
    clip_reads_narration = True  # video_prompt ends with the narration's first words
    code_modules = ("filmstitch.renderers.gpu", "filmstitch.engines", "filmstitch.modal_workers")

    def settings_identity(self) -> dict[str, Any]:
        return gpu_settings_identity(self.settings)
    _workers: ClassVar[dict[tuple[str, str], Any]] = {}
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, settings: GpuSettings | None = None) -> None:
        self.settings = settings or GpuSettings()

    def _worker(self, cls_name: str) -> Any:
        """An instance of a deployed Modal class, looked up once per process (lookups are lazy and cheap)."""
        key = (self.settings.modal_app, cls_name)
        with self._guard:
            if key not in self._workers:
                try:
                    import modal
                except ImportError as exc:
                    raise ImportError(
                        "the modal renderer needs the 'modal' extra: pip install 'filmstitch[modal]'") from exc
                require_modal_credentials()
                self._workers[key] = modal.Cls.from_name(self.settings.modal_app, cls_name)()
            return self._workers[key]

    def _call(self, cls_name: str, method: str, **request: Any) -> Any:
        """One remote call; a bad request comes back as a ValueError (never retried on a GPU)."""
        return raise_bad_input(getattr(self._worker(cls_name), method).remote(**request))

    def reference_variants(self, plan: FilmPlan, subject: Subject, seeds: list[int]) -> list[bytes]:
        request = reference_request(plan, subject, seeds, self.settings)  # bad input fails here, before any call
        return self._call(self.settings.modal_image_cls, "reference_pngs", **request)

    def keyframe_variants(
        self, plan: FilmPlan, index: int, references: dict[str, RenderedImage], seeds: list[int]
    ) -> list[bytes]:
        request = keyframe_request(plan, index, references, seeds, self.settings)
        return self._call(self.settings.modal_image_cls, "keyframe_pngs", **request)

    def clip(
        self,
        plan: FilmPlan,
        segment: int,
        first: RenderedImage,
        last: RenderedImage,
        references: dict[str, RenderedImage],
        seed: int,
    ) -> bytes:
        return self.clip_with_sound(plan, segment, first, last, references, seed).mp4

    def clip_with_sound(
        self,
        plan: FilmPlan,
        segment: int,
        first: RenderedImage,
        last: RenderedImage,
        references: dict[str, RenderedImage],
        seed: int,
    ) -> ClipRender:
        request = clip_request(plan, segment, first, last, seed, self.settings)
        if self.settings.video_engine == "ltx-2":  # the deployed LtxWorker runs LTX-2 and returns its sound too
            return ClipRender(**self._call(self.settings.modal_video_cls, "clip_parts", **request))
        return ClipRender(mp4=self._call(self.settings.modal_video_cls, "clip_mp4", **request))

    def edit_keyframe(
        self, plan: FilmPlan, index: int, picture: RenderedImage, edit: KeyframeEdit, seeds: list[int]
    ) -> list[bytes]:
        """One remote call to the deployed ``EditWorker`` (Kontext for an instruction, Fill for a region); the
        weights are on the Volume (``download_weights`` fetches both)."""
        method, request = edit_request(plan, index, picture, edit, seeds)
        return self._call(self.settings.modal_edit_cls, method, **request)

    def keyframe_qc(
        self, plan: FilmPlan, index: int, references: dict[str, RenderedImage], variants: list[bytes]
    ) -> qc.KeyframeQc:
        pngs, weights = qc_request(plan, index, references, self.settings)
        result = self._call(self.settings.modal_image_cls, "variant_scores", variant_pngs=variants, reference_pngs=pngs)
        return qc.keyframe_qc(index, result["similarities"], weights, result["method"], self.settings.qc_threshold,
                              identity=True)


def require_modal_credentials() -> None:
    """A clear error where this machine has no Modal token: the flow's machine makes the remote calls."""
    from modal.config import config

    if not (config.get("token_id") and config.get("token_secret")):
        raise RuntimeError(
            "the modal renderer needs Modal credentials on the machine that runs the flow (this one): run "
            "`modal token new`, or set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET; the GPUs themselves run on Modal"
        )
