"""A real PostgreSQL for the tests: one server per session (initdb + pg_ctl in a temp dir, TCP on
127.0.0.1 with a password), and a fresh empty database for each test that asks for one.

initdb refuses to run as root, and CI runs as root: the server then runs as Debian's `postgres`
user (made by the `postgresql` package), or `nobody` where there is none. The data folder is made
in /dev/shm (or the system temp dir) and handed to that user, since pytest's own temp dirs are
private to us.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import URL

DEBIAN_GLOB = "/usr/lib/postgresql/*/bin"
SUPERUSER = "faultbot"
# Test settings only: durability is worth nothing in a throwaway cluster, and costs seconds.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",  # TCP only: the URL the tests get is the one a pod would use
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",  # 20-process start-up tests plus pooled engines left open by others
    "max_wal_size": "'256MB'",  # bounds the cluster's size in RAM (see RAM_DISK)
    "min_wal_size": "'32MB'",
}
# On a RAM disk the cluster starts in half the time and a test's database costs a quarter as much
# (measured by bench/bench_postgres.py: creating a database copies ~8 MB); the system temp dir
# when /dev/shm is missing or small (a container's default is 64 MB).
RAM_DISK = Path("/dev/shm")
RAM_DISK_MIN_FREE = 1 << 30
PORT_ATTEMPTS = 5


class PostgresUnavailable(Exception):
    """No PostgreSQL server programs on this machine."""


def find_binaries() -> Path:
    """The folder with initdb and pg_ctl: PATH first, then Debian's /usr/lib/postgresql/N/bin (newest N)."""
    on_path = shutil.which("initdb")
    if on_path:
        folder = Path(on_path).resolve().parent  # Debian's links point into the versioned folder
        if (folder / "pg_ctl").exists():
            return folder
    debian = sorted((Path(p) for p in glob.glob(DEBIAN_GLOB) if (Path(p) / "initdb").exists()),
                    key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)] or [0])
    if debian:
        return debian[-1]
    raise PostgresUnavailable("PostgreSQL's initdb/pg_ctl are neither on PATH nor in /usr/lib/postgresql/*/bin "
                              "(apt-get install postgresql; .ci/run installs it)")


def server_account() -> pwd.struct_passwd | None:
    """The account the server runs as: None (ourselves) unless we are root, whom initdb refuses."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresUnavailable("running as root, and neither a 'postgres' nor a 'nobody' account to run the server as")


def scratch_parent() -> str | None:
    """Where the cluster's folder goes: the RAM disk when it has room, else the system temp dir (None)."""
    try:
        roomy = RAM_DISK.is_dir() and shutil.disk_usage(RAM_DISK).free >= RAM_DISK_MIN_FREE
    except OSError:
        return None
    return str(RAM_DISK) if roomy and os.access(RAM_DISK, os.W_OK | os.X_OK) else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now (the start retries if it is taken meanwhile)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    """A running throwaway cluster; `database()` hands out fresh databases on it."""

    root: Path
    binaries: Path
    account: pwd.struct_passwd | None
    password: str
    port: int = 0
    started_in: float = 0.0  # seconds for initdb + start, reported by the benchmark
    _admin: psycopg.Connection[tuple[object, ...]] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _count: int = 0

    @classmethod
    def start(cls, parent: str | None = None) -> PostgresServer:
        """initdb a cluster in a new folder (under `parent`, else the RAM disk or temp dir) and start it
        on a free port; stop() removes both."""
        binaries, account = find_binaries(), server_account()
        begun = time.perf_counter()
        root = Path(tempfile.mkdtemp(prefix="faultbot-pg-", dir=parent or scratch_parent()))
        server = cls(root=root, binaries=binaries, account=account, password=secrets.token_urlsafe(18))
        try:
            server._initdb()
            server._start()
        except BaseException:
            server.stop()
            raise
        server.started_in = time.perf_counter() - begun
        return server

    @property
    def data(self) -> Path:
        """The cluster's data folder."""
        return self.root / "data"

    @property
    def log(self) -> Path:
        """The server's log, quoted when it fails to start."""
        return self.root / "server.log"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        as_user = {}
        if self.account is not None:
            as_user = {"user": self.account.pw_uid, "group": self.account.pw_gid, "extra_groups": []}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}
        done: subprocess.CompletedProcess[str] = subprocess.run(
            [str(self.binaries / args[0]), *args[1:]], cwd=self.root, env=env, text=True, capture_output=True,
            timeout=120, check=False, **as_user)  # type: ignore[call-overload]
        return done

    def _initdb(self) -> None:
        secret = self.root / "pwfile"
        secret.write_text(self.password + "\n", encoding="utf-8")
        if self.account is not None:
            os.chown(self.root, self.account.pw_uid, self.account.pw_gid)
            os.chown(secret, self.account.pw_uid, self.account.pw_gid)
        secret.chmod(0o600)
        # --no-sync: a throwaway cluster need not wait for the disk; scram like a managed server.
        done = self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--pwfile", str(secret),
                         "--auth=scram-sha-256", "--encoding=UTF8", "--no-locale", "--no-sync")
        secret.unlink()
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# faultbot tests\n" + "".join(f"{k} = {v}\n" for k, v in SETTINGS.items()))

    def _start(self) -> None:
        for _ in range(PORT_ATTEMPTS):
            self.port = free_port()
            done = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", f"-p {self.port}",
                             "-w", "-t", "60", "start")
            if done.returncode == 0:
                self._admin = psycopg.connect(self.dsn("postgres"), autocommit=True)
                return
            log = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
            if "could not bind" not in log and "already in use" not in log:
                raise RuntimeError(f"pg_ctl start failed ({done.returncode}): {done.stderr.strip()}\n{log[-2000:]}")
            self.log.unlink()  # another process took the port between our probe and the start: next one
        raise RuntimeError(f"PostgreSQL found no free port in {PORT_ATTEMPTS} attempts")

    def stop(self) -> None:
        """Stop the server at once (nothing in it is kept) and remove its folder."""
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def dsn(self, dbname: str) -> str:
        """libpq's connection string for one database on this server, as the superuser (for psycopg)."""
        return make_conninfo(host="127.0.0.1", port=self.port, user=SUPERUSER, password=self.password, dbname=dbname)

    def url(self, dbname: str) -> str:
        """The SQLAlchemy URL (psycopg 3 driver) of one database on this server."""
        return URL.create("postgresql+psycopg", username=SUPERUSER, password=self.password, host="127.0.0.1",
                          port=self.port, database=dbname).render_as_string(hide_password=False)

    def admin(self, statement: sql.Composed) -> None:
        """Run one statement outside a transaction on the maintenance database (CREATE/DROP DATABASE)."""
        with self._lock:
            assert self._admin is not None, "the server is stopped"
            self._admin.execute(statement)

    @contextmanager
    def database(self) -> Iterator[str]:
        """A new empty database for one test; its URL. Dropped afterwards, open connections and all."""
        with self._lock:
            self._count += 1
            name = f"test_{os.getpid()}_{self._count}"
        self.admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield self.url(name)
        finally:
            self.admin(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
