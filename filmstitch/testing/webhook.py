"""A local HTTP receiver for notification webhooks (tests, benchmarks): it keeps every JSON body POSTed to it."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class WebhookReceiver:
    """`with WebhookReceiver() as hook:` -> POST JSON to `hook.url`; `hook.messages` holds the bodies, in order."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        lock = threading.Lock()
        messages = self.messages

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    message = json.loads(body or b"{}")
                except ValueError:
                    message = {"unparsed": body.decode(errors="replace")}
                with lock:
                    messages.append(message)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:  # quiet
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def about(self, text: str) -> list[dict[str, Any]]:
        """The messages whose text mentions `text` (a run id, a run name)."""
        return [m for m in list(self.messages) if text in json.dumps(m)]

    def wait_for(self, text: str, count: int, timeout_s: float) -> list[dict[str, Any]]:
        """Wait until at least `count` messages mention `text`; return them (all of them, even more)."""
        deadline = time.monotonic() + timeout_s
        while len(found := self.about(text)) < count and time.monotonic() < deadline:
            time.sleep(0.5)
        return found
