"""The two views in a real browser, served by the daemon's own web wiring over a real event log.

The spectator board (/) shows incidents as spectators may know them and nothing that names
an open or future fault — not in the page, its JSON, the metrics or the picture's labels.
The organizer view (/admin) needs the token (constant-time compare, a session cookie),
shows everything, and its kill switch works as POST forms with CSRF protection.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from bot.app.live import LiveViews, live_app
from bot.game import events as ev
from bot.web.server import BackgroundServer
from tests.app.live_event import OPEN_OR_FUTURE, TOKEN, LiveEvent, open_live_event

DIFF = "--- a/k8s/backend.yaml\n+++ b/k8s/backend.yaml\n-  value: postgres\n+  value: postgres-primary\n"


def submit(page: WebDriver, button: WebElement) -> None:
    """Click a form's button and wait until the browser shows the answer (the old page is gone)."""
    old = page.find_element(By.TAG_NAME, "html")
    button.click()
    # generous: CI shares 2 cores. Mid-navigation chromedriver may answer "Node with given id does not
    # belong to the document" instead of "stale element": ask again, the next answer is "stale".
    WebDriverWait(page, 90, ignored_exceptions=(WebDriverException,)).until(expected_conditions.staleness_of(old))
    WebDriverWait(page, 90).until(lambda driver: driver.execute_script("return document.readyState") == "complete")


class Served:
    def __init__(self, event: LiveEvent) -> None:
        self.event = event
        self.ticks: list[tuple[str, str]] = []
        views = LiveViews(event.config, event.store, event.catalog, event.clock)
        app = live_app(event.config, views, diff=lambda team, fault: DIFF if fault in OPEN_OR_FUTURE else "",
                       request_tick=lambda team, source: self.ticks.append((team, source)), health=lambda: {"status": "ok", "errors": {}})
        self.server = BackgroundServer(app).start()
        self.url = self.server.url


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    monkeypatch.setenv("FAULTBOT_ORGANIZER_TOKEN", TOKEN)
    event = open_live_event(tmp_path)
    running = Served(event)
    try:
        yield running
    finally:
        running.server.stop()
        event.store.close()


def test_the_spectator_board_shows_incidents_and_no_spoiler(served: Served, page: WebDriver) -> None:
    page.get(served.url + "/")
    html = page.page_source
    rows = [r.text for r in page.find_elements(By.CSS_SELECTOR, "#incidents tbody tr")]
    assert rows == [
        "team-a incident 1 of 3 · fixed in 6m55s by revert web-unreachable — 0",
        "team-a incident 2 of 3 · open 15m00s 2m00s 1",
        "team-b incident 1 of 2 · halted by the organizers web-unreachable — 0",
    ]
    ranking = [r.text.split()[:3] for r in page.find_elements(By.CSS_SELECTOR, "#scoreboard tbody tr")]
    assert ranking == [["1", "team-a", "94"], ["2", "team-b", "0"]]
    assert "All times Europe/Paris (UTC+01:00)" in html
    assert page.find_element(By.ID, "timeline").get_attribute("naturalWidth") not in (None, "0")  # the picture loaded
    assert page.find_element(By.CSS_SELECTOR, 'meta[http-equiv="refresh"]').get_attribute("content") == "10"
    public = {
        "page": html,
        "api": httpx.get(served.url + "/api/status").text,
        "metrics": httpx.get(served.url + "/metrics").text,
        "admin without token": httpx.get(served.url + "/admin").text,
    }
    def leaks(texts: dict[str, str]) -> list[tuple[str, str]]:
        return [(where, spoiler) for spoiler in served.event.spoilers() for where, text in texts.items()
                if spoiler.lower() in text.lower()]

    assert leaks(public) == []
    full = httpx.get(served.url + "/admin/api/status", headers={"authorization": f"Bearer {TOKEN}"}).text
    assert len(leaks({"organizer json": full})) >= 3  # the sweep finds spoilers where they are allowed
    assert httpx.get(served.url + "/timeline.png").content.startswith(b"\x89PNG")


def test_the_organizer_signs_in_sees_everything_and_halts_a_team(served: Served, page: WebDriver) -> None:
    page.get(served.url + "/admin")
    page.find_element(By.NAME, "token").send_keys("not-the-token")
    submit(page, page.find_element(By.CSS_SELECTOR, "#login button"))
    assert page.find_element(By.ID, "failed").text == "That is not the organizer token."
    page.find_element(By.NAME, "token").send_keys(TOKEN)
    submit(page, page.find_element(By.CSS_SELECTOR, "#login button"))
    html = page.page_source
    for detail in ("db-unreachable/db-host-typo", "app-bug/api-path-typo", "env DB_HOST resolves to a Service",
                   served.event.catalog.get("db-unreachable/db-host-typo").spec.hints[0].text,
                   "incident PABC123", "MTTA 2m00s by Alice Ng", "Investigating the API errors",
                   "bot revert (halted) · faultbot", "value: postgres-primary",
                   "db-unreachable/db-secret-key-renamed"):  # team-b's next fault, not even scheduled yet
        assert detail in html, detail
    assert TOKEN not in html
    cookie = page.get_cookie("faultbot_organizer")
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict" and TOKEN not in cookie["value"]

    submit(page, page.find_element(By.NAME, "halt-team-b"))
    assert page.find_element(By.ID, "flash").text == "halted team-b"
    assert "(halted)" in page.find_element(By.ID, "team-team-b").text
    assert "(halted)" not in page.find_element(By.ID, "team-team-a").text
    halts = served.event.store.events("team-b", kinds=(ev.Kind.HALT,))
    assert [(e.source, e.facts.by) for e in halts] == [("web", "organizer (web)")]  # type: ignore[attr-defined]
    assert served.ticks == [("team-b", "web")]  # the daemon is asked to revert now, not at the next poll

    submit(page, page.find_element(By.CSS_SELECTOR, "#resume-all button"))
    assert page.find_element(By.ID, "flash").text == "resumed every team"
    assert "(halted)" not in page.find_element(By.ID, "team-team-b").text


def test_kill_switch_posts_need_the_session_and_its_csrf_token(served: Served) -> None:
    with httpx.Client(base_url=served.url) as client:
        assert client.post("/admin/halt", data={"team": ""}).status_code == 403  # not signed in
        signed = client.post("/admin/login", data={"token": TOKEN})
        assert signed.status_code == 303
        page = client.get("/admin").text
        csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        assert client.post("/admin/halt", data={"team": "team-a"}).status_code == 403  # no CSRF token
        assert client.post("/admin/halt", data={"team": "team-a", "csrf": "0" * 64}).status_code == 403
        cross_site = client.post("/admin/halt", data={"team": "team-a", "csrf": csrf},
                                 headers={"origin": "https://evil.example"})
        assert cross_site.status_code == 403
        assert client.post("/admin/halt", data={"team": "team-z", "csrf": csrf}).status_code == 400
        assert served.event.store.events(kinds=(ev.Kind.HALT,))[-1].source != "web"  # nothing was halted
        done = client.post("/admin/halt", data={"team": "team-a", "csrf": csrf},
                           headers={"origin": served.url})
        assert done.status_code == 303 and done.headers["location"] == "/admin?done=halted%20team-a"
    with httpx.Client(base_url=served.url) as other:  # another browser's session gets another CSRF token
        other.post("/admin/login", data={"token": TOKEN})
        assert other.post("/admin/halt", data={"team": "team-a", "csrf": csrf}).status_code == 403


def test_the_full_json_is_for_the_organizer_only(served: Served) -> None:
    assert httpx.get(served.url + "/admin/api/status").status_code == 401
    wrong = httpx.get(served.url + "/admin/api/status", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401
    full = httpx.get(served.url + "/admin/api/status", headers={"authorization": f"Bearer {TOKEN}"}).json()
    assert {(i["team"], i["fault"], i["state"]) for i in full} >= {
        ("team-a", "db-unreachable/db-host-typo", "injected"), ("team-b", "web-unreachable/frontend-scaled-to-zero",
                                                                "halted")}


def test_without_a_token_the_organizer_view_is_not_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAULTBOT_ORGANIZER_TOKEN", raising=False)
    event = open_live_event(tmp_path)  # organizer_token_env named, but the variable is not set
    running = Served(event)
    try:
        for path in ("/admin", "/admin/api/status"):
            assert httpx.get(running.url + path).status_code == 404
        assert httpx.post(running.url + "/admin/halt", data={"team": ""}).status_code in (404, 405)
        assert httpx.get(running.url + "/").status_code == 200
    finally:
        running.server.stop()
        event.store.close()
