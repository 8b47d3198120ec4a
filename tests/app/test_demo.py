"""`faultbot demo`: the real daemon on real bare repos, played by simulated teams."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.app.cli import main


def test_demo_plays_every_team_to_the_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--teams", "4", "--speed", "240", "--workdir", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["validation"] == {"ok": True, "problems": []}
    instances = report["instances"]
    by_team: dict[str, list[dict[str, object]]] = {}
    for instance in instances:
        by_team.setdefault(str(instance["team"]), []).append(instance)
    assert set(by_team) == {"team-a", "team-b", "team-c", "team-d"}
    for team, faults in by_team.items():
        assert len(faults) == 3, team
        assert {str(f["fault"]).split("/")[0] for f in faults} == {"web-unreachable", "db-unreachable", "app-bug"}
        assert all(f["state"] in ("fixed", "timed-out") for f in faults), faults
        ordered = sorted(faults, key=lambda f: str(f["injected_at"]))
        for earlier, later in zip(ordered, ordered[1:], strict=False):
            resolved = earlier["fixed_at"] if earlier["state"] == "fixed" else earlier["closed_at"]
            assert str(later["injected_at"]) >= str(resolved)  # one at a time, in order
    kinds = {str(i["fix_kind"]) for i in instances}
    assert {"revert", "forward-fix", "bot-revert"} <= kinds
    same_fields = {"team", "fault", "state", "injected_sha", "injected_at", "fix_sha", "fix_kind", "fixed_by", "pr",
                   "fixed_at", "time_to_fix_s", "checks_failing"}
    assert all(same_fields <= set(i) for i in instances)  # the same fields as `status --json`
    assert [t["team"] for t in report["scoreboard"]][-1] == "team-d"  # the team that missed every fault
    # PagerDuty: every team's responders acknowledged and posted updates, so MTTA is known everywhere.
    assert all(t["median_mtta_s"] is not None and t["median_mtta_s"] > 0 for t in report["scoreboard"])
    assert all(i["incident"]["acknowledged_by"] and i["first_update_s"] is not None for i in instances)
    # Hints reached the team that was stuck, through the daemon's real webhook delivery, never naming the fault.
    # Every hint the daemon gave reached the team (how many fall due before each time limit depends on
    # how punctually a loaded machine ticks at --speed 240: a tick late past the deadline reverts instead).
    hints = [n for n in report["notices"] if n["audience"] == "team" and n["team"] == "team-d"]
    given = sum(len(i["hints_given"]) for i in instances if i["team"] == "team-d")
    assert len(hints) == given >= 1 and all(n["text"].startswith("Hint for incident ") for n in hints)
    for notice in hints:
        assert all(str(i["fault"]) not in notice["text"] and "fault" not in notice for i in instances)
    assert {n["kind"] for n in report["notices"] if n["audience"] == "organizer"} >= {"injected", "fixed",
                                                                                      "timed-out", "hint"}
    paths = [Path(p) for v in report["reports"].values() for p in ([v] if isinstance(v, str) else v)]
    assert len(paths) == 5 + 4
    for path in paths:
        assert path.is_file() and path.stat().st_size > 0
    assert main(["status", "--cached", "--config", report["config"], "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == instances


def test_demo_refuses_silly_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--teams", "0"]) == 2
    assert "--teams must be between 1 and 8" in capsys.readouterr().err
    (tmp_path / "precious.txt").write_text("keep me")
    assert main(["demo", "--workdir", str(tmp_path)]) == 2
    assert "was not made by `faultbot demo`" in capsys.readouterr().err
    assert (tmp_path / "precious.txt").read_text() == "keep me"
