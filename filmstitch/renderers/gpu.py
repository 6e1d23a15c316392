"""GPU renderers: FLUX.1-dev images and LTX-Video 0.9.5 clips, in this process or on Modal.

Both renderers turn the plan into the same engine requests (:func:`reference_request`,
:func:`keyframe_request`, :func:`clip_request`: plain keyword arguments of strings, ints and PNG bytes)
and differ only in where those requests run:

* ``local-gpu`` (:class:`LocalGpuRenderer`): the engines live in this process, loaded once (a
  thread-safe lazy singleton; Prefect runs tasks in threads and builds a renderer per task). Images
  render on the first visible GPU; clips are spread over all visible GPUs, one LTX engine per GPU.
* ``modal`` (:class:`ModalRenderer`): each call is one remote call to the deployed
  ``modal_workers/film_gpu.py`` app (``modal.Cls.from_name``). Prefect already fans out (a task per
  subject, boundary and clip, in threads), so Modal sees all of them at once and scales containers.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import queue
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

from filmstitch.engines import GpuSettings
from filmstitch.models import MAX_CLIP_SUMMARY_WORDS, FilmPlan, Subject
from filmstitch.renderers.base import RenderedImage, Renderer

log = logging.getLogger(__name__)

#: FLUX.1-dev (31.4 GiB) and LTX-Video (14.8 GiB) share a GPU only where it has at least this much memory.
SHARED_GPU_BYTES = 64 * 1024**3


# ------------------------------------------------------------------------------ plan -> engine requests


def clip_words(text: str, limit: int = MAX_CLIP_SUMMARY_WORDS) -> str:
    """At most `limit` words: CLIP reads 77 tokens and silently drops the rest (the seed's bug)."""
    return " ".join(text.split()[:limit])


def subject_prompts(plan: FilmPlan, subject: Subject) -> tuple[str, str]:
    """(full T5 prompt, short CLIP prompt) for a subject's reference image."""
    if subject.kind == "character":
        character = plan.character(subject.name)
        prompt = (
            f"Character reference, full body, standing, facing the camera, plain neutral background, soft even "
            f"studio light, cinematic film still. {character.name}, {character.role}. {character.description}"
        )
        return prompt, clip_words(f"{character.name}, {character.role}: {character.description}")
    env = plan.subject_source(subject.id)
    prompt = (
        f"Wide establishing shot, no people, cinematic film still. {env.name}. {env.description} "
        f"Lighting: {env.lighting}. Materials: {env.materials}. Atmosphere: {env.atmosphere}."
    )
    return prompt, clip_words(f"{env.name}: {env.description}")


def reference_request(plan: FilmPlan, subject: Subject, seeds: list[int]) -> dict[str, Any]:
    """Keyword arguments of ``FluxImageEngine.reference_pngs``."""
    known = {s.id for s in plan.subjects}
    if subject.id not in known:
        raise ValueError(f"unknown subject {subject.id!r}: the plan has {sorted(known)}")
    prompt, clip_prompt = subject_prompts(plan, subject)
    req = plan.request
    return {"prompt": prompt, "clip_prompt": clip_prompt, "seeds": list(seeds), "width": req.width, "height": req.height}


def keyframe_request(
    plan: FilmPlan, index: int, references: dict[str, RenderedImage], seeds: list[int]
) -> dict[str, Any]:
    """Keyword arguments of ``FluxImageEngine.keyframe_pngs``: the full prompt (T5), the <=50-word summary
    (CLIP), and the chosen reference PNGs of every subject present at the boundary."""
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
        "clip_summary": clip_words(keyframe.clip_summary),
        "reference_pngs": [references[s.id].png for s in present],
        "seeds": list(seeds),
        "width": req.width,
        "height": req.height,
    }


def clip_request(plan: FilmPlan, segment: int, first: RenderedImage, last: RenderedImage, seed: int) -> dict[str, Any]:
    """Keyword arguments of ``LtxVideoEngine.clip_mp4``: keyframes `segment` and `segment + 1`, the motion prompt
    from the segment's action and narration, and the film's frame count, size and rate."""
    from filmstitch.engines.ltx import clip_prompt  # imported here: keeps torch out of this module's import

    segments = plan.script.segments
    if not 0 <= segment < len(segments):
        raise ValueError(f"segment {segment} is outside 0..{len(segments) - 1}")
    scene = segments[segment]
    req = plan.request
    return {
        "first_png": first.png,
        "last_png": last.png,
        "prompt": clip_prompt(scene.narration, scene.action, [f"Setting: {scene.setting}."]),
        "seed": seed,
        "width": req.width,
        "height": req.height,
        "frames": req.frames_per_clip,
        "fps": req.fps,
    }


# ------------------------------------------------------------------------------ local GPU


def gpu_settings_identity(settings: GpuSettings) -> dict[str, Any]:
    """The GPU settings that change pixels (where weights are, steps, guidance...), not how fast or where."""
    skip = {"device", "memory_budget_gb", "clips_per_gpu", "compile", "compile_mode", "compile_cache_dir"}
    return {k: v for k, v in settings.model_dump(mode="json").items() if k not in skip and not k.startswith("modal_")}


class _LocalEngines:
    """The process's engines: one FLUX engine, one LTX engine per device, each loaded on first use."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.settings: GpuSettings | None = None
        self.flux: Any = None
        self.ltx: dict[str, Any] = {}
        self.free_devices: queue.Queue[str] | None = None

    def configure(self) -> GpuSettings:
        with self.lock:
            if self.settings is None:
                self.settings = GpuSettings()
                self.free_devices = queue.Queue()
                # Every device once, then every device again...: clips spread over the GPUs first, then
                # a GPU takes a second clip, which denoises while the first is encoded.
                for _ in range(self.settings.clips_per_gpu):
                    for device in visible_devices(self.settings):
                        self.free_devices.put(device)
            return self.settings

    def image_engine(self) -> Any:
        settings = self.configure()
        with self.lock:
            if self.flux is None:
                from filmstitch.engines.flux import FluxImageEngine

                self.flux = FluxImageEngine.load(settings, visible_devices(settings)[0])
            return self.flux

    @contextlib.contextmanager
    def video_engine(self) -> Iterator[Any]:
        """A device's LTX engine with a free clip slot, held for the duration of one clip."""
        settings = self.configure()
        assert self.free_devices is not None
        device = self.free_devices.get()
        try:
            with self.lock:
                engine = self.ltx.get(device)
                if engine is None:
                    self._make_room_for_ltx(device, settings)
                    from filmstitch.engines.ltx import LtxVideoEngine

                    engine = self.ltx[device] = LtxVideoEngine.load(settings, device)
            yield engine
        finally:
            self.free_devices.put(device)

    def _make_room_for_ltx(self, device: str, settings: GpuSettings) -> None:
        """Phases run in order (images, then clips), so on a small GPU the FLUX engine is let go first."""
        if self.flux is None or str(self.flux.device) != device or not device.startswith("cuda"):
            return
        import torch

        from filmstitch.engines.runtime import memory_budget_bytes

        budget = memory_budget_bytes(settings, torch.device(device))
        if budget is not None and budget < SHARED_GPU_BYTES:
            log.info("releasing FLUX from %s to make room for LTX-Video", device)
            self.flux = None
            gc.collect()
            torch.cuda.empty_cache()

    def reset(self) -> None:
        """Forget the loaded engines and settings (tests; a settings change)."""
        with self.lock:
            self.settings, self.flux, self.ltx, self.free_devices = None, None, {}, None


_ENGINES = _LocalEngines()


def visible_devices(settings: GpuSettings) -> list[str]:
    """'cuda:0', 'cuda:1', ... for every visible GPU, or ['cpu'] where there is none (or the settings say so)."""
    import torch

    from filmstitch.engines.runtime import resolve_device

    if resolve_device(settings).type == "cuda":
        return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return ["cpu"]


class LocalGpuRenderer(Renderer):
    """FLUX.1-dev and LTX-Video 0.9.5 in this process (weights from ``FILMSTITCH_GPU_*_DIR``)."""

    name = "local-gpu"
    code_modules = ("filmstitch.renderers.gpu", "filmstitch.engines")

    def settings_identity(self) -> dict[str, Any]:
        return gpu_settings_identity(_ENGINES.configure())

    def reference_variants(self, plan: FilmPlan, subject: Subject, seeds: list[int]) -> list[bytes]:
        return _ENGINES.image_engine().reference_pngs(**reference_request(plan, subject, seeds))

    def keyframe_variants(
        self, plan: FilmPlan, index: int, references: dict[str, RenderedImage], seeds: list[int]
    ) -> list[bytes]:
        return _ENGINES.image_engine().keyframe_pngs(**keyframe_request(plan, index, references, seeds))

    def clip(
        self,
        plan: FilmPlan,
        segment: int,
        first: RenderedImage,
        last: RenderedImage,
        references: dict[str, RenderedImage],
        seed: int,
    ) -> bytes:
        request = clip_request(plan, segment, first, last, seed)
        with _ENGINES.video_engine() as engine:
            return engine.clip_mp4(**request)


# ------------------------------------------------------------------------------ Modal


class ModalRenderer(Renderer):
    """Calls the deployed Modal app (``modal deploy modal_workers/film_gpu.py``): one remote call per method."""

    name = "modal"
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
                    raise ImportError("the modal renderer needs the 'modal' extra: pip install 'filmstitch[modal]'") from exc
                self._workers[key] = modal.Cls.from_name(self.settings.modal_app, cls_name)()
            return self._workers[key]

    def reference_variants(self, plan: FilmPlan, subject: Subject, seeds: list[int]) -> list[bytes]:
        request = reference_request(plan, subject, seeds)  # bad input fails here, before any remote call
        return self._worker(self.settings.modal_image_cls).reference_pngs.remote(**request)

    def keyframe_variants(
        self, plan: FilmPlan, index: int, references: dict[str, RenderedImage], seeds: list[int]
    ) -> list[bytes]:
        request = keyframe_request(plan, index, references, seeds)
        return self._worker(self.settings.modal_image_cls).keyframe_pngs.remote(**request)

    def clip(
        self,
        plan: FilmPlan,
        segment: int,
        first: RenderedImage,
        last: RenderedImage,
        references: dict[str, RenderedImage],
        seed: int,
    ) -> bytes:
        request = clip_request(plan, segment, first, last, seed)
        return self._worker(self.settings.modal_video_cls).clip_mp4.remote(**request)
