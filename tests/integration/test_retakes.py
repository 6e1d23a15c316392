"""Retakes on the animatic, against a real Prefect server: one keyframe or one clip of a finished film made
again (only those renders run), the film differing exactly in the retaken frames, every take kept and listed,
switching back without rendering, edits re-staged, a failed retake leaving the film as it was, and bad input
refused before any work."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from filmstitch.app.cli import app
from filmstitch.flows.make_film import make_film
from filmstitch.flows.retake_film import retake_film
from filmstitch.models import FilmRequest, KeyframeEdit, Region, RetakeRequest
from filmstitch.renderers.animatic import AnimaticRenderer
from filmstitch.renderers.base import Renderer
from filmstitch.settings import Settings, StorageConfig
from filmstitch.storage import FilmStore
from filmstitch.tasks.retake import film_takes, prepare_retake
from filmstitch.video import probe
from tests.support.calls import Calls, count_calls
from tests.support.prefect import FlowThread, read_input, resume, wait_for_pause

IDEA = "a lighthouse keeper on a stormy island finds a message in a bottle"
SMALL = FilmRequest(idea=IDEA, segments=3, seconds_per_segment=2.0, width=256, height=160, fps=8, sound=False,
                    writer="offline", renderer="animatic")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    return count_calls(monkeypatch, sound=True)


@pytest.fixture
def films(prefect_client_settings: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FILMSTITCH_STORAGE_DIR", str(tmp_path / "films"))
    return tmp_path / "films"


def store_of(films: Path, film_id: str) -> FilmStore:
    return FilmStore.open(StorageConfig(root=str(films)), film_id)


def frame_hashes(path: Path) -> list[str]:
    """The sha256 of every decoded frame, streamed (a default film is 1,921 frames of 768x512)."""
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    next(reader)
    return [hashlib.sha256(frame).hexdigest() for frame in reader]


def changed_frames(before: list[str], after: list[str]) -> list[int]:
    assert len(before) == len(after), "a retake must not change the film's length"
    return [i for i, (a, b) in enumerate(zip(before, after)) if a != b]


def retake(**fields: object) -> object:
    auto = bool(fields.pop("auto", True))
    return retake_film(retake=RetakeRequest(**fields), auto_pick=auto)


# --------------------------------------------------------------------------- the default film


@pytest.mark.prefect_server
def test_retake_keyframe_4_and_clip_6_of_a_default_film(films: Path, calls: Calls) -> None:
    """The person's case: the default 10-segment film (768x512, 24 fps, 8 s clips, with sound)."""
    first = make_film(request=FilmRequest(idea=IDEA, writer="offline", renderer="animatic"), auto_pick=True)
    calls.take()
    store = store_of(films, first.film_id)
    frames = FilmRequest(idea=IDEA).frames_per_clip  # F: clip i is frames i*F .. i*F+F-1
    assert frames == 192
    original = frame_hashes(Path(first.location))
    assert len(original) == 10 * 192 + 1

    keyframe = retake(film_id=first.film_id, keyframe=4, seed=7)
    assert calls.take() == {"keyframe_variants": 1, "clip": 2}  # no writer, no speech, no ambience, no mix
    after_keyframe = frame_hashes(Path(keyframe.location))
    changed = changed_frames(original, after_keyframe)
    # Clips 3 and 4 touch keyframe 4: frames 3F .. 5F-1 may change, nothing else does. Inside that range a
    # frame changes where the new keyframe shows (clip 3 eases towards it, clip 4 starts from it).
    assert set(changed) <= set(range(3 * frames, 5 * frames))
    assert 4 * frames in changed  # the boundary itself is the new picture
    in_clip = [sum(c // frames == clip for c in changed) for clip in (3, 4)]
    assert min(in_clip) >= frames // 4, in_clip

    clip = retake(film_id=first.film_id, clip=6, seed=3)
    assert calls.take() == {"clip": 1}
    after_clip = frame_hashes(Path(clip.location))
    changed = changed_frames(after_keyframe, after_clip)
    # Clip 6 only. (Its first frame is keyframe 6 again, but H.264 encodes a frame by what follows it, so even
    # that frame may decode a little differently.)
    assert set(changed) <= set(range(6 * frames, 7 * frames))
    assert len(changed) >= frames // 4, len(changed)

    listed = {(t.part, t.take): t for t in film_takes(first.film_id, StorageConfig(root=str(films)))}
    assert listed[("keyframes/k04", 1)].in_film is False and listed[("keyframes/k04", 2)].in_film is True
    assert listed[("keyframes/k04", 2)].how == "retake, seed 7"
    assert all(listed[(f"clips/c{c:02d}", 2)].in_film for c in (3, 4, 6))
    assert listed[("clips/c06", 2)].how.startswith("retake, seed ")
    uses = store.film_uses()
    assert uses["keyframes/k04"]["take"] == 2 and uses["clips/c06"] == {"take": 2}

    back = retake(film_id=first.film_id, clip=6, use_take=1)
    assert calls.take() == {}  # switching back renders nothing: the film is joined again
    assert frame_hashes(Path(back.location)) == after_keyframe
    assert store.verify().problems == []
    info = probe(Path(back.location))
    assert (info.width, info.height, info.fps, info.frames) == (768, 512, 24.0, 1921)


# --------------------------------------------------------------------------- small films


@pytest.fixture
def small(films: Path, calls: Calls) -> object:
    made = make_film(request=SMALL, auto_pick=True)
    calls.take()
    return made


@pytest.mark.prefect_server
def test_switching_a_keyframe_back_brings_back_the_film_bit_for_bit(films: Path, calls: Calls, small) -> None:
    first = small
    original = frame_hashes(Path(first.location))
    retake(film_id=first.film_id, keyframe=1)  # no seed: a new one
    assert calls.take() == {"keyframe_variants": 1, "clip": 2}
    back = retake(film_id=first.film_id, keyframe=1, use_take=1)
    assert calls.take() == {}  # the clips made from take 1 are still stored
    assert frame_hashes(Path(back.location)) == original
    store = store_of(films, first.film_id)
    assert store.film_uses()["keyframes/k01"] == {"take": 1, "variant": first.picks.keyframes[1]}
    assert len(store.takes()["keyframes/k01"]) == 2  # nothing deleted


@pytest.mark.prefect_server
def test_make_film_run_again_after_a_retake_keeps_the_retaken_film(films: Path, calls: Calls, small) -> None:
    retaken = retake(film_id=small.film_id, clip=0, seed=11)
    calls.take()
    again = make_film(request=SMALL, auto_pick=True)
    assert calls.take() == {}
    assert again.sha256 == retaken.sha256


@pytest.mark.prefect_server
def test_an_instruction_re_stages_the_keyframe_and_says_what_it_cannot(films: Path, calls: Calls, small) -> None:
    store = store_of(films, small.film_id)
    plan = store.get_json("plan/plan.json")
    name = plan["keyframes"][2]["characters"][0]
    result = retake(film_id=small.film_id, keyframe=2,
                    instruction=f"make {name}'s coat red and move {name} to the left and remove the second moon")
    assert calls.take() == {"keyframe_variants": 1, "clip": 2}
    part = store.takes()["keyframes/k02"][-1]
    staged = {p["character"]: p for p in part["about"]["keyframe"]["staging"]["placements"]}[name]
    assert staged["colours"] == {"outfit": "#ff0000"} and staged["x"] == 0.25
    note = part["about"]["note"]
    assert "could not do" in note and "remove the second moon" in note
    # The re-staged keyframe is the film's picture, variant for variant: the one it had, now in red.
    old = np.asarray(Image.open(films / small.film_id / f"keyframes/k02/take-1/v{small.picks.keyframes[2]}.png"))
    new_key = store.film_uses()["keyframes/k02"]
    assert new_key["variant"] == small.picks.keyframes[2]
    new = np.asarray(Image.open(films / small.film_id
                                / f"keyframes/k02/take-{new_key['take']}/v{new_key['variant']}.png"))
    px = lambda a: a.astype(int)  # noqa: E731
    red = lambda a: int(((px(a)[..., 0] > 60) & (px(a)[..., 0] > 3 * px(a)[..., 1])  # noqa: E731
                         & (px(a)[..., 0] > 3 * px(a)[..., 2])).sum())
    assert red(old) < 20 and red(new) > 300  # a coat's worth of red pixels (in the keyframe's dim light)
    assert Path(result.location).is_file()


@pytest.mark.prefect_server
def test_a_failed_retake_leaves_the_film_as_it_was(
    films: Path, calls: Calls, small, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_of(films, small.film_id)
    before = (store.film_uses(), (films / small.film_id / "film.mp4").read_bytes())

    def broken_clip(self, plan, segment, *args, **kwargs):
        raise ValueError("the renderer broke")  # permanent: not retried

    monkeypatch.setattr(AnimaticRenderer, "clip", broken_clip)
    with pytest.raises(Exception, match="the renderer broke"):
        retake(film_id=small.film_id, keyframe=1, seed=5)
    assert (store.film_uses(), (films / small.film_id / "film.mp4").read_bytes()) == before
    assert len(store.takes()["keyframes/k01"]) == 2  # the new keyframe take is kept
    assert probe(films / small.film_id / "film.mp4").frames == 3 * 16 + 1  # still whole and playable


@pytest.mark.prefect_server
def test_a_killed_retake_leaves_the_film_intact_and_playable(films: Path, small) -> None:
    """The retake's process is killed while its clips are drawn (a real crash, no clean-up)."""
    store = store_of(films, small.film_id)
    film = films / small.film_id / "film.mp4"
    before = (store.film_uses(), film.read_bytes())
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {
        "FILMSTITCH_STORAGE_DIR": str(films), "PREFECT_HOME": str(films.parent / "killed-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    command = [sys.executable, "-m", "filmstitch.app.cli", "retake", small.film_id, "--keyframe", "2",
               "--seed", "9", "--auto"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while len(store.takes().get("clips/c01", [])) < 2:
            assert process.poll() is None, "the retake ended before it could be killed"
            assert time.monotonic() < deadline, "the retake drew no clip in time"
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, 9)
        process.wait()
    assert (store.film_uses(), film.read_bytes()) == before
    assert probe(film).frames == 3 * 16 + 1


@pytest.mark.prefect_server
def test_a_keyframe_retake_pauses_at_one_row_and_the_answer_can_edit(
    prefect_client_settings: str, films: Path, calls: Calls, small
) -> None:
    api = prefect_client_settings
    run_name = f"retake-{uuid.uuid4().hex[:8]}"
    flow = FlowThread(lambda: retake_film.with_options(flow_run_name=run_name)(
        retake=RetakeRequest(film_id=small.film_id, keyframe=1, seed=4)))
    run = wait_for_pause(api, run_name, set(), flow)
    keyset = run["state"]["state_details"]["run_input_keyset"]
    schema = read_input(api, run["id"], keyset["schema"])
    assert list(schema["properties"]) == ["changes"]  # one field: the pictures keep the dialog's height
    rows = schema["filmstitch"]["rows"]
    assert [row["tag"] for row in rows] == ["1"] and len(rows[0]["variants"]) == 3
    assert schema["filmstitch"]["edits"] is True
    name = store_of(films, small.film_id).get_json("plan/plan.json")["keyframes"][1]["characters"][0]
    assert resume(api, run["id"], {"changes": f'1:2 edit "make {name}\'s hair gold"'})["status"] == "ACCEPT"
    result = flow.result()
    assert calls.take() == {"keyframe_variants": 2, "clip": 2}  # the new take, then its edit re-staged
    store = store_of(films, small.film_id)
    uses = store.film_uses()["keyframes/k01"]
    assert uses["variant"] == 2 and uses["take"] == result.take == 3
    about = store.takes()["keyframes/k01"][2]["about"]
    assert about["made_by"] == "edit" and about["edit"]["instruction"].endswith("hair gold")


# --------------------------------------------------------------------------- bad input


BAD = [
    ({"keyframe": 9}, "keyframe 9 does not exist: film {film} has keyframes 0..3"),
    ({"clip": 3}, "clip 3 does not exist: film {film} has clips 0..2"),
    ({"keyframe": 1, "use_take": 5}, "keyframe 1 has no take 5: its takes are 1"),
    ({"clip": 0, "use_take": 2}, "clip 0 has no take 2: its takes are 1"),
    ({"keyframe": 1, "region": "0,0,100,100"}, "the animatic renderer cannot paint a region again"),
    ({"keyframe": 1, "instruction": "remove the second moon"}, "the animatic renderer cannot do any of"),
    ({"keyframe": 1, "prompt": "a storm at night"}, "the animatic renderer draws from the plan's staging"),
]


@pytest.mark.prefect_server
@pytest.mark.parametrize(("fields", "message"), BAD)
def test_bad_retakes_are_refused_before_any_work(films: Path, calls: Calls, small, fields: dict,
                                                 message: str) -> None:
    store = store_of(films, small.film_id)
    manifest = store.manifest()
    with pytest.raises(ValueError, match="^" + message.format(film=small.film_id).replace(".", r"\.")):
        prepare_retake(RetakeRequest(film_id=small.film_id, **fields), Settings(storage_dir=str(films)))
    with pytest.raises(ValueError, match=message.format(film=small.film_id).replace(".", r"\.")):
        retake(film_id=small.film_id, **fields)
    assert calls.take() == {}
    assert store.manifest()["artifacts"] == manifest["artifacts"]  # nothing written


def test_bad_retakes_are_one_line_from_the_cli_before_anything_starts(tmp_path: Path) -> None:
    """No film needed for these: the CLI refuses before it starts a Prefect server."""
    env = {**os.environ, "FILMSTITCH_STORAGE_DIR": str(tmp_path / "films")}
    cases = [
        (["no-such-film", "--keyframe", "1"], "there is no film 'no-such-film'"),
        (["x", "--keyframe", "1", "--instruction", "  "], "the edit instruction is empty"),
        (["x", "--keyframe", "1", "--region", "10,10,5,40"], "is empty: give left,top,right,bottom"),
        (["x", "--keyframe", "1", "--clip", "2"], "name one part: a keyframe or a clip"),
        (["x", "--clip", "1", "--instruction", "make it red"], "instruction: only for keyframes"),
        (["../etc", "--clip", "1"], "film id"),
    ]
    for args, message in cases:
        done = subprocess.run([sys.executable, "-m", "filmstitch.app.cli", "retake", *args], env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 2, (args, done.stderr)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], (args, done.stderr)
        assert "Prefect" not in done.stderr and done.stdout == ""


@pytest.mark.prefect_server
def test_retake_max_cost_refuses_in_one_line_under_the_estimate_and_runs_within_it(
    films: Path, calls: Calls, small, prefect_client_settings: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`filmstitch retake --max-cost`: under the retake's estimate it is one line, before anything is rendered
    and with nothing of the film changed; with a budget that holds the estimate the retake runs. A CPU-second
    priced at $100 makes the animatic clip's retake cost dollars."""
    monkeypatch.setenv("FILMSTITCH_COST_CPU_USD_PER_SECOND", "100")
    monkeypatch.setenv("PREFECT_API_URL", prefect_client_settings)  # the CLI's flow runs on the tests' server
    store = store_of(films, small.film_id)
    film = films / small.film_id / "film.mp4"
    before = (store.manifest()["artifacts"], store.takes(), store.film_uses(), film.read_bytes())
    estimate = prepare_retake(RetakeRequest(film_id=small.film_id, clip=1), Settings(storage_dir=str(films))).estimate
    assert estimate.usd > 2 and estimate.cpu_seconds < 1, estimate
    retake_clip = ["retake", small.film_id, "--clip", "1", "--seed", "5", "--auto", "--max-cost"]

    refused = CliRunner().invoke(app, [*retake_clip, "1"])

    assert refused.exit_code == 2, refused.output
    assert [line for line in refused.stderr.splitlines() if line.strip()] == [(
        f"error: this retake's estimate is ${estimate.usd:.2f} ({estimate.cpu_seconds:.1f} CPU-s), over its budget "
        "of $1 (--max-cost / max_cost_usd): fewer variants, or raise the budget")]
    assert refused.stdout == "" and calls.take() == {}  # nothing rendered
    assert (store.manifest()["artifacts"], store.takes(), store.film_uses(), film.read_bytes()) == before

    accepted = CliRunner().invoke(app, [*retake_clip, f"{estimate.usd + 0.01:.2f}"])

    assert accepted.exit_code == 0, accepted.output
    assert f"Will render clip 1 ~{estimate.cpu_seconds:.1f} CPU-s" in accepted.stderr
    assert f"(${estimate.usd:.2f});" in accepted.stderr  # the price it was let through at
    assert calls.take() == {"clip": 1}
    assert accepted.stdout.strip().splitlines()[-1] == str(film)
    assert store.film_uses()["clips/c01"] == {"take": 2} and film.read_bytes() != before[3]


@pytest.mark.prefect_server
def test_a_region_outside_the_frame_and_a_missing_film_are_refused(films: Path, calls: Calls, small) -> None:
    settings = Settings(storage_dir=str(films))
    with pytest.raises(ValueError, match="there is no film 'nothing-here'"):
        prepare_retake(RetakeRequest(film_id="nothing-here", clip=0), settings)
    plan = prepare_retake(RetakeRequest(film_id=small.film_id, clip=0), settings).state.plan
    outside = KeyframeEdit(region=Region.parse("0,0,300,100"))
    # Every renderer refuses it first (the animatic would refuse any region after that).
    with pytest.raises(ValueError, match=r"^region 0,0,300,100 is outside the 256x160 frame"):
        Renderer.check_edit(AnimaticRenderer(), plan, 1, outside)
    assert calls.take() == {}


@pytest.mark.prefect_server
def test_takes_are_listed_by_the_cli_as_text(films: Path, small) -> None:
    retake(film_id=small.film_id, clip=1, seed=2)
    retake(film_id=small.film_id, keyframe=0, instruction="make her coat red [/x] [bold]now[/bold]")
    env = {**os.environ, "FILMSTITCH_STORAGE_DIR": str(films)}
    done = subprocess.run([sys.executable, "-m", "filmstitch.app.cli", "takes", small.film_id], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if "clips/c01" in line]
    assert len(rows) == 2 and "*" in rows[1] and "retake, seed" in rows[1]
    listed = json.loads(subprocess.run([sys.executable, "-m", "filmstitch.app.cli", "takes", small.film_id,
                                        "--json"], env=env, capture_output=True, text=True, timeout=120,
                                       check=False).stdout)
    edited = [line for line in done.stdout.splitlines() if "keyframes/k00" in line][1]
    assert "[/x] [bold]now[/bold]" in edited  # shown as written, never read as markup
    clip = [t for t in listed if t["part"] == "clips/c01"]
    sha = store_of(films, small.film_id).manifest()["artifacts"]["clips/c01/take-2.mp4"]["sha256"]
    assert clip[1]["files"] == {"take-2.mp4": sha} and clip[1]["in_film"] is True
