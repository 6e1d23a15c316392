"""What a film is made of: which take of every part it uses (its *cut*), and reading a finished film back.

The manifest's `film_uses` maps every part to the take (and, for pictures, the variant) the film uses now:

    {"references/char_lena": {"take": 1, "variant": 2}, "keyframes/k04": {"take": 2, "variant": 1},
     "clips/c06": {"take": 3}}

`assemble_film` writes it in the same manifest edit as film.mp4 itself (`FilmStore.put_film`), together with
the plan the film was cut from (stored under plan/cuts/ by its checksum: an edited prompt or a re-staged
keyframe changes a copy of the writer's plan), so the record and the film never disagree, even when a run is
killed between the two. A retake adds takes and changes the cut; it never overwrites or deletes a take, so
switching back to one only changes the record and joins the film again.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from filmstitch.models import FilmPlan, Keyframe, Segment
from filmstitch.storage import ArtifactMissing, ArtifactRef, FilmStore
from filmstitch.storage.manifest import ref_from_entry
from filmstitch.storage.parts import clip_part, keyframe_part
from filmstitch.tasks.common import VariantRef, variant_keys

FILM = "film.mp4"
_TAKE_KEY = re.compile(r"^(?P<part>.+?)/take-(?P<take>\d+)(?:/v(?P<variant>\d+)\.png|\.mp4)$")


class FilmNotReady(ValueError):
    """The film has no finished cut to retake (not made yet, still running, or made before cuts were kept)."""


class PartUse(BaseModel):
    """The take of one part a film uses, and for pictures which variant of it."""

    model_config = ConfigDict(frozen=True)

    take: int
    variant: int | None = None


class Cut(BaseModel):
    """How a film is cut: the take of every part it uses, which flow cut it, and the writer's plan it comes
    from (the checksum of plan/plan.json: a cut made from another plan is another film's)."""

    model_config = ConfigDict(frozen=True)

    uses: dict[str, PartUse]
    made_by: Literal["make-film", "retake-film"]
    writer_plan: str


def plan_bytes(plan: FilmPlan) -> bytes:
    """A plan as stored (plan/plan.json and plan/cuts/*.json): the same bytes for the same plan."""
    return plan.model_dump_json(indent=2).encode()


def plan_checksum(plan: FilmPlan) -> str:
    return hashlib.sha256(plan_bytes(plan)).hexdigest()


def cut_plan_key(checksum: str) -> str:
    """Where a plan a film is cut from is kept: by its checksum, never overwritten."""
    return f"plan/cuts/{checksum[:16]}.json"


def use_of(ref: VariantRef | ArtifactRef) -> tuple[str, PartUse]:
    """(part, take used) of a stored variant or clip, read off its key (`keyframes/k04/take-2/v1.png`)."""
    key = ref.image.key if isinstance(ref, VariantRef) else ref.key
    match = _TAKE_KEY.match(key)
    if match is None:
        raise ValueError(f"{key} is not a take of a part")
    variant = int(match["variant"]) if match["variant"] is not None else None
    return match["part"], PartUse(take=int(match["take"]), variant=variant)


def cut_of(
    references: dict[str, VariantRef], keyframes: list[VariantRef], clips: list[ArtifactRef],
    made_by: Literal["make-film", "retake-film"], writer_plan: str,
) -> Cut:
    """The cut of a film made of these chosen references, keyframe pictures and clips."""
    refs: list[VariantRef | ArtifactRef] = [*references.values(), *keyframes, *clips]
    uses = dict(use_of(ref) for ref in refs)
    return Cut(uses=dict(sorted(uses.items())), made_by=made_by, writer_plan=writer_plan)


# --------------------------------------------------------------------------- a finished film, read back


class FilmState(BaseModel):
    """A finished film as its storage holds it: the plan it was cut from, its cut, and the parts it uses."""

    model_config = ConfigDict(frozen=True)

    plan: FilmPlan
    writer_plan: FilmPlan
    cut: Cut
    references: dict[str, VariantRef]
    keyframes: list[VariantRef]
    clips: list[ArtifactRef]
    film: ArtifactRef


def read_film(store: FilmStore) -> FilmState:
    """The finished film's state, every part checked against its checksum; FilmNotReady when there is none."""
    manifest = store.manifest()
    entry = manifest["artifacts"].get(FILM)
    status = manifest.get("status", "not started")
    if entry is None:
        raise FilmNotReady(f"film {store.film_id} is not finished (it is {status}): retake it once it is; at its "
                           'keyframe checkpoint an answer can edit a pick, e.g. 3:1 edit "make her coat red"')
    meta = entry.get("meta", {})
    if "uses" not in meta or "plan" not in meta:
        raise FilmNotReady(f"film {store.film_id} was made before takes were recorded: run `filmstitch make` with "
                           "its request once more (nothing is drawn again) to record them")
    cut = Cut(uses=meta["uses"], made_by=meta.get("made_by", "make-film"), writer_plan=meta.get("writer_plan", ""))
    plan = FilmPlan.model_validate_json(_verified(store, manifest, meta["plan"])[1])
    writer_plan = FilmPlan.model_validate_json(_verified(store, manifest, cut_plan_key(cut.writer_plan))[1])
    references, keyframes, clips = {}, [], []
    for part, use in cut.uses.items():
        if part.startswith("references/"):
            references[part.removeprefix("references/")] = load_variant(store, part, use, manifest)
    for index in range(len(plan.keyframes)):
        keyframes.append(load_variant(store, keyframe_part(index), _use(cut, keyframe_part(index)), manifest))
    for segment in range(len(plan.script.segments)):
        clips.append(load_clip(store, clip_part(segment), _use(cut, clip_part(segment)), manifest))
    film = _verified(store, manifest, FILM)[0]
    return FilmState(plan=plan, writer_plan=writer_plan, cut=cut, references=references, keyframes=keyframes,
                     clips=clips, film=film)


def retaken_film(store: FilmStore, writer_plan: str) -> FilmState | None:
    """The film as a retake left it, when it was retaken from this writer's plan (make-film keeps that cut
    rather than joining its own first cut again); else None."""
    entry = store.manifest()["artifacts"].get(FILM)
    meta = (entry or {}).get("meta", {})
    if meta.get("made_by") != "retake-film" or meta.get("writer_plan") != writer_plan:
        return None
    try:
        return read_film(store)
    except (FilmNotReady, ValueError):
        return None


def _use(cut: Cut, part: str) -> PartUse:
    if part not in cut.uses:
        raise FilmNotReady(f"the film's record names no take of {part}")
    return cut.uses[part]


def _verified(store: FilmStore, manifest: dict[str, Any], key: str) -> tuple[ArtifactRef, bytes]:
    """The artifact at `key` as the manifest records it, and its bytes, checked against its checksum."""
    entry = manifest["artifacts"].get(key)
    if entry is None:
        raise FilmNotReady(f"{key} of film {store.film_id} is not in its manifest: run `filmstitch verify "
                           f"{store.film_id}`")
    ref = ref_from_entry(entry)
    try:
        data = store.get(key)
    except ArtifactMissing:
        data = b""
    if not ref.matches(data):
        raise FilmNotReady(f"{key} of film {store.film_id} is missing or damaged: run `filmstitch make` with its "
                           "request to make it again, or switch to another take")
    return ref, data


def load_variant(store: FilmStore, part: str, use: PartUse, manifest: dict[str, Any] | None = None) -> VariantRef:
    """Variant `use.variant` of take `use.take` of a picture part, checked."""
    manifest = manifest or store.manifest()
    if use.variant is None:
        raise FilmNotReady(f"the film's record of {part} names no variant")
    image_key, thumb_key = variant_keys(part, use.take, use.variant)
    image = _verified(store, manifest, image_key)[0]
    thumb = _verified(store, manifest, thumb_key)[0]
    return VariantRef(variant=use.variant, seed=int(image.meta.get("seed", 0)), image=image, thumb=thumb)


def load_clip(store: FilmStore, part: str, use: PartUse, manifest: dict[str, Any] | None = None) -> ArtifactRef:
    return _verified(store, manifest or store.manifest(), f"{part}/take-{use.take}.mp4")[0]


def take_variants(store: FilmStore, part: str, take: int) -> list[int]:
    """The variant numbers a picture take has in storage."""
    found = set()
    for key in store.manifest()["artifacts"]:
        match = _TAKE_KEY.match(key)
        if match and match["part"] == part and int(match["take"]) == take and match["variant"] is not None:
            found.add(int(match["variant"]))
    return sorted(found)


# --------------------------------------------------------------------------- plans with one part changed


def with_keyframe(plan: FilmPlan, keyframe: Keyframe) -> FilmPlan:
    """The plan with one keyframe replaced (an edited prompt, a re-staging), checked whole again."""
    keyframes = [keyframe if k.index == keyframe.index else k for k in plan.keyframes]
    return FilmPlan.model_validate({**plan.model_dump(), "keyframes": [k.model_dump() for k in keyframes]})


def with_segment(plan: FilmPlan, segment: Segment) -> FilmPlan:
    """The plan with one segment replaced (an edited motion prompt), checked whole again."""
    script = plan.script.model_dump()
    script["segments"] = [(segment if s.index == segment.index else s).model_dump() for s in plan.script.segments]
    return FilmPlan.model_validate({**plan.model_dump(), "script": script})
