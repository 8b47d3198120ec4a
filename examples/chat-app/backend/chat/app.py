"""The chat API as a plain WSGI application (no framework)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qs

from chat.store import MessageStore

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_AUTHOR_LENGTH = 64
MAX_TEXT_LENGTH = 2000
MAX_BODY_BYTES = 16 * 1024

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

STATUS_TEXT = {
    200: "200 OK",
    201: "201 Created",
    400: "400 Bad Request",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    413: "413 Payload Too Large",
    500: "500 Internal Server Error",
    503: "503 Service Unavailable",
}


class HTTPError(Exception):
    """A request we refuse, with the status and message to send back."""

    def __init__(self, status: int, message: str, headers: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or []


def _query_int(query: dict[str, list[str]], name: str, default: int, minimum: int) -> int:
    values = query.get(name)
    if not values or values[0] == "":
        return default
    try:
        value = int(values[0])
    except ValueError:
        raise HTTPError(400, f"{name} must be an integer") from None
    if value < minimum:
        raise HTTPError(400, f"{name} must be at least {minimum}")
    return value


def _read_json(environ: dict[str, Any]) -> dict[str, Any]:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise HTTPError(400, "invalid Content-Length") from None
    if length > MAX_BODY_BYTES:
        raise HTTPError(413, f"request body is larger than {MAX_BODY_BYTES} bytes")
    body = environ["wsgi.input"].read(length) if length else b""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise HTTPError(400, "request body must be JSON") from None
    if not isinstance(payload, dict):
        raise HTTPError(400, "request body must be a JSON object")
    return payload


def _required_string(payload: dict[str, Any], name: str, max_length: int) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value.strip():
        raise HTTPError(400, f"{name} is required and must be a non-empty string")
    value = value.strip()
    if len(value) > max_length:
        raise HTTPError(400, f"{name} must be at most {max_length} characters")
    return value


def create_app(store: MessageStore) -> WSGIApp:
    """Build the WSGI application that serves the chat API from `store`."""

    def healthz(environ: dict[str, Any]) -> tuple[int, object]:
        try:
            store.ping()
        except Exception as error:  # noqa: BLE001 - any driver error means "not ready"
            log.warning("health check failed: %s", error)
            return 503, {"status": "unavailable", "error": str(error)}
        return 200, {"status": "ok"}

    def list_messages(environ: dict[str, Any]) -> tuple[int, object]:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        limit = min(_query_int(query, "limit", DEFAULT_LIMIT, minimum=1), MAX_LIMIT)
        offset = _query_int(query, "offset", 0, minimum=0)
        messages = store.list_messages(limit=limit, offset=offset)
        # A short page is the last one; a full page may have more after it.
        next_offset = offset + len(messages) if len(messages) == limit else None
        return 200, {"messages": [asdict(m) for m in messages], "next_offset": next_offset}

    def post_message(environ: dict[str, Any]) -> tuple[int, object]:
        payload = _read_json(environ)
        author = _required_string(payload, "author", MAX_AUTHOR_LENGTH)
        text = _required_string(payload, "text", MAX_TEXT_LENGTH)
        return 201, asdict(store.add_message(author=author, text=text))

    routes: dict[str, dict[str, Callable[[dict[str, Any]], tuple[int, object]]]] = {
        "/healthz": {"GET": healthz},
        "/api/messages": {"GET": list_messages, "POST": post_message},
    }

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        headers: list[tuple[str, str]] = []
        try:
            handlers = routes.get(path)
            if handlers is None:
                raise HTTPError(404, f"no route for {path}")
            handler = handlers.get(method)
            if handler is None:
                allow = ", ".join(sorted(handlers))
                raise HTTPError(405, f"{method} is not allowed here", [("Allow", allow)])
            status, document = handler(environ)
        except HTTPError as error:
            status, document, headers = error.status, {"error": error.message}, error.headers
        except Exception:
            log.exception("unhandled error serving %s %s", method, path)
            status, document = 500, {"error": "internal server error"}
        body = json.dumps(document).encode("utf-8")
        start_response(
            STATUS_TEXT[status],
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
                *headers,
            ],
        )
        return [body]

    return app
