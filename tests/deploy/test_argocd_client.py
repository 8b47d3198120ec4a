"""The ArgoCD adapter against the local ArgoCD: parsing, shipped/recovered, and failures.

Sleeps are recorded instead of slept, and the jitter comes from a seeded Random, so the
retry tests take milliseconds and always see the same delays.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from bot.config import ArgoCDSettings
from bot.deploy import AppStatus, DeployError, Health, HistoryEntry
from bot.deploy.argocd import ArgoCD, parse_application, token_from_env
from bot.deploy.backoff import backoff_delay, fetch_with_backoff
from bot.deploy.tracking import first_deploy_containing, recovered_at
from tests.servers.argocd_api import DEFAULT_TOKEN, ArgoCDServer, serve_argocd

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)
# A first-parent line of commits, oldest first: `bad` breaks the app, `fix` repairs it.
LINE = ["c1", "c2", "bad", "c4", "fix", "c6"]


def contains(commit: str) -> Callable[[str], bool]:
    """What git would answer: does the deployed revision have `commit` in its ancestry?"""
    return lambda revision: revision in LINE and LINE.index(revision) >= LINE.index(commit)


class FixedClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment

    def to_real(self, moment: datetime) -> datetime:
        return moment


@pytest.fixture
def server() -> Iterator[ArgoCDServer]:
    with serve_argocd(clock=lambda: T0) as running:
        running.add_app("team-a", "https://git.example/team-a/chat.git")
        yield running


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def argocd(server: ArgoCDServer, sleeps: list[float]) -> Iterator[ArgoCD]:
    with ArgoCD.from_settings(
        ArgoCDSettings(url=server.url), DEFAULT_TOKEN,
        sleep=sleeps.append, rng=random.Random(7), clock=FixedClock(T0 + timedelta(hours=1)), attempts=3,
    ) as client:
        yield client


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_reads_sync_health_and_history(server: ArgoCDServer, argocd: ArgoCD) -> None:
    server.sync("team-a", "c1", at(0), started_at=at(0) - timedelta(seconds=20))
    server.sync("team-a", "bad", at(10), health="Degraded")

    status = argocd.application("team-a")

    assert status == AppStatus(
        name="team-a", sync_status="Synced", sync_revision="bad", health_status=Health.DEGRADED,
        history=(
            HistoryEntry(0, "c1", (), at(0), at(0) - timedelta(seconds=20)),
            HistoryEntry(1, "bad", (), at(10), at(10)),
        ),
        operation_phase="Succeeded", operation_finished_at=at(10), observed_at=T0 + timedelta(hours=1),
        health_changed_at=at(10), source_path="k8s", source_recurse=False, destination_namespace="team-a",
    )
    assert status.current == status.history[-1] and not status.healthy


def test_multi_source_history_and_app_namespaces(server: ArgoCDServer, argocd: ArgoCD) -> None:
    server.add_app("multi", ["https://git.example/app.git", "https://git.example/env.git"], namespace="teams")
    server.sync("multi", ["bad", "e" * 40], at(3))

    status = argocd.application("teams/multi")

    assert status.history[0].revisions == ("bad", "e" * 40) and status.history[0].revision is None
    assert status.sync_revision == "bad"
    assert first_deploy_containing(status.history, contains("bad")) == status.history[0]
    with pytest.raises(DeployError, match="404"):
        argocd.application("elsewhere/multi")


def test_shipped_and_recovered_from_history(server: ArgoCDServer, argocd: ArgoCD) -> None:
    server.sync("team-a", "c1", at(0))
    server.sync("team-a", "c2", at(5))
    server.sync("team-a", "bad", at(10), health="Degraded")
    server.sync("team-a", "c4", at(15), health="Degraded")
    broken = argocd.application("team-a")
    shipped = first_deploy_containing(broken.history, contains("bad"))
    assert shipped is not None and shipped.deployed_at == at(10)
    assert recovered_at(broken, contains("fix")) is None

    server.sync("team-a", "fix", at(25), health="Progressing")
    assert recovered_at(argocd.application("team-a"), contains("fix")) is None  # not Healthy yet

    server.set_health("team-a", "Healthy")
    assert recovered_at(argocd.application("team-a"), contains("fix")) == at(25)
    server.sync("team-a", "c6", at(30))
    assert recovered_at(argocd.application("team-a"), contains("fix")) == at(25)


def test_a_rollback_past_the_fix_undoes_recovery(server: ArgoCDServer, argocd: ArgoCD) -> None:
    for minute, revision in [(0, "c1"), (10, "bad"), (20, "fix"), (30, "c2"), (40, "fix")]:
        server.sync("team-a", revision, at(minute))
        if revision == "c2":
            assert recovered_at(argocd.application("team-a"), contains("fix")) is None
    assert recovered_at(argocd.application("team-a"), contains("fix")) == at(40)


def test_history_beyond_the_limit_is_gone(server: ArgoCDServer, argocd: ArgoCD) -> None:
    server.sync("team-a", "bad", at(0))
    for minute in range(1, 11):
        server.sync("team-a", "c4", at(minute))
    history = argocd.application("team-a").history
    assert len(history) == 10 and history[0].id == 1
    # the sync that shipped `bad` dropped out of the window: only a recorded answer survives
    assert first_deploy_containing(history, contains("bad")) == history[0]
    assert history[0].deployed_at == at(1)


def test_503_then_ok_succeeds_after_backoff(server: ArgoCDServer, argocd: ArgoCD, sleeps: list[float]) -> None:
    server.sync("team-a", "c1", at(0))
    server.fail_next(2, status=503)

    assert argocd.application("team-a").sync_revision == "c1"
    assert len(server.requests) == 3
    assert len(sleeps) == 2 and 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0


def test_429_waits_as_long_as_the_server_asks(server: ArgoCDServer, argocd: ArgoCD, sleeps: list[float]) -> None:
    server.rate_limit(1, retry_after=2)
    argocd.application("team-a")
    assert sleeps and sleeps[0] >= 2


def test_a_long_retry_after_is_returned_to_the_caller(
    server: ArgoCDServer, argocd: ArgoCD, sleeps: list[float]
) -> None:
    server.rate_limit(1, retry_after=600)
    with pytest.raises(DeployError) as caught:
        argocd.application("team-a")
    assert caught.value.retryable and caught.value.retry_after == 600 and caught.value.status == 429
    assert sleeps == [] and len(server.requests) == 1


def test_persistent_5xx_gives_up_retryable(server: ArgoCDServer, argocd: ArgoCD, sleeps: list[float]) -> None:
    server.fail_next(5, status=503)
    with pytest.raises(DeployError) as caught:
        argocd.application("team-a")
    assert caught.value.retryable and caught.value.status == 503 and len(sleeps) == 2
    assert "503 Service Unavailable: upstream unavailable" in caught.value.message


def test_401_is_one_line_permanent_and_never_shows_the_token(server: ArgoCDServer, sleeps: list[float]) -> None:
    wrong = "argocd-wrong-token-s3cr3t"
    settings = ArgoCDSettings(url=server.url)
    with ArgoCD.from_settings(settings, wrong, sleep=sleeps.append) as client, pytest.raises(DeployError) as caught:
        client.application("team-a")
    message = caught.value.message
    assert not caught.value.retryable and caught.value.status == 401 and sleeps == []
    assert "\n" not in message and wrong not in message
    assert "no session information" in message and "$ARGOCD_AUTH_TOKEN" in message


def test_the_token_on_a_passed_in_client_is_redacted_too() -> None:
    token = "argocd-token-in-header-only"
    transport = httpx.MockTransport(lambda request: httpx.Response(500, text=request.headers["authorization"],
                                                                   headers={"content-type": "text/plain"}))
    headers = {"Authorization": f"Bearer {token}"}
    http = httpx.Client(base_url="http://argocd.test", transport=transport, headers=headers)
    with http, pytest.raises(DeployError) as caught:
        ArgoCD(http, attempts=1).application("team-a")
    assert token not in caught.value.message and "Bearer ***" in caught.value.message


def test_404_is_permanent(argocd: ArgoCD, sleeps: list[float]) -> None:
    with pytest.raises(DeployError) as caught:
        argocd.application("team-z")
    assert not caught.value.retryable and "argocd_app" in caught.value.message and sleeps == []


def test_down_is_retryable(server: ArgoCDServer, argocd: ArgoCD, sleeps: list[float]) -> None:
    server.down()
    with pytest.raises(DeployError) as caught:
        argocd.application("team-a")
    assert caught.value.retryable and "cannot reach the API server" in caught.value.message
    assert len(sleeps) == 2
    server.up()
    assert argocd.application("team-a").name == "team-a"


def test_403_rate_limit_is_retryable_and_plain_403_is_not() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("limited"):
            return httpx.Response(403, json={"message": "API rate limit exceeded"}, headers={"Retry-After": "1"})
        return httpx.Response(403, json={"error": "permission denied", "code": 7, "message": "permission denied"})

    with httpx.Client(base_url="http://argocd.test", transport=httpx.MockTransport(answer)) as http:
        client = ArgoCD(http, attempts=1)
        with pytest.raises(DeployError) as limited:
            client.application("limited")
        with pytest.raises(DeployError) as denied:
            client.application("secret")
    assert limited.value.retryable and limited.value.retry_after == 1
    assert not denied.value.retryable and "cannot read application 'secret'" in denied.value.message


def test_an_html_page_is_a_configuration_hint() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, html="<html>Argo CD</html>"))
    http = httpx.Client(base_url="http://argocd.test/applications", transport=transport)
    with http, pytest.raises(DeployError, match="base URL") as caught:
        ArgoCD(http, attempts=1).application("team-a")
    assert not caught.value.retryable


def test_version_and_names(server: ArgoCDServer, argocd: ArgoCD) -> None:
    assert argocd.version().startswith("v3.5.1")
    assert argocd.application_names() == ("team-a",)


def test_token_from_env_names_the_variable() -> None:
    settings = ArgoCDSettings(url="https://argocd.example", token_env="EVENT_ARGOCD_TOKEN")
    assert token_from_env(settings, {"EVENT_ARGOCD_TOKEN": " t0ken \n"}) == "t0ken"
    with pytest.raises(DeployError, match="EVENT_ARGOCD_TOKEN"):
        token_from_env(settings, {})


def test_parse_application_tolerates_absent_fields_and_string_ids() -> None:
    body = {
        "metadata": {"name": "bare"},
        "status": {"history": [
            {"id": "3", "revision": "abc", "deployedAt": "2026-06-01T11:00:00.5+02:00"},
            {"id": 4, "revision": "def"},  # no deployedAt: cannot be scored, dropped
        ]},
    }
    status = parse_application(body, T0)
    assert (status.sync_status, status.health_status, status.operation_phase) == ("Unknown", "Unknown", None)
    assert status.history == (HistoryEntry(3, "abc", (), datetime(2026, 6, 1, 9, 0, 0, 500000, timezone.utc), None),)
    with pytest.raises(DeployError):
        parse_application({"items": []}, T0)


def test_backoff_is_exponential_jittered_and_capped() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(n, 1.0, 8.0, rng) for n in range(6)]
    for n, delay in enumerate(delays):
        step = min(8.0, 2.0**n)
        assert step / 2 <= delay <= step

    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise DeployError("blip", retryable=True)
        return "ok"

    assert fetch_with_backoff(flaky, attempts=3, base_delay=0.1, sleep=lambda s: None) == "ok"
    def rejected() -> str:
        raise DeployError("bad token")

    def no_sleep(seconds: float) -> None:
        raise AssertionError("a permanent error must not be retried")

    with pytest.raises(DeployError, match="bad token"):
        fetch_with_backoff(rejected, 5, 0.1, sleep=no_sleep)
