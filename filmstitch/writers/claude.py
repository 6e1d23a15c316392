"""The Claude writer: four Messages API calls that turn an idea into a film plan.

Each call forces one tool (``submit_script``, ``submit_characters``, ``submit_environments``,
``submit_keyframes``) whose input schema is generated from the pydantic models, so the answer
arrives as JSON arguments, never as free text to scrape. Every answer is validated with pydantic
and cross-checked against the film (segment count, cast, appearance details in keyframe
prompts...). A rejected answer goes back to the model as an ``is_error`` tool result for a repair
turn, at most ``max_repairs`` times; then the call fails with a clear :class:`WriterError`.

Failures are sorted for Prefect: the SDK retries 429/529/5xx/timeouts itself (with backoff,
honouring ``retry-after``); once it gives up we raise :class:`TransientWriterError` so the task
may try again later. Authentication and bad requests raise a permanent :class:`WriterError` at once.

The API key comes from ``ANTHROPIC_API_KEY`` or a Prefect Secret block, is held as a
``SecretStr``, and is scrubbed from every message we raise or log. SDK exceptions are never
chained (``from None``): their request objects carry the ``Authorization`` header.

The prompts live in :mod:`filmstitch.writers.prompts`.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import anthropic
from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from filmstitch.models import (
    Character,
    Environment,
    FilmPlan,
    FilmRequest,
    Keyframe,
    Script,
    Shot,
    Staging,
    Strict,
    slugify,
)
from filmstitch.writers import prompts
from filmstitch.writers.base import CallUsage, TransientWriterError, Writer, WriterError

logger = logging.getLogger(__name__)

#: The SDK refuses non-streaming requests whose max_tokens suggests more than 10 minutes of work.
MAX_NONSTREAMING_TOKENS = 21_000


class ClaudeSettings(BaseSettings):
    """Settings of the Claude writer, from ``FILMSTITCH_CLAUDE_*`` environment variables (or ``.env``).

    The key itself is ``ANTHROPIC_API_KEY`` (the name every Anthropic tool uses), unless
    ``FILMSTITCH_CLAUDE_API_KEY_BLOCK`` names a Prefect Secret block to load it from.
    """

    model_config = SettingsConfigDict(
        env_prefix="FILMSTITCH_CLAUDE_", env_file=".env", extra="ignore", populate_by_name=True
    )

    model: str = Field("claude-sonnet-5", min_length=1, description="Model id, e.g. claude-sonnet-5.")
    max_tokens: int = Field(16_000, ge=1024, le=MAX_NONSTREAMING_TOKENS, description="Output limit per turn.")
    temperature: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Sampling temperature. API version 2026-10-21 (anthropic SDK 2.x) rejects it, so it is "
        "only sent to a custom base_url (a gateway that still accepts it). None: not sent.",
    )
    max_repairs: int = Field(2, ge=0, le=5, description="Repair turns after an invalid answer, per call.")
    max_retries: int = Field(4, ge=0, le=10, description="SDK retries on 429/529/5xx/timeouts, with backoff.")
    timeout: float = Field(300.0, gt=0, le=600, description="Seconds per HTTP request.")
    base_url: str | None = Field(None, description="None: the Anthropic API. Tests point it at a local server.")
    appearance_share: float = Field(
        0.3, gt=0.0, le=1.0, description="Share of a description's distinctive words a keyframe prompt must repeat."
    )
    api_key_block: str | None = Field(None, description="Name of a Prefect Secret block holding the key.")
    api_key: SecretStr | None = Field(None, validation_alias="ANTHROPIC_API_KEY", repr=False)


# --- Cost -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    """USD per million tokens. Cache writes (5-minute TTL) cost 1.25x input, cache reads 0.1x."""

    input: float
    output: float

    def cost(self, usage: CallUsage) -> float:
        dollars = (
            usage.input_tokens * self.input
            + usage.cache_write_tokens * self.input * 1.25
            + usage.cache_read_tokens * self.input * 0.10
            + usage.output_tokens * self.output
        ) / 1_000_000
        return round(dollars, 6)


#: Published list prices, matched by the longest prefix of the model id (dated ids included).
#: An estimate for the manifest, not a bill; models missing here are recorded at $0 with a warning.
PRICES: dict[str, Price] = {
    "claude-sonnet-4": Price(3.0, 15.0),
    "claude-sonnet-5": Price(3.0, 15.0),
    "claude-haiku-4-5": Price(1.0, 5.0),
    "claude-opus-4-5": Price(5.0, 25.0),
    "claude-opus-4-6": Price(5.0, 25.0),
    "claude-opus-4-7": Price(5.0, 25.0),
    "claude-opus-4-8": Price(5.0, 25.0),
}


def price_for(model: str) -> Price | None:
    matches = [prefix for prefix in PRICES if model.startswith(prefix)]
    return PRICES[max(matches, key=len)] if matches else None


# --- What the model answers: thin wrappers around the domain models ---------------------------


class CharacterSheet(Strict):
    characters: list[Character] = Field(min_length=1, max_length=12)


class LocationSheet(Strict):
    environments: list[Environment] = Field(min_length=1, max_length=24)


class StagingAnswer(Staging):
    """How the keyframe is framed. Every field is required: the animatic draws from it."""

    shot: Shot
    camera_x: float = Field(ge=0.0, le=1.0, description="Where across the wide set the camera looks (0..1).")
    light: float = Field(ge=0.2, le=1.3, description="Overall brightness relative to the environment.")


class KeyframeAnswer(Keyframe):
    staging: StagingAnswer


class KeyframeSheet(Strict):
    keyframes: list[KeyframeAnswer] = Field(min_length=2)


@dataclass(frozen=True)
class Tool:
    stage: str
    name: str
    answer: type[BaseModel]

    def param(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": prompts.TOOL_DESCRIPTIONS[self.stage],
            "input_schema": self.answer.model_json_schema(),
        }


TOOLS = {
    tool.stage: tool
    for tool in (
        Tool("script", "submit_script", Script),
        Tool("characters", "submit_characters", CharacterSheet),
        Tool("environment", "submit_environments", LocationSheet),
        Tool("keyframes", "submit_keyframes", KeyframeSheet),
    )
}


class Rejected(Exception):
    """An answer that parsed but failed a cross-check; the problems go back to the model."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def describe_validation_error(error: ValidationError, limit: int = 20) -> list[str]:
    """Pydantic errors as 'where: what' lines, without echoing the (possibly long) input."""
    lines = []
    for item in error.errors(include_url=False, include_input=False)[:limit]:
        where = ".".join(str(part) for part in item["loc"]) or "arguments"
        lines.append(f"{where}: {item['msg']}")
    if error.error_count() > limit:
        lines.append(f"... and {error.error_count() - limit} more problems")
    return lines


# --- The appearance rule for keyframe prompts -------------------------------------------------

STOPWORDS = frozenset(
    "a an and are as at be but by for from has have her his in into is it its of on or over she he "
    "that the their them they this those to under up was wear wears wearing which while who with "
    "very about around across behind below beside down each just more most much only other same some "
    "such than then there these also both either neither like looks look".split()
)


def appearance_words(character: Character) -> list[str]:
    """Distinctive words of a description: lower-case, 4+ letters, no stopwords, not the name itself."""
    name_words = set(re.findall(r"[a-z]+", character.name.lower()))
    words = re.findall(r"[a-z]+", character.description.lower())
    return list(dict.fromkeys(w for w in words if len(w) >= 4 and w not in STOPWORDS and w not in name_words))


@dataclass(frozen=True)
class AppearanceRule:
    """A keyframe prompt must repeat `share` of a character's distinctive words (at most `cap` are required)."""

    share: float
    cap: int = 12

    def required(self, words: list[str]) -> int:
        return min(self.cap, math.ceil(self.share * len(words)))

    def text(self) -> str:
        return (
            f"repeat at least {round(self.share * 100)}% of the distinctive words of their description "
            f"(clothing, colours, hair, face, build; never more than {self.cap} are required)"
        )

    def problems(self, keyframe: Keyframe, characters: dict[str, Character]) -> list[str]:
        prompt = keyframe.prompt.lower()
        prompt_words = set(re.findall(r"[a-z]+", prompt))
        problems = []
        for name in keyframe.characters:
            if not re.search(rf"(?<!\w){re.escape(name.lower())}(?!\w)", prompt):
                problems.append(f"keyframes.{keyframe.index}.prompt: does not name {name!r}, who is in the frame")
            if name not in characters:
                continue  # reported by the film-plan check
            words = appearance_words(characters[name])
            found = [w for w in words if w in prompt_words]
            if len(found) < self.required(words):
                missing = [w for w in words if w not in prompt_words][:8]
                problems.append(
                    f"keyframes.{keyframe.index}.prompt: repeats {len(found)} of {len(words)} distinctive "
                    f"appearance words of {name!r} (needs {self.required(words)}); missing e.g. {', '.join(missing)}"
                )
        return problems


# --- The writer -------------------------------------------------------------------------------

T = TypeVar("T")


@dataclass
class Tally:
    """Usage summed over the turns of one writer call."""

    turns: int = 0
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0

    def add(self, usage: Any) -> None:
        self.turns += 1
        self.input += usage.input_tokens or 0
        self.output += usage.output_tokens or 0
        self.cache_read += usage.cache_read_input_tokens or 0
        self.cache_write += usage.cache_creation_input_tokens or 0


class ClaudeWriter(Writer):
    """Writes the film with Claude. Construct it where it is used (inside the task): it holds the key."""

    name = "claude"
    code_modules = ("filmstitch.writers.claude", "filmstitch.writers.prompts")

    def settings_identity(self) -> dict[str, Any]:
        s = self.settings
        return {"model": s.model, "max_tokens": s.max_tokens, "temperature": s.temperature,
                "appearance_share": s.appearance_share}

    def __init__(self, settings: ClaudeSettings | None = None) -> None:
        super().__init__()
        self.settings = settings or load_settings()
        if self.settings.temperature is not None and self.settings.base_url is None:
            raise WriterError(
                "FILMSTITCH_CLAUDE_TEMPERATURE is set, but the Anthropic API (version 2026-10-21, used by the "
                "anthropic SDK 2.x) rejects sampling parameters with a 400: unset it, or set "
                "FILMSTITCH_CLAUDE_BASE_URL to a gateway that accepts it"
            )
        self._api_key = resolve_api_key(self.settings)
        self.label = f"Claude ({self.settings.model})"
        self.appearance = AppearanceRule(self.settings.appearance_share)
        self._client: anthropic.Anthropic | None = None
        self._tools = [tool.param() for tool in TOOLS.values()]

    def __repr__(self) -> str:
        return f"ClaudeWriter(model={self.settings.model!r})"

    # The four calls ---------------------------------------------------------------------------

    def write_script(self, request: FilmRequest) -> Script:
        def check(script: Script) -> Script:
            problems = []
            if len(script.segments) != request.segments:
                problems.append(f"segments: {len(script.segments)} segments; exactly {request.segments} are needed")
            slugs: dict[str, str] = {}
            for name in script.character_names:
                other = slugs.setdefault(slugify(name, 24), name)
                if other != name:
                    problems.append(f"characters: {other!r} and {name!r} look like one name spelled two ways")
            if problems:
                raise Rejected(problems)
            return script

        return self._call("script", prompts.script_task(request), check)

    def describe_characters(self, request: FilmRequest, script: Script) -> list[Character]:
        wanted = script.character_names

        def check(sheet: CharacterSheet) -> list[Character]:
            names = [c.name for c in sheet.characters]
            problems = [f"characters: {name!r} is named in the script but not described" for name in wanted
                        if name not in names]
            problems += [f"characters: {name!r} is not a character of the script (spell names exactly as there)"
                         for name in dict.fromkeys(names) if name not in wanted]
            problems += [f"characters: {name!r} is described more than once" for name in dict.fromkeys(names)
                         if names.count(name) > 1]
            if problems:
                raise Rejected(problems)
            by_name = {c.name: c for c in sheet.characters}
            return [by_name[name] for name in wanted]  # script order, so the plan is stable

        if not wanted:
            raise WriterError("the script names no characters, so there is nobody to describe")
        return self._call("characters", prompts.characters_task(request, script), check)

    def describe_environments(self, request: FilmRequest, script: Script) -> list[Environment]:
        wanted = script.locations

        def check(sheet: LocationSheet) -> list[Environment]:
            ids = [e.id for e in sheet.environments]
            problems = [f"environments: location {loc!r} of the script is not described" for loc in wanted
                        if loc not in ids]
            problems += [f"environments: {loc!r} is not a location of the script" for loc in ids if loc not in wanted]
            problems += [f"environments: {loc!r} is described more than once" for loc in dict.fromkeys(ids)
                         if ids.count(loc) > 1]
            if problems:
                raise Rejected(problems)
            by_id = {e.id: e for e in sheet.environments}
            return [by_id[loc] for loc in wanted]

        return self._call("environment", prompts.environment_task(request, script), check)

    def write_keyframes(
        self, request: FilmRequest, script: Script, characters: list[Character], environments: list[Environment]
    ) -> list[Keyframe]:
        by_name = {c.name: c for c in characters}
        # The boundary rule lives in FilmPlan; borrow it from an unvalidated plan without keyframes.
        draft = FilmPlan.model_construct(script=script)
        boundaries = [
            {"keyframe": i, "allowed_characters": draft.characters_near_boundary(i)}
            for i in range(len(script.segments) + 1)
        ]

        def check(sheet: KeyframeSheet) -> list[Keyframe]:
            keyframes = [Keyframe.model_validate(k.model_dump()) for k in sheet.keyframes]
            problems = []
            try:  # counts, order and who may appear at each boundary
                FilmPlan(
                    request=request,
                    writer=self.label,
                    script=script,
                    characters=characters,
                    environments=environments,
                    keyframes=keyframes,
                )
            except ValidationError as error:
                problems += describe_validation_error(error)
            for keyframe in keyframes:
                problems += self.appearance.problems(keyframe, by_name)
            if problems:
                raise Rejected(problems)
            return keyframes

        task = prompts.keyframes_task(
            request,
            script,
            [c.model_dump(mode="json") for c in characters],
            [e.model_dump(mode="json") for e in environments],
            boundaries,
            self.appearance.text(),
        )
        return self._call("keyframes", task, check)

    # The conversation loop --------------------------------------------------------------------

    def _call(self, stage: str, task: str, check: Callable[[Any], T]) -> T:
        """Ask, validate, repair at most `max_repairs` times; record usage whatever happens."""
        tool = TOOLS[stage]
        messages: list[dict[str, Any]] = [{"role": "user", "content": task}]
        tally = Tally()
        try:
            for attempt in range(self.settings.max_repairs + 1):
                response = self._create(tool, messages)
                tally.add(response.usage)
                result, problems = self._read(response, tool, check)
                if not problems:
                    return result
                if attempt == self.settings.max_repairs:
                    break
                self._log().warning(
                    "claude %s: answer rejected (%d problems), asking for repair %d of %d",
                    stage, len(problems), attempt + 1, self.settings.max_repairs,
                )
                messages += [
                    {"role": "assistant", "content": [self._as_param(block) for block in response.content]},
                    {"role": "user", "content": self._repair_turn(response, tool, problems)},
                ]
            shown = "; ".join(problems[:6]) + ("; ..." if len(problems) > 6 else "")
            raise WriterError(self._scrub(
                f"Claude's {stage} answer was still invalid after {tally.turns} attempts "
                f"(FILMSTITCH_CLAUDE_MAX_REPAIRS={self.settings.max_repairs}); nothing was kept. Problems: {shown}"
            ))
        finally:
            if tally.turns:
                self._record(stage, tally)

    def _read(self, response: Any, tool: Tool, check: Callable[[Any], T]) -> tuple[T | None, list[str]]:
        """The checked result of a reply, or the problems to send back."""
        problems = []
        if response.stop_reason == "max_tokens":
            problems.append(
                f"your answer was cut off at the output limit ({self.settings.max_tokens} tokens): be more concise"
            )
        calls = [block for block in response.content if block.type == "tool_use" and block.name == tool.name]
        if not calls:
            return None, problems + [f"no call to {tool.name} in the answer"]
        try:
            answer = tool.answer.model_validate(calls[0].input)
            return check(answer), []
        except ValidationError as error:
            return None, problems + describe_validation_error(error)
        except Rejected as rejected:
            return None, problems + rejected.problems

    def _repair_turn(self, response: Any, tool: Tool, problems: list[str]) -> list[dict[str, Any]] | str:
        """Every tool_use needs a tool_result; ours carries the problems, any other is refused."""
        uses = [block for block in response.content if block.type == "tool_use"]
        if not uses:
            return prompts.missing_tool_note(tool.name)
        note = prompts.repair_note(problems)
        return [
            {
                "type": "tool_result",
                "tool_use_id": block.id,
                "is_error": True,
                "content": note if block.name == tool.name else prompts.missing_tool_note(tool.name),
            }
            for block in uses
        ]

    @staticmethod
    def _as_param(block: Any) -> dict[str, Any]:
        """An assistant content block as it must be sent back in the next request."""
        if block.type == "tool_use":
            return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
        if block.type == "text":
            return {"type": "text", "text": block.text}
        return block.model_dump(mode="json", exclude_none=True)

    # The API call -----------------------------------------------------------------------------

    def _create(self, tool: Tool, messages: list[dict[str, Any]]) -> Any:
        extra: dict[str, Any] = {}
        if self.settings.temperature is not None:  # only for gateways: see ClaudeSettings.temperature
            extra["extra_body"] = {"temperature": self.settings.temperature}
        try:
            return self.client.messages.create(
                model=self.settings.model,
                max_tokens=self.settings.max_tokens,
                # One system block shared by all four calls; with the same four tools in front of it,
                # the whole prefix is cached after the first call (prompt caching needs >= 1024 tokens).
                system=[{"type": "text", "text": prompts.SYSTEM_PROMPT, "cache_control": {"type": "ephemeral"}}],
                tools=self._tools,
                tool_choice={"type": "tool", "name": tool.name, "disable_parallel_tool_use": True},
                # A forced tool choice is not allowed while thinking is on (the default for Sonnet 5).
                thinking={"type": "disabled"},
                messages=messages,
                **extra,
            )
        except anthropic.APIError as error:
            raise self._translate(error, tool.stage) from None  # never chain: the request holds the key

    def _translate(self, error: anthropic.APIError, stage: str) -> WriterError:
        what = f"Claude {stage} call"
        if isinstance(error, (anthropic.AuthenticationError, anthropic.PermissionDeniedError)):
            return WriterError(self._scrub(
                f"{what}: the API key was refused ({error.status_code}). Check ANTHROPIC_API_KEY or the Prefect "
                "Secret block named by FILMSTITCH_CLAUDE_API_KEY_BLOCK"
            ))
        if isinstance(error, anthropic.APIStatusError):
            detail = self._scrub(f"{error.status_code} {error.type or ''}: {error.api_message or 'no message'}")
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

    @property
    def client(self) -> anthropic.Anthropic:
        if self._client is None:
            self._client = anthropic.Anthropic(
                api_key=self._api_key.get_secret_value(),
                base_url=self.settings.base_url,
                max_retries=self.settings.max_retries,
                timeout=self.settings.timeout,
            )
        return self._client

    # Usage, logs, secrets ---------------------------------------------------------------------

    def _record(self, stage: str, tally: Tally) -> None:
        usage = CallUsage(
            stage=stage,
            model=self.settings.model,
            input_tokens=tally.input,
            output_tokens=tally.output,
            cache_read_tokens=tally.cache_read,
            cache_write_tokens=tally.cache_write,
            attempts=tally.turns,
        )
        price = price_for(self.settings.model)
        if price is None:
            self._log().warning("claude: no price known for model %r; its cost is recorded as $0", self.settings.model)
        else:
            usage = usage.model_copy(update={"cost_usd": price.cost(usage)})
        self.usage.append(usage)
        self._log().info(
            "claude %s: %d turn(s), %d input + %d output tokens (cache read %d, write %d), est. $%.4f",
            stage, usage.attempts, usage.input_tokens, usage.output_tokens,
            usage.cache_read_tokens, usage.cache_write_tokens, usage.cost_usd,
        )

    @staticmethod
    def _log() -> logging.Logger | logging.LoggerAdapter:
        """The Prefect run logger inside a flow or task (so lines reach the UI), else the module's."""
        from prefect.exceptions import MissingContextError
        from prefect.logging import get_run_logger

        try:
            return get_run_logger()
        except MissingContextError:
            return logger

    def _scrub(self, text: str) -> str:
        return scrub(text, self._api_key)


KEY_PATTERN = re.compile(r"sk-ant-[A-Za-z0-9_\-]+")


def scrub(text: str, key: SecretStr | None) -> str:
    """Remove the key (and anything shaped like an Anthropic key) from a message we are about to show."""
    if key is not None and key.get_secret_value():
        text = text.replace(key.get_secret_value(), "[redacted]")
    return KEY_PATTERN.sub("[redacted]", text)


def load_settings() -> ClaudeSettings:
    """Read the settings, turning a validation error into a message that names the variables."""
    try:
        return ClaudeSettings()
    except ValidationError as error:
        problems = "; ".join(describe_validation_error(error))
        raise WriterError(f"invalid FILMSTITCH_CLAUDE_* settings: {problems}") from None


def resolve_api_key(settings: ClaudeSettings) -> SecretStr:
    """The key from the named Prefect Secret block, else from ANTHROPIC_API_KEY; a clear error if neither."""
    if settings.api_key_block:
        from prefect.blocks.system import Secret

        try:
            value = Secret.load(settings.api_key_block, _sync=True).get()
        except Exception as error:  # noqa: BLE001 - any failure means: no key; the type is enough to say why
            raise WriterError(
                f"could not load the Prefect Secret block {settings.api_key_block!r} named by "
                f"FILMSTITCH_CLAUDE_API_KEY_BLOCK ({type(error).__name__}); check `prefect block ls`"
            ) from None
        if not isinstance(value, str) or not value.strip():
            raise WriterError(f"the Prefect Secret block {settings.api_key_block!r} holds no API key string")
        return SecretStr(value.strip())
    if settings.api_key is not None and settings.api_key.get_secret_value().strip():
        return SecretStr(settings.api_key.get_secret_value().strip())
    raise WriterError(
        "no Anthropic API key: set ANTHROPIC_API_KEY, or FILMSTITCH_CLAUDE_API_KEY_BLOCK to the name of a "
        "Prefect Secret block holding it (or use FILMSTITCH_WRITER=offline)"
    )
