"""A loopback port outside the sandbox that leads to a Unix socket inside it.

The browser runs outside (one chromium shared by every check); the commit's servers run in
the sandbox's own network namespace, which no port outside reaches. The socket file is the
one way in, and this bridge is the only thing that uses it.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from types import TracebackType


class Bridge:
    """Forward every connection to 127.0.0.1:<port> to a Unix socket, until closed."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._closed = threading.Event()
        self._accepting = threading.Thread(target=self._accept, name=f"bridge-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        """The base URL the browser opens."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Bridge:
        self._accepting.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop accepting and drop every open connection."""
        self._closed.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        except OSError:
            pass
        self._listener.close()
        self._accepting.join(timeout=5)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                upstream.connect(str(self.target))
            except OSError:
                client.close()
                continue
            for source, sink in ((client, upstream), (upstream, client)):
                thread = threading.Thread(target=_pump, args=(source, sink), daemon=True)
                thread.start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy bytes one way until either side closes."""
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()
