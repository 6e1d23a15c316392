"""The `filmstitch` command line.

    filmstitch make "an idea" --auto --out films/   # idea in, film out, no questions asked
    filmstitch make "an idea"                       # pauses at both checkpoints: answer in the
                                                    # Prefect UI, over the REST API or right here
    filmstitch server                               # Prefect server + both deployments served (UI, REST)
"""

from __future__ import annotations

import contextvars
import os
import select
import signal
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote, urlparse

import typer
from pydantic import ValidationError
from rich.console import Console

from filmstitch.models import FilmRequest
from filmstitch.settings import Settings
from filmstitch.storage import FilmStore, StorageError

# The server's telemetry write races the flow's writes on SQLite ("database is locked"); it sends nothing here anyway.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

app = typer.Typer(add_completion=False, no_args_is_help=True, help="FilmStitch: a one-sentence idea in, a short film out.")
console = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    # One line, never wrapped, and the message is data: Rich must not read markup in it.
    console.print("[bold red]error:[/]", end=" ")
    console.print(message, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def validation_message(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in exc.errors())


def film_path(location: str) -> str:
    """A file:// location as a plain path; other locations (s3, https) as they are."""
    parsed = urlparse(location)
    return unquote(parsed.path) if parsed.scheme == "file" else location


@app.command()
def make(
    idea: Annotated[str, typer.Argument(help="The film idea, e.g. 'a stranded astronaut on the moon discovers nature'.")],
    auto: Annotated[bool, typer.Option("--auto", help="Pick variants automatically; never pause.")] = False,
    out: Annotated[Path | None, typer.Option(help="Local folder for films (default: FILMSTITCH_STORAGE_DIR or ./films).")] = None,
    segments: Annotated[int, typer.Option(help="Number of clips.")] = 10,
    seconds: Annotated[float, typer.Option(help="Seconds per clip.")] = 8.0,
    width: Annotated[int, typer.Option(help="Frame width, a multiple of 32.")] = 768,
    height: Annotated[int, typer.Option(help="Frame height, a multiple of 32.")] = 512,
    fps: Annotated[int, typer.Option(help="Frames per second.")] = 24,
    seed: Annotated[int, typer.Option(help="Seed; the same seed reproduces the same film.")] = 0,
    variants: Annotated[int, typer.Option(help="Variants per reference and keyframe.")] = 3,
    writer: Annotated[str | None, typer.Option(help="offline | claude | auto")] = None,
    renderer: Annotated[str | None, typer.Option(help="animatic | local-gpu | modal")] = None,
    pause_timeout: Annotated[int | None, typer.Option(help="Seconds a checkpoint waits before picking by itself.")] = None,
    film_id: Annotated[str | None, typer.Option(help="Name the film (default: derived from the request).")] = None,
) -> None:
    """Make a film. The last line printed is the film's path."""
    try:
        FilmRequest(idea=idea, segments=segments, seconds_per_segment=seconds, width=width, height=height, fps=fps,
                    seed=seed, variants=variants)
        Settings(**{k: v for k, v in {"writer": writer, "renderer": renderer}.items() if v})
    except ValidationError as exc:
        fail(validation_message(exc))
    if out is not None:
        os.environ["FILMSTITCH_STORAGE_DIR"] = str(out)
    parameters: dict[str, Any] = dict(
        idea=idea, segments=segments, seconds_per_segment=seconds, width=width, height=height, fps=fps, seed=seed,
        variants=variants, writer=writer, renderer=renderer, pause_timeout_s=pause_timeout, film_id=film_id,
    )
    from flows.make_film import make_film

    if auto:
        try:
            result = make_film(**parameters, auto_pick=True)
        except Exception as exc:
            fail(f"the film failed: {exc}", code=1)
    else:
        result = run_with_checkpoints(make_film, parameters)
    console.print(f"[bold green]{result.title}[/] ({result.duration_s:.1f} s) written by {result.writer}")
    print(film_path(result.location))


def run_with_checkpoints(make_film: Any, parameters: dict[str, Any]) -> Any:
    """Run the flow against a Prefect server and answer its pauses (UI, REST, or this terminal)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from filmstitch.prefect_server import start_server, stop_server

    api_url = os.environ.get("PREFECT_API_URL")
    server = None
    if not api_url:
        console.print("Starting a local Prefect server (SQLite)...")
        server, api_url = start_server()
    run_name = f"film-{uuid.uuid4().hex[:8]}"
    outcome: dict[str, Any] = {}

    def run_flow() -> None:
        try:
            outcome["result"] = make_film.with_options(flow_run_name=run_name)(**parameters)
        except BaseException as exc:  # reported by the main thread
            outcome["error"] = exc

    try:
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            thread = threading.Thread(target=contextvars.copy_context().run, args=(run_flow,), daemon=True)
            thread.start()
            answer_checkpoints(api_url, run_name, thread, film_store_for(parameters))
            thread.join()
    finally:
        if server is not None:
            stop_server(server)
    if "error" in outcome:
        fail(f"the film failed: {outcome['error']}", code=1)
    return outcome["result"]


def film_store_for(parameters: dict[str, Any]) -> FilmStore:
    """The store of the film these parameters make (the same id the flow derives)."""
    settings = Settings()
    request_fields = {k: v for k, v in parameters.items() if k in FilmRequest.model_fields}
    film_id = parameters.get("film_id") or FilmRequest(**request_fields).resolved(
        *settings.backends(parameters.get("writer"), parameters.get("renderer"))
    ).film_id()
    return FilmStore.open(settings.storage_config(), film_id)


def answer_checkpoints(api_url: str, run_name: str, thread: threading.Thread, store: FilmStore) -> None:
    """Watch the run; at each pause say how to answer, and ask here when this is a terminal."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    ui_url = api_url.removesuffix("/api")
    handled: set[str] = set()
    with get_client(sync_client=True) as client:
        while thread.is_alive():
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[run_name])),
                sort=FlowRunSort.START_TIME_DESC,  # this server refuses a request without sort and limit
                limit=1,
            )
            run = runs[0] if runs else None
            if run and run.state and run.state.is_paused() and run.state.state_details.run_input_keyset:
                keyset = run.state.state_details.run_input_keyset
                if keyset["schema"] not in handled:
                    handled.add(keyset["schema"])
                    console.print(
                        f"\n[bold]The film is waiting for your picks.[/] Answer in the Prefect UI: "
                        f"{ui_url}/runs/flow-run/{run.id}\n  or over REST: POST {api_url}/flow_runs/{run.id}/resume "
                        '{"run_input": {...}}'
                    )
                    if sys.stdin.isatty():
                        prompt_for_picks(client, run.id, keyset, store)
            time.sleep(1)


def variant_locations(store: FilmStore, fields: list[str]) -> dict[str, list[str]]:
    """Where to look at each field's variants (paths for local storage), from the checkpoint's record."""
    for name in ("references", "keyframes"):
        try:
            record = store.get_json(f"checkpoints/{name}.json")
        except StorageError:
            continue
        if list(record["fields"]) == fields:
            return {f: [film_path(store.url(k)) for k in info["images"]] for f, info in record["fields"].items()}
    return {}


def prompt_for_picks(client: Any, run_id: uuid.UUID, keyset: dict[str, str], store: FilmStore) -> None:
    """Ask for each field in the terminal; give up quietly if someone answers elsewhere first."""
    import json

    schema = json.loads(client.read_flow_run_input(run_id, keyset["schema"]))
    answers: dict[str, int] = {}
    locations = variant_locations(store, list(schema.get("properties", {})))
    for field, spec in schema.get("properties", {}).items():
        for variant, location in enumerate(locations.get(field, [])):
            console.print(f"  variant {variant}: {location}", soft_wrap=True, markup=False, highlight=False)
        question = f"{spec.get('description', field)} [default {spec.get('default', 0)}]: "
        console.print(question, end="", markup=False, highlight=False)
        while True:
            line = read_line_unless_resumed(client, run_id)
            if line is None:
                console.print("\n(answered elsewhere)")
                return
            text = line.strip() or str(spec.get("default", 0))
            if text.isdigit() and spec.get("minimum", 0) <= int(text) <= spec.get("maximum", 99):
                answers[field] = int(text)
                break
            console.print(f"  choose {spec.get('minimum', 0)}-{spec.get('maximum')}: ", end="", highlight=False)
    result = client.resume_flow_run(run_id, run_input=answers)
    console.print(f"Picks sent: {result.status.value}")


def read_line_unless_resumed(client: Any, run_id: uuid.UUID) -> str | None:
    while True:
        ready, _, _ = select.select([sys.stdin], [], [], 1.0)
        if ready:
            return sys.stdin.readline()
        if not client.read_flow_run(run_id).state.is_paused():
            return None


@app.command()
def server(
    port: Annotated[int, typer.Option(help="Port of the Prefect UI and API.")] = 4200,
    api_url: Annotated[
        str | None, typer.Option(help="Use this running Prefect server (its /api URL) instead of starting one.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Flow runs executed at the same time (default: no limit).")] = None,
    gpu_slots: Annotated[
        int | None, typer.Option(help="GPU renders at the same time, across all runs (the filmstitch-gpu limit).")
    ] = None,
) -> None:
    """Everything a local user needs, in one command: a Prefect server (SQLite) with its UI at
    http://127.0.0.1:PORT, the make-film and film-batch deployments of prefect.yaml registered, and a
    runner that executes their runs. Launch films from the UI, the REST API or filmstitch.client.
    Ctrl-C stops it all."""
    from prefect.settings import PREFECT_API_URL, PREFECT_RUNNER_POLL_FREQUENCY, temporary_settings

    from deployments.serve import serve
    from filmstitch.prefect_server import start_server, stop_server

    # Until Prefect's runner installs its own handler, SIGTERM would kill this process on the spot and
    # leave the Prefect server running; as SystemExit it runs the `finally` below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    process = None
    if api_url is None:
        console.print("Starting a local Prefect server (SQLite)...")
        process, api_url = start_server(port=port)
    # Runs execute in subprocesses of the runner: they find the server through the environment.
    os.environ["PREFECT_API_URL"] = api_url
    console.print(
        f"[bold green]Prefect UI:[/] {api_url.removesuffix('/api')}/deployments  "
        f"(REST API: {api_url}; Ctrl-C to stop)"
    )
    try:
        # Poll for new runs every 2 s instead of 10 s: a run launched in the UI starts at once.
        with temporary_settings(updates={PREFECT_API_URL: api_url, PREFECT_RUNNER_POLL_FREQUENCY: 2}):
            serve(limit=limit, gpu_slots=gpu_slots)
    finally:
        if process is not None:
            stop_server(process)


if __name__ == "__main__":
    app()
