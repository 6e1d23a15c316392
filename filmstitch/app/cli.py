"""The `filmstitch` command line.

    filmstitch make "an idea" --auto --out films/   # idea in, film out, no questions asked
    filmstitch make "an idea"                       # pauses at the script (Enter, or edit it in $EDITOR) and
                                                    # at both picture checkpoints: answer in the Prefect UI,
                                                    # over REST, on the review page, or right here
    filmstitch server                               # Prefect server + deployments + film server (UI, REST)
    filmstitch retake FILM_ID --keyframe 4 --seed 7 # one part made again (or --clip 6, --use-take 1, ...)
    filmstitch takes FILM_ID                        # every take of every part, and which the film uses
    filmstitch verify FILM_ID [--repair]            # check a film's files against its manifest

`make`'s film options are made from the fields of `FilmRequest` (filmstitch.models), the one definition of
a film's parameters: a new field is a new option, with its description as the help; `retake`'s likewise from
`RetakeRequest`.

Messages are data: user and model text is printed with Rich markup off, so `[/x]` in a title is shown as is.
The last line `make` and `retake` print (stdout) is the film's path, in every mode.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import inspect
import json
import os
import select
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, get_origin

import typer
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from rich.console import Console

from filmstitch.models import FilmRequest, RetakeRequest
from filmstitch.preflight import PreflightError, prepare
from filmstitch.settings import Settings, check_pause_timeout

# The server's telemetry write races the flow's writes on SQLite ("database is locked"); it sends nothing here anyway.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="FilmStitch: a one-sentence idea in, a short film out.")
console = Console(stderr=True, soft_wrap=True)

#: Short option names for the request fields that have a shorter traditional spelling.
SHORT_NAMES = {"seconds_per_segment": "--seconds", "max_cost_usd": "--max-cost"}


def say(text: str, style: str | None = None) -> None:
    """One line to the terminal (stderr); text is never read as markup."""
    console.print(text, style=style, markup=False, highlight=False)


def fail(message: str, code: int = 2) -> None:
    console.print("error:", style="bold red", end=" ")
    say(message)
    raise typer.Exit(code)


def validation_message(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in exc.errors())


# --------------------------------------------------------------------------- options from the request model


def request_options(model: type[BaseModel] = FilmRequest, skip: tuple[str, ...] = ("idea",)) -> list[inspect.Parameter]:
    """One CLI option per field of a request model (FilmRequest: the idea is the argument)."""
    return [_option(name, field) for name, field in model.model_fields.items() if name not in skip]


def _option(name: str, field: FieldInfo) -> inspect.Parameter:
    annotation: Any = field.annotation
    default = None if field.default_factory is not None else field.default
    flag = SHORT_NAMES.get(name, "--" + name.replace("_", "-"))
    names = [flag] if flag == "--" + name.replace("_", "-") else [flag, "--" + name.replace("_", "-")]
    info: dict[str, Any] = {"help": field.description}
    if annotation is bool:
        names = [f"{flag}/--no-{flag[2:]}"]
    elif get_origin(annotation) is dict:
        annotation, default = list[str] | None, None
        flag = "--voice"
        names = [flag]
        info["help"] = "A character's voice, NAME=VOICE (repeat for several), e.g. --voice Lena=joe:high."
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=Annotated[annotation, typer.Option(*names, **info)])


def request_from_options(idea: str, options: dict[str, Any]) -> FilmRequest:
    """The FilmRequest the options describe (ValidationError when they do not make one)."""
    fields = {name: value for name, value in options.items() if name in FilmRequest.model_fields and value is not None}
    if "voices" in fields:
        pairs = [item.partition("=") for item in fields.pop("voices")]
        bad = [name for name, eq, _ in pairs if not eq]
        if bad:
            raise typer.BadParameter(f"--voice takes NAME=VOICE, got {bad[0]!r}")
        fields["voices"] = {name.strip(): voice.strip() for name, _, voice in pairs}
    return FilmRequest(idea=idea, **fields)


def with_request_options(command: Any, model: type[BaseModel] = FilmRequest, skip: tuple[str, ...] = ("idea",)) -> Any:
    """Give `command` (which takes **options) one option per field of the request model, for Typer to read."""
    signature = inspect.signature(command)
    fixed = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    command.__signature__ = signature.replace(parameters=[*fixed, *request_options(model, skip)])
    command.__annotations__ = {p.name: p.annotation for p in command.__signature__.parameters.values()}
    return command


# --------------------------------------------------------------------------- make


#: `--out DIR`, the same for every command that reads or writes films.
FilmsFolder = Annotated[Path | None, typer.Option(help="Folder of the films (default: FILMSTITCH_STORAGE_DIR or "
                                                  "./films).")]


def settings_for(out: Path | None) -> Settings:
    """The settings, with `--out DIR` (when given) as the films folder."""
    return Settings(**({"storage_dir": str(out.resolve())} if out else {}))


@app.command()
@with_request_options
def make(
    idea: Annotated[str, typer.Argument(
        help="The film idea, e.g. 'a stranded astronaut on the moon discovers nature'.")],
    auto: Annotated[bool, typer.Option("--auto", help="Pick variants automatically; never pause.")] = False,
    out: FilmsFolder = None,
    pause_timeout: Annotated[int | None, typer.Option(help="Seconds a checkpoint waits for a person before "
                                                      "taking the recommended picks (10 s to 7 days).")] = None,
    film_id: Annotated[str | None, typer.Option(
        help="Name the film, or resume one (default: from the request).")] = None,
    **film_options: Any,
) -> None:
    """Make a film. The last line printed is the film's path."""
    from filmstitch.storage import validate_film_id

    try:
        request = request_from_options(idea, film_options)
        settings = settings_for(out)
    except ValidationError as exc:
        fail(validation_message(exc))
    try:
        if pause_timeout is not None:
            check_pause_timeout(pause_timeout, "--pause-timeout")
        if film_id is not None:
            validate_film_id(film_id)
        resolved = prepare(request, settings)
    except (ValueError, PreflightError) as exc:
        fail(str(exc))
    show_estimate(resolved, settings, film_id)
    # The flow runs in this process and reads its settings from the environment, like a deployment's run.
    os.environ["FILMSTITCH_STORAGE_DIR"] = str(Path(settings.storage_dir).resolve())
    result = run_film(request, auto=auto, pause_timeout=pause_timeout, film_id=film_id)
    say(f"{result.title} ({result.duration_s:.1f} s), written by {result.writer}", style="bold green")
    console.file.flush()
    print(result.location, flush=True)


def show_estimate(request: FilmRequest, settings: Settings, film_id: str | None) -> None:
    """Print what the film will cost before anything starts; refuse it (one line) when over --max-cost."""
    from filmstitch.storage import StorageError
    from filmstitch.tasks.estimate import film_estimate

    try:
        estimate = film_estimate(request, settings.storage_config(), film_id or request.film_id(), read_blocks=False)
    except StorageError:
        return  # the store cannot be read: the film's own storage check refuses it next, naming the setting
    say(estimate.summary())
    refusal = estimate.over_budget(request.max_cost_usd)
    if refusal is not None:
        fail(refusal)


def run_film(request: FilmRequest, *, auto: bool, pause_timeout: int | None, film_id: str | None) -> Any:
    """Run make-film (see `run_in_prefect`)."""
    from filmstitch.flows.make_film import make_film

    return run_in_prefect(lambda name: make_film.with_options(flow_run_name=name)(
        request=request, auto_pick=auto, pause_timeout_s=pause_timeout, film_id=film_id), auto=auto, what="film")


def run_in_prefect(call: Callable[[str], Any], *, auto: bool, what: str) -> Any:
    """Run a flow (`call(run_name)`) against a Prefect server (a temporary one unless PREFECT_API_URL is set),
    with the film server beside it, and answer its pauses at this terminal. Everything is stopped before this
    returns, so nothing prints after the film's path."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    run_name = f"{what}-{uuid.uuid4().hex[:8]}"
    outcome: dict[str, Any] = {}

    def run_flow() -> None:
        try:
            outcome["result"] = call(run_name)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            outcome["error"] = exc

    with prefect_api() as api_url, temporary_settings(updates={PREFECT_API_URL: api_url}), film_server(api_url):
        thread = threading.Thread(target=contextvars.copy_context().run, args=(run_flow,), daemon=True)
        thread.start()
        if not auto:
            answer_checkpoints(api_url, run_name, thread)
        thread.join()
        drain_prefect_workers()
    if "error" in outcome:
        fail(f"the {what} failed: {outcome['error']}", code=1)
    return outcome["result"]


@contextlib.contextmanager
def prefect_api() -> Iterator[str]:
    """PREFECT_API_URL if it is set; else a Prefect server of our own for as long as the film runs."""
    from filmstitch.app.prefect_server import start_server, stop_process_group

    api_url = os.environ.get("PREFECT_API_URL")
    if api_url:
        yield api_url
        return
    say("Starting a local Prefect server (SQLite)...")
    # Several films started at once on a busy machine each start a server: give them time.
    process, api_url = start_server(timeout_s=180)
    try:
        yield api_url
    finally:
        stop_process_group(process)


@contextlib.contextmanager
def film_server(api_url: str) -> Iterator[None]:
    """The film server (local films over http, the review page) while the film runs, on a free port."""
    from filmstitch.app import film_server as films
    from filmstitch.app.prefect_server import free_port

    settings = Settings()
    with films.running(settings.storage_config(), api_url, free_port()) as url:
        os.environ["FILMSTITCH_FILMS_URL"] = url
        try:
            yield
        finally:
            os.environ.pop("FILMSTITCH_FILMS_URL", None)


def drain_prefect_workers(timeout_s: float = 30) -> None:
    """Send the logs and events Prefect still queues while the server is up (else the exit waits on them)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for service in (APILogWorker, EventsWorker):
        with contextlib.suppress(Exception):
            service.drain_all(timeout=timeout_s)


# --------------------------------------------------------------------------- answering at the terminal


def answer_checkpoints(api_url: str, run_name: str, thread: threading.Thread) -> None:
    """Watch the run; at each pause say where to answer, and ask here when this is a terminal."""
    from filmstitch.app.client import FilmStitchClient

    ui_url = api_url.removesuffix("/api")
    seen: set[str] = set()
    with FilmStitchClient(api_url) as films:
        run_id = None
        while thread.is_alive():
            run_id = run_id or films.find_run_id(run_name)
            checkpoint = films.checkpoint(run_id) if run_id else None
            if checkpoint and checkpoint.key not in seen:
                seen.add(checkpoint.key)
                announce(checkpoint, ui_url, api_url, run_id)
                if sys.stdin.isatty():
                    (prompt_script if checkpoint.script is not None else prompt)(films, checkpoint)
            time.sleep(1)


def contact_sheet_location(checkpoint: Any) -> str | None:
    """Where to open the checkpoint's contact sheet: a path for local films, a presigned link on S3."""
    from filmstitch.storage import FilmStore, LocalStore

    if not checkpoint.contact_sheet or not checkpoint.film_id:
        return None
    store = FilmStore.open(Settings().storage_config(), checkpoint.film_id)
    if isinstance(store.store, LocalStore):
        return str(store.store.root / store.full_key(checkpoint.contact_sheet))
    return store.url(checkpoint.contact_sheet, expires_s=24 * 3600)


def announce(checkpoint: Any, ui_url: str, api_url: str, run_id: str) -> None:
    if checkpoint.refused:
        say(f"  Your last answer was refused: {checkpoint.refused}", style="yellow")
    if checkpoint.script is not None:
        announce_script(checkpoint, ui_url, api_url, run_id)
        return
    sheet = contact_sheet_location(checkpoint)
    say("")
    say(f"{checkpoint.title}: the film is waiting for your picks.", style="bold")
    if sheet:
        say(f"  All variants, labelled: {sheet}")
    films_url = os.environ.get("FILMSTITCH_FILMS_URL")
    if films_url:
        say(f"  Large review page: {films_url}/review/{run_id}")
    say(f"  Prefect UI: {ui_url}/runs/flow-run/{run_id}")
    say(f"  REST: POST {api_url}/flow_runs/{run_id}/resume {{\"run_input\": {{\"changes\": \"3:1\"}}}}")


def announce_script(checkpoint: Any, ui_url: str, api_url: str, run_id: str) -> None:
    say("")
    say(f"{checkpoint.title}: nothing is drawn yet; the film is waiting for you to read the script.", style="bold")
    for line in checkpoint.cost.splitlines():  # the estimate now that the plan is written
        say(f"  {line}")
    films_url = os.environ.get("FILMSTITCH_FILMS_URL")
    if films_url:
        say(f"  Large review page (edit in place): {films_url}/review/{run_id}")
    say(f"  Prefect UI: {ui_url}/runs/flow-run/{run_id}")
    say(f"  REST: POST {api_url}/flow_runs/{run_id}/resume "
        '{"run_input": {"changes": "{\\"s0.narration\\": \\"...\\"}"}}')


def prompt_script(films: Any, checkpoint: Any) -> None:
    """The script checkpoint: Enter keeps the script as written; `e` opens the page in $EDITOR as YAML and sends
    what was changed. A file that does not read is opened again; the film itself refuses a change that does not
    make a valid film, and asks again (a new question, with the reason)."""
    from filmstitch.script_checkpoint import changes_from_yaml, script_yaml

    texts = checkpoint.script_texts
    segments = sum(1 for label in texts if label.endswith(".narration"))
    say(f"  {len(texts)} texts: the film, {segments} segment{'s' if segments != 1 else ''}, the characters, the "
        "places and the keyframe prompts.")
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    rest = " Add 'rest' to keep the later pages as written." if checkpoint.more_follow else ""
    how = "'e' opens it in your editor (EDITOR)" if editor else "set EDITOR to change it here"
    while True:
        say(f"Enter keeps the script as written; {how}.{rest} > ")
        line = read_line_unless_answered(films, checkpoint)
        if line is None:
            say("(answered elsewhere)")
            return
        words = line.split()
        changes: dict[str, str] = {}
        if editor and "e" in words:
            try:
                changes = changes_from_yaml(texts, edit_text(editor, script_yaml(checkpoint.script)))
            except (ValueError, OSError) as exc:
                say(f"  {exc}")
                continue
            say(f"  Changed: {', '.join(changes) or 'nothing'}")
        elif [word for word in words if word != "rest"]:
            say("  Answer with Enter, 'e'" + (" or 'rest'" if checkpoint.more_follow else ""))
            continue
        result = films.change_script(checkpoint.run_id, changes,
                                     accept_rest=("rest" in words) if checkpoint.more_follow else None)
        say(f"Script sent: {result.status}" + (f" ({result.reason})" if result.reason else ""))
        if result.accepted:
            return


def edit_text(editor: str, text: str) -> str:
    """Open `text` in the person's editor (a temporary .yaml file) and return what they saved."""
    import shlex
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="filmstitch-script-") as folder:
        path = Path(folder) / "script.yaml"
        path.write_text(text, encoding="utf-8")
        subprocess.run([*shlex.split(editor), str(path)], check=True)
        return path.read_text(encoding="utf-8")


def prompt(films: Any, checkpoint: Any) -> None:
    """One question: Enter accepts the recommended picks; `3:1 7:2` changes rows; bad answers are asked again."""
    from filmstitch.checkpoints import parse_answer

    for row in checkpoint.rows:
        say(f"  {row['tag']:>4} {row['title']}: recommended {row['tag']}:{row['recommended']}")
    rest = " Add 'rest' to also accept the recommendations of the later scenes." if checkpoint.more_follow else ""
    if checkpoint.edits:
        rest += f' To edit a pick: {checkpoint.rows[0]["tag"]}:1 edit "make her coat red".'
    question = f"Enter accepts the recommended picks; or type changes (e.g. {checkpoint.example()}).{rest} > "
    while True:
        say(question)
        line = read_line_unless_answered(films, checkpoint)
        if line is None:
            say("(answered elsewhere)")
            return
        words = line.split()
        accept_rest = "rest" in words
        text = " ".join(word for word in words if word != "rest")
        try:  # the film checks edits against its renderer too, and asks again if it cannot make one
            parse_answer(text, checkpoint.rows, edits=checkpoint.edits,
                         frame=tuple(checkpoint.frame) if checkpoint.frame else None)
        except ValueError as exc:
            say(f"  {exc}")
            continue
        answer: dict[str, Any] = {"changes": text}
        if checkpoint.more_follow:
            answer["accept_rest"] = accept_rest
        result = films.resume(checkpoint.run_id, answer)
        say(f"Picks sent: {result.status}" + (f" ({result.reason})" if result.reason else ""))
        if result.accepted:
            return


def read_line_unless_answered(films: Any, checkpoint: Any) -> str | None:
    while True:
        ready, _, _ = select.select([sys.stdin], [], [], 1.0)
        if ready:
            line = sys.stdin.readline()
            return line if line else ""  # end of input: accept the recommendations
        current = films.checkpoint(checkpoint.run_id)
        if current is None or current.key != checkpoint.key:
            return None


# --------------------------------------------------------------------------- retakes


def retake_options(command: Any) -> Any:
    """The retake command's options: one per RetakeRequest field (the film is the argument; the mask a file)."""
    return with_request_options(command, RetakeRequest, skip=("film_id", "mask"))


@app.command()
@retake_options
def retake(
    film_id: Annotated[str, typer.Argument(help="The film's id (its folder name).")],
    mask: Annotated[Path | None, typer.Option(help="Keyframes: a mask image (PNG at the film's size; white = "
                                              "paint again).")] = None,
    auto: Annotated[bool, typer.Option("--auto", help="Take the recommended variant; never pause.")] = False,
    out: FilmsFolder = None,
    pause_timeout: Annotated[int | None, typer.Option(help="Seconds the keyframe checkpoint waits for a person "
                                                      "(10 s to 7 days).")] = None,
    **retake_fields: Any,
) -> None:
    """Retake one keyframe or one clip of a finished film, or switch a part back to an earlier take.

    filmstitch retake FILM --keyframe 4 --seed 7 / --prompt "..." / --instruction "make her coat red";
    filmstitch retake FILM --clip 6; filmstitch retake FILM --clip 6 --use-take 1. The cost is shown before
    anything runs; every take is kept (`filmstitch takes FILM`). The last line printed is the film's path."""
    from filmstitch.tasks.retake import prepare_retake

    fields = {name: value for name, value in retake_fields.items() if value is not None}
    try:
        if mask is not None:
            fields["mask"] = base64.b64encode(mask.read_bytes()).decode()
        request = RetakeRequest(film_id=film_id, **fields)
        settings = settings_for(out)
    except ValidationError as exc:
        fail(validation_message(exc))
    except OSError as exc:
        fail(f"cannot read the mask {mask}: {exc.strerror or exc}")
    try:
        if pause_timeout is not None:
            check_pause_timeout(pause_timeout, "--pause-timeout")
        prepared = prepare_retake(request, settings)  # everything checked before anything starts
    except ValueError as exc:
        fail(str(exc))
    say(prepared.estimate.summary(), style="bold")
    say(f"  ({prepared.estimate.basis})")
    os.environ["FILMSTITCH_STORAGE_DIR"] = str(Path(settings.storage_dir).resolve())
    from filmstitch.flows.retake_film import retake_film

    result = run_in_prefect(lambda name: retake_film.with_options(flow_run_name=name)(
        retake=request, auto_pick=auto, pause_timeout_s=pause_timeout), auto=auto, what="retake")
    variant = f", variant {result.variant}" if result.variant is not None else ""
    say(f"{request.label.capitalize()} now uses take {result.take}{variant}", style="bold green")
    console.file.flush()
    print(result.location, flush=True)


@app.command()
def takes(
    film_id: Annotated[str, typer.Argument(help="The film's id (its folder name).")],
    out: FilmsFolder = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print every take as JSON (with full checksums).")] = False,
) -> None:
    """List every take of every part of a film: which the film uses (*), how each was made, its checksums."""
    from rich.table import Table
    from rich.text import Text

    from filmstitch.tasks.retake import film_takes

    settings = settings_for(out)
    try:
        listed = film_takes(film_id, settings.storage_config())
    except ValueError as exc:
        fail(str(exc))
    if as_json:
        print(json.dumps([t.model_dump(mode="json") for t in listed], indent=2, ensure_ascii=False))
        return
    table = Table(title=Text(f"Takes of {film_id}"), show_lines=False)
    for column in ("part", "take", "in film", "made", "how", "files (sha256)"):
        table.add_column(column)
    for t in listed:  # every cell is Text: a prompt or an instruction is shown as written, never as markup
        used = ("*" + (f" v{t.variant}" if t.variant is not None else "")) if t.in_film else ""
        files = " ".join(f"{Path(name).stem.removeprefix(f'take-{t.take}')or 'mp4'}:{sha[:8]}"
                         for name, sha in t.files.items())
        table.add_row(Text(t.part), Text(str(t.take)), Text(used), Text(t.made_at[:16].replace("T", " ")),
                      Text(t.how), Text(files))
    # Wide enough for the checksums when printed to a file or a pipe (a terminal gives its own width).
    Console(width=None if sys.stdout.isatty() else 160).print(table)


# --------------------------------------------------------------------------- server, verify


@app.command()
def server(
    port: Annotated[int, typer.Option(help="Port of the Prefect UI and API.")] = 4200,
    films_port: Annotated[int, typer.Option(help="Port of the film server (local films, review pages).")] = 4201,
    api_url: Annotated[
        str | None, typer.Option(help="Use this running Prefect server (its /api URL) instead of starting one.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Flow runs executed at the same time (default: no limit).")] = None,
    database_url: Annotated[str | None, typer.Option(
        envvar="FILMSTITCH_DATABASE_URL", show_envvar=True,
        help="Run the Prefect server on this PostgreSQL database (postgresql://USER:PASSWORD@HOST:PORT/DB) instead "
             "of SQLite: for a server that many workers and runs share. Never printed.")] = None,
    pool: Annotated[bool, typer.Option(
        "--pool", help="Register the deployments on prefect.yaml's work pool and leave their runs to "
                       "`prefect worker start --pool filmstitch` processes (here or on other machines), instead of "
                       "running them in this process.")] = False,
) -> None:
    """Everything a local user needs, in one command: a Prefect server (SQLite, or PostgreSQL with
    --database-url) with its UI at http://127.0.0.1:PORT, the deployments of prefect.yaml registered with their
    automations (notices: FILMSTITCH_NOTIFY_WEBHOOK_URL), a runner that executes their runs (or workers, with
    --pool), and the film server (local films and review pages). Ctrl-C stops it all."""
    from prefect.settings import PREFECT_API_URL, PREFECT_RUNNER_POLL_FREQUENCY, temporary_settings

    from filmstitch.app import film_server as films
    from filmstitch.app.prefect_server import database_url as check_database_url
    from filmstitch.app.prefect_server import describe_database, start_server, stop_process_group
    from filmstitch.deployments.serve import PrefectYamlError, crash_orphaned_runs, register, runner_deployments, serve

    # The database password is for the Prefect server process alone: not for the flow runs started from here.
    os.environ.pop("FILMSTITCH_DATABASE_URL", None)
    # Bad input gets one line before anything starts: the database URL, and what prefect.yaml asks for.
    try:
        if database_url:
            if api_url:
                fail("--database-url is for the Prefect server this command starts; --api-url uses a running one")
            database_url = check_database_url(database_url)
        runner_deployments(work_pool=pool, read_switches=False)
    except (ValueError, PrefectYamlError) as exc:
        fail(str(exc))
    # Until Prefect's runner installs its own handler, SIGTERM would kill this process on the spot and
    # leave the Prefect server running; as SystemExit it runs the `finally` below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    process = None
    if api_url is None:
        say(f"Starting a local Prefect server ({describe_database(database_url)})...")
        try:
            process, api_url = start_server(port=port, watch_parent=True, database=database_url)
        except RuntimeError as exc:
            fail(str(exc))
    settings = Settings()
    # Runs execute in subprocesses of the runner: they find the server, the films and the film server through
    # the environment, with the films folder made absolute (a run's working directory is not this one).
    os.environ["PREFECT_API_URL"] = api_url
    os.environ["FILMSTITCH_STORAGE_DIR"] = str(Path(settings.storage_dir).resolve())
    try:
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            if process is not None and not pool:  # our own server and runner: nothing else runs its runs now
                crashed = crash_orphaned_runs()
                if crashed:
                    say(f"Marked {crashed} run(s) left behind by a stopped filmstitch server as Crashed.")
            notices(settings)
        with films.running(Settings().storage_config(), api_url, films_port) as films_url:
            os.environ["FILMSTITCH_FILMS_URL"] = films_url
            say(f"Prefect UI: {api_url.removesuffix('/api')}/deployments  (REST API: {api_url}; films and "
                f"review pages: {films_url}; Ctrl-C to stop)", style="bold green")
            with temporary_settings(updates={PREFECT_API_URL: api_url, PREFECT_RUNNER_POLL_FREQUENCY: 2}):
                if pool:
                    register()
                    say("Registered on the work pool: start workers with `prefect worker start --pool filmstitch`")
                    with contextlib.suppress(KeyboardInterrupt):
                        while True:  # the Prefect server and the film server run until Ctrl-C or SIGTERM
                            time.sleep(3600)
                    return
                # Poll for new runs every 2 s instead of 10 s: a run launched in the UI starts at once.
                serve(limit=limit)
    finally:
        if process is not None:
            stop_process_group(process)


def notices(settings: Settings) -> None:
    """Save the webhook notification block the film-notice automations send through, when one is configured."""
    if settings.notify_webhook_url is None:
        say("Notices (a film waits, a film failed): set FILMSTITCH_NOTIFY_WEBHOOK_URL to receive them.")
        return
    from filmstitch.flows.notices import save_webhook_block

    block = save_webhook_block(settings.notify_webhook_url.get_secret_value())
    say(f"Notices go through the notification block {block}.")


@app.command()
def verify(
    film_id: Annotated[str, typer.Argument(help="The film's id (its folder name).")],
    repair: Annotated[bool, typer.Option("--repair", help="Rebuild a damaged manifest or film.json from the "
                                         "files and their checksums.")] = False,
    out: FilmsFolder = None,
) -> None:
    """Check every file of a film against its manifest's checksums; exit 1 if any is damaged or missing. The
    report is JSON on stdout; one line on stderr says what it means and what to do."""
    from filmstitch.storage import FilmStore, StorageError, validate_film_id

    config = settings_for(out).storage_config()
    try:
        store = FilmStore.open(config, validate_film_id(film_id))
        report = store.repair() if repair else store.verify()
    except (ValueError, StorageError) as exc:
        fail(str(exc))
    if report.manifest_ok and not (report.ok or report.damaged or report.missing or report.unlisted):
        fail(f"there is no film {film_id!r} in {config.describe()}")
    print(json.dumps(report.model_dump(mode="json"), indent=2))
    say(verify_summary(report))
    if not report.healthy:
        raise typer.Exit(1)


def verify_summary(report: Any) -> str:
    """What a verify or repair report means, in one line."""
    film = f"film {report.film_id}"
    if not report.manifest_ok:
        return (f"{film}: the manifest is damaged ({len(report.ok)} files intact by their own checksums); "
                f"rebuild it with `filmstitch verify {report.film_id} --repair`")
    done = "manifest rebuilt; " if report.repaired else ""
    if report.healthy:
        return f"{film}: {done}all {len(report.ok)} files intact"
    bad = [f"damaged: {', '.join(report.damaged)}"] * bool(report.damaged)
    bad += [f"missing: {', '.join(report.missing)}"] * bool(report.missing)
    return f"{film}: {done}{'; '.join(bad)}. Make the film again (same command) to make these again"


if __name__ == "__main__":
    app()
