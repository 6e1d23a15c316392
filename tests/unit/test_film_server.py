"""The film server (filmstitch/app/film_server.py): stored files read-only over http, and the review page.

Files: what a browser's player needs (Content-Type, Content-Length, Range, HEAD) and nothing else: every
path that is not a stored file of a film inside the films folder is a plain 404 with nothing of the file in
it. The review page: driven against a stand-in for Prefect's REST API (an httpx MockTransport), which
records what the page sends.
"""

from __future__ import annotations

import html
import http.client
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.testclient import TestClient

from filmstitch.app.film_server import FilmServer, running
from filmstitch.app.prefect_server import free_port
from filmstitch.settings import StorageConfig
from filmstitch.storage import FilmStore

FILM_ID = "a-fox-learns-to-fly-0123abcd"
OTHER_FILM = "another-film-4567ef01"
#: Bytes that look like nothing in particular: a range must return exactly its slice.
FILM_BYTES = bytes(range(256)) * 40 + b"the end"
SUBTITLES = b"WEBVTT\n\n00:00.000 --> 00:02.000\nHello\n"
SECRET = b"outside the films folder: must never be served"


@pytest.fixture
def films(tmp_path: Path) -> Path:
    """A films folder with two stored films (through FilmStore, so sidecars and the manifest are real), and a
    secret file beside it."""
    root = tmp_path / "films"
    config = StorageConfig(root=str(root))
    store = FilmStore.open(config, FILM_ID)
    store.put("film.mp4", FILM_BYTES, "video/mp4")
    store.put("film.vtt", SUBTITLES, "text/vtt")
    store.put("keyframes/k00/take-1/v0.png", b"\x89PNG fake picture", "image/png")
    FilmStore.open(config, OTHER_FILM).put("film.mp4", b"the other film", "video/mp4")
    (tmp_path / "secret.mp4").write_bytes(SECRET)
    return root


@pytest.fixture
def client(films: Path) -> Iterator[TestClient]:
    with TestClient(FilmServer(StorageConfig(root=str(films)), api_url=None).app) as client:
        yield client


# --------------------------------------------------------------------------- stored files


def test_a_stored_film_is_served_as_video_mp4_with_its_length(client: TestClient) -> None:
    response = client.get(f"/films/{FILM_ID}/film.mp4")
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["content-length"] == str(len(FILM_BYTES))
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content == FILM_BYTES


def test_a_range_request_gets_206_and_exactly_those_bytes(client: TestClient) -> None:
    response = client.get(f"/films/{FILM_ID}/film.mp4", headers={"Range": "bytes=1000-2047"})
    assert response.status_code == 206
    assert response.content == FILM_BYTES[1000:2048]
    assert response.headers["content-length"] == "1048"
    assert response.headers["content-range"] == f"bytes 1000-2047/{len(FILM_BYTES)}"
    # An open range (how a player seeks) and a suffix range (how it reads an MP4's index at the end).
    tail = client.get(f"/films/{FILM_ID}/film.mp4", headers={"Range": "bytes=10000-"})
    assert tail.status_code == 206 and tail.content == FILM_BYTES[10000:]
    last = client.get(f"/films/{FILM_ID}/film.mp4", headers={"Range": "bytes=-7"})
    assert last.status_code == 206 and last.content == b"the end"
    beyond = client.get(f"/films/{FILM_ID}/film.mp4", headers={"Range": f"bytes={len(FILM_BYTES) + 10}-"})
    assert beyond.status_code == 416 and FILM_BYTES[:16] not in beyond.content


def test_head_gives_the_headers_and_no_body(client: TestClient) -> None:
    response = client.head(f"/films/{FILM_ID}/film.mp4")
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["content-length"] == str(len(FILM_BYTES))
    assert response.content == b""


def test_subtitles_are_text_vtt_and_pictures_image_png(client: TestClient) -> None:
    vtt = client.get(f"/films/{FILM_ID}/film.vtt")
    assert vtt.status_code == 200 and vtt.content == SUBTITLES
    assert vtt.headers["content-type"].split(";")[0] == "text/vtt"
    png = client.get(f"/films/{FILM_ID}/keyframes/k00/take-1/v0.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"


def assert_refused(response: httpx.Response) -> None:
    """A plain 404: no file's bytes, no listing of a folder."""
    assert response.status_code == 404, (response.status_code, response.content[:200])
    for served in (FILM_BYTES[:64], SECRET, b"the other film", SUBTITLES, b"sha256", b"take-1"):
        assert served not in response.content


@pytest.mark.parametrize(
    "path",
    [
        # '..' in every spelling, to leave the film or the films folder
        f"/films/{FILM_ID}/%2e%2e/secret.mp4",
        f"/films/{FILM_ID}/%2E%2E/%2E%2E/secret.mp4",
        f"/films/{FILM_ID}/%2e%2e%2f%2e%2e%2fsecret.mp4",
        f"/films/{FILM_ID}/..%2f{OTHER_FILM}%2ffilm.mp4",
        f"/films/{FILM_ID}/clips/%2e%2e/film.mp4",
        "/films/%2e%2e/secret.mp4",
        f"/films/%2e%2e/{FILM_ID}/film.mp4",
        f"/films/{FILM_ID}/.%2e/secret.mp4",
        f"/films/{FILM_ID}/film.mp4%00.png",
        f"/films/{FILM_ID}/..%5csecret.mp4",
        # absolute paths
        f"/films/{FILM_ID}//etc/passwd",
        f"/films/{FILM_ID}/%2fetc%2fpasswd",
        f"/films/{FILM_ID}/%2Fetc/passwd",
        "/films/%2fetc/passwd",
        # a film id that does not exist, or is not a film id
        "/films/no-such-film-00000000/film.mp4",
        f"/films/{FILM_ID.upper()}/film.mp4",
        f"/films/{FILM_ID}/no-such-file.mp4",
        # hidden files: the stores' sidecars, temp files and locks
        f"/films/{FILM_ID}/.film.mp4.meta",
        f"/films/{FILM_ID}/%2efilm.mp4.meta",
        f"/films/{FILM_ID}/.tmp-film.mp4",
        f"/films/{FILM_ID}/.manifest.json.lock",
        # folders: no listing
        f"/films/{FILM_ID}/",
        f"/films/{FILM_ID}",
        f"/films/{FILM_ID}/keyframes",
        f"/films/{FILM_ID}/keyframes/k00/take-1/",
        "/films/",
        "/films",
        "/",
    ],
)
def test_anything_but_a_stored_file_of_a_film_is_a_plain_404(client: TestClient, films: Path, path: str) -> None:
    # The files the paths aim at are there: a refusal is the server's doing, not a missing file.
    (films / FILM_ID / ".tmp-film.mp4").write_bytes(FILM_BYTES)
    (films / FILM_ID / ".manifest.json.lock").write_bytes(b"")
    assert (films / FILM_ID / ".film.mp4.meta").is_file()
    for method in ("GET", "HEAD"):
        assert_refused(client.request(method, path, follow_redirects=True))


def test_a_symlink_out_of_the_films_folder_is_refused(client: TestClient, films: Path, tmp_path: Path) -> None:
    folder = films / FILM_ID
    (folder / "clips").mkdir()
    (folder / "clips" / "c00.mp4").symlink_to(tmp_path / "secret.mp4")  # a file outside the films root
    (folder / "outside").symlink_to(tmp_path, target_is_directory=True)  # a folder outside it
    (folder / "other.mp4").symlink_to(films / OTHER_FILM / "film.mp4")  # another film's file
    for path in ("clips/c00.mp4", "outside/secret.mp4", "other.mp4"):
        assert_refused(client.get(f"/films/{FILM_ID}/{path}"))
    # A film's folder that is itself a link to somewhere else is not a film of this folder either.
    (films / "linked-film-0000").symlink_to(tmp_path, target_is_directory=True)
    assert_refused(client.get("/films/linked-film-0000/secret.mp4"))


def test_the_real_server_refuses_raw_dot_dot_paths(films: Path) -> None:
    """What a client that does not normalise paths sends (curl --path-as-is), through uvicorn itself."""
    with running(StorageConfig(root=str(films)), None, free_port()) as url:
        host = urlsplit(url)
        connection = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
        try:
            for path in (f"/films/{FILM_ID}/../../secret.mp4", f"/films/{FILM_ID}/../{OTHER_FILM}/film.mp4",
                         f"/films/{FILM_ID}/%2e%2e/%2e%2e/secret.mp4", f"/films/../{FILM_ID}/film.mp4"):
                connection.request("GET", path)
                response = connection.getresponse()
                body = response.read()
                assert response.status == 404, (path, response.status)
                assert SECRET not in body and b"the other film" not in body and FILM_BYTES[:64] not in body
            connection.request("GET", f"/films/{FILM_ID}/film.mp4", headers={"Range": "bytes=0-9"})
            response = connection.getresponse()
            assert response.status == 206 and response.read() == FILM_BYTES[:10]
        finally:
            connection.close()


# --------------------------------------------------------------------------- the review page

RUN_ID = "6f1c2a54-3d1e-4e0b-9a57-1c2d3e4f5a6b"
HOSTILE_TITLE = "<script>alert('boom')</script> & Lena"


def checkpoint_entry(more_follow: bool = False) -> dict[str, Any]:
    """The "filmstitch" entry of a checkpoint form's JSON schema (checkpoints.form_schema_extra)."""

    def variants(tag: str, n: int) -> list[dict[str, Any]]:
        return [{"variant": v, "image_key": f"keyframes/k{tag}/take-1/v{v}.png",
                 "thumb_key": f"keyframes/k{tag}/take-1/v{v}.jpg", "score": f"0.{v}1" if v else None}
                for v in range(n)]

    return {
        "checkpoint": "keyframes",
        "film_id": FILM_ID,
        "title": "Keyframes of <b>my</b> film",
        "more_follow": more_follow,
        "contact_sheet": None,
        "rows": [
            {"tag": "0", "title": HOSTILE_TITLE, "detail": "\"quoted\" <img src=x onerror=alert(1)>",
             "variants": variants("00", 3), "recommended": 1, "why": ""},
            {"tag": "1", "title": "The cliff", "detail": "", "variants": variants("01", 3), "recommended": 0,
             "why": ""},
            {"tag": "2", "title": "The sky", "detail": "", "variants": variants("02", 2), "recommended": 1,
             "why": ""},
        ],
    }


class FakePrefect:
    """Prefect's REST API as the review page uses it: the run, its form's schema, resume. Records requests."""

    def __init__(self, entry: dict[str, Any], state: str = "PAUSED", answer: str = "ACCEPT") -> None:
        self.entry, self.state, self.answer = entry, state, answer
        self.resumes: list[dict[str, Any]] = []
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api")
        self.paths.append(f"{request.method} {path}")
        if request.method == "GET" and path == f"/flow_runs/{RUN_ID}":
            details = {"run_input_keyset": {"schema": "paused-1-schema", "description": "paused-1-description",
                                            "response": "paused-1-response"}} if self.state == "PAUSED" else {}
            return httpx.Response(200, json={"id": RUN_ID, "state": {"type": self.state, "state_details": details}})
        if request.method == "GET" and path == f"/flow_runs/{RUN_ID}/input/paused-1-schema":
            return httpx.Response(200, json={"title": "CheckpointForm", "type": "object", "filmstitch": self.entry})
        if request.method == "POST" and path == f"/flow_runs/{RUN_ID}/resume":
            self.resumes.append(json.loads(request.content))
            if self.answer == "ACCEPT":
                self.state = "RUNNING"
                return httpx.Response(201, json={"status": "ACCEPT", "details": None})
            return httpx.Response(200, json={"status": "REJECT", "details": {"reason": "picks <refused> here"}})
        return httpx.Response(404, json={"detail": "Not found"})


def review_client(films: Path, prefect: FakePrefect) -> TestClient:
    server = FilmServer(StorageConfig(root=str(films)), "http://prefect.test/api",
                        transport=httpx.MockTransport(prefect))
    return TestClient(server.app)


def page_token(page: str) -> str:
    match = re.search(r'name="token" value="([^"]+)"', page)
    assert match, "the page has no token"
    return match.group(1)


def test_the_review_page_shows_every_variant_with_its_text_escaped(films: Path) -> None:
    prefect = FakePrefect(checkpoint_entry())
    with review_client(films, prefect) as client:
        response = client.get(f"/review/{RUN_ID}")
    assert response.status_code == 200
    page = response.text
    # Hostile text is shown as text: escaped, never markup.
    assert "<script>" not in page and "<img src=x" not in page and "<b>my</b>" not in page
    assert "&lt;script&gt;alert(" in page and HOSTILE_TITLE in html.unescape(page)
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "Keyframes of &lt;b&gt;my&lt;/b&gt; film" in page
    # Every variant of every row is a picture served by this server, with a radio button; the recommended one
    # is checked.
    for row in checkpoint_entry()["rows"]:
        for variant in row["variants"]:
            assert f'src="/films/{FILM_ID}/{variant["image_key"]}"' in page
        radios = re.findall(rf'<input type="radio" name="row_{row["tag"]}" value="(\d+)"\s*(checked)?', page)
        assert [int(v) for v, _ in radios] == list(range(len(row["variants"])))
        assert [int(v) for v, checked in radios if checked] == [row["recommended"]]
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert prefect.resumes == []


def test_a_post_without_the_pages_token_is_refused(films: Path) -> None:
    prefect = FakePrefect(checkpoint_entry())
    with review_client(films, prefect) as client:
        for form in ({"row_0": "2"}, {"row_0": "2", "token": "guessed"}, {"row_0": "2", "token": ""}):
            response = client.post(f"/review/{RUN_ID}", data=form)
            assert response.status_code == 403 and "did not come from this server" in response.text
    assert prefect.resumes == [] and not any(p.startswith("POST") for p in prefect.paths)


def test_picks_are_sent_as_the_changes_from_the_recommendation(films: Path) -> None:
    prefect = FakePrefect(checkpoint_entry())
    with review_client(films, prefect) as client:
        token = page_token(client.get(f"/review/{RUN_ID}").text)
        # Row 0 changed (1 -> 2), row 1 left as recommended, row 2 changed (1 -> 0).
        response = client.post(f"/review/{RUN_ID}", data={"token": token, "row_0": "2", "row_1": "0", "row_2": "0"})
    assert response.status_code == 200 and "Picks sent: ACCEPT" in response.text
    assert prefect.resumes == [{"run_input": {"changes": "0:2 2:0"}}]


def test_the_recommended_picks_as_shown_send_empty_changes_and_accept_rest(films: Path) -> None:
    prefect = FakePrefect(checkpoint_entry(more_follow=True))
    with review_client(films, prefect) as client:
        page = client.get(f"/review/{RUN_ID}").text
        assert 'name="accept_rest"' in page
        response = client.post(f"/review/{RUN_ID}", data={"token": page_token(page), "row_0": "1", "row_1": "0",
                                                          "row_2": "1", "accept_rest": "1"})
    assert response.status_code == 200
    assert prefect.resumes == [{"run_input": {"changes": "", "accept_rest": True}}]


def test_a_variant_that_does_not_exist_is_refused_before_prefect_hears_of_it(films: Path) -> None:
    prefect = FakePrefect(checkpoint_entry())
    with review_client(films, prefect) as client:
        token = page_token(client.get(f"/review/{RUN_ID}").text)
        response = client.post(f"/review/{RUN_ID}", data={"token": token, "row_2": "5"})
    assert response.status_code == 400 and "row 2 has variants 0-1, not 5" in response.text
    assert prefect.resumes == []


def test_a_rejected_answer_shows_prefects_reason_escaped(films: Path) -> None:
    prefect = FakePrefect(checkpoint_entry(), answer="REJECT")
    with review_client(films, prefect) as client:
        token = page_token(client.get(f"/review/{RUN_ID}").text)
        response = client.post(f"/review/{RUN_ID}", data={"token": token, "row_0": "0"})
    assert response.status_code == 400
    assert "Picks sent: REJECT" in response.text and "picks &lt;refused&gt; here" in response.text
    assert prefect.resumes == [{"run_input": {"changes": "0:0"}}]


def test_a_run_that_is_not_paused_any_more_gets_a_clear_409(films: Path) -> None:
    prefect = FakePrefect(checkpoint_entry())
    with review_client(films, prefect) as client:
        token = page_token(client.get(f"/review/{RUN_ID}").text)
        prefect.state = "RUNNING"  # answered elsewhere (the Prefect UI, the terminal) or timed out
        response = client.post(f"/review/{RUN_ID}", data={"token": token, "row_0": "2"})
        assert response.status_code == 409
        assert "Too late" in response.text and "not waiting for picks any more" in response.text
        page = client.get(f"/review/{RUN_ID}")
        assert page.status_code == 404 and "Nothing to review" in page.text
    assert prefect.resumes == []


def test_a_second_submit_after_the_run_went_on_is_409(films: Path) -> None:
    prefect = FakePrefect(checkpoint_entry())
    with review_client(films, prefect) as client:
        token = page_token(client.get(f"/review/{RUN_ID}").text)
        first = client.post(f"/review/{RUN_ID}", data={"token": token, "row_0": "2"})
        second = client.post(f"/review/{RUN_ID}", data={"token": token, "row_0": "0"})
    assert (first.status_code, second.status_code) == (200, 409)
    assert prefect.resumes == [{"run_input": {"changes": "0:2"}}]


def test_the_review_page_of_an_unknown_run_says_nothing_to_review(films: Path) -> None:
    with review_client(films, FakePrefect(checkpoint_entry())) as client:
        response = client.get("/review/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404 and "Nothing to review" in response.text


def test_a_token_is_per_server(films: Path) -> None:
    """Another film server's page (another process, or a restart) cannot post into this one."""
    prefect = FakePrefect(checkpoint_entry())
    with review_client(films, prefect) as first, review_client(films, prefect) as second:
        token = page_token(first.get(f"/review/{RUN_ID}").text)
        assert second.post(f"/review/{RUN_ID}", data={"token": token, "row_0": "2"}).status_code == 403
    assert prefect.resumes == []


def script_entry(more_follow: bool = False) -> dict[str, Any]:
    """The "filmstitch" entry of a script checkpoint's form (made by the real checkpoint, from a real plan)."""
    from filmstitch import checkpoints, script_checkpoint
    from filmstitch.models import FilmRequest
    from filmstitch.testing.plans import offline_plan

    plan = offline_plan(FilmRequest(idea="a fox learns to fly", segments=2))
    hostile = plan.model_copy(update={"script": plan.script.model_copy(update={"title": HOSTILE_TITLE})})
    question = script_checkpoint.script_checkpoint(FILM_ID, hostile, [0, 1], 0, 2 if more_follow else 1, 600,
                                                   cost=SCRIPT_COST)
    return checkpoints.form_schema_extra(question)


#: What the script checkpoint shows of the estimate (filmstitch.estimate's summary lines).
SCRIPT_COST = "Estimate for this film (animatic): $0.00-$0.00\n  clips (2): 8.6-31 CPU-s <b>x</b>"


def test_the_script_review_page_shows_every_text_in_a_box_and_sends_what_changed(films: Path) -> None:
    entry = script_entry(more_follow=True)
    prefect = FakePrefect(entry)
    texts = {f["label"]: f["text"] for section in entry["script"] for f in section["fields"]}
    with review_client(films, prefect) as client:
        page = client.get(f"/review/{RUN_ID}").text
        assert "<script>" not in page and HOSTILE_TITLE in html.unescape(page)
        shown = page.index('<pre class="cost">')  # the estimate, escaped, above the texts
        assert page[shown:].startswith('<pre class="cost">' + html.escape(SCRIPT_COST, quote=False))
        assert shown < page.index("<textarea")
        boxes = dict(re.findall(r'<textarea id="text_[^"]+" name="text_([^"]+)"\s+rows="\d+">([^<]*)</textarea>', page))
        assert {label: html.unescape(text) for label, text in boxes.items()} == texts
        # The browser sends every box (CRLF line ends); only the changed one is an answer.
        form = {f"text_{label}": text.replace(" ", "\r\n", 1) for label, text in texts.items()}
        form |= {"token": page_token(page), "text_s1.action": "The fox leaps from the cliff.", "accept_rest": "1"}
        response = client.post(f"/review/{RUN_ID}", data=form)
    assert response.status_code == 200 and "Script sent: ACCEPT" in response.text
    assert prefect.resumes == [{"run_input": {"changes": json.dumps({"s1.action": "The fox leaps from the cliff."}),
                                              "accept_rest": True}}]
