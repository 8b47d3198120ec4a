"""The live scoreboard in a real browser (Debian's chromium, headless), served by the
daemon's own web app: ranks in order, hostile names shown as text, and it refreshes."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bot.web.app import build_app
from bot.web.report import render_html
from bot.web.server import BackgroundServer

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs Debian's chromium for this test")
        pytest.skip("Debian's chromium is not installed here (apt-get install chromium); CI installs it")
    return found


def instance(team: str, fault: str, kind: str | None, injected: str, fixed: str | None, by: str = "Ana") -> dict[str, Any]:
    return {"team": team, "fault": fault, "state": "fixed" if kind in ("revert", "forward-fix") else "timed-out",
            "fix_kind": kind, "injected_at": injected, "fixed_at": fixed, "fixed_by": {"name": by},
            "closed_at": fixed if kind == "bot-revert" else None}


INSTANCES = [
    instance("team-a", "web-unreachable/service-selector-typo", "revert", "2026-12-05T14:00:00+00:00", "2026-12-05T14:04:00+00:00"),
    instance("team-b", "web-unreachable/service-selector-typo", "forward-fix", "2026-12-05T14:00:00+00:00",
             "2026-12-05T14:30:00+00:00", by="<script>document.title='pwned'</script>"),
    instance("team-c", "web-unreachable/service-selector-typo", "bot-revert", "2026-12-05T14:00:00+00:00", "2026-12-05T14:45:00+00:00"),
]


def dump_dom(url: str, tmp_path: Path) -> str:
    result = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", url],
                            capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_the_scoreboard_renders_in_a_real_browser(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    app = build_app(lambda: {"status": "ok"}, lambda: INSTANCES,
                    scoreboard=lambda: render_html(INSTANCES, "PD Cup", datetime.now(timezone.utc), refresh_seconds=10))
    with BackgroundServer(app) as server:
        dom = dump_dom(server.url + "/", tmp_path)
        subprocess.run([chromium(), *FLAGS, f"--user-data-dir={tmp_path / 'profile2'}", "--window-size=1280,900",
                        f"--screenshot={tmp_path / 'scoreboard.png'}", server.url + "/"], capture_output=True, timeout=90)
    board = dom.split('id="scoreboard"', 1)[1].split("</table>", 1)[0]
    order = [team for team in ("team-a", "team-b", "team-c") if team in board]
    assert order == ["team-a", "team-b", "team-c"]
    assert board.index("team-a") < board.index("team-b") < board.index("team-c")  # ranked: fast revert first
    assert "<title>PD Cup" in dom and 'http-equiv="refresh" content="10"' in dom
    assert "<script>" not in dom  # the hostile author name stayed text
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom
    assert "pwned" not in dom.split("<title>", 1)[1].split("</title>", 1)[0]
    assert (tmp_path / "scoreboard.png").stat().st_size > 1000
