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
#: Models before structured outputs.
NO_STRUCTURED = ("claude-sonnet-4-2", "claude-opus-4-1", "claude-opus-4-2", "claude-opus-4-0")
#: JSON schema keywords structured outputs do not take (the SDK moves them into descriptions).
UNSUPPORTED_SCHEMA_KEYS = {"minLength", "maxLength", "minimum", "maximum", "pattern", "exclusiveMinimum",
                           "exclusiveMaximum", "multipleOf", "maxItems"}
SIGNING_KEY = b"fake-anthropic-thinking"


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
        self.requests: list[Recorded] = []
        self.author: FilmAuthor | None = None
        self.errors: list[Exception] = []  # failures of the fake itself
        self._cache: set[str] = set()
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
        if thinks(body) and reply.stop_reason != "refusal":
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
        output = sum(tokens(b.get("text") or b.get("input") or "") for b in content)
        if output > body.get("max_tokens", 10**9) and content and content[-1]["type"] == "text":
            content[-1]["text"] = content[-1]["text"][: body["max_tokens"] * 4]
            output, stop_reason = body["max_tokens"], "max_tokens"
        return {
            "id": f"msg_fake{n:04d}", "type": "message", "role": "assistant", "model": body.get("model"),
            "content": content, "stop_reason": stop_reason, "stop_sequence": None,
            "stop_details": reply.stop_details,
            "usage": {**self._cache_usage(body), "output_tokens": output, **(reply.usage or {})},
        }

    def _cache_usage(self, body: dict[str, Any]) -> dict[str, int]:
        """Input tokens split into cache reads, cache writes and the rest, as prompt caching reports them."""
        key = json.dumps([body.get("model"), (body.get("output_config") or {}).get("format"), body.get("thinking")])
        pieces: list[tuple[object, bool]] = [(tool, "cache_control" in tool) for tool in body.get("tools", [])]
        pieces += [(block, "cache_control" in block) for block in body.get("system", [])]
        for message in body.get("messages", []):
            content = message["content"]
            for block in [{"type": "text", "text": content}] if isinstance(content, str) else content:
                pieces.append((block, isinstance(block, dict) and "cache_control" in block))
        total, running, breakpoints = 0, [], []
        for piece, marked in pieces:
            total += tokens(piece)
            running.append(piece)
            if marked:
                breakpoints.append((hashlib.sha256(json.dumps([key, running]).encode()).hexdigest(), total))
        minimum = 512 if model_is(str(body.get("model")), BETWEEN_TOOLS) else 1024
        read = max((at for digest, at in breakpoints if digest in self._cache), default=0)
        cacheable = [(digest, at) for digest, at in breakpoints if at >= minimum]
        self._cache.update(digest for digest, _ in cacheable)
        written = max((at for _, at in cacheable), default=0)
        write = max(0, written - read)
        return {"input_tokens": total - read - write, "cache_read_input_tokens": read,
                "cache_creation_input_tokens": write}

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

            def do_POST(self) -> None:  # http.server's naming
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except json.JSONDecodeError:
                    body = None
                headers = {k.lower(): v for k, v in self.headers.items()}
                record = Recorded("POST", self.path, headers, body, time.monotonic())
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

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
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
    breakpoints = sum(1 for _ in cache_controls(body))
    if breakpoints > 4:
        raise RequestRefused(f"A maximum of 4 blocks with cache_control may be provided. Found {breakpoints}.")
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
                  "cache_read_input_tokens": usage["cache_read_input_tokens"]},
    }
    yield "message_stop", {"type": "message_stop"}
