"""What each Claude model accepts and costs, checked against Anthropic's documentation on the date below.

Newer models reject request shapes older ones needed, so the writer builds every request from the
model's entry here instead of one fixed shape:

* ``json_outputs``: structured outputs (``output_config.format`` with a JSON schema, and
  ``strict`` tools). Available on Claude 4.5 and later. The answer is then constrained to the
  schema by the API itself.
* ``forced_tool``: ``tool_choice: {"type": "tool"}`` is accepted. Opus 5.5, Sonnet 5.5 and
  Fable 5.1/5.2 answer it with a 400, so they only get JSON outputs.
* ``thinking_off``: how to ask for no up-front thinking. ``"omit"`` (models that do not think unless
  asked), ``"disabled"`` (``thinking: {"type": "disabled"}``), ``"between_tools"`` (Sonnet 5.5's lowest
  setting; ``disabled`` is a 400 there) or ``None``: the model always thinks (Opus 5.5, Fable).
* ``adaptive``: ``thinking: {"type": "adaptive"}`` is accepted. ``effort``: ``output_config.effort`` is.

Prices are list prices in USD per million tokens, per model: cache reads are no longer a fixed
share of the input price (Opus 5.5 and Sonnet 5.5 read at 0.05x, Fable 5.1 at 0.025x), and Haiku 5.5
charges more for every token of a request whose prompt is over 100,000 tokens. The cost recorded
in the manifest is an estimate from this table, not a bill. Sources are listed in
``docs/claude-writer.md``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Literal

#: The day the table below was last compared with Anthropic's models overview and pricing pages.
CHECKED = datetime.date(2026, 12, 1)

#: The current Sonnet: the models overview calls it "the best combination of speed and intelligence".
DEFAULT_MODEL = "claude-sonnet-5-5"

ThinkingOff = Literal["omit", "disabled", "between_tools"]


@dataclass(frozen=True)
class Rates:
    """USD per million tokens."""

    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float

    def cost(self, *, input: int, output: int, cache_write_5m: int, cache_write_1h: int, cache_read: int) -> float:
        return (
            input * self.input
            + output * self.output
            + cache_write_5m * self.cache_write_5m
            + cache_write_1h * self.cache_write_1h
            + cache_read * self.cache_read
        ) / 1_000_000


@dataclass(frozen=True)
class Price:
    """A model's rates; `long_prompt` applies to every token of a request whose prompt exceeds the threshold."""

    base: Rates
    long_prompt: Rates | None = None
    long_prompt_tokens: int = 100_000

    def rates_for(self, prompt_tokens: int) -> Rates:
        if self.long_prompt is not None and prompt_tokens > self.long_prompt_tokens:
            return self.long_prompt
        return self.base


def standard(input: float, output: float, read_share: float = 0.10) -> Price:
    """The usual card: 5-minute cache writes at 1.25x input, 1-hour writes at 2x, reads at `read_share`."""
    return Price(Rates(input, output, input * 1.25, input * 2.0, round(input * read_share, 4)))


@dataclass(frozen=True)
class ModelFamily:
    """Every model id that starts with `prefix` (dated snapshots included)."""

    prefix: str
    name: str
    status: Literal["current", "legacy", "retired", "unknown"]
    price: Price | None
    json_outputs: bool
    forced_tool: bool
    thinking_off: ThinkingOff | None
    adaptive: bool
    effort: bool


FAMILIES: tuple[ModelFamily, ...] = (
    # The current lineup (models overview, 2026-12-01).
    ModelFamily("claude-fable-5-2", "Claude Fable 5.2", "current", Price(Rates(8, 40, 10, 16, 0.20)),
                json_outputs=True, forced_tool=False, thinking_off=None, adaptive=True, effort=True),
    ModelFamily("claude-opus-5-5", "Claude Opus 5.5", "current", Price(Rates(4, 20, 5, 8, 0.20)),
                json_outputs=True, forced_tool=False, thinking_off=None, adaptive=True, effort=True),
    ModelFamily("claude-sonnet-5-5", "Claude Sonnet 5.5", "current", Price(Rates(2, 10, 2.5, 4, 0.10)),
                json_outputs=True, forced_tool=False, thinking_off="between_tools", adaptive=True, effort=True),
    ModelFamily("claude-haiku-5-5", "Claude Haiku 5.5", "current",
                Price(Rates(0.10, 0.50, 0.125, 0.20, 0.01), long_prompt=Rates(0.50, 2.50, 0.625, 1.00, 0.05)),
                json_outputs=True, forced_tool=True, thinking_off=None, adaptive=True, effort=True),
    # Legacy: still served, superseded.
    ModelFamily("claude-fable-5-1", "Claude Fable 5.1", "legacy", Price(Rates(10, 50, 12.5, 20, 0.25)),
                json_outputs=True, forced_tool=False, thinking_off=None, adaptive=True, effort=True),
    ModelFamily("claude-fable-5", "Claude Fable 5", "legacy", standard(10, 50),
                json_outputs=True, forced_tool=True, thinking_off=None, adaptive=True, effort=True),
    ModelFamily("claude-opus-5", "Claude Opus 5", "legacy", standard(5, 25),
                json_outputs=True, forced_tool=True, thinking_off="disabled", adaptive=True, effort=True),
    ModelFamily("claude-sonnet-5", "Claude Sonnet 5", "legacy", standard(2, 10),
                json_outputs=True, forced_tool=True, thinking_off="disabled", adaptive=True, effort=True),
    ModelFamily("claude-opus-4-8", "Claude Opus 4.8", "legacy", standard(5, 25),
                json_outputs=True, forced_tool=True, thinking_off="omit", adaptive=True, effort=True),
    ModelFamily("claude-opus-4-7", "Claude Opus 4.7", "legacy", standard(5, 25),
                json_outputs=True, forced_tool=True, thinking_off="omit", adaptive=True, effort=True),
    ModelFamily("claude-opus-4-6", "Claude Opus 4.6", "legacy", standard(5, 25),
                json_outputs=True, forced_tool=True, thinking_off="omit", adaptive=True, effort=True),
    ModelFamily("claude-opus-4-5", "Claude Opus 4.5", "legacy", standard(5, 25),
                json_outputs=True, forced_tool=True, thinking_off="omit", adaptive=False, effort=True),
    ModelFamily("claude-sonnet-4-6", "Claude Sonnet 4.6", "legacy", standard(3, 15),
                json_outputs=True, forced_tool=True, thinking_off="omit", adaptive=True, effort=True),
    ModelFamily("claude-sonnet-4-5", "Claude Sonnet 4.5", "legacy", standard(3, 15),
                json_outputs=True, forced_tool=True, thinking_off="omit", adaptive=False, effort=False),
    ModelFamily("claude-haiku-4-5", "Claude Haiku 4.5", "legacy", standard(1, 5),
                json_outputs=True, forced_tool=True, thinking_off="omit", adaptive=False, effort=False),
    # Before structured outputs: the answer comes as a forced tool call.
    ModelFamily("claude-sonnet-4", "Claude Sonnet 4", "legacy", standard(3, 15),
                json_outputs=False, forced_tool=True, thinking_off="omit", adaptive=False, effort=False),
    ModelFamily("claude-opus-4-1", "Claude Opus 4.1", "retired", standard(15, 75),
                json_outputs=False, forced_tool=True, thinking_off="omit", adaptive=False, effort=False),
    ModelFamily("claude-opus-4", "Claude Opus 4", "retired", standard(15, 75),
                json_outputs=False, forced_tool=True, thinking_off="omit", adaptive=False, effort=False),
)

#: A model id not in the table (a newer model, or a gateway's own id): the most conservative request that
#: current models accept (JSON outputs, no thinking or effort parameter), and no price.
UNKNOWN = ModelFamily("", "an unlisted model", "unknown", None,
                      json_outputs=True, forced_tool=False, thinking_off=None, adaptive=False, effort=False)


def family_for(model: str) -> ModelFamily:
    """The entry whose prefix is the longest match for `model` ("claude-sonnet-5-5" is not "claude-sonnet-5")."""
    matches = [family for family in FAMILIES if model == family.prefix or model.startswith(family.prefix + "-")]
    return max(matches, key=lambda family: len(family.prefix)) if matches else UNKNOWN
