"""After the clips: a seam score for every cut, and the film's continuity record (qc.json) with a table in the
UI (the keyframes' scores come with their takes)."""

from __future__ import annotations

import json

from prefect import task
from prefect.artifacts import create_table_artifact

from filmstitch.models import FilmPlan
from filmstitch.renderers import get_renderer
from filmstitch.renderers.qc import KeyframeQc, SeamQc, qc_artifact
from filmstitch.reuse import key_of, qc_inputs
from filmstitch.storage import ArtifactRef
from filmstitch.tasks.common import STAGE, FilmContext, artifact_key


@task(name="check-seams", **STAGE)
def check_seams(film: FilmContext, plan: FilmPlan, clips: list[ArtifactRef],
                keyframes: list[KeyframeQc]) -> list[SeamQc]:
    store = film.store()
    renderer = get_renderer(film.renderer)
    reuse_key = key_of("qc", renderer.identity(), **qc_inputs(clips, keyframes))
    stored = store.reuse("qc.json", reuse_key)
    if stored is not None:
        seams = [SeamQc(**seam) for seam in json.loads(store.get_verified(stored))["seams"]]
    else:
        seams = renderer.seam_qc(plan, [store.get_verified(clip) for clip in clips])
        store.put("qc.json", json.dumps(qc_artifact(keyframes, seams), indent=2).encode(), "application/json",
                  reuse_key=reuse_key, stage="qc")
    rows = [{"cut": f"clip {s.cut} | clip {s.cut + 1}", **{k: v for k, v in s.model_dump().items() if k != "cut"}}
            for s in seams]
    rows += [{"cut": f"keyframe {k.index}", "best variant": k.best,
              "score": k.variants[k.best].score if k.best is not None else None, "method": k.method}
             for k in keyframes]
    create_table_artifact(rows, key=artifact_key(film.film_id, "continuity"),
                          description="Continuity: every cut's seam score and every boundary's best keyframe score")
    return seams
