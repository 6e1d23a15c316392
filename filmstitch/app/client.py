"""A small typed client for other programs: launch films on a Prefect server and answer their checkpoints.

It speaks Prefect's REST API (httpx), so it works from any machine that can reach the server; only reading a
finished film's result (`film`) uses Prefect's own result reader, which needs the result storage reachable too:

    from filmstitch.app.client import FilmStitchClient

    with FilmStitchClient("http://127.0.0.1:4200/api") as films:
        run = films.create_film_run("a lighthouse keeper befriends a whale", segments=4)
        checkpoint = films.wait_for_checkpoint(run.id)           # references: a row per character and location
        print(checkpoint.rows)                                   # tags, titles, variants, recommended picks
        films.resume(run.id).raise_for_reject()                  # take the recommended picks
        checkpoint = films.wait_for_checkpoint(run.id, after=checkpoint)   # keyframes: a row per boundary
        films.resume(run.id, {"changes": "0:1 3:2"}).raise_for_reject()    # change two rows
        films.wait(run.id)
        print(films.film(run.id).location)                       # where the film is; .url plays it

        run = films.create_retake_run(checkpoint.film_id, keyframe=2, seed=7)  # new variants of keyframe 2
        checkpoint = films.wait_for_checkpoint(run.id)             # one row: keyframe 2's new take
        films.resume(run.id, {"changes": '2:1 edit "make her coat red"'}).raise_for_reject()
        films.wait(run.id); print(films.retake_cost(run.id))       # what it rendered, estimated first

The REST calls behind each method are listed in docs/deployments.md, for programs in other languages.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Mapping
from typing import Any, Literal, Self

import httpx
from pydantic import BaseModel, ValidationError

from filmstitch.models import FilmRequest, RetakeRequest

DEFAULT_API_URL = "http://127.0.0.1:4200/api"
MAKE_FILM = "make-film/make-film"
RETAKE_FILM = "retake-film/retake-film"
RETAKE_COST_KEY = "retake-cost-"
FILM_BATCH = "film-batch/film-batch"
BATCH_REPORT_KEY = "film-batch-report"
RETRIES = 5
RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})
TERMINAL = frozenset({"COMPLETED", "FAILED", "CRASHED", "CANCELLED"})
#: Where a checkpoint form's JSON schema keeps its rows (filmstitch.checkpoints.SCHEMA_KEY).
CHECKPOINT_SCHEMA_KEY = "filmstitch"


class FilmStitchError(RuntimeError):
    """The server refused a call, a run failed, or waiting ran out of time. `status_code` is the HTTP answer's
    status where the server answered one."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


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


class Checkpoint(BaseModel):
    """The open checkpoint of a paused run: its rows (what to pick, what is recommended) and the markdown
    the Prefect UI shows. Answer with `resume(run_id, {"changes": "3:1 7:2"})`; `{}` takes the recommendations.
    At the script checkpoint (`script` is set: its sections, each text under its label) answer with
    `change_script(run_id, {"s3.narration": "..."})`; `{}` keeps the script as written."""

    run_id: str
    key: str
    name: str
    title: str
    film_id: str
    rows: list[dict[str, Any]]
    more_follow: bool = False
    edits: bool = False
    frame: list[int] | None = None
    contact_sheet: str | None = None
    description: str
    json_schema: dict[str, Any]
    timeout_at: str | None = None
    script: list[dict[str, Any]] | None = None
    #: The film's estimate (summary lines), shown at the script checkpoint; empty elsewhere.
    cost: str = ""

    @property
    def script_texts(self) -> dict[str, str]:
        """Label -> text of every changeable text of a script checkpoint."""
        return {f["label"]: f["text"] for section in self.script or [] for f in section["fields"]}

    @property
    def refused(self) -> str | None:
        """Why the answer before was refused (the run asked again), or None."""
        first = self.description.split("\n\n", 1)[0]
        prefix = "**Your last answer was refused:** "
        return first.removeprefix(prefix).replace("\\", "") if first.startswith(prefix) else None

    @property
    def recommended(self) -> dict[str, int]:
        return {row["tag"]: row["recommended"] for row in self.rows}

    def example(self) -> str:
        tags = [row["tag"] for row in self.rows][:2]
        return " ".join(f"{tag}:1" for tag in tags)


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
    """The finished film: its title, a link that plays it (the film server's for local films, presigned on S3;
    None when there is none) and where it is stored."""

    title: str
    url: str | None
    location: str | None


class FilmStitchClient:
    """Launch `make-film` and `retake-film` runs, follow them, answer their checkpoints, find the film."""

    def __init__(self, api_url: str | None = None, *, timeout_s: float = 30, http: httpx.Client | None = None) -> None:
        self.api_url = (api_url or os.environ.get("PREFECT_API_URL") or DEFAULT_API_URL).rstrip("/")
        self.http = http or httpx.Client(timeout=timeout_s)

    def __enter__(self) -> Self:
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
            raise FilmStitchError(f"{method} {path} answered {response.status_code}: {detail}", response.status_code)
        return response.json() if response.content else None

    # ------------------------------------------------------------------ runs

    def create_film_run(
        self, idea: str, *, auto_pick: bool = False, pause_timeout_s: int | None = None, film_id: str | None = None,
        deployment: str = MAKE_FILM, run_name: str | None = None, **film: Any,
    ) -> RunState:
        """Start a film. `film` holds FilmRequest's fields (segments, width, seed, renderer, sound, ...); the
        request is checked here first, so a bad one fails before anything is sent."""
        try:
            request = FilmRequest(idea=idea, **{k: v for k, v in film.items() if v is not None})
        except ValidationError as exc:
            reasons = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'request'}: {e['msg']}" for e in exc.errors())
            raise ValueError(f"invalid film request: {reasons}") from None
        parameters = {"request": request.model_dump(mode="json", exclude_defaults=True), "auto_pick": auto_pick,
                      "pause_timeout_s": pause_timeout_s, "film_id": film_id}
        return self.create_run(deployment, parameters, run_name)

    def create_retake_run(
        self, film_id: str, *, keyframe: int | None = None, clip: int | None = None, auto_pick: bool = False,
        pause_timeout_s: int | None = None, deployment: str = RETAKE_FILM, run_name: str | None = None,
        **retake: Any,
    ) -> RunState:
        """Retake a keyframe or a clip of a finished film (or switch it back to a take: `use_take=1`). `retake`
        holds RetakeRequest's other fields (seed, prompt, instruction, region, mask, variants, use_take,
        variant); it is checked here first, so a bad one fails before anything is sent. A keyframe retake pauses
        at a one-row checkpoint unless `auto_pick`: answer it like any other (`resume`)."""
        try:
            request = RetakeRequest(film_id=film_id, keyframe=keyframe, clip=clip,
                                    **{k: v for k, v in retake.items() if v is not None})
        except ValidationError as exc:
            reasons = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'retake'}: {e['msg']}" for e in exc.errors())
            raise ValueError(f"invalid retake: {reasons}") from None
        parameters = {"retake": request.model_dump(mode="json", exclude_none=True), "auto_pick": auto_pick,
                      "pause_timeout_s": pause_timeout_s}
        return self.create_run(deployment, parameters, run_name)

    def retake_cost(self, run_id: str) -> str:
        """What a retake run renders and what that costs (its `retake-cost-<film>` artifact, markdown)."""
        for artifact in self._artifacts(run_id):
            if str(artifact.get("key") or "").startswith(RETAKE_COST_KEY):
                return str(artifact["data"])
        raise FilmStitchError(f"run {run_id} has no retake cost artifact (yet): is it a retake-film run?")

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
        # Prefect sets the Paused state first and writes the form after it (the schema, then the description):
        # until the description is there, the question is not open yet (a busy server showed the gap).
        description = self._input(run_id, keyset["description"])
        schema = self._input(run_id, keyset["schema"])
        if description is None or schema is None:
            return None
        about = schema.get(CHECKPOINT_SCHEMA_KEY) or {}
        return Checkpoint(
            run_id=run_id, key=keyset["schema"].removesuffix("-schema"), name=about.get("checkpoint", ""),
            title=about.get("title", ""), film_id=about.get("film_id", ""), rows=about.get("rows", []),
            more_follow=about.get("more_follow", False), edits=about.get("edits", False), frame=about.get("frame"),
            contact_sheet=about.get("contact_sheet"), script=about.get("script"), cost=about.get("cost") or "",
            description=description, json_schema=schema,
            # FilmStitch's own deadline (a suspended run has no Prefect pause timeout; a paused one's is later).
            timeout_at=about.get("answer_by") or details.get("pause_timeout"),
        )

    def _input(self, run_id: str, key: str) -> Any:
        """A flow run input by key, or None while it does not exist (404)."""
        try:
            return self._call("GET", f"/flow_runs/{run_id}/input/{key}")
        except FilmStitchError as error:
            if error.status_code == 404:
                return None
            raise

    def find_run_id(self, run_name: str) -> str | None:
        """The id of the flow run with this name, if it exists (yet)."""
        runs = self._call("POST", "/flow_runs/filter",
                          json={"flow_runs": {"name": {"any_": [run_name]}}, "limit": 1, "sort": "START_TIME_DESC"})
        return runs[0]["id"] if runs else None

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

    def resume(self, run_id: str, answer: Mapping[str, Any] | None = None) -> ResumeResult:
        """Answer a checkpoint: `{}` (or None) takes the recommended picks, `{"changes": "3:1 7:2"}` changes rows,
        and where more checkpoints follow `{"accept_rest": True}` takes the recommendations for them too.
        A REJECT comes with the reason; the run then stays paused."""
        reply = self._call("POST", f"/flow_runs/{run_id}/resume", json={"run_input": dict(answer or {})})
        return ResumeResult(status=reply["status"], reason=(reply.get("details") or {}).get("reason"))

    def change_script(self, run_id: str, changes: Mapping[str, str] | None = None,
                      accept_rest: bool | None = None) -> ResumeResult:
        """Answer the script checkpoint: `{label: new text}` (`{"s3.narration": "..."}`), or nothing to keep the
        script as written. ACCEPT means the answer was taken; a change that does not make a valid film is then
        asked again (`checkpoint(run_id).refused` says why)."""
        answer: dict[str, Any] = {"changes": json.dumps(dict(changes), ensure_ascii=False) if changes else ""}
        if accept_rest is not None:
            answer["accept_rest"] = accept_rest
        return self.resume(run_id, answer)

    @staticmethod
    def changes(picks: Mapping[str, int]) -> dict[str, str]:
        """`{"3": 1, "lena": 2}` -> the answer `{"changes": "3:1 lena:2"}`."""
        return {"changes": " ".join(f"{tag}:{variant}" for tag, variant in picks.items())}

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
        """The finished film: the make-film run's persisted result (its FilmResult: title, where it is, the link
        that plays it), read with Prefect's `State.result()` from the result storage the run wrote to (beside the
        films for local storage: it must be reachable from this machine)."""
        run = self._call("GET", f"/flow_runs/{run_id}")
        if (run.get("state") or {}).get("type") != "COMPLETED":
            raise FilmStitchError(f"run {run_id} has not finished a film (yet)")
        result = self.result(run)
        if not isinstance(result, Mapping) or "location" not in result:
            raise FilmStitchError(f"run {run_id} has no film result: is it a make-film run?")
        return FilmLink(title=result.get("title", ""), url=result.get("url"), location=result.get("location"))

    def result(self, run: Mapping[str, Any]) -> Any:
        """A finished run's persisted result (as JSON-like data), read the way Prefect reads it."""
        from prefect.client.schemas.objects import State
        from prefect.settings import PREFECT_API_URL, temporary_settings

        state = State.model_validate(run["state"])
        try:
            # `_sync=True`: Prefect hands back a coroutine wherever an event loop runs in the thread (a notebook,
            # Playwright's sync API); this client is synchronous everywhere. The switch is async_dispatch's own,
            # which the overloads Prefect declares do not name.
            with temporary_settings(updates={PREFECT_API_URL: self.api_url}):  # a storage block is read from here
                value = state.result(raise_on_failure=False, _sync=True)  # type: ignore[call-overload]
        except Exception as exc:  # storage errors vary by storage: the message names them
            raise FilmStitchError(f"cannot read the result of run {run['id']}: {type(exc).__name__}: {exc}") from exc
        return value.model_dump(mode="json") if isinstance(value, BaseModel) else value
