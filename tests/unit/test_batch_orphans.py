"""The batch's test for an orphaned film run (`crash_if_orphaned`): a Running film whose process sent no heartbeat
for three heartbeat periods is marked Crashed, so the batch makes it again; every other run is left alone.

No Prefect server: a fake client answers the three calls the check makes (events, set state, read run) as the
server would, and records them; the runs, states and events are Prefect's own objects, built here."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID, uuid4

import pytest
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.events import EventPage
from prefect.client.schemas.objects import FlowRun
from prefect.events.filters import EventFilter, EventOrder
from prefect.events.schemas.events import ReceivedEvent
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.states import (
    Cancelled,
    Cancelling,
    Completed,
    Crashed,
    Failed,
    Paused,
    Pending,
    Retrying,
    Running,
    Scheduled,
    State,
)

from filmstitch.flows import film_batch
from filmstitch.flows.film_batch import crash_if_orphaned

HEARTBEAT = "prefect.flow-run.heartbeat"
#: Prefect's least heartbeat period: three of them (90 s) is the window the tests mostly use.
FREQUENCY_S = 30


def ago(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


def film_run(state: State | None) -> FlowRun:
    return FlowRun(id=uuid4(), name="batch-7-a-castle-at-dawn", flow_id=uuid4(), state=state)


def heartbeat(run: FlowRun, seconds_ago: float, event: str = HEARTBEAT) -> ReceivedEvent:
    """An event of `run`'s process, as the server gives it back (received a moment after it occurred)."""
    occurred = ago(seconds_ago)
    return ReceivedEvent(occurred=occurred, received=occurred + timedelta(seconds=1), event=event,
                         resource={"prefect.resource.id": f"prefect.flow-run.{run.id}"})


class FakeClient:
    """The calls `crash_if_orphaned` makes, answered like the Prefect server and recorded.

    `read_events` applies the filter it is given (Prefect's own `EventFilter.includes`), its order and limit to
    the events it holds, so a wrong query gives a wrong answer. `set_flow_run_state` follows the server's rule
    for a run already in a final state or Cancelling: an unforced Crashed is refused, a forced one is written.
    """

    def __init__(self, server_run: FlowRun, events: list[ReceivedEvent]) -> None:
        self.server_run = server_run
        self.events = events
        self.queries: list[tuple[EventFilter | None, int]] = []
        self.states_set: list[tuple[UUID, State, bool]] = []

    def read_events(self, filter: EventFilter | None = None, limit: int = 100) -> EventPage:
        self.queries.append((filter, limit))
        found = [event for event in self.events if filter is None or filter.includes(event)]
        newest_first = filter is None or filter.order == EventOrder.DESC
        found.sort(key=lambda event: event.occurred, reverse=newest_first)
        return EventPage(events=found[:limit], total=len(found), next_page=None)

    def set_flow_run_state(self, flow_run_id: UUID, state: State, force: bool = False) -> Any:
        assert flow_run_id == self.server_run.id
        self.states_set.append((flow_run_id, state, force))
        current = self.server_run.state
        if force or current is None or not (current.is_final() or current.is_cancelling()):
            self.server_run = self.server_run.model_copy(update={"state": state})

    def read_flow_run(self, flow_run_id: UUID) -> FlowRun:
        assert flow_run_id == self.server_run.id
        return self.server_run.model_copy()


def check(run: FlowRun, events: list[ReceivedEvent] | None = None, frequency: int | None = FREQUENCY_S,
          server_run: FlowRun | None = None) -> tuple[FlowRun, FakeClient]:
    """Run the check on `run` as the batch read it; the server holds `server_run` (the same run by default)."""
    client = FakeClient(server_run or run, events or [])
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: frequency}):
        checked = crash_if_orphaned(cast(SyncPrefectClient, client), run)
    return checked, client


def silence_of(state: State) -> float:
    """The seconds of silence a Crashed state's message reports."""
    match = re.fullmatch(r"No heartbeat from its process for (\d+) s: its worker or machine died, nobody is "
                         r"running this film any more", state.message or "")
    assert match, state.message
    return float(match.group(1))


@pytest.fixture(autouse=True)
def batch_logger(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check logs through the batch's run logger, which needs a flow run: a plain logger stands in."""
    monkeypatch.setattr(film_batch, "get_run_logger", lambda: logging.getLogger("film-batch-test"))


def assert_left_alone(run: FlowRun, checked: FlowRun, client: FakeClient) -> None:
    assert checked is run
    assert client.states_set == []


def assert_crashed(run: FlowRun, checked: FlowRun, client: FakeClient, silent_s: tuple[float, float]) -> None:
    """One unforced Crashed set on the run, whose message reports a silence in `silent_s`; the run returned is
    the server's copy read after it."""
    [(run_id, state, force)] = client.states_set
    assert run_id == run.id
    assert state.is_crashed()
    assert silent_s[0] <= silence_of(state) <= silent_s[1]
    assert force is False
    assert checked is not run and checked.id == run.id
    assert checked.state is not None and checked.state.is_crashed()
    assert checked.state.message == state.message


def test_a_running_film_with_a_recent_heartbeat_is_left_alone() -> None:
    """Running for an hour, a heartbeat 20 s ago: its process is alive."""
    run = film_run(Running(timestamp=ago(3600)))
    checked, client = check(run, [heartbeat(run, 20)])
    assert_left_alone(run, checked, client)
    assert len(client.queries) == 1


def test_a_running_film_silent_for_three_periods_is_crashed(caplog: pytest.LogCaptureFixture) -> None:
    """Running for an hour, its last heartbeat 120 s ago (over 3 x 30 s): nobody runs it, so it is marked Crashed
    with a message saying for how long it was silent, and the batch is told (the warning names the run)."""
    run = film_run(Running(timestamp=ago(3600)))
    with caplog.at_level(logging.WARNING):
        checked, client = check(run, [heartbeat(run, 120)])
    assert_crashed(run, checked, client, (120, 125))
    assert run.name in caplog.text and "No heartbeat from its process" in caplog.text


def test_the_newest_heartbeat_counts() -> None:
    """Of many heartbeats, the newest decides: old ones (whatever order the server keeps) must not make a live
    film look dead."""
    run = film_run(Running(timestamp=ago(3600)))
    checked, client = check(run, [heartbeat(run, 2000), heartbeat(run, 15), heartbeat(run, 900)])
    assert_left_alone(run, checked, client)


def test_only_this_runs_heartbeats_count() -> None:
    """A fresh heartbeat of another film, and a fresh event of this film that is no heartbeat, are no sign of
    life of this film's process: silent for 120 s, it is crashed."""
    run = film_run(Running(timestamp=ago(3600)))
    other = film_run(Running(timestamp=ago(3600)))
    events = [heartbeat(run, 120), heartbeat(other, 5), heartbeat(run, 5, event="prefect.flow-run.Running")]
    checked, client = check(run, events)
    assert_crashed(run, checked, client, (120, 125))


@pytest.mark.parametrize(("running_s", "crashed"), [(60, False), (120, True)])
def test_a_film_that_never_sent_a_heartbeat_is_timed_from_its_running_state(running_s: float, crashed: bool) -> None:
    """No heartbeat at all (its process died before its first): the silence is counted from the Running state, so
    a film Running for 60 s is given its window and one Running for 120 s is crashed."""
    run = film_run(Running(timestamp=ago(running_s)))
    checked, client = check(run, [])
    if crashed:
        assert_crashed(run, checked, client, (running_s, running_s + 5))
    else:
        assert_left_alone(run, checked, client)


def test_a_film_running_again_after_its_last_heartbeat_is_timed_from_its_running_state() -> None:
    """A run that went Running again 10 s ago (a retry) after a heartbeat 500 s ago is given a new window."""
    run = film_run(Running(timestamp=ago(10)))
    checked, client = check(run, [heartbeat(run, 500)])
    assert_left_alone(run, checked, client)


@pytest.mark.parametrize(("frequency", "silent_s", "crashed"),
                         [(30, 75, False), (30, 105, True), (180, 500, False), (180, 560, True)])
def test_the_window_is_three_heartbeat_periods(frequency: int, silent_s: float, crashed: bool) -> None:
    """The window follows PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 90 s at 30 s, 540 s at Prefect's default 180 s."""
    run = film_run(Running(timestamp=ago(3600)))
    checked, client = check(run, [heartbeat(run, silent_s)], frequency=frequency)
    if crashed:
        assert_crashed(run, checked, client, (silent_s, silent_s + 5))
    else:
        assert_left_alone(run, checked, client)


def test_a_retrying_film_is_checked_like_a_running_one() -> None:
    """Retrying is a Running state (the flow's own retry in the same process): silent for 120 s, it is crashed."""
    run = film_run(Retrying(timestamp=ago(3600)))
    checked, client = check(run, [heartbeat(run, 120)])
    assert_crashed(run, checked, client, (120, 125))


@pytest.mark.parametrize("make_state", [
    Scheduled, Pending, Paused, Cancelling, Completed, Failed, Crashed, Cancelled,
], ids=lambda make_state: make_state.__name__)
def test_a_film_that_is_not_running_is_left_alone(make_state: Callable[..., State]) -> None:
    """Only Running films are checked: a Pending one's process is still starting and sends no heartbeat yet, a
    final one is over, a paused or cancelling one is not expected to run. Not even the events are read."""
    run = film_run(make_state(timestamp=ago(3600)))
    checked, client = check(run, [])
    assert_left_alone(run, checked, client)
    assert client.queries == []


def test_a_film_with_no_state_is_left_alone() -> None:
    run = film_run(None)
    checked, client = check(run, [])
    assert_left_alone(run, checked, client)
    assert client.queries == []


def test_no_film_is_crashed_when_heartbeats_are_off() -> None:
    """PREFECT_FLOWS_HEARTBEAT_FREQUENCY unset (None): processes send no heartbeats, so silence means nothing."""
    run = film_run(Running(timestamp=ago(3600)))
    checked, client = check(run, [], frequency=None)
    assert_left_alone(run, checked, client)
    assert client.queries == []


@pytest.mark.parametrize("make_state", [Completed, Cancelling], ids=lambda make_state: make_state.__name__)
def test_a_film_that_ended_since_it_was_read_is_not_overwritten(make_state: Callable[..., State]) -> None:
    """The batch read the film Running and silent, but on the server it has since completed (or a user cancelled
    it): the Crashed is not forced, the server keeps the run's state, and the batch gets that state back (a
    forced Crashed would have the batch make a finished film again)."""
    run = film_run(Running(timestamp=ago(3600)))
    on_server = run.model_copy(update={"state": make_state()})
    checked, client = check(run, [heartbeat(run, 120)], server_run=on_server)
    [(_, state, force)] = client.states_set
    assert state.is_crashed() and force is False
    assert checked.state is not None and checked.state.type == make_state().type
