"""Prometheus metrics for /metrics, computed from the event log at scrape time.

A custom collector rather than counters updated in place: the log is the truth, a
restarted daemon reports the same numbers, and nothing can drift from `status`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CollectorRegistry, GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector


class EventLogCollector(Collector):
    """faultbot_* gauges from the folded fault instances and the daemon's health."""

    def __init__(self, instances: Callable[[], list[dict[str, Any]]], health: Callable[[], dict[str, Any]]) -> None:
        self.instances = instances
        self.health = health

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One scrape."""
        rows = self.instances()
        faults = GaugeMetricFamily("faultbot_faults", "Fault instances by team and state", labels=["team", "state"])
        for (team, state), count in sorted(Counter((r["team"], r["state"]) for r in rows).items()):
            faults.add_metric([team, state], count)
        yield faults
        ttf = GaugeMetricFamily("faultbot_time_to_fix_seconds", "Time to fix of each fixed fault",
                                labels=["team", "fault", "kind"])
        ttr = GaugeMetricFamily("faultbot_time_to_recover_seconds", "Time from shipped to recovered",
                                labels=["team", "fault"])
        stale = GaugeMetricFamily("faultbot_data_stale", "1 while a team's deploy/forge data is stale", labels=["team"])
        seen: set[str] = set()
        for row in rows:
            if row.get("time_to_fix_s") is not None:
                ttf.add_metric([row["team"], row["fault"], str(row.get("fix_kind"))], float(row["time_to_fix_s"]))
            if row.get("time_to_recover_s") is not None:
                ttr.add_metric([row["team"], row["fault"]], float(row["time_to_recover_s"]))
            if row["team"] not in seen:
                seen.add(row["team"])
                stale.add_metric([row["team"]], 1.0 if row.get("stale") else 0.0)
        yield ttf
        yield ttr
        yield stale
        health = self.health()
        up = GaugeMetricFamily("faultbot_up", "1 while the scheduler runs")
        up.add_metric([], 0.0 if health.get("status", "stopped") == "stopped" else 1.0)
        yield up
        age = GaugeMetricFamily("faultbot_team_poll_age_seconds", "Seconds since the team's forge was last polled",
                                labels=["team"])
        for team, poll in sorted(health.get("polls", {}).items()):
            age.add_metric([team], float(poll.get("age_s") or 0.0))
        yield age
        errors = GaugeMetricFamily("faultbot_team_errors", "1 while a team's last refresh or action failed", labels=["team"])
        for team in health.get("errors", {}):
            errors.add_metric([team], 1.0)
        yield errors


def render_metrics(instances: Callable[[], list[dict[str, Any]]], health: Callable[[], dict[str, Any]]) -> bytes:
    """The text exposition format for one scrape."""
    registry = CollectorRegistry()
    registry.register(EventLogCollector(instances, health))
    return generate_latest(registry)
