"""P2: a team pushes a fix; GitHub sends a signed push webhook; how long until faultbot has recorded the fix?

Set-up: `faultbot run` with N teams (`repo:` on the GitHub REST double, `url:` over smart HTTP,
a webhook secret, poll_interval 1h so only the webhook can trigger detection, request_interval
as an organizer sets it for api.github.com: 0.25 s unless --request-interval). One fault per
team, injected at start. Then per team: the team reverts the fault and pushes (not timed), and
faultbot: POST a signed `push` delivery to the daemon's /webhooks/github, then read the event
          log (every 20 ms, from this process: no load on the daemon) until it holds the fix;
baseline: in a raw clone: `git ls-remote` + `git fetch` + `git diff-tree -r old new`.
The two alternate which goes first.

    PYTHONPATH=. .venv/bin/python bench/p2_webhook.py [--teams 6] [--request-interval 0.25]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from pathlib import Path

import httpx

from bench.harness import (
    ALICE,
    WEBHOOK_SECRET,
    DaemonProcess,
    Row,
    TeamRemote,
    World,
    common_flags,
    event_log,
    free_port,
    git,
    head_of,
    interleaved,
    machine_note,
    median,
    one_fault,
    open_world,
    raw_poll,
    report,
    scratch_dir,
    wait_until,
    write_config,
)
from bot.game.events import Kind
from bot.store.eventlog import Store
from bot.web.webhooks import signature


def push_payload(team: TeamRemote, before: str, after: str) -> bytes:
    """The fields of GitHub's push event that matter here (shape per shared/contracts' examples)."""
    return json.dumps({
        "ref": "refs/heads/main", "before": before, "after": after, "created": False, "deleted": False, "forced": False,
        "repository": {"full_name": team.full_name, "name": "chat", "owner": {"login": team.owner}},
        "pusher": {"name": "alice", "email": ALICE[1]},
        "head_commit": {"id": after, "message": "Revert", "author": {"name": ALICE[0], "email": ALICE[1]}},
    }).encode()




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common_flags(parser, teams=6)
    parser.add_argument("--request-interval", type=float, default=0.25, help="github.request_interval (s)")
    args = parser.parse_args()
    if args.quick:
        args.teams = 1
    print(f"P2: {args.teams} teams, request_interval {args.request_interval}s; {machine_note()}")
    with scratch_dir("p2", args.keep) as scratch, \
            open_world(scratch, args.teams, github=True, partial_clone=args.partial_clone) as world:
        port = free_port()
        config = write_config(scratch / "event", world, world.teams, scenario=one_fault(), poll="1h", web_port=port,
                              webhook=True, github=True, request_interval=args.request_interval)
        with DaemonProcess(config) as daemon, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            wait_until(lambda: all(head_of(t.bare) != world.seed_sha for t in world.teams), 600,
                       "every fault to land", step=0.05, alive=daemon.check_alive)
            wait_until(lambda: daemon.logged("injected") >= len(world.teams), 60, "the daemon's log", alive=daemon.check_alive)
            store = event_log(config)
            ours, theirs = run(world, scratch, client, daemon, store)
            sources = sorted({str(e.source) for e in store.events(kinds=(Kind.FIXED,))})
            store.close()
    report(Row("P2-webhook", "push → fix recorded, with a signed webhook", median(ours), median(theirs), "s",
               "ls-remote+fetch+diff-tree", "≤ 2", len(ours),
               f"webhook sent → fix in the event log; request_interval {args.request_interval}s; "
               f"fixes logged with source {'/'.join(sources)}"))


def run(world: World, scratch: Path, client: httpx.Client, daemon: DaemonProcess,
        store: Store) -> tuple[list[float], list[float]]:
    """Per team: the team pushes a revert, then faultbot (webhook) and the baseline judge it, alternating."""
    pushed: dict[int, tuple[str, str]] = {}
    calls: Counter[str] = Counter()  # REST requests between a webhook and its fix in the log
    raw_clones: dict[int, Path] = {}
    for i, team in enumerate(world.teams):  # raw clones made after the injection, before any fix
        raw_clones[i] = scratch / "raw" / team.name
        git("clone", "-q", team.url, str(raw_clones[i]))

    def team_fixes(i: int) -> None:
        if i in pushed:
            return
        team = world.teams[i]
        work = scratch / "team" / team.name
        git("clone", "-q", team.url, str(work))
        before = git("rev-parse", "HEAD", cwd=work, token=None)
        git("revert", "--no-edit", "HEAD", cwd=work, author=ALICE, token=None)
        git("push", "-q", "origin", "main", cwd=work)
        pushed[i] = (before, git("rev-parse", "HEAD", cwd=work, token=None))

    def ours(i: int) -> float:
        team_fixes(i)
        team = world.teams[i]
        body = push_payload(team, *pushed[i])
        assert world.github is not None
        before = len(world.github.requests)
        start = time.perf_counter()
        answer = client.post("/webhooks/github", content=body, headers={
            "X-GitHub-Event": "push", "X-Hub-Signature-256": signature(WEBHOOK_SECRET, body),
            "Content-Type": "application/json"})
        assert answer.status_code == 202, answer.text
        end = wait_until(lambda: store.last(team.name, kinds=(Kind.FIXED,)) is not None, 120, f"{team.name}'s fix",
                         alive=daemon.check_alive)
        calls.update(re.sub(r"[0-9a-f]{40}", "{sha}", re.sub(r"team-\d+", "{team}", r.path))
                     for r in world.github.requests[before:])
        return end - start

    def theirs(i: int) -> float:
        team_fixes(i)
        return raw_poll(raw_clones[i])

    ours_s, theirs_s = interleaved(len(world.teams), ours, theirs)
    print(f"  REST requests per fix: {sum(calls.values()) / len(world.teams):.1f} "
          f"({', '.join(f'{n} x {p}' for p, n in calls.most_common())})")
    return ours_s, theirs_s


if __name__ == "__main__":
    main()
