"""The local ArgoCD: controller-like behaviour, outages, and its bodies against the swagger.

The contract test records every JSON answer of a representative session (the bot's
reads plus logins, errors and outages) and checks each against argo-cd v3.5.1's
published swagger (shared/contracts/argocd-swagger-subset.json), objects closed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from tests.servers.argocd_api import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    DEFAULT_TOKEN,
    ArgoCDServer,
    serve_argocd,
)
from tests.servers.swagger_contract import ARGOCD_SWAGGER, SwaggerContract
from tests.shared_files import require

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)
AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}


class StepClock:
    """A clock tests move by hand (the server reads it, never sleeps on it)."""

    def __init__(self, start: datetime = T0) -> None:
        self.moment = start

    def now(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> datetime:
        self.moment += timedelta(**delta)
        return self.moment


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def argocd(clock: StepClock) -> Iterator[ArgoCDServer]:
    with serve_argocd(clock=clock.now) as server:
        yield server


@pytest.fixture(scope="module")
def contract() -> SwaggerContract:
    return SwaggerContract.load(require(ARGOCD_SWAGGER))


def get(server: ArgoCDServer, path: str, **kwargs: object) -> httpx.Response:
    return httpx.get(server.url + path, headers=kwargs.pop("headers", AUTH), **kwargs)  # type: ignore[arg-type]


def test_sync_appends_history_with_new_ids_and_controller_fields(argocd: ArgoCDServer, clock: StepClock) -> None:
    argocd.add_app("team-a", "https://git.example/team-a/chat.git")
    fresh = get(argocd, "/api/v1/applications/team-a").json()
    assert fresh["status"]["sync"]["status"] == "OutOfSync"
    assert "history" not in fresh["status"]

    assert argocd.sync("team-a", "a" * 40) == 0
    assert argocd.sync("team-a", "b" * 40, clock.advance(minutes=3)) == 1
    status = get(argocd, "/api/v1/applications/team-a").json()["status"]

    assert [(h["id"], h["revision"]) for h in status["history"]] == [(0, "a" * 40), (1, "b" * 40)]
    assert status["history"][1]["deployedAt"] == "2026-06-01T09:03:00Z"
    assert status["history"][1]["source"] == {
        "repoURL": "https://git.example/team-a/chat.git", "path": "k8s", "targetRevision": "main"}
    assert status["sync"] == {**status["sync"], "status": "Synced", "revision": "b" * 40}
    assert status["operationState"]["phase"] == "Succeeded"
    assert status["operationState"]["finishedAt"] == "2026-06-01T09:03:00Z"
    assert status["health"] == {"status": "Healthy", "lastTransitionTime": "2026-06-01T09:00:00Z"}


def test_history_is_truncated_to_the_limit_like_persist_revision_history(argocd: ArgoCDServer) -> None:
    argocd.add_app("default-limit", "https://git.example/a.git")
    argocd.add_app("three", "https://git.example/b.git", revision_history_limit=3)
    for n in range(12):
        argocd.sync("default-limit", f"{n:040x}")
        argocd.sync("three", f"{n:040x}")

    default = get(argocd, "/api/v1/applications/default-limit").json()["status"]["history"]
    three = get(argocd, "/api/v1/applications/three").json()
    assert [h["id"] for h in default] == list(range(2, 12))
    assert [h["id"] for h in three["status"]["history"]] == [9, 10, 11]
    assert three["spec"]["revisionHistoryLimit"] == 3


def test_health_failed_sync_and_out_of_sync(argocd: ArgoCDServer, clock: StepClock) -> None:
    argocd.add_app("team-a", "https://git.example/a.git")
    argocd.sync("team-a", "a" * 40)
    argocd.set_health("team-a", "Degraded")
    clock.advance(minutes=1)
    argocd.fail_sync("team-a", "c" * 40, "Deployment.apps \"web\" is invalid")
    status = get(argocd, "/api/v1/applications/team-a").json()["status"]
    assert status["health"]["status"] == "Degraded"
    assert status["operationState"]["phase"] == "Failed"
    assert status["sync"]["status"] == "OutOfSync"
    assert len(status["history"]) == 1  # a failed sync leaves no history entry

    argocd.out_of_sync("team-a", "d" * 40)
    assert get(argocd, "/api/v1/applications/team-a").json()["status"]["sync"]["revision"] == "d" * 40


def test_multi_source_apps_record_revisions(argocd: ArgoCDServer) -> None:
    argocd.add_app("multi", ["https://git.example/app.git", "https://git.example/values.git"])
    argocd.sync("multi", ["a" * 40, "b" * 40])
    app = get(argocd, "/api/v1/applications/multi").json()
    entry = app["status"]["history"][0]
    assert entry["revisions"] == ["a" * 40, "b" * 40] and "revision" not in entry
    assert len(entry["sources"]) == 2 and "source" not in entry
    assert app["status"]["sync"]["revisions"] == ["a" * 40, "b" * 40]


def test_auth_bearer_cookie_and_session(argocd: ArgoCDServer) -> None:
    argocd.add_app("team-a", "https://git.example/a.git")
    anonymous = get(argocd, "/api/v1/applications/team-a", headers={})
    assert anonymous.status_code == 401
    assert anonymous.json() == {"error": "no session information", "code": 16, "message": "no session information"}
    assert get(argocd, "/api/v1/applications", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert httpx.get(argocd.url + "/api/v1/applications", cookies={"argocd.token": DEFAULT_TOKEN}).status_code == 200

    refused = httpx.post(argocd.url + "/api/v1/session", json={"username": ADMIN_USER, "password": "wrong"})
    assert refused.status_code == 401
    token = httpx.post(argocd.url + "/api/v1/session", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
    session = {"Authorization": f"Bearer {token.json()['token']}"}
    assert get(argocd, "/api/v1/applications/team-a", headers=session).status_code == 200
    assert get(argocd, "/api/v1/session/userinfo", headers=session).json()["username"] == ADMIN_USER


def test_version_is_partial_for_anonymous_callers(argocd: ArgoCDServer) -> None:
    assert set(get(argocd, "/api/version", headers={}).json()) == {"Version"}
    assert get(argocd, "/api/version").json()["GitTag"] == "v3.5.1"


def test_list_filters_by_name_repo_and_project(argocd: ArgoCDServer) -> None:
    argocd.add_app("team-a", "https://git.example/a.git")
    argocd.add_app("team-b", "https://git.example/b.git", project="blue")

    def names(**params: str) -> list[str]:
        items = get(argocd, "/api/v1/applications", params=params).json()["items"]
        return [item["metadata"]["name"] for item in items]

    assert names() == ["team-a", "team-b"]
    assert names(repo="https://git.example/b.git") == ["team-b"]
    assert names(projects="blue") == ["team-b"]
    assert names(name="team-a") == ["team-a"]


def test_outages_errors_rate_limits_and_a_closed_port(argocd: ArgoCDServer) -> None:
    argocd.add_app("team-a", "https://git.example/a.git")
    argocd.fail_next(2, status=502)
    assert [get(argocd, "/api/version").status_code for _ in range(3)] == [502, 502, 200]

    argocd.rate_limit(1, retry_after=7)
    limited = get(argocd, "/api/v1/applications/team-a")
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "7")
    assert get(argocd, "/api/v1/applications/missing").status_code == 404

    argocd.down()
    with pytest.raises(httpx.ConnectError):
        get(argocd, "/api/version")
    argocd.up()
    assert get(argocd, "/api/v1/applications/team-a").json()["metadata"]["name"] == "team-a"


def test_a_failed_sync_leaves_history_as_it_was(argocd: ArgoCDServer, clock: StepClock) -> None:
    """argo-cd appends to status.history only in a successful sync (persistRevisionHistory)."""
    argocd.add_app("team-a", "https://git.example/a.git")
    argocd.sync("team-a", "a" * 40)
    argocd.sync("team-a", "b" * 40, clock.advance(minutes=1))
    before = get(argocd, "/api/v1/applications/team-a").json()["status"]["history"]
    argocd.fail_sync("team-a", "c" * 40, "one or more objects failed to apply")
    status = get(argocd, "/api/v1/applications/team-a").json()["status"]
    assert status["history"] == before
    assert status["operationState"]["phase"] == "Failed"
    assert status["operationState"]["syncResult"]["revision"] == "c" * 40
    assert argocd.sync("team-a", "d" * 40, clock.advance(minutes=1)) == 2  # ids carry on from the last success


def test_5xx_until_cleared_and_hangs(argocd: ArgoCDServer) -> None:
    argocd.add_app("team-a", "https://git.example/a.git")
    argocd.outage.fail(503)
    assert [get(argocd, "/api/v1/applications/team-a").status_code for _ in range(3)] == [503, 503, 503]
    argocd.outage.clear()
    assert get(argocd, "/api/v1/applications/team-a").status_code == 200

    argocd.outage.hang(30, only="/api/v1/applications/team-a")
    with pytest.raises(httpx.ReadTimeout):
        get(argocd, "/api/v1/applications/team-a", timeout=0.5)
    assert get(argocd, "/api/version").status_code == 200  # other requests are served meanwhile
    argocd.outage.clear()
    assert get(argocd, "/api/v1/applications/team-a").status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/applications"), ("GET", "/api/v1/applications/team-a"), ("DELETE", "/api/v1/session")],
)
def test_every_application_and_session_call_wants_a_token(argocd: ArgoCDServer, method: str, path: str) -> None:
    argocd.add_app("team-a", "https://git.example/a.git")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {DEFAULT_TOKEN}"}):
        response = httpx.request(method, argocd.url + path, headers=headers)
        assert response.status_code == 401 and response.json()["code"] == 16


# -- contract ------------------------------------------------------------------------
def _representative_session(argocd: ArgoCDServer, clock: StepClock) -> None:
    """A game day as ArgoCD sees it: apps sync, break, recover; the bot polls throughout."""
    argocd.add_app("team-a", "https://git.example/team-a/chat.git")
    argocd.add_app("team-b", ["https://git.example/b/app.git", "https://git.example/b/env.git"],
                   revision_history_limit=2)
    get(argocd, "/api/v1/applications/team-a")  # before the first sync
    argocd.sync("team-a", "a" * 40)
    argocd.sync("team-b", ["1" * 40, "2" * 40])
    argocd.sync("team-a", "b" * 40, clock.advance(minutes=5), health="Progressing")
    argocd.set_health("team-a", "Degraded")
    get(argocd, "/api/v1/applications/team-a")
    argocd.fail_sync("team-a", "c" * 40)
    argocd.out_of_sync("team-b", "3" * 40)
    for n in range(3):
        argocd.sync("team-b", [f"{n:040x}", "2" * 40], clock.advance(minutes=1))
    get(argocd, "/api/v1/applications", params={"projects": "default"})
    get(argocd, "/api/v1/applications/team-b", params={"refresh": "normal"})
    get(argocd, "/api/version")
    get(argocd, "/api/version", headers={})
    token = httpx.post(argocd.url + "/api/v1/session", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
    session = {"Authorization": f"Bearer {token.json()['token']}"}
    httpx.post(argocd.url + "/api/v1/session", json={"username": ADMIN_USER, "password": "nope"})
    get(argocd, "/api/v1/session/userinfo", headers=session)
    get(argocd, "/api/v1/session/userinfo", headers={})
    httpx.delete(argocd.url + "/api/v1/session", headers=session)
    get(argocd, "/api/v1/applications/team-a", headers={})
    get(argocd, "/api/v1/applications/nope")
    argocd.fail_next(1)
    get(argocd, "/api/v1/applications/team-a")
    argocd.rate_limit(1, retry_after=3)
    get(argocd, "/api/v1/applications")
    argocd.outage.fail(500, times=1)
    get(argocd, "/api/v1/applications")


def test_every_answer_matches_the_published_swagger(
    argocd: ArgoCDServer, clock: StepClock, contract: SwaggerContract
) -> None:
    _representative_session(argocd, clock)
    responses = argocd.responses

    served = {(r.method, r.operation) for r in responses}
    assert served <= contract.operations(), f"operations the swagger lacks: {served - contract.operations()}"
    assert {r.status for r in responses} >= {200, 401, 404, 429, 500, 503}
    violations = [
        str(v) for r in responses for v in contract.violations(r.method, r.operation, r.status, r.body)
    ]
    assert violations == [], "\n".join(violations)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda app: app["status"]["history"][0].update(id="0"), "is not of type 'integer'"),
        (lambda app: app["status"]["history"][0].update(deployedAt="2026-06-01 09:00"), "is not a 'date-time'"),
        (lambda app: app["status"]["sync"].update(revision=None), "None is not of type 'string'"),
        (lambda app: app["status"]["health"].update(since="x"), "Additional properties are not allowed"),
    ],
)
def test_the_contract_check_is_not_vacuous(
    argocd: ArgoCDServer, contract: SwaggerContract, mutate: object, expected: str
) -> None:
    argocd.add_app("team-a", "https://git.example/a.git")
    argocd.sync("team-a", "a" * 40)
    app = get(argocd, "/api/v1/applications/team-a").json()
    assert contract.violations("GET", "/api/v1/applications/{name}", 200, app) == []
    mutate(app)  # type: ignore[operator]
    messages = [v.message for v in contract.violations("GET", "/api/v1/applications/{name}", 200, app)]
    assert any(expected in message for message in messages), messages
