"""Reuse keys are pinned: for one fixed plan and fixed artifacts, every part's key is the value stored films hold.

A change that moves where a key is computed must not change it (stored films would be made again). The backends'
code versions are replaced by a fixed string here, so the pins hold what the keys are built from (the part, the
maker's name and settings, the inputs); a change to the drawing code itself still changes the real keys, as it must.
`python -m tests.unit.test_reuse_keys_pinned` prints the real keys (code versions included) to compare two trees.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from filmstitch.storage import ArtifactRef
from filmstitch.tasks.common import VariantRef
from filmstitch.testing.plans import handmade_plan


def _ref(name: str) -> ArtifactRef:
    return ArtifactRef(key=f"{name}.bin", sha256=name.encode().hex().ljust(64, "0")[:64], size=len(name))


def _variant(name: str) -> VariantRef:
    return VariantRef(variant=1, seed=7, image=_ref(name), thumb=_ref(name + "-thumb"))


def pinned_keys() -> dict[str, str]:
    """Every part's reuse key for the handmade 3-segment plan, computed the way the stage tasks compute them."""
    from filmstitch import reuse
    from filmstitch.renderers import get_renderer
    from filmstitch.renderers.qc import KeyframeQc
    from filmstitch.reuse import key_of, sound_identity
    from filmstitch.settings import StorageConfig
    from filmstitch.tasks.common import FilmContext
    from filmstitch.tasks.retake import clip_reuse_key
    from filmstitch.writers import get_writer

    plan = handmade_plan(segments=3)
    writer = get_writer("offline").identity()
    renderer = get_renderer("animatic")
    maker = renderer.identity()
    references = {s.id: _variant(s.id) for s in plan.subjects}
    keyframes = [_variant(f"k{i}") for i in range(len(plan.keyframes))]
    film = FilmContext(film_id="pinned", storage=StorageConfig(), writer="offline", renderer="animatic")
    keys = _writer_keys(plan, writer)
    subject = plan.subjects[0].id
    keys["reference"] = key_of("reference", maker, **reuse.reference_inputs(plan, subject, [1, 2, 3]))
    keys["keyframe"] = key_of("keyframe", maker, **reuse.keyframe_inputs(plan, 1, references, [4, 5, 6]))
    keys["clip"] = reuse.clip_key(maker, plan, 1, keyframes[1], keyframes[2], references, 9,
                                  renderer.clip_reads_narration)
    keys["clip (retake)"] = clip_reuse_key(film, plan, 1, keyframes, references, 9)
    keys["clip-sound"] = key_of("clip-sound", maker, **reuse.clip_sound_inputs(keys["clip"]))
    clips = [_ref(f"clip{i}") for i in range(3)]
    qcs = [KeyframeQc(index=i, method="animatic", variants=[], threshold=0.5) for i in range(len(plan.keyframes))]
    keys["qc"] = key_of("qc", maker, **reuse.qc_inputs(clips, qcs))
    keys["ambience"] = key_of("ambience", sound_identity(None), **reuse.ambience_inputs(plan, plan.environments[0].id))
    keys["mix"] = _mix_key(plan, None)
    keys["mix (clip sound)"] = _mix_key(plan, [_ref(f"clip-sound{i}") for i in range(3)])
    keys["film"] = _film_key(plan, clips)
    return keys


def _writer_keys(plan: Any, writer: dict[str, Any]) -> dict[str, str]:
    from filmstitch import reuse
    from filmstitch.reuse import key_of

    request, script = plan.request, plan.script
    return {
        "script": key_of("script", writer, **reuse.script_inputs(request)),
        "characters": key_of("characters", writer, **reuse.cast_inputs(request, script)),
        "locations": key_of("locations", writer, **reuse.cast_inputs(request, script)),
        "keyframes": key_of("keyframes", writer, **reuse.keyframe_prompt_inputs(request, script, plan.characters,
                                                                                 plan.environments)),
        "plan": reuse.plan_key(plan),
    }


def _mix_key(plan: Any, clip_sounds: list[ArtifactRef] | None) -> str:
    from filmstitch.reuse import key_of, mix_inputs, sound_identity

    speech = [[_ref(f"about{i}"), _ref(f"line{i}")] for i in range(3)]
    beds = {plan.environments[0].id: _ref("bed")}
    return key_of("mix", sound_identity(None), **mix_inputs(plan, speech, beds, clip_sounds, "bed"))


def _film_key(plan: Any, clips: list[ArtifactRef]) -> str:
    from filmstitch.reuse import film_inputs, film_maker, key_of

    return key_of("film", film_maker(), **film_inputs(plan, clips, {"mix": _ref("mix"), "cues": _ref("cues")}, None,
                                                      None))


PINNED: dict[str, str] = {
    "script": "c2689fcc09312623",
    "characters": "ece9270ec55a2048",
    "locations": "e8c0ab9b57bb3e6e",
    "keyframes": "57c62c02bb11f8cc",
    "plan": "98f97a294fce24ae",
    "reference": "ac93e309b993771b",
    "keyframe": "41b5c07c7b174450",
    "clip": "923c142c3a58e26a",
    "clip (retake)": "923c142c3a58e26a",
    "clip-sound": "38bc69a95ec1d9ab",
    "qc": "6794571d6dd58745",
    "ambience": "7415cbc14ea7fc78",
    "mix": "103a1b55a336e721",
    "mix (clip sound)": "3cd8949a4196949a",
    "film": "8ad282e68fc3c523",
}


@pytest.fixture
def fixed_code_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every backend's code version replaced by one fixed string (see the module's docstring)."""
    import filmstitch.reuse

    # the backends and the film's maker import it from reuse when called
    monkeypatch.setattr(filmstitch.reuse, "code_version", lambda *modules: "code")


def test_the_reuse_keys_of_a_fixed_film_are_the_ones_stored_films_hold(fixed_code_versions: None) -> None:
    assert pinned_keys() == PINNED


if __name__ == "__main__":
    json.dump(pinned_keys(), sys.stdout, indent=1)
    print()
