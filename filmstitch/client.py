"""A small typed client for other programs: launch films on a Prefect server and answer their checkpoints.

It speaks Prefect's REST API (httpx only, no Prefect import), so it works from any machine that can
reach the server:

    from filmstitch.client import FilmStitchClient

    with FilmStitchClient("http://127.0.0.1:4200/api") as films:
        run = films.create_film_run("a lighthouse keeper befriends a whale", segments=4)
        checkpoint = films.wait_for_checkpoint(run.id)           # references: one field per subject
        print(checkpoint.description)                            # markdown with the variants' thumbnails
        films.resume(run.id, {name: 0 for name in checkpoint.fields}).raise_for_reject()
        checkpoint = films.wait_for_checkpoint(run.id, after=checkpoint)   # keyframes: one per boundary
        films.resume(run.id, {name: 1 for name in checkpoint.fields}).raise_for_reject()
        films.wait(run.id)
        print(films.film(run.id).url)                            # file://... or a presigned https:// URL

The REST calls behind each method are listed in docs/deployments.md, for programs in other languages.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from collections.abc import Mapping
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ValidationError

from filmstitch.models import FilmRequest

DEFAULT_API_URL = "http://127.0.0.1:4200/api"
MAKE_FILM = "make-film/make-film"
FILM_BATCH = "film-batch/film-batch"
BATCH_REPORT_KEY = "film-batch-report"
RETRIES = 5
RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})
TERMINAL = frozenset({"COMPLETED", "FAILED", "CRASHED", "CANCELLED"})
_MARKDOWN_LINK = re.compile(r"^\[(?P<title>.*)\]\((?P<url>[^)\s]+)\)$", re.DOTALL)


class FilmStitchError(RuntimeError):
    """The server refused a call, a run failed, or waiting ran out of time."""


class RunState(BaseModel):
    """Where a flow run stands."""

    id: str
    name: str
    state_type: str  # SCHEDULED, PENDING, RUNNING, PAUSED, COMPLETED, FAILED, CRASHED, CANCELLED
    state_name: str
    message: str | None = None

    @property
    def is_final(self) -> bool:
        return self.state_type in TERMINAL


class PickField(BaseModel):
    """One question of a checkpoint: a subject (checkpoint 1) or a boundary keyframe (checkpoint 2)."""

    title: str
    description: str = ""
    minimum: int = 0
    maximum: int


class Checkpoint(BaseModel):
    """The open checkpoint of a paused run: what to pick, and the markdown with the variants' pictures."""

    run_id: str
    key: str
    fields: dict[str, PickField]
    description: str
    json_schema: dict[str, Any]
    timeout_at: str | None = None


class ResumeResult(BaseModel):
    """The server's answer to picks: ACCEPT (the run goes on), REJECT (it stays paused) or ABORT."""

    status: Literal["ACCEPT", "REJECT", "ABORT"]
    reason: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status == "ACCEPT"

    def raise_for_reject(self) -> ResumeResult:
        if not self.accepted:
            raise FilmStitchError(f"picks not accepted ({self.status}): {self.reason}")
        return self


class FilmLink(BaseModel):
    """The finished film: its title and where to get it (file:// locally, a presigned https:// URL on S3)."""

    title: str
    url: str


class FilmStitchClient:
    """Launch `make-film` runs, follow them, answer their checkpoints, find the film."""

    def __init__(self, api_url: str | None = None, *, timeout_s: float = 30, http: httpx.Client | None = None) -> None:
        self.api_url = (api_url or os.environ.get("PREFECT_API_URL") or DEFAULT_API_URL).rstrip("/")
        self.http = http or httpx.Client(timeout=timeout_s)

    def __enter__(self) -> FilmStitchClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------------ HTTP

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call. Answers the server marks as worth retrying (503 when SQLite is busy, 429, 502,
        504) and dropped connections are retried with backoff, as Prefect's own client does."""
        for attempt in range(RETRIES + 1):
            try:
                response = self.http.request(method, f"{self.api_url}{path}", **kwargs)
            except httpx.TransportError as exc:
                if attempt == RETRIES or (isinstance(exc, httpx.ConnectError) and attempt >= 1):  # nobody there
                    raise FilmStitchError(f"cannot reach the Prefect API at {self.api_url}: {exc}") from exc
            else:
                if response.status_code not in RETRY_STATUSES or attempt == RETRIES:
                    break
            time.sleep(min(8.0, 0.5 * 2**attempt) * random.uniform(0.5, 1.0))
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise FilmStitchError(f"{method} {path} answered {response.status_code}: {detail}")
        return response.json() if response.content else None

    # ------------------------------------------------------------------ runs

    def create_film_run(
        self, idea: str, *, deployment: str = MAKE_FILM, run_name: str | None = None, **parameters: Any
    ) -> RunState:
        """Start a film. `parameters` are make-film's (segments, width, seed, auto_pick, renderer, ...);
        the request is checked here first, so a bad one fails before anything is sent."""
        film_fields = {k: v for k, v in parameters.items() if k in FilmRequest.model_fields and v is not None}
        try:
            FilmRequest(idea=idea, **film_fields)
        except ValidationError as exc:
            reasons = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'request'}: {e['msg']}" for e in exc.errors())
            raise ValueError(f"invalid film request: {reasons}") from None
        return self.create_run(deployment, {"idea": idea, **parameters}, run_name)

    def create_batch_run(
        self, ideas: list[str] | None = None, *, ideas_file: str | None = None, ideas_s3_prefix: str | None = None,
        deployment: str = FILM_BATCH, run_name: str | None = None, **parameters: Any,
    ) -> RunState:
        """Start a film-batch run: one auto-picked film per idea. `parameters` are film-batch's."""
        if not (ideas or ideas_file or ideas_s3_prefix):
            raise ValueError("no ideas: give ideas, ideas_file or ideas_s3_prefix")
        sources = {"ideas": ideas, "ideas_file": ideas_file, "ideas_s3_prefix": ideas_s3_prefix}
        return self.create_run(deployment, {**sources, **parameters}, run_name)

    def create_run(self, deployment: str, parameters: dict[str, Any], run_name: str | None = None) -> RunState:
        """A run of any deployment (`flow-name/deployment-name`); parameters left None take the defaults."""
        flow_name, _, deployment_name = deployment.partition("/")
        found = self._call("GET", f"/deployments/name/{flow_name}/{deployment_name}")
        # The server checks types but lets unknown names through (the run would then fail): refuse them here.
        known = set((found.get("parameter_openapi_schema") or {}).get("properties") or {})
        unknown = sorted(set(parameters) - known) if known else []
        if unknown:
            raise ValueError(f"{deployment} has no parameter {', '.join(unknown)}; it has {', '.join(sorted(known))}")
        body: dict[str, Any] = {"parameters": {k: v for k, v in parameters.items() if v is not None}}
        if run_name:
            body["name"] = run_name
        return self._run_state(self._call("POST", f"/deployments/{found['id']}/create_flow_run", json=body))

    def run(self, run_id: str) -> RunState:
        return self._run_state(self._call("GET", f"/flow_runs/{run_id}"))

    @staticmethod
    def _run_state(run: dict[str, Any]) -> RunState:
        state = run.get("state") or {}
        return RunState(
            id=run["id"], name=run["name"], state_type=state.get("type", "SCHEDULED"),
            state_name=state.get("name", "Scheduled"), message=state.get("message"),
        )

    def wait(self, run_id: str, timeout_s: float = 1800, poll_s: float = 1.0) -> RunState:
        """Wait for the run to end; a run that did not complete raises with its state's message."""
        deadline = time.monotonic() + timeout_s
        while True:
            state = self.run(run_id)
            if state.is_final:
                if state.state_type != "COMPLETED":
                    raise FilmStitchError(f"run {state.name} ended {state.state_name}: {state.message}")
                return state
            if time.monotonic() > deadline:
                raise FilmStitchError(f"run {state.name} is still {state.state_name} after {timeout_s:.0f} s")
            time.sleep(poll_s)

    # ------------------------------------------------------------------ checkpoints

    def checkpoint(self, run_id: str) -> Checkpoint | None:
        """The checkpoint the run is paused at, or None when it is not waiting for picks."""
        run = self._call("GET", f"/flow_runs/{run_id}")
        state = run.get("state") or {}
        details = state.get("state_details") or {}
        keyset = details.get("run_input_keyset")
        if state.get("type") != "PAUSED" or not keyset:
            return None
        schema = self._call("GET", f"/flow_runs/{run_id}/input/{keyset['schema']}")
        description = self._call("GET", f"/flow_runs/{run_id}/input/{keyset['description']}") or ""
        fields = {
            name: PickField(
                title=spec.get("title", name), description=spec.get("description", ""),
                minimum=spec.get("minimum", 0), maximum=spec["maximum"],
            )
            for name, spec in schema.get("properties", {}).items()
        }
        return Checkpoint(
            run_id=run_id, key=keyset["schema"].removesuffix("-schema"), fields=fields, description=description,
            json_schema=schema, timeout_at=details.get("pause_timeout"),
        )

    def wait_for_checkpoint(
        self, run_id: str, after: Checkpoint | None = None, timeout_s: float = 600, poll_s: float = 1.0
    ) -> Checkpoint:
        """Wait until the run pauses at a checkpoint (other than `after`, the one just answered)."""
        deadline = time.monotonic() + timeout_s
        while True:
            checkpoint = self.checkpoint(run_id)
            if checkpoint and (after is None or checkpoint.key != after.key):
                return checkpoint
            if checkpoint is None:
                state = self.run(run_id)
                if state.is_final:
                    raise FilmStitchError(f"run {state.name} ended {state.state_name} without pausing: {state.message}")
            if time.monotonic() > deadline:
                raise FilmStitchError(f"run {run_id} did not pause at a checkpoint within {timeout_s:.0f} s")
            time.sleep(poll_s)

    def resume(self, run_id: str, picks: Mapping[str, int]) -> ResumeResult:
        """Send picks (field -> variant). A REJECT comes with the reason; the run then stays paused."""
        answer = self._call("POST", f"/flow_runs/{run_id}/resume", json={"run_input": dict(picks)})
        return ResumeResult(status=answer["status"], reason=(answer.get("details") or {}).get("reason"))

    # ------------------------------------------------------------------ results

    def _artifacts(self, run_id: str) -> list[dict[str, Any]]:
        return self._call("POST", "/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [run_id]}}})

    def batch_report(self, run_id: str) -> list[dict[str, Any]]:
        """A film-batch run's report: one row per idea (idea, status, film, title, duration_s, cost_usd, error)."""
        for artifact in self._artifacts(run_id):
            if artifact.get("key") == BATCH_REPORT_KEY:
                data = artifact["data"]
                return json.loads(data) if isinstance(data, str) else data
        raise FilmStitchError(f"run {run_id} has no {BATCH_REPORT_KEY} artifact (yet): is it a finished batch run?")

    def film(self, run_id: str) -> FilmLink:
        """The finished film, from the run's `film-<film_id>` link artifact."""
        by_key = {a["key"]: a for a in self._artifacts(run_id) if a.get("key")}
        scripts = [key for key in by_key if key.startswith("script-")]
        film = by_key.get("film-" + scripts[0].removeprefix("script-")) if scripts else None
        match = _MARKDOWN_LINK.match(str(film["data"]).strip()) if film else None
        if not match:
            raise FilmStitchError(f"run {run_id} has no film artifact (yet): is it a finished make-film run?")
        return FilmLink(title=match["title"], url=match["url"])
