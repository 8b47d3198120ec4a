"""A team's cache: a full clone, or a partial one (`--filter=blob:none`) — what each costs.

The repository is made to look like a team repo a year into its life: the chat-app example
plus `--files` source files at head, `--commits` commits of history (CI image-tag bumps in
k8s/, developers editing sources) and `--big` large binaries that were committed once and
deleted later (a demo video, a database dump: history carries them, head does not). It is
served over smart HTTP with a token, as GitHub serves it (partial clones allowed, the token
asked for on every request).

For each cache kind, interleaved over `--rounds`, it measures with faultbot's own code:
  sync    the first `TeamCache.sync` (clone + checkout of head);
  inject  one fault injected (sync, edit, commit, push);
  search  the fix search after the team pushed `--pushes` commits (CI bumps, then a revert):
          one `TeamWatcher.refresh`, which fetches and checks out every commit that touches
          a path the fault's checks read;
and prints medians of time and HTTP requests, and the cache's size on disk.

    PYTHONPATH=. .venv/bin/python bench/bench_cache_clone.py [--files 1500] [--commits 3000] [--big 10] [--rounds 3]

(PYTHONPATH: it serves the repository with the test suite's smart-HTTP server, tests/servers/git_http.py.)
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bot.app.compose import make_injector, make_watcher, open_store, team_adapters
from bot.app.demo.game import write_config
from bot.app.faults import EXAMPLE_REPO
from bot.catalog.faults import Catalog
from bot.config import load_config
from tests.servers.git_http import git_auth_config, serve_git_http

TOKEN = "ghs_bench-token"
FAULT = "web-unreachable/service-selector-typo"
CI = ("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com")


def git(cwd: Path, *args: str, stdin: bytes | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    done = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, check=True, env=env)
    return done.stdout.decode().strip()


def _blob(data: bytes) -> bytes:
    return b"data %d\n%s\n" % (len(data), data)


def build_history(bare: Path, files: int, commits: int, big: int, seed: int = 7) -> None:
    """Write the repository's whole history with one `git fast-import`."""
    rng = random.Random(seed)
    stream: list[bytes] = []
    when = 1_700_000_000

    def commit(message: str, who: tuple[str, str], changes: list[bytes]) -> None:
        nonlocal when
        when += 600
        stream.append(b"commit refs/heads/main\n")
        stream.append(f"author {who[0]} <{who[1]}> {when} +0000\ncommitter {who[0]} <{who[1]}> {when} +0000\n".encode())
        stream.append(_blob(message.encode()))
        stream.extend(changes)

    base = [path for path in sorted(EXAMPLE_REPO.rglob("*")) if path.is_file() and "__pycache__" not in path.parts]
    initial = [b"M 100644 inline " + p.relative_to(EXAMPLE_REPO).as_posix().encode() + b"\n" + _blob(p.read_bytes())
               for p in base]
    sources = [f"services/svc{n % 40:02d}/src/module_{n:05d}.py" for n in range(files)]
    for path in sources:
        body = "".join(f"def f{i}(x):\n    return x * {rng.randint(1, 999)}\n" for i in range(60))
        initial.append(f"M 100644 inline {path}\n".encode() + _blob(body.encode()))
    commit("Initial import", ("Org Admin", "admin@example.com"), initial)
    frontend = (EXAMPLE_REPO / "k8s" / "frontend.yaml").read_text(encoding="utf-8")
    big_at = {rng.randrange(1, commits): n for n in range(big)}
    for number in range(1, commits):
        if number in big_at:
            name = f"assets/recording-{big_at[number]}.bin"
            commit(f"Add {name}", ("Dana Ray", "dana@example.com"),
                   [f"M 100644 inline {name}\n".encode() + _blob(rng.randbytes(2 * 1024 * 1024))])
            commit(f"Remove {name}", ("Dana Ray", "dana@example.com"), [f"D {name}\n".encode()])
        elif number % 3 == 0:
            text = frontend.replace("image: ", f"image: registry.example.com/tag-{number}/", 1)
            commit(f"ci: bump frontend image to {number}", CI, [b"M 100644 inline k8s/frontend.yaml\n" + _blob(text.encode())])
        else:
            path = rng.choice(sources)
            body = "".join(f"def f{i}(x):\n    return x * {rng.randint(1, 999)}\n" for i in range(60))
            commit(f"Tweak {path}", ("Alice Ng", "alice@example.com"),
                   [f"M 100644 inline {path}\n".encode() + _blob(body.encode())])
    git(bare, "fast-import", "--quiet", stdin=b"".join(stream))
    git(bare, "gc", "-q", "--aggressive")  # packed as a forge keeps it


def size_of(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def one_round(root: Path, server_url: str, partial: bool, pushes: int, catalog: Catalog, round_no: int) -> dict[str, float]:
    """Sync, inject, push team work, search: times (s), requests and cache size (MB)."""
    work = root / f"{'partial' if partial else 'full'}-{round_no}"
    work.mkdir()
    bare = root / "forge" / "team-a.git"
    scratch = work / "origin.git"
    git(root, "clone", "-q", "--bare", str(bare), str(scratch))  # a fresh copy of the team's repo per round
    config_path = write_config(work, [("team-a", scratch)], seed=1)
    text = config_path.read_text(encoding="utf-8").replace(scratch.as_uri(), f"{server_url}/{scratch.relative_to(root).as_posix()}")
    config_path.write_text(text, encoding="utf-8")
    config, _ = load_config(config_path)
    team = config.team("team-a")
    store = open_store(config, config_path)
    adapters = team_adapters(config, config_path, team)
    adapters.cache.partial = partial
    result: dict[str, float] = {}
    requests = len(SERVER.requests)
    started = time.perf_counter()
    adapters.cache.sync("main")
    result["sync_s"], result["sync_requests"] = time.perf_counter() - started, len(SERVER.requests) - requests
    requests = len(SERVER.requests)
    started = time.perf_counter()
    injected = make_injector(config, config_path, team, store, adapters=adapters).inject(catalog.get(FAULT))
    result["inject_s"], result["inject_requests"] = time.perf_counter() - started, len(SERVER.requests) - requests
    watcher = make_watcher(config, config_path, team, store, catalog, adapters=adapters)
    watcher.refresh()
    person = work / "person"
    git(work, *git_auth_config(TOKEN), "clone", "-q", f"{server_url}/{scratch.relative_to(root).as_posix()}", str(person))
    for number in range(pushes - 1):
        path = person / "k8s" / "frontend.yaml"
        path.write_text(path.read_text(encoding="utf-8") + f"# bump {number}\n", encoding="utf-8")
        git(person, "-c", f"user.name={CI[0]}", "-c", f"user.email={CI[1]}", "commit", "-qam", f"ci: bump {number}")
    git(person, "-c", "user.name=Alice Ng", "-c", "user.email=alice@example.com", "revert", "--no-edit", injected.sha)
    git(person, *git_auth_config(TOKEN), "push", "-q", "origin", "HEAD:main")
    requests = len(SERVER.requests)
    started = time.perf_counter()
    refreshed = watcher.refresh()
    result["search_s"], result["search_requests"] = time.perf_counter() - started, len(SERVER.requests) - requests
    assert "fix.detected" in refreshed.recorded, refreshed
    result["cache_mb"] = size_of(adapters.cache.path / ".git") / 1e6
    store.close()
    return result


SERVER = None  # set in main: the smart-HTTP server whose request log is counted


def main() -> None:
    global SERVER
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=1500)
    parser.add_argument("--commits", type=int, default=3000)
    parser.add_argument("--big", type=int, default=10)
    parser.add_argument("--pushes", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    catalog = Catalog.load()
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as scratch:
        root = Path(scratch)
        os.environ["GITHUB_TOKEN"] = TOKEN
        config_home = root / "home"
        config_home.mkdir()
        (config_home / "gitconfig").write_text("[user]\n\tname = Bench\n\temail = bench@example.com\n")
        os.environ["GIT_CONFIG_GLOBAL"] = str(config_home / "gitconfig")
        os.environ["GIT_CONFIG_NOSYSTEM"] = "1"
        bare = root / "forge" / "team-a.git"
        bare.parent.mkdir()
        git(root, "init", "-q", "--bare", "-b", "main", str(bare))
        started = time.perf_counter()
        build_history(bare, args.files, args.commits, args.big)
        print(f"repo: {args.files} source files, {args.commits} commits, {args.big} x 2 MB binaries in history; "
              f"bare {size_of(bare) / 1e6:.1f} MB (built in {time.perf_counter() - started:.0f} s)")
        with serve_git_http(root, TOKEN, partial_clone=True) as server:
            SERVER = server  # type: ignore[assignment]
            rows: dict[bool, list[dict[str, float]]] = {True: [], False: []}
            for round_no in range(args.rounds):
                for partial in (False, True):  # interleaved: the machine's noise hits both alike
                    rows[partial].append(one_round(root, server.base_url, partial, args.pushes,
                                                   catalog, round_no))
        keys = ["sync_s", "sync_requests", "inject_s", "inject_requests", "search_s", "search_requests", "cache_mb"]
        print(f"{'medians':<10}" + "".join(f"{k:>17}" for k in keys))
        for partial in (False, True):
            values = [statistics.median(r[k] for r in rows[partial]) for k in keys]
            print(f"{'partial' if partial else 'full':<10}" + "".join(f"{v:>17.2f}" for v in values))


if __name__ == "__main__":
    main()
