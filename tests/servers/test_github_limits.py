"""The GitHub double refuses as GitHub does: bad credentials on every route, primary and
secondary rate limits with GitHub's headers and words, 5xx and hangs a test switches."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import httpx
import pytest
from github import Auth, Github, GithubException, RateLimitExceededException

from tests.servers.forge import BOT_TOKEN, MEMBER_TOKEN, Forge
from tests.servers.github_apps import JWT_REFUSED
from tests.servers.github_routes import ROUTES

RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Used", "X-RateLimit-Resource")


def _get(forge: Forge, path: str, token: str | None = BOT_TOKEN, **headers: str) -> httpx.Response:
    auth = {"Authorization": f"token {token}"} if token else {}
    return httpx.get(forge.github.api_url + path, headers={**auth, **headers}, timeout=10)


def _client(forge: Forge, token: str = BOT_TOKEN) -> Github:
    return Github(base_url=forge.github.api_url, auth=Auth.Token(token), retry=None,
                  seconds_between_requests=None, seconds_between_writes=None)


def _sample_path(template: str) -> str:
    """A concrete path for a route template (the route must refuse before looking it up)."""
    values = {"owner": "team-a", "repo": "chat", "pull_number": "1", "installation_id": "1"}
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values.get(m.group(1), "main"), template)


def test_every_route_wants_credentials(forge: Forge) -> None:
    answers = {}
    for method, template, _ in ROUTES:
        for authorization in (None, "token wrong", "Bearer wrong"):
            headers = {"Authorization": authorization} if authorization else {}
            response = httpx.request(method, forge.github.api_url + _sample_path(template), headers=headers, json={})
            expected = JWT_REFUSED if template.startswith("/app/") else "Bad credentials"
            if (response.status_code, response.json()["message"]) != (401, expected):
                answers[(method, template, authorization)] = (response.status_code, response.json()["message"])
            assert all(header in response.headers for header in RATE_HEADERS)
    assert answers == {}
    assert forge.github.repo_path("team-a", "chat").is_dir() and len(forge.github.requests) == 3 * len(ROUTES)


def test_a_wrong_token_is_refused_before_routing(forge: Forge) -> None:
    assert _get(forge, "/repos/team-a/chat/hooks", token="wrong").status_code == 401
    assert _get(forge, "/repos/team-a/chat/hooks").status_code == 404


def test_every_answer_carries_the_callers_rate_numbers(forge: Forge) -> None:
    first = _get(forge, f"/repos/{forge.full_name}")
    second = _get(forge, f"/repos/{forge.full_name}/branches/main")
    assert [r.headers["X-RateLimit-Used"] for r in (first, second)] == ["1", "2"]
    assert second.headers["X-RateLimit-Remaining"] == "4998" and second.headers["X-RateLimit-Limit"] == "5000"
    assert first.headers["X-RateLimit-Reset"] == second.headers["X-RateLimit-Reset"]  # one window
    other = _get(forge, f"/repos/{forge.full_name}", token=MEMBER_TOKEN)  # every token has its own
    assert other.headers["X-RateLimit-Used"] == "1"
    free = _get(forge, "/rate_limit")
    assert free.json()["resources"]["core"]["used"] == 2 and free.headers["X-RateLimit-Used"] == "2"
    anonymous = _get(forge, f"/repos/{forge.full_name}", token=None)
    assert anonymous.headers["X-RateLimit-Limit"] == "60"


def test_a_spent_limit_is_refused_until_the_window_resets(forge: Forge) -> None:
    forge.github.limits.limit = 2
    assert [_get(forge, f"/repos/{forge.full_name}").status_code for _ in range(2)] == [200, 200]
    spent = _get(forge, f"/repos/{forge.full_name}")
    assert spent.status_code == 403 and spent.headers["X-RateLimit-Remaining"] == "0"
    request_id = spent.headers["X-GitHub-Request-Id"]
    assert re.fullmatch(r"[0-9A-F]{4}(:[0-9A-F]{6}){3}:[0-9A-F]{8}", request_id)
    message = spent.json()["message"]
    assert re.fullmatch(
        rf"API rate limit exceeded for user ID \d+\. If you reach out to GitHub Support for help, please include "
        rf"the request ID {request_id} and timestamp \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC\.", message
    ), message
    assert spent.json()["documentation_url"] == "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
    assert _get(forge, "/rate_limit").status_code == 200  # still free
    with pytest.raises(RateLimitExceededException):
        _client(forge).get_repo(forge.full_name)
    assert _get(forge, f"/repos/{forge.full_name}", token=MEMBER_TOKEN).status_code == 200


def test_exhausted_with_429_and_restored(forge: Forge) -> None:
    before = int((forge.github.now() + timedelta(minutes=7)).timestamp())
    forge.github.exhaust_rate_limit(timedelta(minutes=7), status=429)
    after = int((forge.github.now() + timedelta(minutes=7)).timestamp())
    limited = _get(forge, f"/repos/{forge.full_name}")
    assert limited.status_code == 429 and limited.headers["X-RateLimit-Remaining"] == "0"
    # The reset is fixed when the limit is spent; a second may tick between the two clock readings.
    assert before <= int(limited.headers["X-RateLimit-Reset"]) <= after
    forge.github.restore_rate_limit()
    assert _get(forge, f"/repos/{forge.full_name}").status_code == 200


def test_a_secondary_limit_says_when_to_retry(forge: Forge) -> None:
    forge.github.limits.secondary(retry_after=60, times=1)
    limited = _get(forge, f"/repos/{forge.full_name}")
    assert (limited.status_code, limited.headers["Retry-After"]) == (403, "60")
    assert limited.json()["message"].startswith(
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
    )
    assert limited.headers["X-RateLimit-Remaining"] != "0"
    assert _get(forge, f"/repos/{forge.full_name}").status_code == 200


def test_a_304_is_free_and_has_no_body(forge: Forge) -> None:
    first = _get(forge, f"/repos/{forge.full_name}/commits/main")
    again = _get(forge, f"/repos/{forge.full_name}/commits/main", **{"If-None-Match": first.headers["ETag"]})
    assert (again.status_code, again.content, again.headers["ETag"]) == (304, b"", first.headers["ETag"])
    assert again.headers["X-RateLimit-Used"] == first.headers["X-RateLimit-Used"] == "1"
    stale = _get(forge, f"/repos/{forge.full_name}/commits/main", **{"If-None-Match": '"stale"'})
    assert stale.status_code == 200 and stale.headers["X-RateLimit-Used"] == "2"


def test_5xx_until_cleared_is_not_charged(forge: Forge) -> None:
    forge.github.outage.fail(502)
    with pytest.raises(GithubException) as failed:
        _client(forge).get_repo(forge.full_name)
    assert failed.value.status == 502
    assert _get(forge, f"/repos/{forge.full_name}").status_code == 502
    forge.github.outage.clear()
    ok = _get(forge, f"/repos/{forge.full_name}")
    assert ok.status_code == 200 and ok.headers["X-RateLimit-Used"] == "1"


def test_a_hang_times_the_client_out_and_spares_other_routes(forge: Forge) -> None:
    forge.github.outage.hang(30, only="/pulls")
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{forge.github.api_url}/repos/{forge.full_name}/pulls",
                  headers={"Authorization": f"token {BOT_TOKEN}"}, timeout=0.5)
    assert _get(forge, f"/repos/{forge.full_name}").status_code == 200  # the event loop is not blocked
    release = threading.Timer(0.2, forge.github.outage.clear)
    release.start()
    assert _get(forge, f"/repos/{forge.full_name}/pulls").status_code == 200  # released by clear()
    release.join()
