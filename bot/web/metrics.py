"""Prometheus metrics for /metrics, computed from the spectator board at scrape time.

A custom collector rather than counters updated in place: the log is the truth, a
restarted daemon reports the same numbers, and nothing can drift from `status`. Labels
are public, so they come from the spectator board: teams, incident numbers and how an
incident ended — never a fault id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CollectorRegistry, GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from bot.web.spectator import SpectatorBoard


class BoardCollector(Collector):
    """faultbot_* gauges from the spectator board and the daemon's health."""

    def __init__(self, board: Callable[[], SpectatorBoard], health: Callable[[], dict[str, Any]]) -> None:
        self.board = board
        self.health = health

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One scrape."""
        teams = self.board().teams
        incidents = GaugeMetricFamily("faultbot_incidents", "Incidents by team and state", labels=["team", "state"])
        for (team, state), count in sorted(Counter((t.team, i.state) for t in teams for i in t.incidents).items()):
            incidents.add_metric([team, state], count)
        yield incidents
        score = GaugeMetricFamily("faultbot_score", "Each team's score", labels=["team"])
        ttf = GaugeMetricFamily("faultbot_time_to_fix_seconds", "Time to fix of each fixed incident",
                                labels=["team", "incident", "how"])
        mtta = GaugeMetricFamily("faultbot_time_to_acknowledge_seconds", "PagerDuty time to acknowledge",
                                 labels=["team", "incident"])
        stale = GaugeMetricFamily("faultbot_data_stale", "1 while a team's data is stale", labels=["team"])
        for row in teams:
            score.add_metric([row.team], float(row.score))
            stale.add_metric([row.team], 1.0 if row.stale else 0.0)
            for incident in row.incidents:
                if incident.fixed_in_s is not None:
                    ttf.add_metric([row.team, str(incident.number), incident.how or ""], incident.fixed_in_s)
                if incident.mtta_s is not None:
                    mtta.add_metric([row.team, str(incident.number)], incident.mtta_s)
        yield from (score, ttf, mtta, stale)
        health = self.health()
        up = GaugeMetricFamily("faultbot_up", "1 while the scheduler runs")
        up.add_metric([], 0.0 if health.get("status", "stopped") == "stopped" else 1.0)
        yield up
        leader = GaugeMetricFamily("faultbot_leader", "1 while this process holds the event's lease, 0 on a standby")
        leader.add_metric([], 1.0 if health.get("role") == "leader" else 0.0)
        yield leader
        age = GaugeMetricFamily("faultbot_team_poll_age_seconds", "Seconds since the team's forge was last polled",
                                labels=["team"])
        for team, poll in sorted(health.get("polls", {}).items()):
            age.add_metric([team], float(poll.get("age_s") or 0.0))
        yield age
        errors = GaugeMetricFamily("faultbot_team_errors", "1 while a team's last refresh or action failed", labels=["team"])
        for team_name in health.get("errors", {}):
            errors.add_metric([team_name], 1.0)
        yield errors


def render_metrics(board: Callable[[], SpectatorBoard], health: Callable[[], dict[str, Any]]) -> bytes:
    """The text exposition format for one scrape."""
    registry = CollectorRegistry()
    registry.register(BoardCollector(board, health))
    return generate_latest(registry)
