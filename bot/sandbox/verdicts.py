"""Verdicts by the digest of what they depend on, so no judgement runs twice.

A job's key (bot.catalog.behaviour.job_key) covers the files it reads and the check as
written; the cache adds a digest of the judge itself (this package's code and the
catalog's behavioural modules), so a changed browser script never reuses an old verdict.
With a file, verdicts survive a daemon restart (one JSON line each, append-only). Only
decided outcomes are kept: "the sandbox could not run" is asked again next time.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from dataclasses import asdict, replace
from pathlib import Path

import bot.catalog.behaviour
import bot.catalog.behaviourspec
from bot.catalog.behaviour import Job, Outcome, Runner

KEPT_OUTPUT = 2000


@functools.cache
def judge_digest() -> str:
    """A digest of the code that judges: change it and every cached verdict is stale."""
    digest = hashlib.sha256()
    sources = sorted(Path(__file__).parent.glob("*.py")) + [
        Path(bot.catalog.behaviour.__file__), Path(bot.catalog.behaviourspec.__file__)]
    for path in sources:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


class VerdictCache:
    """Outcomes by key, in memory and, with `path`, in an append-only JSON-lines file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._outcomes: dict[str, Outcome] = {}
        self._lock = threading.Lock()
        if path is not None and path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                    self._outcomes[record["key"]] = Outcome(**record["outcome"])
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a crash: that verdict is simply made again

    def __len__(self) -> int:
        return len(self._outcomes)

    def get(self, key: str) -> Outcome | None:
        """The verdict kept for a key."""
        with self._lock:
            return self._outcomes.get(key)

    def put(self, key: str, outcome: Outcome) -> None:
        """Keep a verdict (decided ones only)."""
        if not outcome.decided:
            return
        kept = replace(outcome, output=outcome.output[-KEPT_OUTPUT:], cached=False)
        with self._lock:
            self._outcomes[key] = kept
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps({"key": key, "outcome": asdict(kept)}) + "\n")


class CachedRunner:
    """A runner behind a verdict cache; the same job waits for a run already under way."""

    def __init__(self, runner: Runner, cache: VerdictCache | None = None) -> None:
        self.runner = runner
        self.cache = cache if cache is not None else VerdictCache()
        self.hits = 0
        self.runs = 0
        self._running: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def run(self, job: Job) -> Outcome:
        """The cached verdict, or a fresh one (then kept)."""
        key = hashlib.sha256(f"{judge_digest()}\0{job.key}".encode()).hexdigest()
        with self._lock:
            gate = self._running.setdefault(key, threading.Lock())
        with gate:
            found = self.cache.get(key)
            if found is not None:
                self.hits += 1
                return replace(found, cached=True)
            self.runs += 1
            outcome = self.runner.run(job)
            self.cache.put(key, outcome)
            return outcome
