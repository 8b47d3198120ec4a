"""One headless chromium for every browser check, driven by Playwright.

Why Playwright (its Python package) rather than the DevTools protocol by hand: it is the
well-kept library made for this: it waits for elements and conditions, reports uncaught page
errors (`pageerror`), fills and clicks like a person, routes every request (so the page can
reach nothing but the sandbox), and fakes the page's clock (`page.clock`), so a check of
"does the 5-second refresh duplicate messages" takes milliseconds instead of seconds. Speaking
CDP ourselves would mean re-writing each of those over a websocket. Playwright drives
Debian's chromium through `executable_path`; it never downloads a browser (its pip package
carries only its driver).

Playwright's sync objects belong to the thread that made them, so the browser lives on a
thread of its own and checks hand it work through a queue: any thread of the daemon can ask.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from bot.sandbox.isolation import SandboxError

T = TypeVar("T")

FLAGS = ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
"""Nothing the browser does on its own reaches the network (this machine has none anyway)."""


def find_chromium() -> str | None:
    """Debian's chromium (or FAULTBOT_CHROMIUM)."""
    configured = os.environ.get("FAULTBOT_CHROMIUM")
    if configured:
        return configured if os.path.exists(configured) else None
    return next((found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))), None)


QUEUE_ALLOWANCE = 10
"""How many of its own time limits a browser task may wait for its turn on the shared chromium."""


class SharedBrowser:
    """A chromium started on first use and shared by every check until `close`."""

    def __init__(self, executable: str | None = None) -> None:
        self.executable = executable
        self._tasks: queue.Queue[tuple[Callable[[Any], Any], Future[Any], threading.Event] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.launches = 0

    def run(self, task: Callable[[Any], T], timeout: float) -> T:
        """Run `task(browser)` on the browser's thread; its exception is raised here."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="faultbot-chromium", daemon=True)
                self._thread.start()
        done: Future[T] = Future()
        started = threading.Event()
        self._tasks.put((task, done, started))
        # `timeout` is the task's own: the wait behind other checks on this one chromium (a sandbox
        # runs a few jobs at once) does not count, or a healthy page reads as too slow and that
        # verdict is kept. The wait itself is bounded too, by QUEUE_ALLOWANCE such limits.
        if not started.wait(timeout * QUEUE_ALLOWANCE) and done.cancel():
            raise TimeoutError(f"the browser was busy for {timeout * QUEUE_ALLOWANCE:g}s")
        return done.result(timeout=timeout)

    def close(self) -> None:
        """Close chromium and end its thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            self._tasks.put(None)
            thread.join(timeout=30)

    def _serve(self) -> None:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright

        executable = self.executable or find_chromium()
        playwright, browser = None, None
        try:
            while (item := self._tasks.get()) is not None:
                task, done, started = item
                if not done.set_running_or_notify_cancel():
                    continue  # its caller stopped waiting before its turn came
                started.set()
                try:
                    if browser is None or not browser.is_connected():
                        if executable is None:
                            raise SandboxError("no chromium here: install Debian's chromium (apt-get install chromium) "
                                               "or set FAULTBOT_CHROMIUM")
                        playwright = playwright or sync_playwright().start()
                        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=FLAGS)
                        self.launches += 1
                    done.set_result(task(browser))
                except PlaywrightError as exc:
                    done.set_exception(SandboxError(f"chromium: {str(exc).splitlines()[0]}"))
                except BaseException as exc:  # noqa: BLE001 - handed to the caller, whatever it is
                    done.set_exception(exc)
        finally:
            if browser is not None:
                browser.close()
            if playwright is not None:
                playwright.stop()
