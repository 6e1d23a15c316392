"""The `film-notice` flow: tells people, through a Prefect notification block, that a film waits for them or failed.

It is not run by hand. Its deployment's `triggers` in prefect.yaml are two Prefect automations (made by
`prefect deploy --all` and by `filmstitch server` alike, from the same lines):

    a film waits for a person   make-film / retake-film run -> Paused or Suspended  (one message per checkpoint)
    a film or a batch failed    make-film / retake-film / film-batch run -> Failed, Crashed or TimedOut

Each runs this flow with the run and the event. It reads the run, writes one message (the review page for a
waiting film: the film server's /review/<run id>, and the run in the Prefect UI) and sends it with the
notification block FILMSTITCH_NOTIFY_BLOCK (`custom-webhook/filmstitch-notify` by default: a webhook that
`filmstitch server` saves from FILMSTITCH_NOTIFY_WEBHOOK_URL; any of Prefect's notification blocks made in
the UI, Slack, e-mail, Teams, works the same). With no such block the notice is logged and nothing is sent.
A film that completes sends nothing: no automation matches it.

Why a flow and not an automation's own "send a notification" action: `triggers` in prefect.yaml, the one
place deployments are declared, can only run a deployment; this keeps `prefect deploy` and `filmstitch
server` making the same automations. Message text is data: the idea and the run's message are sent as the
values of JSON fields, never as markup.
"""

from __future__ import annotations

import os
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger

from filmstitch.settings import Settings

BLOCK_NAME = "filmstitch-notify"
WAITS = {"Paused", "Suspended"}
#: The webhook's JSON body; {{subject}} and {{body}} are filled in by the block.
WEBHOOK_JSON = {"source": "filmstitch", "subject": "{{subject}}", "text": "{{body}}"}


def notice_block() -> str:
    """Which notification block sends the notices (`<block type slug>/<name>`)."""
    return os.environ.get("FILMSTITCH_NOTIFY_BLOCK", f"custom-webhook/{BLOCK_NAME}")


def save_webhook_block(url: str) -> str:
    """Save (or update) the default notification block: a webhook POSTing {source, subject, text} as JSON to
    `url`. Returns its `<slug>/<name>`. Called by `filmstitch server` when FILMSTITCH_NOTIFY_WEBHOOK_URL is set."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    CustomWebhookNotificationBlock(name=BLOCK_NAME, url=url, method="POST", json_data=WEBHOOK_JSON).save(
        BLOCK_NAME, overwrite=True
    )
    return f"custom-webhook/{BLOCK_NAME}"


def message(run: Any, flow_name: str, state_name: str, api_url: str, films_url: str | None) -> tuple[str, str]:
    """(subject, body) of the notice for `run` (a Prefect FlowRun of flow `flow_name`) that entered `state_name`."""
    ui_run = f"{api_url.removesuffix('/api')}/runs/flow-run/{run.id}"
    request = (run.parameters or {}).get("request") or {}
    idea = request.get("idea") if isinstance(request, dict) else None
    what = f"film {run.name}" + (f" ({idea})" if idea else "")
    if state_name in WAITS:
        review = f"{films_url}/review/{run.id}" if films_url else None
        body = f"The {what} waits for your picks. Review: {review or ui_run}. In Prefect: {ui_run}"
        return f"FilmStitch: a film waits for you ({run.name})", body
    kind = "batch" if flow_name == "film-batch" else "film"
    what = what if kind == "film" else f"batch {run.name}"
    reason = (run.state.message if run.state else "") or "no message"
    body = f"The {what} {state_name.lower()}: {reason}. In Prefect: {ui_run}"
    return f"FilmStitch: a {kind} {state_name.lower()} ({run.name})", body


@flow(name="film-notice", log_prints=False, retries=2, retry_delay_seconds=10)
def film_notice(flow_run: str, event: str) -> str:
    """Send one notice about a FilmStitch run, through the notification block (run by the automations).

    Args:
        flow_run: The run the notice is about: its id, or the event's resource id (prefect.flow-run.<id>).
        event: The event that fired the automation, e.g. prefect.flow-run.Suspended.
    """
    from prefect.blocks.core import Block
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    logger = get_run_logger()
    run_id = UUID(flow_run.removeprefix("prefect.flow-run."))
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
        flow_name = client.read_flow(run.flow_id).name
    state = event.rsplit(".", 1)[-1]
    subject, body = message(run, flow_name, state, PREFECT_API_URL.value() or "", Settings().films_url)
    try:
        block = Block.load(notice_block())
    except ValueError:  # no such block: nobody asked to be told
        logger.warning("No notification block %s: not sent: %s", notice_block(), subject)
        return "not sent"
    block.notify(body=body, subject=subject)
    logger.info("Sent: %s", subject)
    return "sent"
