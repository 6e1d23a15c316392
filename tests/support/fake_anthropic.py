"""A local stand-in for the Anthropic Messages API, for tests that drive the real ``anthropic`` SDK.

``FakeAnthropic`` listens on 127.0.0.1 (stdlib ``http.server`` in a thread), answers
``POST /v1/messages`` with scripted replies in order (tool-use messages, or error bodies with
status codes and ``retry-after`` headers) and records every request: path, headers, JSON body and
arrival time. Point the SDK at it with ``base_url=fake.base_url``.

The replies' content comes from the offline story engine (``offline_answers``), so the Claude
writer is exercised with realistic films of any length.

Fixture: ``fake_anthropic`` (a started server, stopped after the test).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from filmstitch.models import FilmRequest
from filmstitch.writers.offline import OfflineWriter


@dataclass
class Reply:
    """One scripted answer. `echo_auth` puts the received credentials into the error message (a hostile server)."""

    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    echo_auth: bool = False


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: dict[str, Any] | None
    at: float  # time.monotonic() on arrival


DEFAULT_USAGE = {"input_tokens": 120, "output_tokens": 800, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}


class FakeAnthropic:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Scripting ---------------------------------------------------------------------------------

    def reply_tool(
        self,
        name: str,
        arguments: dict[str, Any],
        *,
        usage: dict[str, int] | None = None,
        stop_reason: str = "tool_use",
        text: str | None = None,
    ) -> str:
        """Queue a message that calls tool `name` with `arguments`; returns the tool_use id."""
        n = next(self._ids)
        tool_use_id = f"toolu_fake{n:04d}"
        content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        content.append({"type": "tool_use", "id": tool_use_id, "name": name, "input": arguments})
        body = {
            "id": f"msg_fake{n:04d}",
            "type": "message",
            "role": "assistant",
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {**DEFAULT_USAGE, **(usage or {})},
        }
        self.replies.append(Reply(200, body))
        return tool_use_id

    def reply_text(self, text: str) -> None:
        """Queue a message without any tool call."""
        n = next(self._ids)
        body = {
            "id": f"msg_fake{n:04d}", "type": "message", "role": "assistant",
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": dict(DEFAULT_USAGE),
        }
        self.replies.append(Reply(200, body))

    def reply_error(
        self, status: int, error_type: str, message: str, headers: dict[str, str] | None = None, *, echo_auth: bool = False
    ) -> None:
        body = {"type": "error", "error": {"type": error_type, "message": message}, "request_id": "req_fake"}
        self.replies.append(Reply(status, body, headers or {}, echo_auth))

    # Reading what arrived ---------------------------------------------------------------------

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.body is not None]

    # Serving ----------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeAnthropic:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except json.JSONDecodeError:
                    body = None
                headers = {k.lower(): v for k, v in self.headers.items()}
                with fake._lock:
                    fake.requests.append(Recorded("POST", self.path, headers, body, time.monotonic()))
                    reply = fake.replies.popleft() if fake.replies else None
                if self.path != "/v1/messages":
                    reply = Reply(404, {"type": "error", "error": {"type": "not_found_error", "message": self.path}})
                elif reply is None:
                    reply = Reply(
                        400,
                        {"type": "error", "error": {"type": "invalid_request_error",
                                                    "message": "fake server: no scripted reply left"}},
                        {"x-should-retry": "false"},
                    )
                payload = dict(reply.body)
                if reply.status == 200 and isinstance(body, dict):
                    payload.setdefault("model", body.get("model", "claude-test"))
                if reply.echo_auth:
                    seen = headers.get("authorization") or headers.get("x-api-key") or ""
                    payload["error"] = {**payload["error"], "message": f"{payload['error']['message']} ({seen})"}
                self._send(reply.status, payload, reply.headers)

            def _send(self, status: int, payload: dict[str, Any], extra: dict[str, str]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.send_header("request-id", "req_fake")
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
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


def offline_answers(request: FilmRequest) -> dict[str, dict[str, Any]]:
    """Tool arguments for the four calls, written by the offline story engine for `request`."""
    writer = OfflineWriter()
    script = writer.write_script(request)
    characters = writer.describe_characters(request, script)
    environments = writer.describe_environments(request, script)
    keyframes = writer.write_keyframes(request, script, characters, environments)
    return {
        "script": script.model_dump(mode="json"),
        "characters": {"characters": [c.model_dump(mode="json") for c in characters]},
        "environment": {"environments": [e.model_dump(mode="json") for e in environments]},
        "keyframes": {"keyframes": [k.model_dump(mode="json") for k in keyframes]},
    }


@pytest.fixture
def fake_anthropic(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropic]:
    # The SDK reads these when they are set; none of them may steer a test elsewhere.
    for name in ("ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_CUSTOM_HEADERS", "ANTHROPIC_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    fake = FakeAnthropic().start()
    try:
        yield fake
    finally:
        fake.stop()
