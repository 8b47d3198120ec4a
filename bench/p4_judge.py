"""P4: judge one new unrelated commit on a big repo (default 5,000 files, 10,000 commits).

The team repo is examples/chat-app plus filler (services/*/config.yaml, docs/*.md,
src/**/*.py) with a long history, made with `git fast-import`, served over smart HTTP.
faultbot injects a fault (composition root: `make_injector`), its long-lived watcher
(`make_watcher`) takes a first look; then per sample a team member pushes one commit that
touches one filler file (alternately a YAML config and a Markdown page: neither is deployed),
and both judge it:
faultbot: `watcher.refresh()` — what the daemon's poll does for the team (ls-remote, fetch,
          walk the new commit, re-evaluate the fault's checks if it thinks it must);
baseline: `git ls-remote` + `git fetch` + `git diff-tree -r old new` in a raw clone, and
          `git diff-tree -r` alone (the commit already local).
The two alternate which goes first.

    PYTHONPATH=. .venv/bin/python bench/p4_judge.py [--files 5000] [--commits 10000] [--samples 10]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import shutil
import subprocess
import time
from pathlib import Path

from bench.harness import (
    ALICE,
    CHAT_APP,
    FAULT,
    Row,
    common_flags,
    git,
    interleaved,
    machine_note,
    median,
    one_fault,
    open_world,
    raw_poll,
    report,
    scratch_dir,
    write_config,
)
from bot.app.compose import make_injector, make_watcher, open_store
from bot.catalog.faults import Catalog
from bot.config import load_config
from bot.game.events import Kind
from tests.servers.forge import BOT_TOKEN


def filler_path(i: int) -> str:
    """Filler file i: 40% YAML configs, 30% Markdown, 30% Python."""
    kind = i % 10
    if kind < 4:
        return f"services/svc-{i:05d}/config.yaml"
    if kind < 7:
        return f"docs/page-{i:05d}.md"
    return f"src/pkg{i % 97:02d}/mod_{i:05d}.py"


def filler_text(path: str, version: int) -> bytes:
    if path.endswith(".yaml"):
        return f"name: {Path(path).parent.name}\nreplicas: {version % 5 + 1}\nlog_level: info\nrevision: {version}\n".encode()
    if path.endswith(".md"):
        return f"# {Path(path).stem}\n\nRevision {version} of this page.\n".encode()
    return f'"""Module {Path(path).stem}."""\n\nREVISION = {version}\n'.encode()


def big_repo(scratch: Path, files: int, commits: int) -> Path:
    """A bare repo: chat-app + filler in the first commit, then one filler change per commit (fast-import)."""
    tree = scratch / "chat-tree"
    shutil.copytree(CHAT_APP, tree, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.pyc"))
    app_files = sorted(p for p in tree.rglob("*") if p.is_file())
    filler = [filler_path(i) for i in range(max(0, files - len(app_files)))]
    chunks: list[bytes] = []

    def data(payload: bytes) -> None:
        chunks.append(b"data %d\n" % len(payload) + payload + b"\n")

    def commit(n: int, who: tuple[str, str], message: str, changes: list[tuple[str, bytes, str]]) -> None:
        stamp = 1_700_000_000 + n * 60
        chunks.append(b"commit refs/heads/main\n")
        chunks.append(f"author {who[0]} <{who[1]}> {stamp} +0000\ncommitter {who[0]} <{who[1]}> {stamp} +0000\n".encode())
        data(message.encode())
        for path, content, mode in changes:
            chunks.append(f"M {mode} inline {path}\n".encode())
            data(content)

    first = [(p.relative_to(tree).as_posix(), p.read_bytes(), "100755" if os.access(p, os.X_OK) else "100644")
             for p in app_files]
    first += [(path, filler_text(path, 0), "100644") for path in filler]
    commit(0, ("Org Admin", "admin@example.com"), "Initial import", first)
    people = [("Dana Smith", "dana@team.example"), ("Eli Cohen", "eli@team.example"), ALICE]
    for n in range(1, commits):
        path = filler[n % len(filler)] if filler else "README.md"
        commit(n, people[n % len(people)], f"Update {path}", [(path, filler_text(path, n), "100644")])
    bare = scratch / "big.git"
    git("init", "-q", "--bare", "--initial-branch=main", str(bare), token=None)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=bare, input=b"".join(chunks), check=True)
    return bare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common_flags(parser, teams=1)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--commits", type=int, default=10000)
    parser.add_argument("--samples", type=int, default=10, help="unrelated commits judged")
    parser.add_argument("--profile", type=Path, default=None, help="write cProfile stats of faultbot's samples here")
    args = parser.parse_args()
    if args.quick:
        args.files, args.commits, args.samples = 200, 200, 2
    print(f"P4: {args.files} files, {args.commits} commits; {machine_note()}")
    with scratch_dir("p4", args.keep) as scratch:
        started = time.perf_counter()
        seed = big_repo(scratch, args.files, args.commits)
        print(f"  repo made in {time.perf_counter() - started:.1f}s")
        with open_world(scratch, 1, partial_clone=args.partial_clone, seed=seed) as world:
            team = world.teams[0]
            os.environ["GITHUB_TOKEN"] = BOT_TOKEN
            config_path = write_config(scratch / "event", world, world.teams, scenario=one_fault())
            config, _ = load_config(config_path)
            store = open_store(config, config_path)
            settings = config.team(team.name)
            catalog = Catalog.load()
            make_injector(config, config_path, settings, store).inject(catalog.get(FAULT))
            watcher = make_watcher(config, config_path, settings, store, catalog)
            watcher.refresh()  # the first look (a cold cache): not measured
            work, raw = scratch / "team-work", scratch / "raw"
            git("clone", "-q", team.url, str(work))
            git("clone", "-q", team.url, str(raw))
            local: list[float] = []
            kinds: list[str] = []

            def push_unrelated(i: int) -> None:
                span = max(10, (args.files - 100) // 10 * 10)  # filler indexes that exist; a multiple of 10 keeps the kind
                path = filler_path((i * 10 + (0 if i % 2 == 0 else 4)) % span)  # even: a YAML config, odd: a page
                kinds.append(path.rsplit(".", 1)[1])
                target = work / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(filler_text(path, 100_000 + i))
                git("commit", "-qam", f"Tune {path}", cwd=work, author=ALICE, token=None)
                git("push", "-q", "origin", "main", cwd=work)

            pushed: set[int] = set()
            profiler = cProfile.Profile() if args.profile else None

            def ours(i: int) -> float:
                if i not in pushed:
                    push_unrelated(i)
                    pushed.add(i)
                start = time.perf_counter()
                if profiler is not None:
                    profiler.enable()
                watcher.refresh()
                if profiler is not None:
                    profiler.disable()
                return time.perf_counter() - start

            def theirs(i: int) -> float:
                if i not in pushed:
                    push_unrelated(i)
                    pushed.add(i)
                elapsed = raw_poll(raw)
                begun = time.perf_counter()
                git("diff-tree", "-r", "HEAD", cwd=raw, token=None)
                local.append(time.perf_counter() - begun)
                return elapsed

            ours_s, theirs_s = interleaved(args.samples, ours, theirs)
            if profiler is not None:
                profiler.dump_stats(args.profile)
                print(f"  profile of faultbot's samples: {args.profile} (python -m pstats)")
            assert store.last(team.name, kinds=(Kind.FIXED,)) is None, "an unrelated commit was taken for a fix"
            store.close()
    yaml_s = [t for t, k in zip(ours_s, kinds, strict=False) if k == "yaml"]
    md_s = [t for t, k in zip(ours_s, kinds, strict=False) if k == "md"]
    print(f"  faultbot by file touched: yaml median {median(yaml_s) * 1000:.0f} ms, md median {median(md_s) * 1000:.0f} ms")
    note = f"{args.files} files / {args.commits} commits; yaml {median(yaml_s) * 1000:.0f} ms, md {median(md_s) * 1000:.0f} ms"
    report(Row("P4-judge", "judge one new unrelated commit (poll: ls-remote+fetch+judge)", median(ours_s), median(theirs_s),
               "s", "ls-remote+fetch+diff-tree", "≤ 5", len(ours_s), note))
    report(Row("P4-judge-local", "the same, against the local diff alone", median(ours_s), median(local), "s",
               "git diff-tree -r", "O(changed files)", len(ours_s), note))


if __name__ == "__main__":
    main()
