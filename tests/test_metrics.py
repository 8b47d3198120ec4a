"""/metrics numbers come from the same fold as `status`."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from bot.web.metrics import render_metrics

ROWS = [
    {"team": "team-a", "fault": "f1", "state": "fixed", "fix_kind": "revert", "time_to_fix_s": 240.0,
     "time_to_recover_s": 300.0, "stale": False},
    {"team": "team-a", "fault": "f2", "state": "injected", "time_to_fix_s": None, "stale": False},
    {"team": "team-b", "fault": "f1", "state": "timed-out", "fix_kind": "bot-revert", "time_to_fix_s": None, "stale": True},
]


def samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = render_metrics(lambda: ROWS, lambda: {"status": "ok", "errors": {"team-b": "boom"}}).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_reflect_the_instances_and_health() -> None:
    found = samples()
    assert found[("faultbot_faults", (("state", "fixed"), ("team", "team-a")))] == 1
    assert found[("faultbot_faults", (("state", "timed-out"), ("team", "team-b")))] == 1
    assert found[("faultbot_time_to_fix_seconds", (("fault", "f1"), ("kind", "revert"), ("team", "team-a")))] == 240
    assert found[("faultbot_time_to_recover_seconds", (("fault", "f1"), ("team", "team-a")))] == 300
    assert found[("faultbot_data_stale", (("team", "team-b"),))] == 1
    assert found[("faultbot_data_stale", (("team", "team-a"),))] == 0
    assert found[("faultbot_up", ())] == 1
    assert found[("faultbot_team_errors", (("team", "team-b"),))] == 1
