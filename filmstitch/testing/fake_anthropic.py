"""A local stand-in for the Anthropic Messages API, for tests that drive the real ``anthropic`` SDK.

``FakeAnthropic`` listens on 127.0.0.1 (stdlib ``http.server`` in a thread) and answers
``POST /v1/messages`` the way the API does, in the shapes of the SDK's own types:

* **streaming** (``"stream": true``, what ``messages.stream()`` sends): server-sent events
  ``message_start``, ``content_block_start`` / ``_delta`` / ``_stop`` (text, thinking with its
  signature, tool input as partial JSON), ``ping``, ``message_delta`` (stop reason, stop details,
  cumulative usage) and ``message_stop``; or an ``error`` event in the middle of a stream, or a
  connection that drops mid-answer. Without ``stream`` it answers one JSON message.
* **the answer's shape follows the request**: JSON text when the request asks for structured
  outputs (``output_config.format``), a ``tool_use`` block when it forces a tool; a thinking block
  first when the request lets the model think.
* **requests are checked like the API checks them**, model by model (400 ``invalid_request_error``):
  sampling parameters under API version 2026-10-21, forced ``tool_choice`` and ``thinking:
  disabled`` where the newest models refuse them, manual thinking budgets, ``between_tools`` outside
  Sonnet 5.5 or above effort high, assistant prefill, empty or unanswered turns, thinking blocks
  changed on the way back (their signature), schemas structured outputs cannot take, more than four
  cache breakpoints.
* **prompt caching** is simulated: a prefix up to a ``cache_control`` breakpoint that was sent before
  (same model, output format and thinking) is reported as ``cache_read_input_tokens``, new ones as
  ``cache_creation_input_tokens`` (tokens counted as characters / 4).
* ``max_tokens`` is honoured: a longer answer is cut, with ``stop_reason: "max_tokens"``.
* cache entries live 5 minutes or an hour (``ttl``), on the fake's own clock (:meth:`FakeAnthropic.wait`,
  so a test "waits" for a person without sleeping); a read refreshes an entry; a 1-hour breakpoint after a
  5-minute one is a 400; writes are reported per lifetime (``cache_creation``).
* thinking is reported apart in ``usage.output_tokens_details.thinking_tokens``.
* the **Models API**: ``GET /v1/models/{id}`` answers the model's lifecycle and capabilities from
  :data:`MODELS` (dated ids and aliases resolve by prefix), 404 for an unknown id, or ``models_status``
  (403: a key that may not read it). ``POST /v1/messages/count_tokens`` counts a request's input tokens.

Replies are scripted in order (answers, errors with status codes and ``retry-after`` headers,
refusals, broken streams); when none is left, the :class:`~filmstitch.testing.film_author.FilmAuthor`
answers if ``author`` is set. Every request is recorded: path, headers, JSON body, arrival time.

The tests' fixture ``fake_anthropic`` (tests/support/servers.py) starts one per test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from filmstitch.testing.film_author import FilmAuthor, film_answers

API_VERSION = "2026-10-21"
#: Models that answer a forced tool_choice with a 400 (their "what's new" pages).
NO_FORCED_TOOL = ("claude-sonnet-5-5", "claude-opus-5-5", "claude-fable-5-1", "claude-fable-5-2")
#: Models on which thinking cannot be switched off.
ALWAYS_THINK = ("claude-opus-5-5", "claude-fable-5-1", "claude-fable-5-2", "claude-fable-5")
#: Models whose lowest thinking setting is between_tools (disabled is a 400 there).
BETWEEN_TOOLS = ("claude-sonnet-5-5",)
#: Models that think unless told otherwise.
THINK_BY_DEFAULT = ("claude-sonnet-5-5", "claude-sonnet-5", "claude-opus-5", "claude-haiku-5-5", *ALWAYS_THINK)
#: Models that take thinking: disabled only at effort low, medium and high (a 400 at xhigh and max).
DISABLED_UP_TO_HIGH = ("claude-haiku-5-5", "claude-opus-5", "claude-sonnet-5")
#: Models before structured outputs.
NO_STRUCTURED = ("claude-sonnet-4-2", "claude-opus-4-1", "claude-opus-4-2", "claude-opus-4-0")
#: JSON schema keywords structured outputs do not take (the SDK moves them into descriptions).
UNSUPPORTED_SCHEMA_KEYS = {"minLength", "maxLength", "minimum", "maximum", "pattern", "exclusiveMinimum",
                           "exclusiveMaximum", "multipleOf", "maxItems"}
SIGNING_KEY = b"fake-anthropic-thinking"
#: Thinking tokens the fake reports for a turn in which the model thought.
THINKING_TOKENS = 40
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}


def model_entry(model_id: str, name: str, lifecycle: str = "active", *, line: str | None = None,
                structured: bool = True, thinking: tuple[str, ...] = ("adaptive", "disabled"),
                effort: tuple[str, ...] = ("low", "medium", "high", "xhigh", "max"),
                retires_at: str | None = None, deprecated_at: str | None = None) -> dict[str, Any]:
    """One Models API entry, in the shape of the SDK's ModelInfo."""
    def support(flag: bool) -> dict[str, bool]:
        return {"supported": flag}

    levels = {level: support(level in effort) for level in ("low", "medium", "high", "xhigh", "max")}
    return {
        "type": "model", "id": model_id, "display_name": name, "created_at": "2026-01-01T00:00:00Z",
        "lifecycle": lifecycle, "line": line, "retires_at": retires_at, "deprecated_at": deprecated_at,
        "max_input_tokens": 1_000_000, "max_tokens": 128_000,
        "capabilities": {
            "batch": support(True), "citations": support(True), "code_execution": support(True),
            "context_management": {"supported": True}, "image_input": support(True), "pdf_input": support(True),
            "server_tools": {"supported": True, "code_execution": support(True), "web_search": support(True)},
            "structured_outputs": support(structured),
            "effort": {"supported": bool(effort), **levels},
            "thinking": {"supported": bool(thinking), "types": {
                name: support(name in thinking) for name in ("adaptive", "between_tools", "disabled", "enabled")}},
        },
    }


#: What the fake's Models API says (checked against the models overview on 2026-12-07).
MODELS: dict[str, dict[str, Any]] = {entry["id"]: entry for entry in (
    model_entry("claude-sonnet-5-5", "Claude Sonnet 5.5", line="sonnet", thinking=("adaptive", "between_tools")),
    model_entry("claude-opus-5-5", "Claude Opus 5.5", line="opus", thinking=("adaptive",)),
    model_entry("claude-fable-5-2", "Claude Fable 5.2", line="fable", thinking=("adaptive",)),
    model_entry("claude-haiku-5-5", "Claude Haiku 5.5", line="haiku"),
    model_entry("claude-sonnet-5", "Claude Sonnet 5", line="sonnet"),
    model_entry("claude-opus-4-8", "Claude Opus 4.8", line="opus", thinking=("adaptive", "disabled", "enabled")),
    model_entry("claude-haiku-4-5", "Claude Haiku 4.5", line="haiku", thinking=("disabled", "enabled"), effort=()),
    model_entry("claude-sonnet-4-5", "Claude Sonnet 4.5", "retired", line="sonnet", thinking=("disabled", "enabled"),
                effort=(), deprecated_at="2026-09-29T00:00:00Z", retires_at="2026-11-30T00:00:00Z"),
    model_entry("claude-sonnet-4", "Claude Sonnet 4", "retired", line="sonnet", structured=False,
                thinking=("disabled", "enabled"), effort=(), retires_at="2026-06-15T00:00:00Z"),
    model_entry("claude-opus-4-1", "Claude Opus 4.1", "retired", line="opus", structured=False,
                thinking=("disabled", "enabled"), effort=(), retires_at="2026-08-05T00:00:00Z"),
    model_entry("claude-opus-4", "Claude Opus 4", "retired", line="opus", structured=False,
                thinking=("disabled", "enabled"), effort=(), retires_at="2026-06-15T00:00:00Z"),
)}


def model_is(model: str, families: tuple[str, ...]) -> bool:
    return any(model == f or model.startswith(f + "-") for f in families)


def tokens(payload: object) -> int:
    return max(1, len(json.dumps(payload, ensure_ascii=False)) // 4)


def sign(thinking: str) -> str:
    return base64.b64encode(hmac.new(SIGNING_KEY, thinking.encode(), hashlib.sha256).digest()).decode()


@dataclass
class Reply:
    """One scripted reply. `answer` is a JSON payload rendered in the shape the request asks for; `text` a
    plain text answer; otherwise `body` is sent as is with `status`. `echo_auth` puts the received credentials
    into an error message (a hostile server); `mutate` edits the author's answer (a planted mistake)."""

    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    echo_auth: bool = False
    answer: dict[str, Any] | None = None
    text: str | None = None
    authored: bool = False
    mutate: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None
    stop_reason: str | None = None
    stop_details: dict[str, Any] | None = None
    usage: dict[str, int] | None = None
    stream_error: dict[str, str] | None = None
    break_stream: bool = False


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: dict[str, Any] | None
    at: float  # time.monotonic() on arrival
    status: int = 0


class RequestRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FakeAnthropic:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        #: Messages requests (POST /v1/messages) only; the Models API and token counts have their own lists.
        self.requests: list[Recorded] = []
        self.lookups: list[Recorded] = []
        self.counts: list[Recorded] = []
        self.author: FilmAuthor | None = None
        self.errors: list[Exception] = []  # failures of the fake itself
        self.models: dict[str, dict[str, Any]] = dict(MODELS)
        #: Not 200: every Models API request is answered with this status (403: the key may not read it).
        self.models_status = 200
        self.clock = 0.0  # seconds the fake's cache has aged: see wait()
        self._cache: dict[str, float] = {}  # prefix digest -> when it expires, on self.clock
        self._signed: set[str] = set()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Scripting ---------------------------------------------------------------------------------

    def reply_answer(self, answer: dict[str, Any], *, usage: dict[str, int] | None = None,
                     stop_reason: str | None = None) -> None:
        """Queue an answer, sent as JSON text or as the forced tool's input, whichever the request asks for."""
        self.replies.append(Reply(answer=answer, usage=usage, stop_reason=stop_reason))

    def reply_film(self, idea: str, segments: int, seconds: float = 8.0, **usage: int) -> dict[str, Any]:
        """Queue the five answers of a film that fits one chunk; returns them."""
        answers = film_answers(idea, segments, seconds)
        for stage in ("outline", "segments", "characters", "environments", "keyframes"):
            self.reply_answer(answers[stage], usage=usage or None)
        return answers

    def reply_authored(self, mutate: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None) -> None:
        """Queue the author's answer to whatever the request asks, edited by `mutate(answer, request_body)`."""
        self.replies.append(Reply(authored=True, mutate=mutate))

    def reply_text(self, text: str, stop_reason: str | None = None) -> None:
        """Queue an answer of plain text, whatever was asked."""
        self.replies.append(Reply(text=text, stop_reason=stop_reason))

    def reply_refusal(self, category: str | None = "general_harms", explanation: str | None = None,
                      text: str = "") -> None:
        """Queue a refusal by the streaming classifiers: partial text, then stop_reason refusal with details."""
        details = {"type": "refusal", "category": category, "explanation": explanation}
        self.replies.append(Reply(text=text, stop_reason="refusal", stop_details=details))

    def reply_error(
        self, status: int, error_type: str, message: str, headers: dict[str, str] | None = None, *,
        echo_auth: bool = False
    ) -> None:
        body = {"type": "error", "error": {"type": error_type, "message": message}, "request_id": "req_fake"}
        self.replies.append(Reply(status, body, headers or {}, echo_auth))

    def reply_stream_error(self, error_type: str, message: str) -> None:
        """Queue a stream that starts, then ends with an `error` event (as an overloaded API does mid-answer)."""
        self.replies.append(Reply(text="{", stream_error={"type": error_type, "message": message}))

    def reply_broken_stream(self) -> None:
        """Queue a stream whose connection drops before the answer is complete."""
        self.replies.append(Reply(text='{"title": "cut', break_stream=True))

    def wait(self, seconds: float) -> None:
        """Let `seconds` pass for the prompt cache (a person at a checkpoint), without sleeping."""
        with self._lock:
            self.clock += seconds

    def model_info(self, model: str) -> dict[str, Any] | None:
        """The Models API's entry for an id, a dated id or an alias (longest prefix)."""
        matches = [key for key in self.models if model == key or model.startswith(key + "-")]
        if not matches:
            return None
        return {**self.models[max(matches, key=len)], "id": model}

    # Reading what arrived ---------------------------------------------------------------------

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.body is not None]

    @property
    def asked(self) -> list[str]:
        """What each request asked for: the forced tool's name, or the title of the output schema."""
        return [asked_for(body) for body in self.bodies]

    # Answering --------------------------------------------------------------------------------

    def handle(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[Reply, dict[str, Any] | None]:
        """The reply to one request, and (for a message) the message it carries."""
        with self._lock:
            try:
                check_request(headers, body, self._signed)
            except RequestRefused as refused:
                return Reply(400, error_body("invalid_request_error", refused.message)), None
            reply = self.replies.popleft() if self.replies else (Reply(authored=True) if self.author else None)
            if reply is None:
                return Reply(400, error_body("invalid_request_error", "fake server: no scripted reply left"),
                             {"x-should-retry": "false"}), None
            if reply.status != 200:
                return reply, None
            return reply, self._message(reply, body)

    def _message(self, reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
        n = next(self._ids)
        content: list[dict[str, Any]] = []
        thought = thinks(body) and reply.stop_reason != "refusal"
        if thought:
            # Thinking text is omitted by default on the newest models; the signature always comes.
            signature = sign(f"msg_fake{n:04d}")
            self._signed.add(signature)
            content.append({"type": "thinking", "thinking": "", "signature": signature})
        stop_reason = reply.stop_reason
        answer = reply.answer
        if reply.authored:
            answer = (self.author or FilmAuthor()).answer(body)
            if reply.mutate is not None:
                answer = reply.mutate(answer, body)
        if answer is not None:
            if "output_config" in body and "format" in body["output_config"]:
                content.append({"type": "text", "text": json.dumps(answer)})
                stop_reason = stop_reason or "end_turn"
            else:
                name = (body.get("tool_choice") or {}).get("name") or "unnamed_tool"
                content.append({"type": "tool_use", "id": f"toolu_fake{n:04d}", "name": name, "input": answer})
                stop_reason = stop_reason or "tool_use"
        elif reply.text is not None:
            content.append({"type": "text", "text": reply.text})
            stop_reason = stop_reason or "end_turn"
        output = sum(tokens(b.get("text") or b.get("input") or "") for b in content if b["type"] != "thinking")
        output += THINKING_TOKENS if thought else 0
        if output > body.get("max_tokens", 10**9) and content and content[-1]["type"] == "text":
            content[-1]["text"] = content[-1]["text"][: body["max_tokens"] * 4]
            output, stop_reason = body["max_tokens"], "max_tokens"
        return {
            "id": f"msg_fake{n:04d}", "type": "message", "role": "assistant", "model": body.get("model"),
            "content": content, "stop_reason": stop_reason, "stop_sequence": None,
            "stop_details": reply.stop_details,
            "usage": {**self._cache_usage(body), "output_tokens": output,
                      "output_tokens_details": {"thinking_tokens": THINKING_TOKENS if thought else 0},
                      **(reply.usage or {})},
        }

    def _cache_usage(self, body: dict[str, Any]) -> dict[str, Any]:
        """Input tokens split into cache reads, cache writes (per lifetime) and the rest, as prompt caching
        reports them. Entries expire on the fake's clock; a read refreshes the entries it reads."""
        key = json.dumps([body.get("model"), (body.get("output_config") or {}).get("format"), body.get("thinking")])
        total, running, breakpoints = 0, [], []
        for piece in request_pieces(body):
            total += tokens(piece)
            running.append(piece)
            control = piece.get("cache_control") if isinstance(piece, dict) else None
            if control:
                digest = hashlib.sha256(json.dumps([key, strip_controls(running)]).encode()).hexdigest()
                breakpoints.append((digest, total, control.get("ttl", "5m")))
        now = self.clock
        live = {digest for digest, expires in self._cache.items() if expires > now}
        minimum = 512 if model_is(str(body.get("model")), BETWEEN_TOOLS) else 1024
        read = max((at for digest, at, _ in breakpoints if digest in live), default=0)
        cacheable = [(digest, at, ttl) for digest, at, ttl in breakpoints if at >= minimum]
        written = {"5m": 0, "1h": 0}
        before = read
        for digest, at, ttl in cacheable:
            self._cache[digest] = max(self._cache.get(digest, 0.0), now + TTL_SECONDS[ttl])
            if at > before:
                written[ttl] += at - before
                before = at
        write = written["5m"] + written["1h"]
        return {"input_tokens": total - read - write, "cache_read_input_tokens": read,
                "cache_creation_input_tokens": write,
                "cache_creation": {"ephemeral_5m_input_tokens": written["5m"],
                                   "ephemeral_1h_input_tokens": written["1h"]}}

    def count_tokens(self, headers: dict[str, str], body: dict[str, Any]) -> Reply:
        """POST /v1/messages/count_tokens: the request's input tokens, nothing cached or answered."""
        try:
            check_request(headers, {**body, "max_tokens": 1}, self._signed)
        except RequestRefused as refused:
            return Reply(400, error_body("invalid_request_error", refused.message))
        return Reply(200, {"input_tokens": sum(tokens(piece) for piece in request_pieces(body))})

    def models_reply(self, path: str) -> Reply:
        """GET /v1/models/{id}."""
        if self.models_status != 200:
            kind = {401: "authentication_error", 403: "permission_error"}.get(self.models_status, "api_error")
            return Reply(self.models_status, error_body(kind, "this key may not read the Models API"),
                         {"x-should-retry": "false"})
        info = self.model_info(path.removeprefix("/v1/models/"))
        if info is None:
            return Reply(404, error_body("not_found_error", f"model: {path.removeprefix('/v1/models/')}"))
        return Reply(200, info)

    # Serving ----------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeAnthropic:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # http.server names it
                headers = {k.lower(): v for k, v in self.headers.items()}
                record = Recorded("GET", self.path, headers, None, time.monotonic())
                with fake._lock:
                    fake.lookups.append(record)
                    reply = fake.models_reply(self.path) if self.path.startswith("/v1/models/") else \
                        Reply(404, error_body("not_found_error", self.path))
                record.status = reply.status
                self._send(reply.status, "application/json", json.dumps(reply.body).encode(), reply.headers)

            def do_POST(self) -> None:  # http.server names it
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except json.JSONDecodeError:
                    body = None
                headers = {k.lower(): v for k, v in self.headers.items()}
                record = Recorded("POST", self.path, headers, body, time.monotonic())
                if self.path == "/v1/messages/count_tokens" and isinstance(body, dict):
                    with fake._lock:
                        fake.counts.append(record)
                        reply = fake.count_tokens(headers, body)
                    record.status = reply.status
                    self._send(reply.status, "application/json", json.dumps(reply.body).encode(), reply.headers)
                    return
                with fake._lock:
                    fake.requests.append(record)
                if self.path != "/v1/messages" or not isinstance(body, dict):
                    reply, message = Reply(404, error_body("not_found_error", self.path)), None
                else:
                    try:
                        reply, message = fake.handle(headers, body)
                    except Exception as error:  # noqa: BLE001 - a bug in the fake or its author: show it, do not hang up
                        traceback.print_exc()
                        fake.errors.append(error)
                        reply, message = Reply(500, error_body("fake_error", repr(error)),
                                               {"x-should-retry": "false"}), None
                record.status = reply.status
                if message is None:
                    payload = dict(reply.body)
                    if reply.echo_auth:
                        seen = headers.get("authorization") or headers.get("x-api-key") or ""
                        payload["error"] = {**payload["error"], "message": f"{payload['error']['message']} ({seen})"}
                    self._send(reply.status, "application/json", json.dumps(payload).encode(), reply.headers)
                elif isinstance(body, dict) and body.get("stream"):  # (a message came from a dict body)
                    data = b"".join(sse(event, payload) for event, payload in stream_events(message, reply))
                    if reply.break_stream:  # announce more than is sent, then hang up
                        self._send(200, "text/event-stream", data, {}, length=len(data) + 4096)
                        self.close_connection = True
                    else:
                        self._send(200, "text/event-stream", data, {})
                else:
                    self._send(200, "application/json", json.dumps(message).encode(), {})

            def _send(self, status: int, kind: str, data: bytes, extra: dict[str, str], length: int = 0) -> None:
                self.send_response(status)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(length or len(data)))
                self.send_header("request-id", "req_fake")
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:  # keeps test output quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-anthropic", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


# --- The API's rules, as the fake enforces them -----------------------------------------------------


def error_body(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}, "request_id": "req_fake"}


def asked_for(body: dict[str, Any]) -> str:
    if body.get("tool_choice", {}).get("type") == "tool":
        return body["tool_choice"]["name"]
    return ((body.get("output_config") or {}).get("format") or {}).get("schema", {}).get("title", "text")


def thinks(body: dict[str, Any]) -> bool:
    thinking = (body.get("thinking") or {}).get("type")
    if thinking in ("disabled", "between_tools") or body.get("tool_choice", {}).get("type") in ("tool", "any"):
        return False
    return thinking in ("adaptive", "enabled") or model_is(str(body.get("model")), THINK_BY_DEFAULT)


def check_request(headers: dict[str, str], body: dict[str, Any], signatures: set[str]) -> None:
    """Raise RequestRefused with the API's kind of message for what the real API answers with a 400."""
    model = str(body.get("model"))
    if headers.get("anthropic-version") == API_VERSION:
        for name in ("temperature", "top_p", "top_k"):
            if name in body:
                raise RequestRefused(f"{name}: sampling parameters are not supported in API version {API_VERSION}")
    thinking = body.get("thinking") or {}
    choice = body.get("tool_choice") or {}
    effort = (body.get("output_config") or {}).get("effort")
    if choice.get("type") in ("tool", "any") and model_is(model, NO_FORCED_TOOL):
        raise RequestRefused('tool_choice: type "tool" and "any" are not supported for this model')
    if thinking.get("type") == "disabled" and model_is(model, ALWAYS_THINK + BETWEEN_TOOLS):
        hint = ' Use thinking: {"type": "between_tools"} instead.' if model_is(model, BETWEEN_TOOLS) else ""
        raise RequestRefused(f'"thinking.type.disabled" is not supported for this model.{hint}')
    if thinking.get("type") == "disabled" and model_is(model, DISABLED_UP_TO_HIGH) and effort in ("xhigh", "max"):
        raise RequestRefused("thinking.type.disabled is available at effort low, medium and high only")
    if thinking.get("type") == "enabled" and model_is(model, THINK_BY_DEFAULT):
        raise RequestRefused('"thinking.type.enabled" is not supported for this model.')
    if thinking.get("type") == "between_tools":
        if not model_is(model, BETWEEN_TOOLS):
            raise RequestRefused('"thinking.type.between_tools" is not supported for this model.')
        if effort in ("xhigh", "max"):
            raise RequestRefused("thinking.type.between_tools is available at effort low, medium and high only")
    fmt = (body.get("output_config") or {}).get("format")
    if fmt is not None:
        if model_is(model, NO_STRUCTURED) or model.startswith(NO_STRUCTURED):
            raise RequestRefused("output_config.format: structured outputs are not supported for this model")
        check_schema(fmt.get("schema", {}), "output_config.format.schema")
    for i, tool in enumerate(body.get("tools", [])):
        if tool.get("strict"):
            check_schema(tool["input_schema"], f"tools.{i}.input_schema")
    controls = [block["cache_control"] for block in cache_controls(body)]
    if len(controls) > 4:
        raise RequestRefused(f"A maximum of 4 blocks with cache_control may be provided. Found {len(controls)}.")
    ttls = [control.get("ttl", "5m") for control in controls]
    if any(ttl not in TTL_SECONDS for ttl in ttls):
        raise RequestRefused("cache_control.ttl: Input should be '5m' or '1h'")
    if "5m" in ttls and "1h" in ttls[ttls.index("5m"):]:
        raise RequestRefused('a cache_control block with ttl="1h" cannot come after one with ttl="5m"')
    messages = body.get("messages", [])
    if not messages or messages[-1]["role"] != "user":
        raise RequestRefused("This model does not support assistant message prefill. The conversation must end "
                             "with a user message.")
    for i, message in enumerate(messages):
        content = message["content"]
        if not content:
            raise RequestRefused(f"messages.{i}: all messages must have non-empty content except for the optional "
                                 "final assistant message")
        blocks = [] if isinstance(content, str) else content
        for block in blocks:
            if block.get("type") == "text" and not block.get("text"):
                raise RequestRefused(f"messages.{i}: text content blocks must be non-empty")
            if block.get("type") == "thinking" and block.get("signature") not in signatures:
                raise RequestRefused(f"messages.{i}: Invalid `signature` in `thinking` block")
        uses = [b["id"] for b in blocks if b.get("type") == "tool_use"]
        if uses:
            following = messages[i + 1]["content"] if i + 1 < len(messages) else []
            answered = {b.get("tool_use_id") for b in following if isinstance(b, dict)}
            if not set(uses) <= answered:
                raise RequestRefused(f"messages.{i + 1}: `tool_use` ids were found without `tool_result` blocks "
                                     "immediately after")


def check_schema(schema: dict[str, Any], where: str) -> None:
    for key in UNSUPPORTED_SCHEMA_KEYS & set(schema):
        raise RequestRefused(f"{where}: '{key}' is not supported in structured outputs schemas")
    if schema.get("type") == "object" and schema.get("additionalProperties") is not False:
        raise RequestRefused(f"{where}: objects must set additionalProperties to false")
    if schema.get("minItems", 0) > 1:
        raise RequestRefused(f"{where}: minItems above 1 is not supported")
    for name, sub in schema.get("properties", {}).items():
        check_schema(sub, f"{where}.properties.{name}")
    for name, sub in schema.get("$defs", {}).items():
        check_schema(sub, f"{where}.$defs.{name}")
    for key in ("anyOf", "allOf"):
        for i, sub in enumerate(schema.get(key, [])):
            check_schema(sub, f"{where}.{key}.{i}")
    if isinstance(schema.get("items"), dict):
        check_schema(schema["items"], f"{where}.items")


def request_pieces(body: dict[str, Any]) -> list[Any]:
    """The prompt in cache order: tools, system blocks, then every message's blocks."""
    pieces: list[Any] = [*body.get("tools", []), *body.get("system", [])]
    for message in body.get("messages", []):
        content = message["content"]
        pieces += [{"type": "text", "text": content}] if isinstance(content, str) else content
    return pieces


def strip_controls(pieces: list[Any]) -> list[Any]:
    """The prefix without its cache_control markers: the lifetime is not part of what is cached."""
    return [{k: v for k, v in p.items() if k != "cache_control"} if isinstance(p, dict) else p for p in pieces]


def cache_controls(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for block in [*body.get("tools", []), *body.get("system", [])]:
        if "cache_control" in block:
            yield block
    for message in body.get("messages", []):
        if not isinstance(message["content"], str):
            yield from (b for b in message["content"] if "cache_control" in b)


# --- Server-sent events -----------------------------------------------------------------------------


def sse(event: str, payload: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(payload)}\n\n".encode()


def pieces(text: str, size: int = 40) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def stream_events(message: dict[str, Any], reply: Reply) -> Iterator[tuple[str, dict[str, Any]]]:
    """A message as the API streams it: deltas per block, usage at the start and, cumulative, at the end."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "stop_details": None,
             "usage": {**usage, "output_tokens": 1}}
    yield "message_start", {"type": "message_start", "message": start}
    yield "ping", {"type": "ping"}
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            yield "content_block_start", {"type": "content_block_start", "index": index,
                                          "content_block": {"type": "text", "text": ""}}
            for piece in pieces(block["text"]):
                yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                              "delta": {"type": "text_delta", "text": piece}}
        elif block["type"] == "thinking":
            yield "content_block_start", {"type": "content_block_start", "index": index,
                                          "content_block": {"type": "thinking", "thinking": "", "signature": ""}}
            yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                          "delta": {"type": "thinking_delta", "thinking": block["thinking"]}}
            yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                          "delta": {"type": "signature_delta", "signature": block["signature"]}}
        else:
            yield "content_block_start", {"type": "content_block_start", "index": index,
                                          "content_block": {**block, "input": {}}}
            for piece in pieces(json.dumps(block["input"])):
                yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                              "delta": {"type": "input_json_delta", "partial_json": piece}}
        if reply.stream_error:
            yield "error", {"type": "error", "error": reply.stream_error}
            return
        if reply.break_stream:
            return
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield "message_delta", {
        "type": "message_delta",
        "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None,
                  "stop_details": message["stop_details"]},
        "usage": {"output_tokens": usage["output_tokens"], "input_tokens": usage["input_tokens"],
                  "cache_creation_input_tokens": usage["cache_creation_input_tokens"],
                  "cache_read_input_tokens": usage["cache_read_input_tokens"],
                  "output_tokens_details": usage.get("output_tokens_details")},
    }
    yield "message_stop", {"type": "message_stop"}
