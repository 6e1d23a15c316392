"""The sound stage resumes like every stage: a line that failed is spoken again on the rerun, the finished
ones are reused (counted), and the film is made with sound."""

from __future__ import annotations

import collections
import threading
from pathlib import Path

import pytest

from filmstitch.flows.make_film import StageFailed, make_film
from filmstitch.models import FilmRequest
from filmstitch.sound import stage
from filmstitch.video import probe

pytestmark = pytest.mark.prefect_server

REQUEST = FilmRequest(idea="a crow guards a lighthouse", segments=4, seconds_per_segment=3.0, width=256, height=160,
                      fps=8, writer="offline", renderer="animatic", sound=True)


def test_a_failed_line_is_spoken_again_and_the_rest_reused(
    prefect_client_settings: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FILMSTITCH_STORAGE_DIR", str(tmp_path / "films"))
    spoken: collections.Counter[int] = collections.Counter()
    lock = threading.Lock()
    broken = {2}
    real = stage.speak_segment

    def speak(plan, segment, engine):
        with lock:
            spoken[segment] += 1
        if segment in broken:
            raise ValueError(f"segment {segment}: the voice process crashed")  # permanent: no retries
        return real(plan, segment, engine)

    monkeypatch.setattr(stage, "speak_segment", speak)
    with pytest.raises(StageFailed, match="the sound stage failed.*segment 2"):
        make_film(request=REQUEST, auto_pick=True)
    assert spoken == {0: 1, 1: 1, 2: 1, 3: 1}

    broken.clear()
    spoken.clear()
    result = make_film(request=REQUEST, auto_pick=True)
    assert spoken == {2: 1}, "only the line that failed is spoken again"
    info = probe(Path(result.location))
    assert info.frames == 4 * 24 + 1 and result.sha256
    assert (Path(result.location).parent / "subtitles.srt").read_text().strip()
