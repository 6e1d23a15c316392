"""One question to Claude, as many turns as it takes: the request, the streamed answer, the repairs.

:class:`Session.ask` sends a request shaped for the model (see :mod:`catalog`), streams the answer
(``messages.stream``: no request waits minutes for a whole answer, and a slow answer is not cut off
by a total timeout), validates it against the answer model and the caller's cross-checks, and sends
the problems back for a repair turn, at most ``max_repairs`` times. The answer arrives

* as JSON text constrained by ``output_config.format`` (structured outputs), or
* as the input of a forced tool call, for models without structured outputs.

Failures are sorted for Prefect: the SDK retries 408/409/429/5xx/529 and connection errors itself
(``max_retries``, with backoff that honours ``retry-after``), before any answer arrives; once it gives
up, or when a stream breaks off, we raise :class:`TransientWriterError` so the task may try again.
A refused key and a bad request raise a permanent :class:`WriterError`. A refusal (``stop_reason:
"refusal"``: the model declined, and the same request would be declined again) is asked once more of the
fallback model (``FALLBACK_MODEL``), from the question's first turn; a refusal there is final.

Every request (a message, a token count, a Models API lookup) runs inside ``gate()``, a context manager
the tasks layer supplies (the Prefect concurrency limit on writer calls); the domain knows no Prefect.

SDK exceptions are never chained (``from None``): their request objects carry the key.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import anthropic
import httpx2
from pydantic import BaseModel, SecretStr, ValidationError

from filmstitch.writers.base import CallUsage, TransientWriterError, WriterError
from filmstitch.writers.claude import answers, prompts
from filmstitch.writers.claude.catalog import ModelFamily
from filmstitch.writers.claude.settings import ClaudeSettings, describe_validation_error, scrub

logger = logging.getLogger("filmstitch.writers.claude")

T = TypeVar("T")


# --- What is asked ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    """A kind of answer: its name (the tool's name, and the title of its JSON schema) and its model."""

    key: str
    name: str
    answer: type[BaseModel]

    @functools.cached_property
    def schema(self) -> dict[str, Any]:
        """The answer model's JSON schema as structured outputs take it (the SDK's own transform)."""
        return {**anthropic.transform_schema(self.answer), "title": self.name}

    def tool(self, strict: bool) -> dict[str, Any]:
        tool: dict[str, Any] = {
            "name": self.name,
            "description": prompts.STAGE_DESCRIPTIONS[self.key],
            "input_schema": self.schema if strict else self.answer.model_json_schema(),
        }
        if strict:
            tool["strict"] = True
        return tool


STAGES = {
    stage.key: stage
    for stage in (
        Stage("outline", "submit_outline", answers.OutlineAnswer),
        Stage("segments", "submit_segments", answers.SegmentsAnswer),
        Stage("characters", "submit_characters", answers.CharactersAnswer),
        Stage("environments", "submit_environments", answers.EnvironmentsAnswer),
        Stage("keyframes", "submit_keyframes", answers.KeyframesAnswer),
    )
}


class Rejected(Exception):
    """An answer that parsed but failed a cross-check; the problems go back to the model."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Ask:
    """One question. `context` groups stay the same across the calls of a stage: each group ends with a
    prompt-cache breakpoint. `turn` blocks are this call's own. `check` turns a valid answer into the result,
    or raises :class:`Rejected`. `kept`: the first context group is read again by calls after a person's
    checkpoint (the idea and the script), so it is worth caching for an hour when such a pause lies ahead."""

    stage: Stage
    label: str
    context: Sequence[Sequence[str]]
    turn: Sequence[str]
    check: Callable[[Any], Any]
    kept: bool = False


# --- How it is asked, for this model ---------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """The request parameters that depend on the model."""

    output: Literal["json_schema", "tool"]
    thinking: dict[str, str] | None
    effort: str | None
    strict_tools: bool


def shape_for(settings: ClaudeSettings, family: ModelFamily) -> Shape:
    """The request shape this model accepts for these settings, or a WriterError that says what to change."""
    model = settings.model
    output = settings.output
    if output == "auto":
        output = "json_schema" if family.json_outputs else "tool"
    if output == "json_schema" and not family.json_outputs:
        raise WriterError(f"{model} ({family.name}) has no structured outputs: set FILMSTITCH_CLAUDE_OUTPUT=tool")
    if output == "tool" and not family.forced_tool:
        raise WriterError(f"{model} ({family.name}) rejects a forced tool_choice: set FILMSTITCH_CLAUDE_OUTPUT to "
                          "auto or json_schema")
    if family.status == "unknown":  # send nothing a model might not know
        return Shape(output, None, None, strict_tools=False)

    thinking_mode = settings.thinking
    if thinking_mode == "auto":
        thinking_mode = "off" if family.thinking_off is not None else "adaptive"
    if output == "tool" and thinking_mode != "off":  # a forced tool call needs thinking off
        thinking_mode = "off"
    if thinking_mode == "off" and family.thinking_off is None:
        raise WriterError(f"{model} ({family.name}) always thinks, so thinking cannot be off"
                          + (" for a forced tool call" if output == "tool"
                             else ": set FILMSTITCH_CLAUDE_THINKING=auto"))
    if thinking_mode == "adaptive" and not family.adaptive:
        raise WriterError(f"{model} ({family.name}) has no adaptive thinking: set FILMSTITCH_CLAUDE_THINKING=auto")
    if thinking_mode == "adaptive":
        thinking: dict[str, str] | None = {"type": "adaptive"}
    else:
        thinking = None if family.thinking_off == "omit" else {"type": str(family.thinking_off)}
    effort = settings.effort if family.effort else None
    if effort and family.effort_levels is not None and effort not in family.effort_levels:
        raise WriterError(f"{model} ({family.name}) takes effort {', '.join(family.effort_levels)}, not {effort}: "
                          "set FILMSTITCH_CLAUDE_EFFORT to one of them")
    if thinking is not None and thinking["type"] != "adaptive" and effort in ("xhigh", "max"):
        raise WriterError(f"{model} turns thinking off only at effort high or lower: set FILMSTITCH_CLAUDE_EFFORT "
                          "to low, medium or high, or FILMSTITCH_CLAUDE_THINKING=adaptive")
    return Shape(output, thinking, effort, strict_tools=family.json_outputs)


# --- What it cost ----------------------------------------------------------------------------------


@dataclass
class Tally:
    """Usage and estimated cost summed over the turns of one question."""

    family: ModelFamily
    turns: int = 0
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    cache_write_1h: int = 0
    thinking: int = 0
    cost: float = 0.0
    refused: bool = False
    fallback_for: str | None = None
    priced: bool = field(init=False)

    def __post_init__(self) -> None:
        self.priced = self.family.price is not None

    def add(self, usage: Any) -> None:
        input_tokens, output = usage.input_tokens or 0, usage.output_tokens or 0
        read, write = usage.cache_read_input_tokens or 0, usage.cache_creation_input_tokens or 0
        write_1h = usage.cache_creation.ephemeral_1h_input_tokens if usage.cache_creation else 0
        details = getattr(usage, "output_tokens_details", None)
        self.thinking += (details.thinking_tokens or 0) if details is not None else 0
        self.turns += 1
        self.input, self.output = self.input + input_tokens, self.output + output
        self.cache_read, self.cache_write = self.cache_read + read, self.cache_write + write
        self.cache_write_1h += write_1h
        if self.family.price is not None:  # each turn on its own: a long prompt changes Haiku 5.5's rates
            rates = self.family.price.rates_for(input_tokens + read + write)
            self.cost += rates.cost(input=input_tokens, output=output, cache_write_5m=write - write_1h,
                                    cache_write_1h=write_1h, cache_read=read)

    def usage(self, stage: str, model: str) -> CallUsage:
        return CallUsage(
            stage=stage, model=model, input_tokens=self.input, output_tokens=self.output,
            cache_read_tokens=self.cache_read, cache_write_tokens=self.cache_write,
            cache_write_1h_tokens=self.cache_write_1h, thinking_tokens=self.thinking,
            cost_usd=round(self.cost, 6), attempts=self.turns, refused=self.refused, fallback_for=self.fallback_for,
        )


# --- The session -----------------------------------------------------------------------------------

TRANSIENT_TYPES = frozenset({"overloaded_error", "api_error", "rate_limit_error", "timeout_error"})

Gate = Callable[[], contextlib.AbstractContextManager[Any]]


class Declined(WriterError):
    """The model refused the question (stop_reason refusal): permanent, unless a fallback model takes it."""


class Session:
    """Asks questions of one model with one key; hands what each question cost to `record`. A refused question
    goes once to `fallback`, a session of the fallback model sharing this one's client, gate and record."""

    def __init__(
        self, settings: ClaudeSettings, key: SecretStr, family: ModelFamily, *,
        log: Callable[[], Any], record: Callable[[CallUsage], None], gate: Gate = contextlib.nullcontext,
    ) -> None:
        self.settings = settings
        self.model = settings.model
        self.family = family
        self.shape = shape_for(settings, family)
        self.gate = gate
        #: A person's checkpoint comes after these calls (set by the tasks layer): see `_ttls`.
        self.pause_ahead = False
        self.fallback: Session | None = None
        #: The session whose client this one uses (a fallback shares its owner's connection pool).
        self.owner: Session | None = None
        self._key = key
        self._log = log
        self._record_usage = record
        self._client: anthropic.Anthropic | None = None

    def with_fallback(self, model: str, family: ModelFamily) -> None:
        """Refusals go to `model` once, asked the way it accepts (output and thinking `auto`: the answer is
        validated the same either way). Its request shape is checked now, before any work."""
        settings = self.settings.model_copy(update={"model": model, "output": "auto", "thinking": "auto"})
        fallback = Session(settings, self._key, family, log=self._log, record=self._record_usage, gate=self.gate)
        fallback.owner = self
        self.fallback = fallback

    @property
    def client(self) -> anthropic.Anthropic:
        if self.owner is not None:
            return self.owner.client
        if self._client is None:
            self._client = anthropic.Anthropic(
                api_key=self._key.get_secret_value(),
                base_url=self.settings.base_url,
                max_retries=self.settings.max_retries,
                timeout=self.settings.timeout,
            )
        return self._client

    def scrub(self, text: str) -> str:
        return scrub(text, self._key)

    def ask(self, ask: Ask, *, fallback_for: str | None = None) -> Any:
        """Ask, validate, repair at most `max_repairs` times; record usage whatever happens."""
        messages: list[dict[str, Any]] = [{"role": "user", "content": self._content(ask)}]
        tally = Tally(self.family, fallback_for=fallback_for)
        problems: list[str] = []
        try:
            for attempt in range(self.settings.max_repairs + 1):
                message = self._send(ask, messages)
                tally.add(message.usage)
                try:
                    self._stop_if_declined(message, ask, tally)
                except Declined:
                    if self.fallback is None or fallback_for is not None:
                        raise
                    self._record(ask.label, tally)
                    tally.turns = 0  # recorded: the finally below must not record it again
                    self._log().warning("claude %s: %s declined (refusal); asking %s once", ask.label, self.model,
                                        self.fallback.model)
                    self.fallback.pause_ahead = self.pause_ahead
                    return self.fallback.ask(ask, fallback_for=self.model)
                try:
                    return ask.check(self._answer(message, ask.stage))
                except Rejected as rejected:
                    problems = self._cut_off(message) + rejected.problems
                except ValidationError as error:  # a check that builds domain models
                    problems = self._cut_off(message) + describe_validation_error(error)
                if attempt < self.settings.max_repairs:
                    self._log().warning("claude %s: answer rejected (%d problems), asking for repair %d of %d",
                                        ask.label, len(problems), attempt + 1, self.settings.max_repairs)
                    messages += self._repair_turns(message, ask.stage, problems)
            shown = "; ".join(problems[:6]) + ("; ..." if len(problems) > 6 else "")
            raise WriterError(self.scrub(
                f"Claude's {ask.label} answer was still invalid after {tally.turns} attempts "
                f"(FILMSTITCH_CLAUDE_MAX_REPAIRS={self.settings.max_repairs}); nothing was kept. Problems: {shown}"
            ))
        finally:
            if tally.turns:
                self._record(ask.label, tally)

    def count(self, ask: Ask) -> int:
        """The input tokens of the question's first request, counted by the API (``messages.count_tokens``)."""
        params = self._params(ask, [{"role": "user", "content": self._content(ask)}])
        for name in ("max_tokens", "extra_body"):  # not parameters of a token count
            params.pop(name, None)
        try:
            with self.gate():
                return self.client.messages.count_tokens(**params).input_tokens
        except anthropic.APIError as error:
            raise self._translate(error, f"{ask.label} token count") from None

    def lookup(self, model: str) -> Any | None:
        """The Models API's entry for `model` (``models.retrieve``), or None when the key may not read it, the
        endpoint does not know the id (a gateway's own), or it cannot be reached: the catalogue decides then.
        A refused key is an error here already, before any work."""
        try:
            with self.gate():
                return self.client.models.retrieve(model)
        except anthropic.AuthenticationError as error:
            raise self._translate(error, "Models API") from None
        except (anthropic.PermissionDeniedError, anthropic.NotFoundError, anthropic.APIConnectionError,
                anthropic.APIStatusError) as error:
            self._log().info("claude: the Models API did not describe %s (%s); using the catalogue", model,
                             type(error).__name__)
            return None

    # The request -------------------------------------------------------------------------------

    def _ttls(self, ask: Ask) -> tuple[str, list[str]]:
        """The cache lifetime of the system prompt and of each context group. 1 hour costs 2x input to write
        (5 minutes: 1.25x) and pays where a prefix is read again after a person's pause: the system prompt (the
        same for every call of every film) and the idea + script group that the keyframe-prompt call, asked
        again after the script checkpoint, reads. Longer lifetimes must come first (the API's rule)."""
        groups = len(ask.context)
        if self.settings.cache_ttl != "auto":
            return self.settings.cache_ttl, [self.settings.cache_ttl] * groups
        if not self.pause_ahead:
            return "5m", ["5m"] * groups
        return "1h", [("1h" if ask.kept and i == 0 else "5m") for i in range(groups)]

    def _content(self, ask: Ask) -> list[dict[str, Any]]:
        """The first user turn: the stable groups, each closed by a cache breakpoint, then this call's blocks."""
        content: list[dict[str, Any]] = []
        for group, ttl in zip(ask.context, self._ttls(ask)[1]):
            content += [{"type": "text", "text": text} for text in group]
            content[-1]["cache_control"] = cache_control(ttl)
        return content + [{"type": "text", "text": text} for text in ask.turn]

    def _params(self, ask: Ask, messages: list[dict[str, Any]]) -> dict[str, Any]:
        shape, stage = self.shape, ask.stage
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.settings.max_tokens,
            # One system block for every call of every film: cached after the first call.
            "system": [{"type": "text", "text": prompts.SYSTEM_PROMPT,
                        "cache_control": cache_control(self._ttls(ask)[0])}],
            "messages": messages,
        }
        output_config: dict[str, Any] = {"effort": shape.effort} if shape.effort else {}
        if shape.output == "json_schema":
            output_config["format"] = {"type": "json_schema", "schema": stage.schema}
        else:
            # All tools every time, so tools + system stay one cached prefix; the stage's tool is forced.
            params["tools"] = [other.tool(shape.strict_tools) for other in STAGES.values()]
            params["tool_choice"] = {"type": "tool", "name": stage.name, "disable_parallel_tool_use": True}
        if output_config:
            params["output_config"] = output_config
        if shape.thinking is not None:
            params["thinking"] = shape.thinking
        if self.settings.temperature is not None:  # only for gateways: see ClaudeSettings.temperature
            params["extra_body"] = {"temperature": self.settings.temperature}
        return params

    def _send(self, ask: Ask, messages: list[dict[str, Any]]) -> Any:
        """Stream one answer to completion. Opening the stream is the request the SDK retries; a stream that
        breaks off after it opened is not retried by the SDK, so it is told apart here (`_read`)."""
        try:
            with self.gate(), self.client.messages.stream(**self._params(ask, messages)) as stream:
                return self._read(stream, ask.label)
        except anthropic.APIError as error:
            raise self._translate(error, ask.label) from None  # never chain: the request holds the key

    @staticmethod
    def _read(stream: Any, label: str) -> Any:
        """The streamed answer, whole. The connection breaking mid-answer surfaces as the SDK's
        APIConnectionError (anthropic >= 2.17) or as the transport's own error (earlier 2.x): either way it is
        transient, and nothing was retried."""
        try:
            return stream.get_final_message()
        except (anthropic.APIConnectionError, httpx2.HTTPError) as error:
            raise TransientWriterError(
                f"Claude {label} call: the answer stream broke off ({type(error).__name__}); try again later"
            ) from None

    # The answer --------------------------------------------------------------------------------

    def _stop_if_declined(self, message: Any, ask: Ask, tally: Tally) -> None:
        """A refusal: the same request to the same model would be refused again (the API says to change it, or
        to send it to another model: the caller does that once)."""
        if message.stop_reason == "refusal":
            tally.refused = True
            details = message.stop_details
            why = ", ".join(part for part in (getattr(details, "category", None),
                                              getattr(details, "explanation", None)) if part)
            also = f" (and by {self.model}, the fallback, after {tally.fallback_for})" if tally.fallback_for else ""
            raise Declined(self.scrub(
                f"Claude declined to write the {ask.label} (stop_reason refusal{': ' + why if why else ''}){also}. "
                "Nothing was kept and retrying the same idea will not help: reword the idea, set "
                "FILMSTITCH_CLAUDE_FALLBACK_MODEL to another model, or use FILMSTITCH_WRITER=offline"
            ))
        if message.stop_reason == "model_context_window_exceeded":
            raise WriterError(f"Claude {ask.label} call: the request exceeds the model's context window; "
                              "use a model with a larger one or a shorter film")

    def _cut_off(self, message: Any) -> list[str]:
        if message.stop_reason == "max_tokens":
            return [f"your answer was cut off at the output limit ({self.settings.max_tokens} tokens): be more concise"]
        return []

    def _answer(self, message: Any, stage: Stage) -> BaseModel:
        """The answer model of a reply, or Rejected with what is wrong with it."""
        try:
            if self.shape.output == "json_schema":
                text = "".join(block.text for block in message.content if block.type == "text")
                if not text.strip():
                    raise Rejected(["the answer holds no JSON"])
                return stage.answer.model_validate_json(text)
            calls = [b for b in message.content if b.type == "tool_use" and b.name == stage.name]
            if not calls:
                raise Rejected([f"no call to {stage.name} in the answer"])
            return stage.answer.model_validate(calls[0].input)
        except ValidationError as error:
            raise Rejected(describe_validation_error(error)) from None

    def _repair_turns(self, message: Any, stage: Stage, problems: list[str]) -> list[dict[str, Any]]:
        """The answer as it was (thinking blocks unchanged), then the problems. An empty answer is not sent
        back: the API refuses empty turns and empty text blocks."""
        turns: list[dict[str, Any]] = []
        kept = [as_param(block) for block in message.content if not (block.type == "text" and not block.text)]
        if kept:
            turns.append({"role": "assistant", "content": kept})
        note = prompts.repair_note(problems)
        uses = [block for block in message.content if block.type == "tool_use"]
        if not uses:  # JSON answers, or a tool answer without the call
            text = note if self.shape.output == "json_schema" else prompts.missing_answer_note(stage.name)
            return turns + [{"role": "user", "content": text}]
        results = [  # every tool_use needs a tool_result; ours carries the problems
            {"type": "tool_result", "tool_use_id": block.id, "is_error": True,
             "content": note if block.name == stage.name else prompts.missing_answer_note(stage.name)}
            for block in uses
        ]
        return turns + [{"role": "user", "content": results}]

    # Errors and usage --------------------------------------------------------------------------

    def _translate(self, error: anthropic.APIError, label: str) -> WriterError:
        what = f"Claude {label} call"
        if isinstance(error, (anthropic.AuthenticationError, anthropic.PermissionDeniedError)):
            return WriterError(self.scrub(
                f"{what}: the API key was refused ({error.status_code}). Check ANTHROPIC_API_KEY or the Prefect "
                "Secret block named by FILMSTITCH_CLAUDE_API_KEY_BLOCK"
            ))
        if isinstance(error, anthropic.APIStatusError):
            detail = self.scrub(f"{error.status_code} {error.type or ''}: {error.api_message or 'no message'}")
            if error.status_code == 200:  # an error event in the middle of a streamed answer
                if error.type in TRANSIENT_TYPES:
                    return TransientWriterError(f"{what}: the answer stream stopped ({detail}); try again later")
                return WriterError(f"{what} failed while streaming ({detail})")
            if error.status_code in (408, 409, 429) or error.status_code >= 500:
                return TransientWriterError(
                    f"{what}: the API is unavailable ({detail}) after {self.settings.max_retries} retries; "
                    "try again later"
                )
            return WriterError(f"{what} was refused ({detail})")
        if isinstance(error, anthropic.APIConnectionError):  # timeouts included
            return TransientWriterError(
                f"{what}: {type(error).__name__} after {self.settings.max_retries} retries; try again later"
            )
        return WriterError(f"{what} failed: {type(error).__name__}")

    def _record(self, label: str, tally: Tally) -> None:
        usage = tally.usage(label, self.model)
        if not tally.priced:
            self._log().warning("claude: no price known for model %r; its cost is recorded as $0", self.model)
        self._record_usage(usage)
        self._log().info(
            "claude %s: %d turn(s) on %s, %d input + %d output tokens (%d thinking; cache read %d, write %d of "
            "which %d for 1 h), est. $%.4f", label, usage.attempts, usage.model, usage.input_tokens,
            usage.output_tokens, usage.thinking_tokens, usage.cache_read_tokens, usage.cache_write_tokens,
            usage.cache_write_1h_tokens, usage.cost_usd,
        )


def cache_control(ttl: str) -> dict[str, str]:
    """A breakpoint; the 5-minute one is sent as the API's default (no `ttl`), as before."""
    return {"type": "ephemeral"} if ttl == "5m" else {"type": "ephemeral", "ttl": ttl}


def as_param(block: Any) -> dict[str, Any]:
    """An answer's content block as it must be sent back: thinking blocks byte for byte (their signature)."""
    if block.type == "text":
        return {"type": "text", "text": block.text}
    if block.type == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    if block.type == "thinking":
        return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
    if block.type == "redacted_thinking":
        return {"type": "redacted_thinking", "data": block.data}
    return block.model_dump(mode="json", exclude_none=True)
