"""The film server: local films over http, and a large review page for the checkpoints.

The Prefect UI cannot open file:// links, so `filmstitch server` (and `filmstitch make` while it runs) serves
the local films folder read-only on 127.0.0.1:

    GET /films/<film_id>/<key>     one stored file: the film, a picture, a subtitle file. Correct Content-Type,
                                   Range requests (the browser's player seeks), no directory listing, nothing
                                   outside the films folder (no '..', no absolute paths, no symlinks out).
    GET /review/<flow_run_id>      the paused run's checkpoint as a page of large pictures: click a picture to
                                   pick it, Submit resumes the run through Prefect's REST API. At the script
                                   checkpoint: every text of the script in a box to change in place; Submit
                                   sends the texts that were changed.

The page shows only what the checkpoint's form holds (its JSON schema's "filmstitch" entry); every text on
it is escaped (Jinja2 autoescape). Its Submit carries a token of this server, so another site cannot post
picks into it.
"""

from __future__ import annotations

import contextlib
import json
import mimetypes
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jinja2
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from filmstitch.checkpoints import SCHEMA_KEY, apply_changes, parse_changes
from filmstitch.settings import StorageConfig
from filmstitch.storage import FILM_ID, FilmStore, validate_key

PAGE = jinja2.Environment(autoescape=True).from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
 body { font-family: system-ui, sans-serif; background: #18181c; color: #eee; margin: 0 2rem 6rem; }
 h1 { font-size: 1.4rem; } h2 { font-size: 1.05rem; margin: 1.6rem 0 .4rem; }
 .row { display: flex; flex-wrap: wrap; gap: 12px; }
 label { position: relative; cursor: pointer; }
 label img { width: min(420px, 90vw); display: block; border: 4px solid transparent; border-radius: 4px; }
 input[type=radio] { position: absolute; opacity: 0; }
 input[type=radio]:checked + img { border-color: #ffc828; }
 .tag { position: absolute; left: 8px; top: 8px; background: #000c; padding: 2px 8px; border-radius: 3px; }
 .bar { position: fixed; bottom: 0; left: 0; right: 0; background: #222a; padding: .8rem 2rem;
        backdrop-filter: blur(4px); }
 button { font-size: 1rem; padding: .5rem 1.4rem; background: #2d5bd7; color: #fff; border: 0; border-radius: 4px; }
 .note { color: #bbb; }
</style></head><body>
<h1>{{ title }}</h1>
<p class="note">Click a picture to pick it; the recommended ones (&#9733;) are picked to begin with. Submit sends the
picks to the paused run, as the Resume form in the Prefect UI does.</p>
<form method="post">
<input type="hidden" name="token" value="{{ token }}">
{% for row in rows %}
 <h2>{{ row.tag }} &middot; {{ row.title }}{% if row.detail %} &mdash; {{ row.detail }}{% endif %}</h2>
 <div class="row">
 {% for v in row.variants %}
  <label><input type="radio" name="row_{{ row.tag }}" value="{{ v.variant }}"
         {% if v.variant == row.recommended %}checked{% endif %}>
   <img src="{{ image_url(v.image_key) }}" alt="{{ row.tag }}:{{ v.variant }}">
   <span class="tag">{{ row.tag }}:{{ v.variant }}{% if v.variant == row.recommended %} &#9733;{% endif %}
   {% if v.score %} &middot; {{ v.score }}{% endif %}</span></label>
 {% endfor %}
 </div>
{% endfor %}
<div class="bar"><button type="submit">Submit</button>
{% if more_follow %}<label><input type="checkbox" name="accept_rest" value="1" style="position:static;opacity:1">
 and accept the recommendations for all later scenes</label>{% endif %}</div>
</form></body></html>""")

SCRIPT_PAGE = jinja2.Environment(autoescape=True).from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
 body { font-family: system-ui, sans-serif; background: #18181c; color: #eee; margin: 0 2rem 6rem; max-width: 60rem; }
 h1 { font-size: 1.4rem; } h2 { font-size: 1.05rem; margin: 1.6rem 0 .4rem; }
 h2 small { color: #aaa; font-weight: 400; }
 label { display: block; margin: .5rem 0 .1rem; color: #bbb; font-size: .9rem; } code { color: #ffc828; }
 textarea { width: 100%; box-sizing: border-box; background: #24242a; color: #eee; border: 1px solid #444;
            border-radius: 4px; padding: .4rem; font: inherit; field-sizing: content; min-height: 2.2rem; }
 .bar { position: fixed; bottom: 0; left: 0; right: 0; background: #222a; padding: .8rem 2rem;
        backdrop-filter: blur(4px); }
 button { font-size: 1rem; padding: .5rem 1.4rem; background: #2d5bd7; color: #fff; border: 0; border-radius: 4px; }
 .note { color: #bbb; } .cost { color: #ddd; white-space: pre-wrap; font: inherit; }
</style></head><body>
<h1>{{ title }}</h1>
<p class="note">Nothing is drawn yet. Change any text in place; Submit sends the texts you changed (none: the
script as written). A change that does not make a valid film is refused with the reason, and asked again.</p>
{% if cost %}<pre class="cost">{{ cost }}</pre>{% endif %}
<form method="post">
<input type="hidden" name="token" value="{{ token }}">
{% for section in script %}
 <h2>{{ section.heading }}{% if section.detail %} <small>&mdash; {{ section.detail }}</small>{% endif %}</h2>
 {% for f in section.fields %}
  <label for="text_{{ f.label }}"><code>{{ f.label }}</code> {{ f.name }}</label>
  <textarea id="text_{{ f.label }}" name="text_{{ f.label }}"
            rows="{{ (f.text|length // 90) + 1 }}">{{ f.text }}</textarea>
 {% endfor %}
{% endfor %}
<div class="bar"><button type="submit">Submit</button>
{% if more_follow %}<label style="display:inline"><input type="checkbox" name="accept_rest" value="1">
 and keep the rest of the script as written</label>{% endif %}</div>
</form></body></html>""")

RESULT = jinja2.Environment(autoescape=True).from_string(
    "<!doctype html><meta charset='utf-8'><title>FilmStitch</title><body style='font-family:system-ui'>"
    "<h1>{{ headline }}</h1><p>{{ detail }}</p></body>"
)


class FilmServer:
    """The Starlette app and its settings: the films folder and the Prefect API to resume runs through."""

    def __init__(
        self, storage: StorageConfig, api_url: str | None, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.storage = storage
        self.root = Path(storage.root).resolve()
        self.api_url = api_url
        self.transport = transport  # how the Prefect API is reached: the network, or a test's stand-in
        self.token = secrets.token_urlsafe(24)
        self.app = Starlette(routes=[
            Route("/films/{film_id}/{key:path}", self.film_file, methods=["GET", "HEAD"]),
            Route("/review/{run_id}", self.review_page, methods=["GET"]),
            Route("/review/{run_id}", self.submit_review, methods=["POST"]),
        ])

    # ------------------------------------------------------------------ files

    def film_file(self, request: Request) -> Response:
        path = self._safe_path(request.path_params["film_id"], request.path_params["key"])
        if path is None:
            return PlainTextResponse("not found", status_code=404)
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if path.suffix == ".vtt":
            media_type = "text/vtt"
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "no-cache",
                                                                 "X-Content-Type-Options": "nosniff"})

    def _safe_path(self, film_id: str, key: str) -> Path | None:
        """The file for (film, key), or None for anything that is not a stored file inside the films folder."""
        if not FILM_ID.fullmatch(film_id):
            return None
        try:
            validate_key(key)  # no '..', no absolute paths, no hidden files (temp files, locks, sidecars)
        except ValueError:
            return None
        film_dir = self.root / film_id  # the root is resolved; the film's folder is taken as it is named
        # Symlinks are not followed out of the film's folder: the real path must stay inside it. Comparing with
        # the folder's name under the real root (not with the folder resolved) also refuses a film's folder
        # that is itself a link to somewhere else.
        try:
            real = (film_dir / key).resolve(strict=True)
        except (RuntimeError, OSError):
            return None
        if film_dir not in real.parents or not real.is_file():
            return None
        return real

    # ------------------------------------------------------------------ review page

    def _checkpoint(self, run_id: str) -> dict[str, Any] | None:
        """The form schema's "filmstitch" entry of the run's open checkpoint, or None."""
        if not self.api_url:
            return None
        with self._prefect(timeout=15) as client:
            run = client.get(f"/flow_runs/{run_id}")
            if run.status_code != 200:
                return None
            state = run.json().get("state") or {}
            keyset = (state.get("state_details") or {}).get("run_input_keyset")
            if state.get("type") != "PAUSED" or not keyset:
                return None
            schema = client.get(f"/flow_runs/{run_id}/input/{keyset['schema']}")
            return schema.json().get(SCHEMA_KEY) if schema.status_code == 200 else None

    def _prefect(self, timeout: float) -> httpx.Client:
        return httpx.Client(base_url=self.api_url or "", timeout=timeout, transport=self.transport)

    def review_page(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        checkpoint = self._checkpoint(run_id)
        if checkpoint is None:
            return HTMLResponse(RESULT.render(headline="Nothing to review",
                                              detail="This run is not waiting for picks (any more)."), 404)
        if checkpoint.get("script") is not None:
            page = SCRIPT_PAGE.render(title=checkpoint["title"], script=checkpoint["script"], token=self.token,
                                      cost=checkpoint.get("cost") or "",
                                      more_follow=checkpoint.get("more_follow", False))
            return HTMLResponse(page, headers={"Content-Security-Policy": "default-src 'self'; "
                                                                          "style-src 'unsafe-inline'"})
        page = PAGE.render(
            title=checkpoint["title"], rows=checkpoint["rows"], token=self.token,
            more_follow=checkpoint.get("more_follow", False), image_url=self._image_url(checkpoint["film_id"]),
        )
        policy = "default-src 'self'; img-src 'self' https: http:; style-src 'unsafe-inline'"
        return HTMLResponse(page, headers={"Content-Security-Policy": policy})

    def _image_url(self, film_id: str) -> Any:
        """Local films from this server, S3 films by presigned links."""
        if self.storage.kind == "local":
            return lambda key: f"/films/{film_id}/{key}"
        store = FilmStore.open(self.storage, film_id)
        return lambda key: store.url(key, expires_s=3600)

    async def submit_review(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        form = await request.form()
        if not secrets.compare_digest(str(form.get("token", "")), self.token):
            return HTMLResponse(RESULT.render(headline="Refused", detail="This form did not come from this server."),
                                403)
        checkpoint = self._checkpoint(run_id)
        if checkpoint is None:
            return HTMLResponse(RESULT.render(headline="Too late",
                                              detail="This run is not waiting for picks any more."), 409)
        if checkpoint.get("script") is not None:
            answer = script_answer(checkpoint, form)
            return self._resume(run_id, answer, "Script sent")
        fields = {row["tag"]: form.get("row_" + row["tag"]) for row in checkpoint["rows"]}
        chosen = " ".join(f"{tag}:{variant}" for tag, variant in fields.items() if variant is not None)
        try:
            changes = parse_changes(chosen, checkpoint["rows"])
        except ValueError as exc:
            return HTMLResponse(RESULT.render(headline="Refused", detail=str(exc)), 400)
        recommended = {row["tag"]: row["recommended"] for row in checkpoint["rows"]}
        picks = apply_changes(recommended, changes)
        answer: dict[str, Any] = {"changes": " ".join(f"{t}:{v}" for t, v in picks.items() if v != recommended[t])}
        if checkpoint.get("more_follow"):
            answer["accept_rest"] = form.get("accept_rest") == "1"
        return self._resume(run_id, answer, "Picks sent")

    def _resume(self, run_id: str, answer: dict[str, Any], headline: str) -> Response:
        with self._prefect(timeout=30) as client:
            result = client.post(f"/flow_runs/{run_id}/resume", json={"run_input": answer}).json()
        status = result.get("status", "?")
        detail = (result.get("details") or {}).get("reason") or (
            "The film goes on (a change that does not make a valid film is asked again, with the reason: "
            "reload this page); you can close it.")
        return HTMLResponse(RESULT.render(headline=f"{headline}: {status}", detail=detail),
                            200 if status == "ACCEPT" else 400)


def script_answer(checkpoint: dict[str, Any], form: Any) -> dict[str, Any]:
    """The review page's script form -> the checkpoint's answer: the texts changed, as a JSON object (browsers
    send CRLF line ends: whitespace alone is no change)."""
    changes = {}
    for section in checkpoint["script"]:
        for field in section["fields"]:
            sent = form.get("text_" + field["label"])
            if sent is not None and " ".join(str(sent).split()) != " ".join(field["text"].split()):
                changes[field["label"]] = str(sent)
    answer: dict[str, Any] = {"changes": json.dumps(changes, ensure_ascii=False) if changes else ""}
    if checkpoint.get("more_follow"):
        answer["accept_rest"] = form.get("accept_rest") == "1"
    return answer


@contextlib.contextmanager
def running(storage: StorageConfig, api_url: str | None, port: int, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve in a background thread while the block runs; yields the server's base URL."""
    server = uvicorn.Server(uvicorn.Config(FilmServer(storage, api_url).app, host=host, port=port,
                                           log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, name="film-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the film server could not start on {host}:{port} (is the port in use?)")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
