"""`python -m bot.sandbox.stage CONFIG`: a commit's frontend and backend, served together inside
the sandbox for the browser, as the team's nginx serves them (static files; `/api/` passed
through to the backend unchanged).

It listens on a Unix socket in the sandbox's folder, not on a port: the sandbox has a
network of its own, and a file is the one door between it and the browser outside
(bridge.py forwards a loopback port to it). Standard library only: it runs in the sandbox.
"""

from __future__ import annotations

import http.client
import json
import mimetypes
import socketserver
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from bot.sandbox.serve import Backend, start_backend

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization",
              "proxy-authenticate"}


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a browser closing a kept-alive connection mid-answer is not news


def handler_for(frontend: Path, api_prefix: str, backend: Backend) -> type[BaseHTTPRequestHandler]:
    """A request handler serving `frontend` and proxying `api_prefix` to the backend."""
    backend_port = int(backend.url.rsplit(":", 1)[1])
    root = frontend.resolve()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            return  # the browser check reports what matters

        def address_string(self) -> str:
            return "browser"

        def _proxy(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            upstream = http.client.HTTPConnection("127.0.0.1", backend_port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            try:
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                payload = response.read()
            except OSError as exc:
                self._send(502, b"backend unreachable: " + str(exc).encode(), "text/plain")
                return
            finally:
                upstream.close()
            self.send_response(response.status, response.reason)
            for key, value in response.getheaders():
                if key.lower() not in HOP_BY_HOP | {"content-length"}:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _static(self) -> None:
            relative = self.path.split("?", 1)[0].lstrip("/") or "index.html"
            target = (root / relative).resolve()
            if not target.is_relative_to(root) or not target.is_file():
                target = root / "index.html"  # nginx: try_files $uri $uri/ /index.html
            if not target.is_file():
                self._send(404, b"not found", "text/plain")
                return
            kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            self._send(200, target.read_bytes(), kind)

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _route(self) -> None:
            if self.path.startswith(api_prefix):
                self._proxy()
            elif self.command in ("GET", "HEAD"):
                self._static()
            else:
                self._send(405, b"method not allowed", "text/plain")

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _route

    return Handler


def main(argv: list[str]) -> int:
    """Start the backend, then serve until killed; print `ready` once both answer."""
    config = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    workdir = Path(config["workdir"])
    try:
        backend = start_backend(config["serve"], workdir)
    except RuntimeError as exc:
        print(f"failed: {exc}", flush=True)
        return 3
    try:
        server = _Server(config["socket"], handler_for(Path(config["frontend"]), config["api_prefix"], backend))
        print("ready", flush=True)
        server.serve_forever()
    finally:
        backend.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
