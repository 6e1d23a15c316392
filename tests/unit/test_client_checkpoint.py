"""The REST client's view of a checkpoint while Prefect is still writing its form.

Prefect 3.8.8's `pause_flow_run` sets the Paused state (with the form's keys) first and writes the form's schema,
then its description, after it. A client that read the keys in between got a 404 and failed (a loaded CI machine
showed the gap); the question is open only once both are written.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from filmstitch.app.client import FilmStitchClient, FilmStitchError

RUN_ID = "5f1c0c0e-0000-4000-8000-000000000001"
KEYSET = {"schema": "paused-references-1-schema", "description": "paused-references-1-description",
          "response": "paused-references-1-response"}
SCHEMA = {"type": "object", "properties": {"changes": {"type": "string"}},
          "filmstitch": {"checkpoint": "references", "title": "Choose the references", "film_id": "film-1",
                         "rows": [{"tag": "lena", "recommended": 1}]}}


class Server:
    """The three answers that matter: the paused run, and its inputs as far as they are written."""

    def __init__(self) -> None:
        self.written: dict[str, Any] = {}
        self.status = 404

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api")
        if path == f"/flow_runs/{RUN_ID}":
            state = {"type": "PAUSED", "name": "Paused", "state_details": {"run_input_keyset": KEYSET}}
            return httpx.Response(200, json={"id": RUN_ID, "name": "run", "state": state})
        key = path.rsplit("/", 1)[-1]
        if key in self.written:
            return httpx.Response(200, json=self.written[key])
        return httpx.Response(self.status, json={"detail": "Flow run input not found"})


def client(server: Server) -> FilmStitchClient:
    return FilmStitchClient("http://prefect.test/api", http=httpx.Client(transport=httpx.MockTransport(server)))


def test_a_checkpoint_is_open_only_once_its_form_is_written() -> None:
    server = Server()
    films = client(server)
    assert films.checkpoint(RUN_ID) is None  # paused, nothing written yet
    server.written[KEYSET["schema"]] = SCHEMA
    assert films.checkpoint(RUN_ID) is None  # the schema, not yet the description
    server.written[KEYSET["description"]] = "Pick one picture per row."
    checkpoint = films.checkpoint(RUN_ID)
    assert checkpoint is not None
    assert checkpoint.key == "paused-references-1" and checkpoint.rows == SCHEMA["filmstitch"]["rows"]
    assert checkpoint.description == "Pick one picture per row."


def test_other_errors_reading_the_form_still_raise() -> None:
    server = Server()
    server.status = 403
    with pytest.raises(FilmStitchError, match="403") as raised:
        client(server).checkpoint(RUN_ID)
    assert raised.value.status_code == 403
