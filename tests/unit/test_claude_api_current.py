"""The Claude writer kept current with the API, against the local fake of the Messages API:
model lifecycles from the Models API (the catalogue as fallback), Haiku 5.5's thinking options, a refusal
retried once on the fallback model, 1-hour prompt caching across a person's pause and its price, tokens counted
with messages.count_tokens, thinking tokens kept apart, and every request inside the caller's gate.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterator

import anthropic
import pytest

from filmstitch.models import FilmRequest
from filmstitch.preflight import PreflightError, check_backends
from filmstitch.testing.fake_anthropic import THINKING_TOKENS, FakeAnthropic, model_entry
from filmstitch.testing.film_author import FilmAuthor
from filmstitch.writers import TransientWriterError, WriterError
from filmstitch.writers.claude import ClaudeSettings, ClaudeWriter, family_for
from tests.unit.test_claude_writer import IDEA, KEY, make_writer, small_request, write_film

RETIRED = {
    # model id: (replacement named, retired on)
    "claude-sonnet-4-20250514": ("claude-sonnet-5-5", "2026-06-15"),
    "claude-opus-4-20250514": ("claude-opus-5-5", "2026-06-15"),
    "claude-opus-4-1-20250805": ("claude-opus-5-5", "2026-08-05"),
    "claude-sonnet-4-5-20250929": ("claude-sonnet-5-5", "2026-11-30"),
}


# --- Retired and unknown-lifecycle models ------------------------------------------------------------


@pytest.mark.parametrize("source", ["models api", "catalogue"])
@pytest.mark.parametrize("model", sorted(RETIRED))
def test_a_retired_model_is_refused_before_any_question_naming_a_replacement(
    fake_anthropic: FakeAnthropic, model: str, source: str
) -> None:
    if source == "catalogue":
        fake_anthropic.models_status = 403  # a key that may not read the Models API
    replacement, _ = RETIRED[model]

    with pytest.raises(WriterError) as raised:
        make_writer(fake_anthropic, model=model)

    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"{model} (") and "was retired" in message
    assert f"FILMSTITCH_CLAUDE_MODEL={replacement}" in message
    assert fake_anthropic.requests == [] and [r.path for r in fake_anthropic.lookups] == [f"/v1/models/{model}"]
    assert [r.status for r in fake_anthropic.lookups] == [200 if source == "models api" else 403]


def test_sonnet_4_5_is_served_until_the_day_it_retires(fake_anthropic: FakeAnthropic,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    family = family_for("claude-sonnet-4-5-20250929")
    assert family.status_on(datetime.date(2026, 11, 29)) == "deprecated"
    assert family.status_on(datetime.date(2026, 11, 30)) == "retired"
    settings = ClaudeSettings(api_key=KEY, base_url=fake_anthropic.base_url, models_api=False,
                              model="claude-sonnet-4-5-20250929")

    ClaudeWriter(settings, today=datetime.date(2026, 11, 29))  # the catalogue alone: still served the day before

    assert "claude-sonnet-4-5-20250929 is a deprecated model" in caplog.text
    with pytest.raises(WriterError, match="was retired on 2026-11-30"):
        ClaudeWriter(settings, today=datetime.date(2026, 11, 30))
    assert fake_anthropic.lookups == [] and fake_anthropic.requests == []


def test_the_models_api_wins_over_the_catalogue(fake_anthropic: FakeAnthropic) -> None:
    # The catalogue lists Opus 4.8 as served; this account's Models API says it has been retired.
    fake_anthropic.models["claude-opus-4-8"] = model_entry("claude-opus-4-8", "Claude Opus 4.8", "retired", line="opus")
    with pytest.raises(WriterError, match="FILMSTITCH_CLAUDE_MODEL=claude-opus-5-5"):
        make_writer(fake_anthropic, model="claude-opus-4-8")

    # A model the catalogue does not know: its capabilities come from the Models API, so it is asked properly.
    fake_anthropic.models["claude-mythos-6"] = model_entry("claude-mythos-6", "Claude Mythos 6", line="mythos",
                                                           thinking=("adaptive", "disabled"))
    fake_anthropic.author = FilmAuthor()
    writer = make_writer(fake_anthropic, model="claude-mythos-6")
    writer.write_script(small_request())
    body = fake_anthropic.bodies[0]
    assert body["thinking"] == {"type": "disabled"} and body["output_config"]["effort"] == "medium"
    assert writer.family.name == "Claude Mythos 6" and writer.family.price is None  # priced at $0, with a warning


def test_capabilities_from_the_models_api_refuse_impossible_settings_before_any_question(
    fake_anthropic: FakeAnthropic,
) -> None:
    fake_anthropic.models["claude-mythos-6"] = model_entry("claude-mythos-6", "Claude Mythos 6", structured=False)
    with pytest.raises(WriterError, match="has no structured outputs: set FILMSTITCH_CLAUDE_OUTPUT=tool"):
        make_writer(fake_anthropic, model="claude-mythos-6", output="json_schema")
    fake_anthropic.models["claude-mythos-6"] = model_entry("claude-mythos-6", "Claude Mythos 6",
                                                           effort=("low", "medium", "high"))
    with pytest.raises(WriterError, match="takes effort low, medium, high, not max"):
        make_writer(fake_anthropic, model="claude-mythos-6", effort="max")
    assert fake_anthropic.requests == []


def test_an_unlisted_model_the_models_api_does_not_know_falls_back_to_the_catalogue(
    fake_anthropic: FakeAnthropic,
) -> None:
    fake_anthropic.author = FilmAuthor()
    make_writer(fake_anthropic, model="claude-fable-7").write_script(small_request())
    assert [(r.path, r.status) for r in fake_anthropic.lookups] == [("/v1/models/claude-fable-7", 404),
                                                                   ("/v1/models/claude-sonnet-5-5", 200)]
    body = fake_anthropic.bodies[0]
    assert "thinking" not in body and "effort" not in body["output_config"]  # the plainest request


def test_preflight_refuses_a_retired_model_in_one_line(
    fake_anthropic: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("FILMSTITCH_CLAUDE_BASE_URL", fake_anthropic.base_url)
    monkeypatch.setenv("FILMSTITCH_CLAUDE_MODEL", "claude-sonnet-4-5-20250929")
    request = FilmRequest(idea=IDEA, writer="claude", renderer="animatic", sound=False)

    with pytest.raises(PreflightError) as raised:
        check_backends(request)

    assert str(raised.value) == (
        "claude-sonnet-4-5-20250929 (Claude Sonnet 4.5) was retired on 2026-11-30: requests to it fail. "
        "Set FILMSTITCH_CLAUDE_MODEL=claude-sonnet-5-5 (Claude Sonnet 5.5) instead")
    assert fake_anthropic.requests == [] and len(fake_anthropic.lookups) == 1
    monkeypatch.setenv("FILMSTITCH_CLAUDE_MODEL", "claude-sonnet-5-5")
    monkeypatch.setenv("FILMSTITCH_CLAUDE_FALLBACK_MODEL", "claude-opus-4-1")
    with pytest.raises(PreflightError, match="Set FILMSTITCH_CLAUDE_FALLBACK_MODEL=claude-opus-5-5"):
        check_backends(request)
    monkeypatch.setenv("FILMSTITCH_CLAUDE_FALLBACK_MODEL", "claude-haiku-5-5")
    check_backends(request)  # current models pass


# --- Haiku 5.5's thinking ----------------------------------------------------------------------------


@pytest.mark.parametrize(("thinking", "sent"), [("off", {"type": "disabled"}), ("auto", {"type": "disabled"}),
                                                ("adaptive", {"type": "adaptive"})])
def test_haiku_5_5_thinks_or_not_as_documented(fake_anthropic: FakeAnthropic, thinking: str, sent: dict) -> None:
    fake_anthropic.author = FilmAuthor()
    writer = make_writer(fake_anthropic, model="claude-haiku-5-5", thinking=thinking, effort="high")

    writer.write_script(small_request())

    assert all(body["thinking"] == sent for body in fake_anthropic.bodies)
    assert [r.status for r in fake_anthropic.requests] == [200, 200]
    usage = writer.take_usage()
    thought = THINKING_TOKENS if sent["type"] == "adaptive" else 0
    assert [u.thinking_tokens for u in usage] == [thought, thought]  # kept apart from the answer's tokens
    assert all(u.output_tokens > u.thinking_tokens for u in usage)


def test_the_fake_refuses_haiku_without_thinking_at_max_effort(fake_anthropic: FakeAnthropic) -> None:
    client = anthropic.Anthropic(api_key=KEY, base_url=fake_anthropic.base_url, max_retries=0)
    with pytest.raises(anthropic.BadRequestError, match="effort low, medium and high only"):
        client.messages.create(model="claude-haiku-5-5", max_tokens=1024, thinking={"type": "disabled"},
                               output_config={"effort": "max"}, messages=[{"role": "user", "content": "hi"}])


# --- Refusals go once to the fallback model ----------------------------------------------------------


def test_a_refusal_is_asked_once_of_the_fallback_model_and_recorded(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.reply_refusal("general_harms", "declined", text="Once")
    fake_anthropic.author = FilmAuthor()
    writer = make_writer(fake_anthropic, model="claude-opus-5-5")  # the fallback: the default, Sonnet 5.5

    script = writer.write_script(small_request())

    assert len(script.segments) == 2
    refused, retried = fake_anthropic.bodies[:2]
    assert (refused["model"], retried["model"]) == ("claude-opus-5-5", "claude-sonnet-5-5")
    assert retried["messages"] == refused["messages"]  # the same question, from its first turn
    assert refused["thinking"] == {"type": "adaptive"} and retried["thinking"] == {"type": "between_tools"}
    usage = writer.take_usage()
    assert [(u.stage, u.model, u.refused, u.fallback_for) for u in usage] == [
        ("outline", "claude-opus-5-5", True, None), ("outline", "claude-sonnet-5-5", False, "claude-opus-5-5"),
        ("segments 0-1", "claude-opus-5-5", False, None)]
    assert usage[0].cost_usd > 0  # the refusal is billed up to where it stopped


def test_a_refusal_by_the_fallback_too_is_final(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.reply_refusal("cyber", None)
    fake_anthropic.reply_refusal("cyber", None)
    writer = make_writer(fake_anthropic, model="claude-opus-5-5", fallback_model="claude-haiku-5-5")

    with pytest.raises(WriterError) as raised:
        writer.write_script(small_request())

    assert not isinstance(raised.value, TransientWriterError)
    assert "(and by claude-haiku-5-5, the fallback, after claude-opus-5-5)" in str(raised.value)
    assert [b["model"] for b in fake_anthropic.bodies] == ["claude-opus-5-5", "claude-haiku-5-5"]
    assert [(u.model, u.refused) for u in writer.take_usage()] == [("claude-opus-5-5", True),
                                                                   ("claude-haiku-5-5", True)]


@pytest.mark.parametrize("fallback", ["", "claude-sonnet-5-5"], ids=["no fallback", "the same model"])
def test_without_another_model_a_refusal_is_final_after_one_request(
    fake_anthropic: FakeAnthropic, fallback: str
) -> None:
    fake_anthropic.reply_refusal()
    with pytest.raises(WriterError, match="FILMSTITCH_CLAUDE_FALLBACK_MODEL to another model"):
        make_writer(fake_anthropic, fallback_model=fallback).write_script(small_request())
    assert len(fake_anthropic.requests) == 1


def test_the_fallback_is_asked_the_way_it_accepts(fake_anthropic: FakeAnthropic) -> None:
    # Haiku 5.5 answers a forced tool call without thinking; Opus 5.5 refuses both, so it gets its own shape.
    fake_anthropic.reply_refusal()
    fake_anthropic.reply_authored()
    writer = make_writer(fake_anthropic, model="claude-haiku-5-5", thinking="off", output="tool",
                         fallback_model="claude-opus-5-5")
    with pytest.raises(WriterError, match="always thinks"):  # asked of Opus 5.5 directly, the setting is refused
        make_writer(fake_anthropic, model="claude-opus-5-5", thinking="off")

    writer._outline(small_request())

    refused, retried = fake_anthropic.bodies
    assert refused["tool_choice"]["type"] == "tool" and refused["thinking"] == {"type": "disabled"}
    assert "tool_choice" not in retried and retried["thinking"] == {"type": "adaptive"}
    assert [r.status for r in fake_anthropic.requests] == [200, 200]


# --- One-hour caching across a person's pause --------------------------------------------------------


def ttls(body: dict) -> list[str]:
    blocks = [*body["system"], *body["messages"][0]["content"]]
    return [b["cache_control"].get("ttl", "5m") for b in blocks if "cache_control" in b]


def test_with_a_pause_ahead_the_shared_prefix_is_cached_for_an_hour_and_priced_so(
    fake_anthropic: FakeAnthropic,
) -> None:
    fake_anthropic.author = FilmAuthor()
    request = FilmRequest(idea=IDEA)
    writer = make_writer(fake_anthropic)
    writer.pause_ahead = True  # a person answers this film's checkpoints

    plan = write_film(writer, request)

    by_stage = {body["output_config"]["format"]["schema"]["title"]: ttls(body) for body in fake_anthropic.bodies}
    assert by_stage == {
        "submit_outline": ["1h", "5m"], "submit_segments": ["1h", "5m"],
        # the idea + script group is read again by a keyframe-prompt call after the script checkpoint
        "submit_characters": ["1h", "1h"], "submit_environments": ["1h", "1h"], "submit_keyframes": ["1h", "1h", "5m"],
    }
    assert all(r.status == 200 for r in fake_anthropic.requests)
    usage = writer.take_usage()
    assert usage[0].cache_write_1h_tokens > 0 and any(u.cache_write_1h_tokens for u in usage[1:])
    sonnet = family_for("claude-sonnet-5-5").price.base
    for used in usage:  # 1-hour writes at 2x input ($4 / MTok on Sonnet 5.5), 5-minute ones at 1.25x
        five = used.cache_write_tokens - used.cache_write_1h_tokens
        expected = (used.input_tokens * sonnet.input + used.output_tokens * sonnet.output
                    + five * sonnet.input * 1.25 + used.cache_write_1h_tokens * sonnet.input * 2
                    + used.cache_read_tokens * sonnet.cache_read) / 1e6
        assert used.cost_usd == pytest.approx(expected, abs=1e-6), used

    # Half an hour at the checkpoint, then the keyframe prompts are asked again: the prefix is still cached.
    fake_anthropic.wait(30 * 60)
    writer.write_keyframes(request, plan.script, plan.characters, plan.environments)
    [again] = writer.take_usage()
    assert again.cache_read_tokens > 0 and again.cache_write_1h_tokens == 0


def test_without_a_pause_every_breakpoint_lives_five_minutes_and_is_gone_after_the_pause(
    fake_anthropic: FakeAnthropic,
) -> None:
    fake_anthropic.author = FilmAuthor()
    request = small_request()
    writer = make_writer(fake_anthropic)  # pause_ahead False: --auto, batches
    plan = write_film(writer, request)
    assert all(ttl == "5m" for body in fake_anthropic.bodies for ttl in ttls(body))
    assert all("ttl" not in b["cache_control"] for b in fake_anthropic.bodies[0]["system"])  # the API's default
    writer.take_usage()

    fake_anthropic.wait(30 * 60)
    writer.write_keyframes(request, plan.script, plan.characters, plan.environments)
    [again] = writer.take_usage()
    assert again.cache_read_tokens == 0 and again.cache_write_tokens > 0


def test_the_fake_refuses_a_one_hour_breakpoint_after_a_five_minute_one(fake_anthropic: FakeAnthropic) -> None:
    client = anthropic.Anthropic(api_key=KEY, base_url=fake_anthropic.base_url, max_retries=0)
    with pytest.raises(anthropic.BadRequestError, match='ttl="1h" cannot come after one with ttl="5m"'):
        client.messages.create(
            model="claude-sonnet-5-5", max_tokens=1024,
            system=[{"type": "text", "text": "rules", "cache_control": {"type": "ephemeral"}}],
            messages=[{"role": "user", "content": [
                {"type": "text", "text": "idea", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]}])


# --- Token counts and the gate -----------------------------------------------------------------------


def test_the_first_question_is_counted_by_the_api(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.author = FilmAuthor()
    writer = make_writer(fake_anthropic)
    request = small_request()

    counted = writer.count_outline_tokens(request)

    assert fake_anthropic.requests == [] and len(fake_anthropic.counts) == 1  # counting answers nothing
    body = fake_anthropic.counts[0].body
    assert "max_tokens" not in body and body["output_config"]["format"]["schema"]["title"] == "submit_outline"
    writer.write_script(request)
    first = writer.take_usage()[0]
    assert counted == first.input_tokens + first.cache_read_tokens + first.cache_write_tokens


@contextlib.contextmanager
def counting(log: list[str]) -> Iterator[None]:
    log.append("enter")
    yield
    log.append("exit")


def test_every_request_runs_inside_the_gate(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.reply_refusal()
    fake_anthropic.author = FilmAuthor()
    log: list[str] = []
    settings = ClaudeSettings(api_key=KEY, base_url=fake_anthropic.base_url, max_retries=0, model="claude-opus-5-5")
    writer = ClaudeWriter(settings, gate=lambda: counting(log))

    writer.count_outline_tokens(small_request())
    write_film(writer, small_request())

    requests = len(fake_anthropic.lookups) + len(fake_anthropic.counts) + len(fake_anthropic.requests)
    assert len(fake_anthropic.lookups) == 2  # the model and the fallback model
    assert log == ["enter", "exit"] * requests and requests == 2 + 1 + 6  # lookups, the count, 5 answers + a refusal
