"""Fixtures: the WSGI app over an in-memory SQLite store, and a tiny client for it."""

from __future__ import annotations

import io
import json
import sqlite3
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

# No __init__.py here on purpose: put backend/ on the path so `import chat` works
# whether pytest runs from this repo's root or from a project that vendors it.
BACKEND_DIR = Path(__file__).resolve().parents[1]
if str(BACKEND_DIR) not in sys.path:
    sys.path.insert(0, str(BACKEND_DIR))

from chat.app import WSGIApp, create_app
from chat.store import MessageStore


@dataclass(frozen=True)
class Response:
    """What the app sent back."""

    status: int
    headers: dict[str, str]
    body: Any


class Client:
    """Calls the WSGI app in-process, the way a server would."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def request(self, method: str, path: str, body: bytes = b"", query: str = "") -> Response:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": "application/json",
            "wsgi.input": io.BytesIO(body),
        }
        setup_testing_defaults(environ)
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]]) -> None:
            captured["status"] = int(status.split()[0])
            captured["headers"] = dict(headers)

        raw = b"".join(self.app(environ, start_response))
        return Response(captured["status"], captured["headers"], json.loads(raw))

    def get(self, path: str, query: str = "") -> Response:
        return self.request("GET", path, query=query)

    def post_json(self, path: str, document: object) -> Response:
        return self.request("POST", path, body=json.dumps(document).encode())


@pytest.fixture
def store() -> Iterator[MessageStore]:
    """A MessageStore on a private in-memory SQLite database."""
    # A named shared-cache database lives as long as one connection to it is open,
    # so the store can open and close its own connections like it does on PostgreSQL.
    uri = f"file:chat-{uuid.uuid4().hex}?mode=memory&cache=shared"
    keeper = sqlite3.connect(uri, uri=True)
    message_store = MessageStore(
        lambda: sqlite3.connect(uri, uri=True), paramstyle="qmark", id_type="INTEGER"
    )
    message_store.create_schema()
    yield message_store
    keeper.close()


@pytest.fixture
def make_client() -> type[Client]:
    """The Client class, for tests that build the app around their own store."""
    return Client


@pytest.fixture
def client(store: MessageStore) -> Client:
    """A client for the app backed by `store`."""
    return Client(create_app(store))
