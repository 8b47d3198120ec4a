"""Issue 15's first paragraph, re-measured: kill -9, racing team pushes, tokens, a total outage.

Everything runs against the smart-HTTP git double with a token (held pushes where said):
- daemon kill -9 trials: two teams, three faults each with a short time limit (so each fault is
  one injection and one bot revert: six intended actions per team); the daemon is killed -9 at
  random moments (half the trials while the forge holds pushes) and restarted, then played out;
  afterwards every planned fault must have exactly one fault commit and one revert on the remote
  (duplicates) and none may be missing or left live (lost);
- `inject` kills: `faultbot inject` killed -9 at a random moment (half while a push is held),
  then run again: exactly one fault commit and one `Landed`;
- racing team pushes: team members push their own commits while the bot injects and reverts;
  every one must stay in main's history, and main's reflog must hold no forced update;
- token hits: the token (and its Basic-auth form) searched in every log, the state database,
  the reports, the caches' .git/config and, sampled every 20 ms, every process's arguments;
- writes outside: files faultbot created or changed outside its workdir, state and reports;
- a total outage (every request answered 500 for `--outage` seconds) after a fault landed: no
  "fixed" may be recorded for it.

    .venv/bin/python bench/bench_resilience.py [--kill-trials 6] [--inject-kills 10] [--pushes 40] [--outage 15]
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the forge doubles live in tests/

from bot.config import sqlite_url_for  # noqa: E402
from bot.game.events import Kind, Landed  # noqa: E402
from bot.game.timeline import fold  # noqa: E402
from bot.store.eventlog import Store  # noqa: E402
from tests.app.outage_game import write_config  # noqa: E402
from tests.gitrepos import TeamRepo, git, make_team_repo  # noqa: E402
from tests.servers.git_http import GitHTTPServer, serve_git_http  # noqa: E402

TOKEN = "ghs_resilience-token-7f3a9c51d2"
FAULT = "web-unreachable/service-selector-typo"
BASIC = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
ALICE = ["-c", "user.name=Alice Ng", "-c", "user.email=alice@example.com"]


class ArgsWatch(threading.Thread):
    """Samples every process's arguments for the token while the measurements run."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.hits: set[str] = set()
        self.samples = 0

    def run(self) -> None:
        while not self.stop.wait(0.02):
            self.samples += 1
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
                except OSError:
                    continue
                if TOKEN in cmdline or BASIC in cmdline:
                    self.hits.add(cmdline.replace("\0", " ")[:200])


@contextmanager
def forge(root: Path, teams: list[str]) -> Iterator[tuple[GitHTTPServer, dict[str, TeamRepo]]]:
    remotes = {name: make_team_repo(root / "forge" / name, name) for name in teams}
    for remote in remotes.values():
        git(remote.bare, "config", "core.logAllRefUpdates", "always")  # main's reflog: forced updates show
    with serve_git_http(root / "forge", TOKEN, partial_clone=False) as server:
        yield server, remotes


def faultbot(args: list[str], root: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GITHUB_TOKEN": TOKEN}
    with log.open("ab") as sink:
        return subprocess.Popen([sys.executable, "-m", "bot", *args, "--config", str(root / "repos.yaml")],
                                cwd=root, env=env, stdout=sink, stderr=sink)


def hold_pushes(server: GitHTTPServer, seconds: float) -> None:
    server.outage.hang(seconds, only="/git-receive-pack")  # POST of every push (and its advertisement)


def store(root: Path) -> Store:
    return Store(sqlite_url_for(root / "state.db"))


def fault_commits(remote: TeamRepo) -> tuple[list[str], list[str]]:
    """(fault commits, revert commits) by the bot's persona on main."""
    lines = git(remote.bare, "log", "--author=Kenji Sato", "--format=%H %s", "main").splitlines()
    reverts = [line for line in lines if line.split(" ", 1)[1].startswith("Revert")]
    return [line for line in lines if line not in reverts], reverts


def _played_out(events: Store) -> bool:
    """Both teams planned, and all six faults closed (timed out and reverted, or skipped)."""
    plans = events.events(kinds=(Kind.PLAN,))
    closed = [i for i in fold(events.events()) if i.state.value in ("timed-out", "skipped")]
    return len(plans) == 2 and len(closed) == 6


def kill_trials(scratch: Path, trials: int) -> dict[str, int]:
    totals = {"trials": trials, "intended": 0, "duplicates": 0, "lost": 0, "kills": 0}
    for trial in range(trials):
        root = scratch / f"kill-{trial}"
        root.mkdir()
        with forge(root, ["team-a", "team-b"]) as (server, remotes):
            write_config(root, server, remotes, scenario=f"{{seed: {trial}, first_delay: 0s..1s, next_delay: 0s..1s, time_limit: 2s, on_time_limit: revert}}")
            if trial % 2:
                hold_pushes(server, 1.5)
            rng = random.Random(trial)
            for _ in range(3):
                daemon = faultbot(["run"], root, root / "daemon.log")
                time.sleep(rng.uniform(1.5, 5.0))
                daemon.send_signal(signal.SIGKILL)
                daemon.wait()
                totals["kills"] += 1
            daemon = faultbot(["run"], root, root / "daemon.log")
            events = store(root)
            deadline = time.monotonic() + 150

            while not _played_out(events) and time.monotonic() < deadline:
                time.sleep(0.5)
            daemon.terminate()
            daemon.wait(timeout=60)
            server.outage.clear()
            for name, remote in remotes.items():
                faults, reverts = fault_commits(remote)
                landed = [e for e in events.events(name, kinds=(Kind.LANDED,)) if isinstance(e.facts, Landed)]
                totals["intended"] += 6
                totals["duplicates"] += max(0, len(faults) - 3) + max(0, len(reverts) - 3)
                totals["duplicates"] += max(0, len(landed) - len({e.fault for e in landed}))
                totals["lost"] += max(0, 3 - len(faults)) + max(0, 3 - len(reverts))
            events.close()
    return totals


def inject_kills(scratch: Path, trials: int) -> dict[str, int]:
    totals = {"trials": trials, "duplicates": 0, "lost": 0}
    for trial in range(trials):
        root = scratch / f"inject-{trial}"
        root.mkdir()
        with forge(root, ["team-a"]) as (server, remotes):
            write_config(root, server, remotes, scenario="{seed: 1}")
            if trial % 2:
                hold_pushes(server, 1.0)
            first = faultbot(["inject", "team-a", FAULT], root, root / "inject.log")
            time.sleep(random.Random(trial).uniform(0.3, 2.5))
            first.send_signal(signal.SIGKILL)
            first.wait()
            again = faultbot(["inject", "team-a", FAULT], root, root / "inject.log")
            again.wait(timeout=120)
            faults, _ = fault_commits(remotes["team-a"])
            events = store(root)
            landed = events.events("team-a", kinds=(Kind.LANDED,))
            events.close()
            totals["duplicates"] += max(0, len(faults) - 1) + max(0, len(landed) - 1)
            totals["lost"] += int(len(faults) == 0 or len(landed) == 0)
    return totals


def racing_pushes(scratch: Path, pushes: int) -> dict[str, int]:
    root = scratch / "race"
    root.mkdir()
    pushed: dict[str, list[str]] = {"team-a": [], "team-b": []}
    with forge(root, list(pushed)) as (server, remotes):
        write_config(root, server, remotes, scenario="{seed: 5, first_delay: 0s..1s, next_delay: 0s..1s, time_limit: 3s, on_time_limit: revert}")
        daemon = faultbot(["run"], root, root / "daemon.log")
        stop = threading.Event()

        def member(team: str) -> None:
            work = remotes[team].clone
            url = server.url_for_path(remotes[team].bare)
            auth = ["-c", "credential.helper=", "-c", f"http.extraHeader=Authorization: Basic {BASIC}"]
            git(work, "remote", "set-url", "origin", url)
            n = 0
            while len(pushed[team]) < pushes // 2 and not stop.is_set():
                n += 1
                subprocess.run(["git", *auth, "pull", "-q", "--rebase", "origin", "main"], cwd=work, capture_output=True)
                (work / "NOTES.md").write_text(f"note {n}\n", encoding="utf-8")
                git(work, "add", "NOTES.md")
                git(work, *ALICE, "commit", "-qm", f"Team note {n}")
                done = subprocess.run(["git", *auth, "push", "-q", "origin", "HEAD:main"], cwd=work, capture_output=True)
                if done.returncode == 0:
                    pushed[team].append(git(work, "rev-parse", "HEAD"))
                time.sleep(0.2)

        members = [threading.Thread(target=member, args=(t,)) for t in pushed]
        for thread in members:
            thread.start()
        for thread in members:
            thread.join(timeout=300)
        stop.set()
        daemon.terminate()
        daemon.wait(timeout=60)
        lost = forced = 0
        for team, shas in pushed.items():
            bare = remotes[team].bare
            lost += sum(1 for sha in shas if subprocess.run(["git", "merge-base", "--is-ancestor", sha, "main"],
                                                             cwd=bare, capture_output=True).returncode != 0)
            entries = git(bare, "reflog", "show", "--format=%H", "refs/heads/main").split()[::-1]
            forced += sum(1 for old, new in zip(entries, entries[1:], strict=False)
                          if subprocess.run(["git", "merge-base", "--is-ancestor", old, new], cwd=bare,
                                            capture_output=True).returncode != 0)
        bot_actions = sum(len(fault_commits(r)[0]) + len(fault_commits(r)[1]) for r in remotes.values())
    return {"team_pushes": sum(len(s) for s in pushed.values()), "bot_commits": bot_actions, "lost": lost,
            "forced": forced}


def outage(scratch: Path, seconds: float) -> dict[str, int]:
    root = scratch / "outage"
    root.mkdir()
    with forge(root, ["team-a"]) as (server, remotes):
        write_config(root, server, remotes, scenario="{seed: 2, first_delay: 0s, time_limit: 1h}")
        daemon = faultbot(["run"], root, root / "daemon.log")
        events = store(root)
        deadline = time.monotonic() + 60
        while not events.events("team-a", kinds=(Kind.LANDED,)) and time.monotonic() < deadline:
            time.sleep(0.2)
        server.outage.fail(500)
        time.sleep(seconds)
        failed = len([kind for kind, _ in server.outage.served if kind == "error"])
        server.outage.clear()
        time.sleep(5)  # polls after the outage
        daemon.terminate()
        daemon.wait(timeout=60)
        fixed = len(events.events("team-a", kinds=(Kind.FIXED,)))
        instance = fold(events.events("team-a"))[0]
        events.close()
    return {"requests_refused": failed, "false_fixed": fixed, "still_open": int(instance.is_open)}


def token_hits(scratch: Path) -> dict[str, int]:
    """The token in any file faultbot wrote (logs, state, reports, cache configs)."""
    hits = {"files_scanned": 0, "hits": 0}
    for root in (p for p in scratch.iterdir() if p.is_dir()):
        if (root / "repos.yaml").exists() and (root / "state.db").exists():
            subprocess.run([sys.executable, "-m", "bot", "report", "--out", str(root / "report"), "--config",
                            str(root / "repos.yaml")], cwd=root, capture_output=True, env={**os.environ})
    for path in scratch.rglob("*"):
        if not path.is_file() or "forge" in path.relative_to(scratch).parts:
            continue  # the double's own repos and its clones are the team's side
        hits["files_scanned"] += 1
        data = path.read_bytes()
        if TOKEN.encode() in data or BASIC.encode() in data:
            hits["hits"] += 1
            print("token found in", path)
    return hits


def writes_outside(scratch: Path, before: set[Path]) -> int:
    """Files under the scratch root created outside a run's workdir, state, logs, reports and forge."""
    allowed = ("cache", "forge", "report", ".faultbot")
    outside = []
    for path in scratch.rglob("*"):
        if path in before or not path.is_file():
            continue
        parts = path.relative_to(scratch).parts
        if len(parts) >= 2 and (parts[1] in allowed or parts[1].startswith(("state.db", "daemon.log", "inject.log"))):
            continue
        if parts[-1] == "repos.yaml":
            continue
        outside.append(path)
    for path in outside:
        print("written outside:", path)
    return len(outside)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kill-trials", type=int, default=6)
    parser.add_argument("--inject-kills", type=int, default=10)
    parser.add_argument("--pushes", type=int, default=40)
    parser.add_argument("--outage", type=float, default=15.0)
    args = parser.parse_args()
    watch = ArgsWatch()
    watch.start()
    with tempfile.TemporaryDirectory(prefix="faultbot-resilience-") as name:
        scratch = Path(name)
        before = set(scratch.rglob("*"))
        started = time.monotonic()
        kills = kill_trials(scratch, args.kill_trials)
        print("daemon kill -9:", kills, flush=True)
        injects = inject_kills(scratch, args.inject_kills)
        print("inject kill -9:", injects, flush=True)
        race = racing_pushes(scratch, args.pushes)
        print("racing pushes:", race, flush=True)
        down = outage(scratch, args.outage)
        print(f"{args.outage:g} s total outage:", down, flush=True)
        watch.stop.set()
        watch.join()
        tokens = token_hits(scratch)
        print("token in files:", tokens, "| in process arguments:", len(watch.hits), f"({watch.samples} samples)")
        print("files written outside workdir/state/logs/reports:", writes_outside(scratch, before))
        print(f"total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
