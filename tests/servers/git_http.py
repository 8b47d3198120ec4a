"""A token-protected git smart-HTTP server for tests, backed by `git http-backend`.

It runs git's own CGI program so clone, fetch, ls-remote and push behave exactly as
against a real forge, including chunked and gzip-encoded request bodies. Like GitHub it

* serves partial clones (`uploadpack.allowFilter`) and the lazy fetches of missing blobs
  they make later (`uploadpack.allowReachableSHA1InWant`), and asks for the token on *every*
  request, those lazy fetches included (a client that forgets it gets 401);
* refuses pushes to protected branches with GitHub's own words (`protect`, see
  `branch_protection` and `git_protect_hook`);
* misbehaves on demand (`outage`: 5xx, hangs, hangs on pushes only, dropped connections).
"""

from __future__ import annotations

import base64
import binascii
import json
import socket
import subprocess
import sys
import tempfile
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tests.servers import git_protect_hook
from tests.servers.branch_protection import BranchProtection, protected_refs
from tests.servers.git_cli import scrubbed_environ
from tests.servers.outage import Outage

REALM = "GitHub"


@dataclass(frozen=True)
class GitHTTPRequest:
    """One request the server answered, kept so tests can assert on traffic."""

    method: str
    path: str
    query: str
    authenticated: bool
    status: int
    chunked: bool
    content_encoding: str | None
    user: str | None = None
    command: str | None = None  # protocol v2's request: `ls-refs` (ls-remote, and before a fetch) or `fetch`


class GitHTTPServer:
    """Serves every bare repo under `root` at `http://127.0.0.1:PORT/<relative path>`."""

    def __init__(self, root: Path, token: str, user: str = "x-access-token", partial_clone: bool = True) -> None:
        self.root = root.resolve()
        self.token = token
        self.user = user
        # False serves like a git server without filter support: git then falls back to a
        # full clone. Only for tests that must not depend on partial-clone handling.
        self.partial_clone = partial_clone
        self.extra_tokens: dict[str, str] = {}
        self.requests: list[GitHTTPRequest] = []
        self.outage = Outage()
        self._protection: dict[str, dict[str, BranchProtection]] = {}
        self._hooks = tempfile.TemporaryDirectory(prefix="git-http-hooks-")
        git_protect_hook.install(Path(self._hooks.name))
        self._lock = threading.Lock()
        self._httpd = _Listener(("127.0.0.1", 0), _Handler, self)
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="git-http", daemon=True
        )

    @property
    def base_url(self) -> str:
        """Root URL of the server, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def url_for(self, repo_name: str) -> str:
        """URL of a repo given its path under root, with or without the `.git` suffix."""
        name = repo_name.strip("/")
        if not name.endswith(".git"):
            name += ".git"
        return f"{self.base_url}/{name}"

    def url_for_path(self, bare_repo: Path) -> str:
        """URL of a bare repo given its directory, which must be under root."""
        return f"{self.base_url}/{bare_repo.resolve().relative_to(self.root).as_posix()}"

    def start(self) -> None:
        """Start answering requests in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the server and wait for its thread; safe to call twice."""
        self.outage.clear()
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()
        self._hooks.cleanup()

    def protect(self, repo_name: str, branch: str, rule: BranchProtection | None = None) -> None:
        """Refuse pushes to `branch` of a repo (path under root) as GitHub's branch protection does."""
        with self._lock:
            self._protection.setdefault(self._repo_key(repo_name), {})[branch] = rule or BranchProtection()

    def unprotect(self, repo_name: str, branch: str) -> None:
        """Lift `protect`."""
        with self._lock:
            self._protection.get(self._repo_key(repo_name), {}).pop(branch, None)

    def _repo_key(self, repo_name: str) -> str:
        name = repo_name.strip("/")
        return name if name.endswith(".git") else name + ".git"

    def protection_for(self, path_info: str) -> dict[str, BranchProtection]:
        """The protected branches of the repo a request path names."""
        repo, found, _ = unquote(path_info).strip("/").partition(".git/")
        with self._lock:
            return dict(self._protection.get(repo + ".git", {})) if found else {}

    def backend_config(self, path_info: str) -> tuple[dict[str, list[str]], dict[str, str]]:
        """git config (key → value list) and extra environment for one http-backend run."""
        config = {"http.receivepack": ["true"]}  # pushing works whatever each repo's own config says
        if self.partial_clone:
            config["uploadpack.allowFilter"] = ["true"]
            config["uploadpack.allowReachableSHA1InWant"] = ["true"]
        protection = self.protection_for(path_info)
        if not protection:
            return config, {}
        config["core.hooksPath"] = [self._hooks.name]
        config["receive.procReceiveRefs"] = [f"refs/heads/{branch}" for branch in protection]
        return config, {git_protect_hook.RULES_VARIABLE: json.dumps(protected_refs(protection))}

    def add_token(self, token: str, user: str) -> None:
        """Accept one more token (e.g. a GitHub App installation token), acting as `user`."""
        with self._lock:
            self.extra_tokens[token] = user

    def is_authorized(self, header: str | None) -> str | None:
        """The user name a request authenticates as, or None if its credentials are wrong."""
        if not header:
            return None
        scheme, _, credentials = header.partition(" ")
        credentials = credentials.strip()
        with self._lock:
            extra = dict(self.extra_tokens)
        if scheme.lower() in ("bearer", "token"):
            return self.user if credentials == self.token else extra.get(credentials)
        if scheme.lower() != "basic":
            return None
        try:
            username, _, password = base64.b64decode(credentials, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        # GitHub accepts the token as password (x-access-token:TOKEN) or as user name.
        if password == self.token or (username == self.token and password in ("", "x-oauth-basic")):
            return username or self.user
        return extra.get(password) or (extra.get(username) if password in ("", "x-oauth-basic") else None)

    def _record(self, entry: GitHTTPRequest) -> None:
        with self._lock:
            self.requests.append(entry)


class _Listener(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], app: GitHTTPServer) -> None:
        self.app = app
        super().__init__(address, handler)

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up (timeout, dropped connection) is normal here; anything else is not."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Listener

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: tests assert on `GitHTTPServer.requests` instead."""

    def _serve(self) -> None:
        app = self.server.app
        split = urlsplit(self.path)
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        encoding = self.headers.get("Content-Encoding")
        body = self._read_body(chunked)
        user = app.is_authorized(self.headers.get("Authorization"))
        trouble = app.outage.take(f"{self.command} {self.path}")
        if trouble is not None and trouble.kind == "hang":
            app.outage.wait(trouble)
        if trouble is not None and trouble.kind == "error":
            status, headers, payload = trouble.status, {"Content-Type": "text/plain"}, b"Internal Server Error\n"
        elif user is None:
            status, payload = 401, b"Unauthorized\n"
            headers = {"WWW-Authenticate": f'Basic realm="{REALM}"', "Content-Type": "text/plain"}
        else:
            status, headers, payload = self._run_backend(app, split.path, split.query, body, user)
        # Recorded before answering: the work is done even if the client has gone away.
        app._record(
            GitHTTPRequest(self.command, split.path, split.query, user is not None, status, chunked, encoding, user,
                           v2_command(body, encoding))
        )
        self._send(status, headers, payload, drop=trouble is not None and trouble.kind == "drop")

    def _read_body(self, chunked: bool) -> bytes:
        if chunked:
            parts = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # Skip optional trailers up to the blank line that ends the message.
                    while self.rfile.readline(65537).strip():
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline(3)  # CRLF after each chunk
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _run_backend(
        self, app: GitHTTPServer, path: str, query: str, body: bytes, user: str
    ) -> tuple[int, dict[str, str], bytes]:
        config, extra_env = app.backend_config(path)
        pairs = [(key, value) for key, values in config.items() for value in values]
        config_env = {"GIT_CONFIG_COUNT": str(len(pairs))}
        for index, (key, value) in enumerate(pairs):
            config_env.update({f"GIT_CONFIG_KEY_{index}": key, f"GIT_CONFIG_VALUE_{index}": value})
        env = scrubbed_environ(
            {
                **config_env,
                **extra_env,
                "GIT_PROJECT_ROOT": str(app.root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": unquote(path),
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_USER": user,
                "REMOTE_ADDR": self.client_address[0],
                "SERVER_PROTOCOL": "HTTP/1.1",
                "GATEWAY_INTERFACE": "CGI/1.1",
            }
        )
        if self.headers.get("Content-Encoding"):
            # http-backend inflates gzip bodies itself when told about them.
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        proc = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False, timeout=60
        )
        if proc.returncode != 0 and not proc.stdout:
            message = proc.stderr or b"git http-backend failed\n"
            return 500, {"Content-Type": "text/plain"}, message
        return _parse_cgi_output(proc.stdout)

    def _send(self, status: int, headers: dict[str, str], payload: bytes, drop: bool = False) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if not drop:
            self.wfile.write(payload)
            return
        # Half the promised body, then the connection goes away: what a proxy restart or a
        # network blip looks like to the client, after the server did the work.
        self.wfile.write(payload[: len(payload) // 2])
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True


def v2_command(body: bytes, encoding: str | None) -> str | None:
    """The command a protocol-v2 request body asks for (its first pkt-line, `command=fetch`), if any."""
    if encoding == "gzip":
        try:
            body = zlib.decompress(body, wbits=31)
        except zlib.error:
            return None
    try:
        length = int(body[:4], 16)
    except ValueError:
        return None
    line = body[4:length].decode(errors="replace").strip()
    return line.removeprefix("command=") if line.startswith("command=") else None


def _parse_cgi_output(output: bytes) -> tuple[int, dict[str, str], bytes]:
    """Split a CGI response into status, headers and body (RFC 3875 section 6)."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        head, found, body = output.partition(separator)
        if found:
            break
    else:
        head, body = output, b""
    status = 200
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split(" ", 1)[0])
        elif name:
            headers[name.strip()] = value.strip()
    return status, headers, body


@contextmanager
def serve_git_http(
    root: Path, token: str, user: str = "x-access-token", partial_clone: bool = True
) -> Iterator[GitHTTPServer]:
    """Serve the bare repos under `root` over smart HTTP until the block exits."""
    server = GitHTTPServer(root, token, user, partial_clone)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def basic_auth_header(token: str, user: str = "x-access-token") -> str:
    """The `Authorization` header value git sends for `user:token` (GitHub App style)."""
    return "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()


def git_auth_config(token: str) -> list[str]:
    """`git -c` arguments that authenticate with `token` and never prompt."""
    return ["-c", "credential.helper=", "-c", f"http.extraHeader=Authorization: {basic_auth_header(token)}"]


__all__ = [
    "GitHTTPRequest",
    "GitHTTPServer",
    "basic_auth_header",
    "git_auth_config",
    "serve_git_http",
]
