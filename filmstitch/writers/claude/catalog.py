"""What each Claude model accepts and costs, checked against Anthropic's documentation on the date below.

Newer models reject request shapes older ones needed, so the writer builds every request from the
model's entry here instead of one fixed shape:

* ``json_outputs``: structured outputs (``output_config.format`` with a JSON schema, and
  ``strict`` tools). Available on Claude 4.5 and later. The answer is then constrained to the
  schema by the API itself.
* ``forced_tool``: ``tool_choice: {"type": "tool"}`` is accepted. Opus 5.5, Sonnet 5.5 and
  Fable 5.1/5.2 answer it with a 400, so they only get JSON outputs.
* ``thinking_off``: how to ask for no up-front thinking. ``"omit"`` (models that do not think unless
  asked), ``"disabled"`` (``thinking: {"type": "disabled"}``: Haiku 5.5, Opus 5, Sonnet 5, at effort high or
  lower), ``"between_tools"`` (Sonnet 5.5's lowest setting; ``disabled`` is a 400 there) or ``None``: the
  model always thinks (Opus 5.5, Fable).
* ``adaptive``: ``thinking: {"type": "adaptive"}`` is accepted. ``effort``: ``output_config.effort`` is.
* ``retires`` and ``replacement``: the day requests to the model start failing, and the current model to
  use instead. A retired model is refused before any work (:func:`refusal_for_retired`).

When the key may read the Models API (``client.models.retrieve``), its answer wins over this table for
the lifecycle and the capabilities (:func:`from_models_api`); the table is the fallback (a key without
that permission, a gateway, no network) and the only source of prices.

Prices are list prices in USD per million tokens, per model: cache reads are no longer a fixed
share of the input price (Opus 5.5 and Sonnet 5.5 read at 0.05x, Fable 5.1 at 0.025x), and Haiku 5.5
charges more for every token of a request whose prompt is over 100,000 tokens. The cost recorded
in the manifest is an estimate from this table, not a bill. Sources are listed in
``docs/claude-writer.md``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, replace
from typing import Any, Literal

#: The day the table below was last compared with Anthropic's models overview and pricing pages.
CHECKED = datetime.date(2026, 12, 7)

#: The current Sonnet: the models overview calls it "the best combination of speed and intelligence".
DEFAULT_MODEL = "claude-sonnet-5-5"

ThinkingOff = Literal["omit", "disabled", "between_tools"]
Status = Literal["current", "legacy", "deprecated", "retired", "unknown"]


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
    status: Status
    price: Price | None
    json_outputs: bool
    forced_tool: bool
    thinking_off: ThinkingOff | None
    adaptive: bool
    effort: bool
    retires: datetime.date | None = None
    replacement: str | None = None
    #: The effort levels accepted, when the Models API said so (None: not known, every level is tried).
    effort_levels: tuple[str, ...] | None = None

    def status_on(self, day: datetime.date) -> Status:
        """The lifecycle on `day`: a deprecated model is retired from its retirement day on."""
        if self.retires is not None and day >= self.retires:
            return "retired"
        return self.status


SONNET_4_RETIRED = datetime.date(2026, 6, 15)


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
                json_outputs=True, forced_tool=True, thinking_off="disabled", adaptive=True, effort=True),
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
    # Deprecated, then retired on the day given (models overview, Sonnet 4.5's page: "retires on November 30,
    # 2026. Recommended replacement: Claude Sonnet 5.5").
    ModelFamily("claude-sonnet-4-5", "Claude Sonnet 4.5", "deprecated", standard(3, 15),
                json_outputs=True, forced_tool=True, thinking_off="omit", adaptive=False, effort=False,
                retires=datetime.date(2026, 11, 30), replacement="claude-sonnet-5-5"),
    ModelFamily("claude-haiku-4-5", "Claude Haiku 4.5", "legacy", standard(1, 5),
                json_outputs=True, forced_tool=True, thinking_off="omit", adaptive=False, effort=False),
    # Retired: requests fail. Kept so that the refusal names the model and its replacement. Sonnet 4 and Opus 4
    # on 2026-06-15 (release notes), Opus 4.1 on 2026-08-05 (a third-party changelog: check it).
    ModelFamily("claude-sonnet-4", "Claude Sonnet 4", "retired", standard(3, 15),
                json_outputs=False, forced_tool=True, thinking_off="omit", adaptive=False, effort=False,
                retires=SONNET_4_RETIRED, replacement="claude-sonnet-5-5"),
    ModelFamily("claude-opus-4-1", "Claude Opus 4.1", "retired", standard(15, 75),
                json_outputs=False, forced_tool=True, thinking_off="omit", adaptive=False, effort=False,
                retires=datetime.date(2026, 8, 5), replacement="claude-opus-5-5"),
    ModelFamily("claude-opus-4", "Claude Opus 4", "retired", standard(15, 75),
                json_outputs=False, forced_tool=True, thinking_off="omit", adaptive=False, effort=False,
                retires=SONNET_4_RETIRED, replacement="claude-opus-5-5"),
)

#: The current model of each line, for a retired model the table does not know (the Models API names its line).
CURRENT_OF_LINE = {"sonnet": "claude-sonnet-5-5", "opus": "claude-opus-5-5", "haiku": "claude-haiku-5-5",
                   "fable": "claude-fable-5-2"}

#: A model id not in the table (a newer model, or a gateway's own id): the most conservative request that
#: current models accept (JSON outputs, no thinking or effort parameter), and no price.
UNKNOWN = ModelFamily("", "an unlisted model", "unknown", None,
                      json_outputs=True, forced_tool=False, thinking_off=None, adaptive=False, effort=False)


def family_for(model: str) -> ModelFamily:
    """The entry whose prefix is the longest match for `model` ("claude-sonnet-5-5" is not "claude-sonnet-5")."""
    matches = [family for family in FAMILIES if model == family.prefix or model.startswith(family.prefix + "-")]
    return max(matches, key=lambda family: len(family.prefix)) if matches else UNKNOWN


def replacement_for(family: ModelFamily, line: str | None = None) -> str:
    """The current model to use instead of `family`: its own entry's, else the current model of its line."""
    if family.replacement:
        return family.replacement
    return CURRENT_OF_LINE.get(line or "", DEFAULT_MODEL)


def refusal_for_retired(model: str, family: ModelFamily, day: datetime.date, line: str | None = None) -> str | None:
    """One line refusing a retired model (naming a current replacement), or None when the model is served."""
    if family.status_on(day) != "retired":
        return None
    since = f" on {family.retires.isoformat()}" if family.retires else ""
    instead = replacement_for(family, line)
    return (f"{model} ({family.name}) was retired{since}: requests to it fail. Set FILMSTITCH_CLAUDE_MODEL="
            f"{instead} ({family_for(instead).name}) instead")


def from_models_api(model: str, info: Any) -> ModelFamily:
    """The family of `model` with the Models API's word on its lifecycle and capabilities (`info` is the SDK's
    ModelInfo). The table still gives the price, and what the API does not say (whether a forced tool_choice
    is accepted; whether a model that accepts `disabled` thinks at all when `thinking` is left out)."""
    known = family_for(model)
    lifecycle = {"active": known.status if known.status in ("current", "legacy") else "current",
                 "deprecated": "deprecated", "retired": "retired"}[info.lifecycle]
    retires = info.retires_at.date() if info.retires_at else known.retires
    family = replace(known, name=info.display_name or known.name, status=lifecycle, retires=retires,
                     replacement=known.replacement or (CURRENT_OF_LINE.get(info.line or "") if info.line else None))
    caps = info.capabilities
    if caps is None:
        return family
    types = caps.thinking.types
    if not caps.thinking.supported:
        thinking_off: ThinkingOff | None = "omit"
    elif types.disabled.supported:
        thinking_off = "omit" if known.thinking_off == "omit" else "disabled"
    elif types.between_tools.supported:
        thinking_off = "between_tools"
    else:
        thinking_off = None  # the model always thinks
    levels = tuple(level for level in ("low", "medium", "high", "xhigh", "max")
                   if (getattr(caps.effort, level, None) is not None and getattr(caps.effort, level).supported))
    return replace(family, json_outputs=caps.structured_outputs.supported, thinking_off=thinking_off,
                   effort_levels=levels if caps.effort.supported else None,
                   adaptive=caps.thinking.supported and types.adaptive.supported, effort=caps.effort.supported,
                   forced_tool=known.forced_tool if known is not UNKNOWN else False)
