"""What the issue-17 benchmarks share: the local forge, team repos, repos.yaml, faultbot's CLI, raw git, results.

faultbot is driven only through its CLI (`python -m bot ...`) or its composition root and
control functions (`bot.app.compose`, `bot.app.control`), never through private internals,
so the benchmarks survive refactoring. The forge is the test suite's own stand-ins
(tests/servers/): git smart HTTP (`git http-backend`, token on every request) and the GitHub
REST double, all on 127.0.0.1. Every raw-git baseline goes through the same servers.

Each script prints people's lines, then one `BENCH-RESULT {json}` line per table row, which
`bench/run_all` collects into the markdown table.
"""

from __future__ import annotations

import compileall
import functools
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bot.store.eventlog import Store
from tests.servers.forge import BOT_TOKEN, MEMBER_LOGIN, MEMBER_TOKEN
from tests.servers.git_cli import LEAKY_GIT_VARS, commit_tree_of_directory, init_bare_repo
from tests.servers.git_http import GitHTTPServer, git_auth_config, serve_git_http
from tests.servers.github_api import GitHubServer, serve_github

ROOT = Path(__file__).resolve().parents[1]
CHAT_APP = ROOT / "examples" / "chat-app"
FAULT = "web-unreachable/service-selector-typo"
FAULT_MESSAGE = "Align frontend service labels with the new naming scheme"
# The same edit as FAULT, for the raw baseline: the Service's selector only, not its labels.
FAULT_SED = r"/^  selector:/,/^  [a-z]/ s/^    app: frontend$/    app: frontend-web/"
FAULT_FILE = "k8s/frontend-service.yaml"
BASELINE_TOKEN = "ghp_bench-baseline"  # raw git authenticates as its own user, so its requests can be told apart
BASELINE_LOGIN = "baseline"
WORKERS = 4  # the issue's "4 at a time": validate/plan's team pool, and the raw baselines' (the daemon: a thread per team)
PERSONA = ("Kenji Sato", "k.sato@example.com")
ORG_ADMIN = ("Org Admin", "admin@example.com")
ALICE = ("Alice Ng", "alice@example.com")
WEBHOOK_SECRET_ENV = "BENCH_WEBHOOK_SECRET"
WEBHOOK_SECRET = "bench-webhook-secret"
SHUTDOWN_HANGS = 0  # daemons that did not stop on SIGTERM (see DaemonProcess.stop)


# -- the machine ----------------------------------------------------------------------------

def isolate_git(scratch: Path) -> None:
    """Cut this process (and every child: faultbot, git, the servers' http-backend) off the user's git config."""
    for name in LEAKY_GIT_VARS:
        os.environ.pop(name, None)
    config = scratch / "gitconfig"
    config.touch()
    os.environ.update({"GIT_CONFIG_GLOBAL": str(config), "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"})


def machine_note() -> str:
    """Cores and load, printed with every result: the numbers mean little without them."""
    load = os.getloadavg()
    return f"{os.cpu_count()} cores, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


@contextmanager
def scratch_dir(prefix: str, keep: bool = False) -> Iterator[Path]:
    """A temp folder with git isolated inside it; removed afterwards unless `keep`."""
    path = Path(tempfile.mkdtemp(prefix=f"faultbot-bench-{prefix}-"))
    try:
        isolate_git(path)
        yield path
    finally:
        if keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


# -- raw git --------------------------------------------------------------------------------

def git(*args: str, cwd: Path | None = None, token: str | None = BASELINE_TOKEN, author: tuple[str, str] | None = None,
        input: bytes | None = None) -> str:
    """Run raw git (authenticated for smart HTTP as the baseline user); stdout, or a loud error."""
    auth = git_auth_config(token) if token else []
    who = ["-c", f"user.name={author[0]}", "-c", f"user.email={author[1]}"] if author else []
    proc = subprocess.run(["git", *auth, *who, *args], cwd=cwd, input=input, capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} exited {proc.returncode}: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout.decode(errors="replace").strip()


def head_of(bare: Path, branch: str = "main") -> str:
    """A bare repo's branch head, read from disk (no process: cheap enough to poll)."""
    loose = bare / "refs" / "heads" / branch
    try:
        return loose.read_text().strip()
    except FileNotFoundError:
        pass
    packed = bare / "packed-refs"
    if packed.exists():
        for line in packed.read_text().splitlines():
            if line.endswith(f" refs/heads/{branch}"):
                return line.split(" ", 1)[0]
    return ""


def reset_head(bare: Path, sha: str, branch: str = "main") -> None:
    """Put a team's branch back where the run started (the forge's side; never done to a real team)."""
    git("--git-dir", str(bare), "update-ref", f"refs/heads/{branch}", sha, token=None)


def raw_inject(url: str, dest: Path) -> None:
    """The raw baseline of an injection: clone, sed, commit, push (what a script by hand would do)."""
    git("clone", "-q", url, str(dest))
    subprocess.run(["sed", "-i", FAULT_SED, FAULT_FILE], cwd=dest, check=True)
    git("commit", "-qam", FAULT_MESSAGE, cwd=dest, author=PERSONA)
    git("push", "-q", "origin", "main", cwd=dest)


def raw_poll(clone: Path) -> float:
    """The raw baseline of one poll that finds a new commit: ls-remote + fetch + diff-tree; seconds taken.

    The clone is then moved to the new head (not timed), ready for the next poll.
    """
    start = time.perf_counter()
    old = git("rev-parse", "HEAD", cwd=clone, token=None)
    new = git("ls-remote", "origin", "refs/heads/main", cwd=clone).split()[0]
    git("fetch", "-q", "origin", "main", cwd=clone)
    git("diff-tree", "-r", old, new, cwd=clone, token=None)
    elapsed = time.perf_counter() - start
    git("reset", "-q", "--hard", new, cwd=clone, token=None)
    return elapsed


def in_parallel(work: Callable[[Any], Any], items: Sequence[Any], workers: int = WORKERS) -> list[Any]:
    """Raw baselines run at the same parallelism as faultbot's team pool."""
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items)))) as pool:
        return list(pool.map(work, items))


# -- the forge --------------------------------------------------------------------------------

@dataclass(frozen=True)
class TeamRemote:
    """One team's repo on the local forge."""

    name: str
    owner: str
    bare: Path
    url: str

    @property
    def full_name(self) -> str:
        return f"{self.owner}/chat"


@dataclass
class World:
    """The servers, the teams' bare repos and the commit every team starts from."""

    root: Path
    git_http: GitHTTPServer
    github: GitHubServer | None
    teams: list[TeamRemote]
    seed_sha: str

    def reset(self) -> None:
        """Every team back to the seed commit."""
        for team in self.teams:
            if head_of(team.bare) != self.seed_sha:
                reset_head(team.bare, self.seed_sha)


def seed_repo(scratch: Path, source: Path = CHAT_APP) -> Path:
    """A bare repo with `source` as one commit by the organizer (copied per team)."""
    tree = scratch / "seed-tree"
    shutil.copytree(source, tree, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.pyc"))
    bare = init_bare_repo(scratch / "seed.git")
    commit_tree_of_directory(bare, tree, "main", "Initial import of the chat service", ORG_ADMIN)
    return bare


@contextmanager
def open_world(scratch: Path, teams: int, *, github: bool = False, partial_clone: bool = False,
               seed: Path | None = None) -> Iterator[World]:
    """Serve `teams` copies of a seed repo (default: examples/chat-app) over smart HTTP (+ GitHub REST).

    partial_clone=False by default, to compare with figures taken before issue 16 made faultbot
    work against filter support; pass --partial-clone to serve as GitHub does.
    """
    seed = seed or seed_repo(scratch)
    forge_root = scratch / "forge"
    forge_root.mkdir()
    with ExitStack() as stack:
        git_http = stack.enter_context(serve_git_http(forge_root, BOT_TOKEN, partial_clone=partial_clone))
        git_http.add_token(BASELINE_TOKEN, BASELINE_LOGIN)
        hub = None
        if github:
            hub = stack.enter_context(serve_github(
                forge_root, {BOT_TOKEN: "faultbot", MEMBER_TOKEN: MEMBER_LOGIN, BASELINE_TOKEN: BASELINE_LOGIN}, git_http))
        remotes = []
        for i in range(teams):
            name = f"team-{i:03d}"
            bare = forge_root / name / "chat.git"
            bare.parent.mkdir()
            shutil.copytree(seed, bare)
            remotes.append(TeamRemote(name, name, bare, git_http.url_for_path(bare)))
        yield World(forge_root, git_http, hub, remotes, head_of(seed))


def write_config(event_dir: Path, world: World, teams: Sequence[TeamRemote], *, scenario: str, poll: str = "30s",
                 web_port: int = 0, webhook: bool = False, github: bool = False,
                 request_interval: float = 0.0) -> Path:
    """The repos.yaml an organizer would write for these teams (smart-HTTP `url:`, and `repo:` with GitHub)."""
    event_dir.mkdir(parents=True, exist_ok=True)
    web = f"web: {{port: {web_port}" + (f", webhook_secret_env: {WEBHOOK_SECRET_ENV}" if webhook else "") + "}"
    lines = ["event: {name: bench, state: sqlite:///state.db, workdir: cache}", f"poll_interval: {poll}", web]
    if github:
        assert world.github is not None
        lines.append(f"github: {{api_url: '{world.github.api_url}', request_interval: {request_interval}}}")
    lines += ["defaults:", f"  personas: [{{name: {PERSONA[0]}, email: {PERSONA[1]}}}]", f"  scenario: {scenario}", "teams:"]
    for team in teams:
        lines += [f"  - name: {team.name}", f"    url: {team.url}"]
        if github:
            lines.append(f"    repo: {team.full_name}")
    path = event_dir / "repos.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def one_fault(first_delay: str = "0s", time_limit: str = "3h") -> str:
    """A scenario of one fault (FAULT) per team, due `first_delay` after the start."""
    return (f"{{families: [{FAULT.split('/')[0]}], faults: [{FAULT}], first_delay: {first_delay}..{first_delay}, "
            f"time_limit: {time_limit}}}")


# -- faultbot -----------------------------------------------------------------------------------

@functools.cache
def precompile() -> None:
    """Compile bot/ to bytecode once, as the container image and a wheel install do.

    faultbot runs from this checkout; where PYTHONDONTWRITEBYTECODE is set (this machine sets
    it), every launch would otherwise compile bot/ from source, a cost no installed faultbot pays.
    """
    compileall.compile_dir(ROOT / "bot", quiet=1)


def faultbot_env() -> dict[str, str]:
    """faultbot's environment: the bot's token, the webhook secret, and this checkout on the path
    (compiled: see precompile)."""
    precompile()
    return {**os.environ, "GITHUB_TOKEN": BOT_TOKEN, WEBHOOK_SECRET_ENV: WEBHOOK_SECRET,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}


def faultbot(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` in its own process, as an organizer runs it."""
    proc = subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=faultbot_env(),
                          capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"faultbot {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    return proc


class DaemonProcess:
    """`python -m bot run` in the background, its JSON logs in a file."""

    def __init__(self, config: Path) -> None:
        self.log_path = config.parent / "daemon.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(config)],
                                     cwd=config.parent, env=faultbot_env(), stdout=self._log, stderr=self._log)
        self.pid = self.proc.pid

    def check_alive(self) -> None:
        """Fail with the daemon's log when it died."""
        if self.proc.poll() is not None:
            raise RuntimeError(f"the daemon exited {self.proc.returncode}: {self.log_path.read_text()[-3000:]}")

    def logged(self, event: str) -> int:
        """How many times the daemon's JSON log says `event` (e.g. "injected")."""
        needle = f'"event": "{event}"'
        return sum(needle in line for line in self.log_path.read_text(errors="replace").splitlines())

    def rss_mb(self) -> tuple[float, float]:
        """Resident memory now and at its peak (VmRSS, VmHWM), in MB."""
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{self.pid}/status").read_text().splitlines() if ":" in line)
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024

    def stop(self) -> None:
        """SIGTERM (what `docker stop` sends), then, like docker, SIGKILL after 10 s.

        A SIGTERM during a tick used to hang the daemon (found by these benchmarks, fixed in
        issue 15); a kill here is a regression: counted and reported, not hidden.
        """
        global SHUTDOWN_HANGS
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                SHUTDOWN_HANGS += 1
                print(f"  (the daemon ignored SIGTERM for 10 s: killed; {SHUTDOWN_HANGS} so far)", flush=True)
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def __enter__(self) -> DaemonProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def event_log(config: Path) -> Store:
    """The event's log, opened as faultbot opens it (composition root), read beside a running daemon."""
    from bot.app.compose import open_store
    from bot.config import load_config

    loaded, _ = load_config(config)
    return open_store(loaded, config)


def free_port() -> int:
    """A port nobody listens on right now (for the daemon's web side, which must be known in advance)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, step: float = 0.02,
               alive: Callable[[], None] | None = None) -> float:
    """Poll until `predicate()`; return the moment (perf_counter) it first held."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if predicate():
            return time.perf_counter()
        if alive is not None:
            alive()
        time.sleep(step)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


# -- measuring and reporting ------------------------------------------------------------------

def interleaved(runs: int, faultbot_run: Callable[[int], float], baseline_run: Callable[[int], float]) -> tuple[list[float], list[float]]:
    """`runs` of each, alternating which goes first, so machine noise hits both alike."""
    ours: list[float] = []
    theirs: list[float] = []
    for i in range(runs):
        if i % 2 == 0:
            ours.append(faultbot_run(i))
            theirs.append(baseline_run(i))
        else:
            theirs.append(baseline_run(i))
            ours.append(faultbot_run(i))
    return ours, theirs


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass(frozen=True)
class Row:
    """One line of the issue's table."""

    key: str  # e.g. "P1-daemon"
    cost: str  # what is measured, as the table says it
    faultbot: float
    baseline: float | None
    unit: str
    baseline_name: str
    goal: str
    samples: int
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.faultbot / self.baseline if self.baseline else None


def fmt(value: float | None, unit: str) -> str:
    """A value for people: seconds as s or ms, others as they are."""
    if value is None:
        return "—"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    return f"{value:g} {unit}" if unit else f"{value:g}"


def report(row: Row) -> None:
    """Print the row for people and for run_all."""
    ratio = f"{row.ratio:.1f}" if row.ratio is not None else "—"
    print(f"{row.key}: {row.cost}")
    what = "median " if row.unit == "s" else ""
    print(f"  faultbot  {what}{fmt(row.faultbot, row.unit)}   ({row.samples} samples)")
    print(f"  baseline  {what}{fmt(row.baseline, row.unit)}   ({row.baseline_name}, same run, interleaved)")
    print(f"  ratio {ratio}   goal {row.goal}" + (f"   [{row.note}]" if row.note else ""))
    payload = {**row.__dict__, "ratio": row.ratio, "machine": machine_note()}
    print("BENCH-RESULT " + json.dumps(payload), flush=True)


def common_flags(parser: Any, teams: int) -> None:
    """Flags every script has."""
    parser.add_argument("--teams", type=int, default=teams, help=f"N teams (default {teams})")
    parser.add_argument("--quick", action="store_true", help="smallest scale, for the smoke test: numbers mean nothing")
    parser.add_argument("--partial-clone", action="store_true",
                        help="serve git as GitHub does (filter support)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
