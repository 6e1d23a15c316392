"""Before a retake: find the film, check the retake against it (one clear line for anything wrong, before any
work), and say what it will render and what that costs.

`prepare_retake` is a plain function (no Prefect), so `filmstitch retake` runs the same checks and shows the
same estimate before it starts anything; the retake-film flow runs it again as its first step.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from filmstitch.models import FilmPlan, FilmRequest, Keyframe, RetakeRequest, Segment
from filmstitch.renderers import cost, get_renderer
from filmstitch.reuse import clip_key
from filmstitch.settings import Settings, StorageConfig
from filmstitch.storage import FilmStore, validate_film_id
from filmstitch.storage.parts import clip_part
from filmstitch.tasks.common import FilmContext, VariantRef
from filmstitch.tasks.film import FILM_IDENTITY
from filmstitch.tasks.takes import (
    FilmState,
    PartUse,
    load_variant,
    read_film,
    take_variants,
    with_keyframe,
    with_segment,
)


class FilmNotFound(ValueError):
    """No film has this id in this storage."""


class PreparedRetake(BaseModel):
    """A retake that passed its checks: the film, as it is now, and the cost of what will be rendered."""

    model_config = ConfigDict(frozen=True)

    film: FilmContext
    state: FilmState
    retake: RetakeRequest
    estimate: cost.Estimate


def open_film_of(film_id: str, storage: StorageConfig) -> tuple[FilmContext, FilmStore]:
    """The context of an existing film (its writer and renderer are the ones it was made with)."""
    validate_film_id(film_id)
    store = FilmStore.open(storage, film_id)
    record = store.read_record(FILM_IDENTITY)
    if record is None or not isinstance(record.get("identity"), dict):
        raise FilmNotFound(f"there is no film {film_id!r} in {storage.describe()}")
    request = FilmRequest.model_validate(record["identity"])
    film = FilmContext(film_id=film_id, storage=storage, writer=request.writer or "offline",
                       renderer=request.renderer or "animatic")
    return film, store


def prepare_retake(retake: RetakeRequest, settings: Settings | None = None) -> PreparedRetake:
    """Everything checked, nothing written: a ValueError (one line) for a film, part, take, region or
    instruction that does not fit."""
    settings = settings or Settings()
    film, store = open_film_of(retake.film_id, settings.storage_config())
    state = read_film(store)
    check_retake(store, film, state, retake)
    estimate = estimate_retake(film, store, state, retake)
    refusal = estimate.over_budget(retake.max_cost_usd)
    if refusal is not None:
        raise ValueError(refusal)
    return PreparedRetake(film=film, state=state, retake=retake, estimate=estimate)


# --------------------------------------------------------------------------- checks


def check_retake(store: FilmStore, film: FilmContext, state: FilmState, retake: RetakeRequest) -> None:
    plan = state.plan
    renderer = get_renderer(film.renderer)
    if retake.keyframe is not None and retake.keyframe >= len(plan.keyframes):
        raise ValueError(f"keyframe {retake.keyframe} does not exist: film {film.film_id} has keyframes "
                         f"0..{len(plan.keyframes) - 1}")
    if retake.clip is not None and retake.clip >= len(plan.script.segments):
        raise ValueError(f"clip {retake.clip} does not exist: film {film.film_id} has clips "
                         f"0..{len(plan.script.segments) - 1}")
    if retake.use_take is not None:
        check_take(store, retake)
        return
    if retake.prompt is not None and renderer.name == "animatic":
        raise ValueError("the animatic renderer draws from the plan's staging, not from prompts: an edited prompt "
                         "would change nothing; retake with a seed, or (keyframes) an instruction it re-stages, "
                         "e.g. 'move Lena to the left'")
    edit = retake.edit
    if edit is not None:
        renderer.check_edit(plan, retake.keyframe or 0, edit)


def check_take(store: FilmStore, retake: RetakeRequest) -> None:
    """The take (and the keyframe's variant) to switch to must exist."""
    takes = [t["take"] for t in store.takes().get(retake.part, [])]
    use_take = retake.use_take
    if use_take is None or use_take not in takes:
        raise ValueError(f"{retake.label} has no take {use_take}: its takes are "
                         f"{', '.join(map(str, takes)) or 'none'}")
    if retake.keyframe is not None:
        variants = take_variants(store, retake.part, use_take)
        variant = switched_variant(store, retake)
        if variant not in variants:
            raise ValueError(f"take {retake.use_take} of {retake.label} has variants "
                             f"{', '.join(map(str, variants))}, not {variant}")


def switched_variant(store: FilmStore, retake: RetakeRequest) -> int:
    """The variant a keyframe switch uses: the one asked for, else the one the film used with that take."""
    if retake.variant is not None:
        return retake.variant
    about = take_about(store, retake.part, retake.use_take or 0)
    if "picked" in about:
        return int(about["picked"])
    variants = take_variants(store, retake.part, retake.use_take or 0)
    if len(variants) == 1:
        return variants[0]
    raise ValueError(f"take {retake.use_take} of {retake.label} was never in the film: say which variant "
                     f"({', '.join(map(str, variants))}) with variant / --variant")


def switched_plan(store: FilmStore, state: FilmState, retake: RetakeRequest) -> FilmPlan:
    """The film's plan with the switched part as its take was made: the keyframe (or segment) recorded with
    the take, else the writer's."""
    about = take_about(store, retake.part, retake.use_take or 0)
    if retake.keyframe is not None:
        keyframe = Keyframe.model_validate(about["keyframe"]) if "keyframe" in about else \
            state.writer_plan.keyframes[retake.keyframe]
        return with_keyframe(state.plan, keyframe)
    segment = Segment.model_validate(about["segment"]) if "segment" in about else \
        state.writer_plan.script.segments[retake.clip or 0]
    return with_segment(state.plan, segment)


def take_about(store: FilmStore, part: str, take: int) -> dict[str, Any]:
    return next((t.get("about", {}) for t in store.takes().get(part, []) if t["take"] == take), {})


# --------------------------------------------------------------------------- cost


def estimate_retake(film: FilmContext, store: FilmStore, state: FilmState, retake: RetakeRequest) -> cost.Estimate:
    """What the retake will render (cost.PartCost each) and the writer's tokens (none: a retake never writes)."""
    plan = state.plan
    renderer = get_renderer(film.renderer)
    settings = _gpu_settings(film.renderer)
    parts: list[cost.PartCost] = []

    def add(what: str, work: cost.Work, count: int) -> None:
        parts.append(cost.PartCost(what=what,
                                   seconds=round(cost.seconds(film.renderer, plan, work, count, settings), 1),
                                   on=cost.on(film.renderer)))

    if retake.keyframe is not None:
        index = retake.keyframe
        neighbours = [s for s in (index - 1, index) if 0 <= s < len(plan.script.segments)]
        if retake.use_take is not None:
            picture = load_variant(store, retake.part, PartUse(take=retake.use_take,
                                                               variant=switched_variant(store, retake)))
            switched = switched_plan(store, state, retake)
            missing = [s for s in neighbours if find_clip_take(
                store, film, switched, s, keyframes_with(state, index, picture), state.references,
                clip_seed_in_use(state, s)) is None]
        else:
            variants = retake.variants or plan.request.variants
            edit = retake.edit
            redraw = edit is None or renderer.edit_mode == "restage" or retake.seed is not None \
                or retake.prompt is not None or retake.variants is not None
            if redraw:
                add(f"{variants} variants of keyframe {index}", "keyframes", variants)
            if edit is not None and renderer.edit_mode == "pixels":
                add(f"{variants} {'repaints' if edit.repaints else 'edits'} of keyframe {index}",
                    "repaint" if edit.repaints else "edit", variants)
            missing = neighbours
        for segment in missing:
            add(f"clip {segment}", "clip", 1)
    elif retake.use_take is None:
        add(f"clip {retake.clip}", "clip", 1)
    gpu = getattr(settings, "modal_gpu", None) if film.renderer == "modal" else None  # priced on Modal only
    from filmstitch.estimate import CostSettings

    usd_per_second = CostSettings().usd_per_second(f"{cost.on(film.renderer)}-s", gpu)
    return cost.Estimate(parts=parts, writer_tokens=0, basis=cost.basis(film.renderer, settings), gpu=gpu,
                         usd_per_second=usd_per_second)


def _gpu_settings(renderer: str) -> Any:
    if renderer == "animatic":
        return None
    from filmstitch.engines import GpuSettings

    return GpuSettings()


def keyframes_with(state: FilmState, index: int, picture: VariantRef) -> list[VariantRef]:
    return [picture if i == index else ref for i, ref in enumerate(state.keyframes)]


def clip_seed_in_use(state: FilmState, segment: int) -> int:
    return int(state.clips[segment].meta.get("seed", 0))


def clip_reuse_key(film: FilmContext, plan: FilmPlan, segment: int, keyframes: list[VariantRef],
                   references: dict[str, VariantRef], seed: int) -> str:
    """The reuse key render_clip computes for these inputs (filmstitch.tasks.clips)."""
    renderer = get_renderer(film.renderer)
    return clip_key(renderer.identity(), plan, segment, keyframes[segment], keyframes[segment + 1], references, seed,
                    renderer.clip_reads_narration)


def find_clip_take(store: FilmStore, film: FilmContext, plan: FilmPlan, segment: int, keyframes: list[VariantRef],
                   references: dict[str, VariantRef], seed: int) -> int | None:
    """The stored take of a clip made from exactly these inputs, if there is one."""
    key = clip_reuse_key(film, plan, segment, keyframes, references, seed)
    part = clip_part(segment)
    for take in store.takes().get(part, []):
        if take["reuse_key"] == key and store.reuse(f"{part}/take-{take['take']}.mp4", key) is not None:
            return int(take["take"])
    return None


# --------------------------------------------------------------------------- listing the takes


class TakeInfo(BaseModel):
    """One take of one part, as `filmstitch takes` lists it."""

    part: str
    take: int
    in_film: bool
    variant: int | None = None
    made_at: str = ""
    how: str
    files: dict[str, str]
    reuse_key: str
    about: dict[str, Any] = {}


#: The parts a retake can change (the sound is made again only when its own inputs change).
RETAKEN_PARTS = ("references/", "keyframes/", "clips/")


def film_takes(film_id: str, storage: StorageConfig) -> list[TakeInfo]:
    """Every take of the film's pictures and clips, oldest first per part, with the film's use of each."""
    _, store = open_film_of(film_id, storage)
    uses = store.film_uses()
    artifacts = store.manifest()["artifacts"]
    listed = []
    for part, takes in store.takes().items():
        if not part.startswith(RETAKEN_PARTS):
            continue
        for take in takes:
            prefix = f"{part}/take-{take['take']}"
            files = {key.removeprefix(part + "/"): entry["sha256"] for key, entry in sorted(artifacts.items())
                     if (key.startswith(prefix + "/") or key == prefix + ".mp4") and not key.endswith(".jpg")
                     and not key.endswith("qc.json")}
            used = uses.get(part, {})
            in_film = used.get("take") == take["take"]
            about = take.get("about", {})
            listed.append(TakeInfo(
                part=part, take=take["take"], in_film=in_film, variant=used.get("variant") if in_film else None,
                made_at=str(take.get("created_at") or ""), how=describe_how(take["take"], about), files=files,
                reuse_key=take["reuse_key"], about=about,
            ))
    return listed


def describe_how(take: int, about: dict[str, Any]) -> str:
    """How a take was made, in a few words, from what the takes table records."""
    made_by = about.get("made_by")
    if made_by is None:
        return "made with the film" if take == 1 else "made with the film (other inputs: a retry or new settings)"
    words = []
    if made_by == "edit":
        words.append("edit")
    elif about.get("why") and about["why"] != "retaken":
        words.append(str(about["why"]))
    else:
        words.append("retake")
    if about.get("seed") is not None and made_by != "edit":
        words.append(f"seed {about['seed']}")
    if about.get("prompt"):
        words.append(f"prompt \u201c{_short(about['prompt'])}\u201d")
    edit = about.get("edit") or {}
    if edit.get("instruction"):
        words.append(f"\u201c{_short(edit['instruction'])}\u201d")
    if edit.get("region"):
        words.append(f"region {edit['region']}")
    if edit.get("mask"):
        words.append("a mask")
    return ", ".join(words)


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
