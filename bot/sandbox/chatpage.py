"""What a person does with the chat page, checked in the browser: load it, read the
conversation, see someone else's reply arrive, send a message with markup in it, wait for
two refreshes. Every message must then be there once, in order, visible, and as text.

The page's clock is Playwright's fake one: the refresh timer fires when the check says so,
not after five real seconds. Every request the page makes outside its own origin is
aborted, so the page reaches nothing but the commit being judged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.catalog.behaviourspec import Browser

SENT = "<b>hi</b> & <img src=x onerror=\"window.__faultbot_xss=1\"> it's \"fine\""
"""The message typed into the form: markup and quotes a careless page would interpret."""
OTHER = "a reply from someone else"
WAIT_MS = 8000
IDLE_MS = 600
"""With no request in flight for this long, a page with a fake clock has done all it will do."""

_READ = """([items, textSelector]) => Array.from(document.querySelectorAll(items)).map((item) => {
  const text = item.querySelector(textSelector);
  let opacity = 1;
  for (let node = item; node && node.nodeType === 1; node = node.parentElement) {
    opacity *= parseFloat(getComputedStyle(node).opacity);
  }
  const box = item.getBoundingClientRect();
  const style = getComputedStyle(item);
  return {text: text ? text.textContent : null, elements: text ? text.children.length : 0,
          opacity, area: box.width * box.height, hidden: style.visibility !== "visible"};
})"""
_SETTLED = """() => document.getAnimations().every((a) =>
  a.playState !== "running" || a.effect === null || a.effect.getComputedTiming().endTime === Infinity)"""


@dataclass
class Seen:
    """What the page showed and said while the check used it."""

    errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    pending: int = 0


class Verdict(Exception):
    """The page does not work for a person: the message says what was seen."""


def seeded_texts(count: int) -> list[str]:
    """The messages posted through the API before the page loads."""
    return [f"note {n} from before" for n in range(1, count + 1)]


def run_chat_check(browser: Any, base_url: str, spec: Browser, post: Callable[[str, str], int]) -> str:
    """Use the chat page at `base_url` as a person would; the reason it works, or Verdict."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page_spec = spec.page
    seeds = seeded_texts(spec.seed)
    for text in seeds:
        _posted(post("sam", text), "a message posted before the page loaded")
    context = browser.new_context(base_url=base_url)
    seen = Seen()
    try:
        context.route("**/*", lambda route: _route(route, base_url, seen))
        page = context.new_page()
        page.on("pageerror", lambda error: seen.errors.append(str(error).splitlines()[0][:200]))
        page.on("request", lambda _: _count(seen, +1))
        # A response, not `requestfinished`: a body the page never reads (a 201's) never finishes.
        page.on("response", lambda response: _answered(seen, response))
        page.on("requestfailed", lambda request: _failed(seen, request))
        page.clock.install()
        try:
            page.goto(page_spec.path, wait_until="load", timeout=WAIT_MS)
        except PlaywrightTimeout:
            raise Verdict(f"the page at {page_spec.path} did not load within {WAIT_MS // 1000}s") from None
        status = _wait_for(page, page_spec.messages, len(seeds), seen)
        items = _read(page, spec)
        _expect(items, seeds, "after the page loaded", seen, status)
        _posted(post("bo", OTHER), "someone else's message")
        page.fill(page_spec.author_input, "ana")
        page.fill(page_spec.text_input, SENT)
        page.click(page_spec.send)
        _wait_for(page, page_spec.messages, len(seeds) + 1, seen)
        poll_ms = int(page_spec.poll.total_seconds() * 1000)
        for _ in range(2):  # two refreshes: a list that grows on every refresh shows it here
            page.clock.run_for(poll_ms)
            _settle(page, seen)
        expected = [*seeds, OTHER, SENT]
        items = _read(page, spec)
        if page.evaluate("() => window.__faultbot_xss === 1"):
            raise Verdict("the markup in a sent message ran a script in the reader's browser (stored XSS)")
        if any(item["elements"] for item in items):
            raise Verdict("the markup in a sent message became HTML elements instead of text "
                          f"(the text reads {_short([items[-1]['text']])})")
        _expect(items, expected, "after sending a message and two refreshes", seen, _status(page))
        _visible(page, items, spec)
        if seen.errors:
            raise Verdict(f"script error: {seen.errors[0]}")
        return f"{len(expected)} messages shown once, in order, visible, as text; no script error"
    finally:
        context.close()


def _posted(status: int, what: str) -> None:
    if not 200 <= status < 300:
        raise Verdict(f"the API refused {what} (HTTP {status})")


def _route(route: Any, base_url: str, seen: Seen) -> None:
    if route.request.url.startswith(base_url + "/") or route.request.url == base_url:
        route.continue_()
    else:
        seen.blocked.append(route.request.url[:120])
        route.abort("blockedbyclient")


def _count(seen: Seen, delta: int) -> None:
    seen.pending += delta


def _answered(seen: Seen, response: Any) -> None:
    seen.pending -= 1
    if response.status >= 400:
        request = response.request
        seen.failed_requests.append(f"{request.method} /{request.url.split('/', 3)[-1]} -> HTTP {response.status}")


def _failed(seen: Seen, request: Any) -> None:
    seen.pending -= 1
    seen.failed_requests.append(f"{request.method} /{request.url.split('/', 3)[-1]} failed")


def _wait_for(page: Any, selector: str, count: int, seen: Seen) -> str:
    """Wait until the list holds `count` items; give up once the page has sat idle (its clock is
    fake, so an idle page will not change) or after WAIT_MS."""
    idle_ms = 0
    for _ in range(WAIT_MS // 50):
        shown = int(page.evaluate("(s) => document.querySelectorAll(s).length", selector))
        if shown >= count:
            _settle(page, seen)
            return _status(page)
        idle_ms = idle_ms + 50 if seen.pending <= 0 else 0
        if idle_ms >= IDLE_MS:
            break
        page.wait_for_timeout(50)
    raise Verdict(f"the list shows {shown} message(s), expected {count}{_context(seen, _status(page))}")


def _settle(page: Any, seen: Seen) -> None:
    """Wait (in real time) until the page has no request in flight."""
    for _ in range(100):
        page.wait_for_timeout(25)
        if seen.pending <= 0:
            break
    page.wait_for_timeout(75)  # the page's own work on the last answer


def _status(page: Any) -> str:
    text = page.evaluate("() => { const s = document.querySelector('[role=status], #status'); return s ? s.textContent : ''; }")
    return " ".join(str(text or "").split())


def _read(page: Any, spec: Browser) -> list[dict[str, Any]]:
    return list(page.evaluate(_READ, [spec.page.messages, spec.page.text]))


def _expect(items: list[dict[str, Any]], expected: list[str], when: str, seen: Seen, status: str) -> None:
    texts = [item["text"] for item in items]
    if texts == expected:
        return
    missing = [t for t in expected if t not in texts]
    repeated = sorted({t for t in texts if texts.count(t) > 1 and t is not None})
    if missing and len(missing) == len(expected):
        problem = f"none of the {len(expected)} messages' text is shown (the texts read {_short(texts)})"
    elif missing:
        problem = f"missing {_short(missing)}"
    elif repeated:
        problem = f"shown more than once: {_short(repeated)}"
    else:
        problem = f"out of order: {_short(texts)}"
    raise Verdict(f"{when}, {problem}{_context(seen, status)}")


def _visible(page: Any, items: list[dict[str, Any]], spec: Browser) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(_SETTLED, timeout=3000, polling=50)
    except PlaywrightTimeout:
        pass  # an endless animation: judge what it shows now
    for item in _read(page, spec):
        if item["hidden"] or item["area"] <= 0 or item["opacity"] < 0.5:
            how = "hidden" if item["hidden"] else ("has no size" if item["area"] <= 0 else f"has opacity {item['opacity']:.2f}")
            raise Verdict(f"message {_short([item['text']])} is in the page but {how}: a reader cannot see it")


def _context(seen: Seen, status: str) -> str:
    notes = []
    if status:
        notes.append(f"status line: {status!r}")
    if seen.failed_requests:
        notes.append("requests: " + ", ".join(dict.fromkeys(seen.failed_requests)))
    if seen.errors:
        notes.append(f"script error: {seen.errors[0]}")
    return f" ({'; '.join(notes)})" if notes else ""


def _short(values: list[Any]) -> str:
    text = json.dumps(values, ensure_ascii=False)
    return text if len(text) <= 240 else text[:237] + "..."
