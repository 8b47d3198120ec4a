"""/healthz as Kubernetes' probes read it: a leader and a standby are alive (200), a stopped daemon is not."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.web.app import build_app


@pytest.mark.parametrize(("report", "code"), [
    ({"status": "ok", "role": "leader", "term": 3}, 200),
    ({"status": "standby", "role": "standby", "term": 3, "leader": "faultbot-7d9f-x2:1"}, 200),  # waiting is its job
    ({"status": "stopped", "errors": {}}, 503),
])
def test_healthz_is_200_for_a_leader_and_a_standby_and_503_for_a_stopped_daemon(report: dict[str, Any],
                                                                                code: int) -> None:
    with TestClient(build_app(lambda: report, lambda: [])) as client:
        answer = client.get("/healthz")
    assert answer.status_code == code and answer.json() == report
