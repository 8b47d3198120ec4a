"""Rehearsals remembered by everything they depend on, so one tree is rehearsed once per process.

An event's teams usually start from one template, so their trees are byte for byte the same;
planning (the daemon's first round, `validate`, `plan`) rehearsed the same faults on each of
them, all on 2 cores (issue 17, P1 and P5), and an injection rehearsed again what the plan had
just rehearsed. A rehearsal reads only the tree's files, the fault and its settings, so the key
is the digest of the content the scratch copy takes (`content_digest`), the fault (the loaded
object: its patch files are not read again), the team's targets, the deployed root, the
Kubernetes version and whether fixes were tried, plus the identity of the behaviour runner and
patch applier (a test's own runner never shares). A
rehearsal during which the sandbox gave no verdict (`Outcome.decided` false) is not kept: it is
asked again next time, as the verdict cache does. Asks for one key made at once (a daemon's
teams tick together) wait for the first instead of rehearsing alongside it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.catalog.behaviour import Job, Outcome, Runner

if TYPE_CHECKING:
    from bot.catalog.faults import Fault
    from bot.catalog.rehearsal import Rehearsal

DEFAULT_SIZE = 1024  # rehearsals kept (LRU): ~20 faults times ~50 distinct trees; ~10 KB each (pickled), a daemon of 500 distinct teams stays small


@dataclass
class WatchingRunner:
    """A runner that notes whether every outcome it passed on was decided."""

    runner: Runner
    undecided: bool = field(default=False)

    def run(self, job: Job) -> Outcome:
        """The wrapped runner's outcome, noting an undecided one."""
        outcome = self.runner.run(job)
        if not outcome.decided:
            self.undecided = True
        return outcome


class Same:
    """Hashed and compared by identity (a runner, a patch applier), holding it so its id is never reused."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Same) and other.obj is self.obj


def settings_key(targets: Mapping[Any, str] | None, *rest: Hashable) -> tuple[Hashable, ...]:
    """A hashable key of a rehearsal's settings (targets in a stable order)."""
    pinned = tuple(sorted((str(role), value) for role, value in (targets or {}).items()))
    return (pinned, *rest)


class RehearsalMemo:
    """Rehearsals by (tree digest, settings, fault), least recently used dropped first."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self.hits = 0
        self.runs = 0
        self._kept: OrderedDict[tuple[Hashable, ...], Rehearsal] = OrderedDict()
        self._gates: dict[tuple[Hashable, ...], threading.Lock] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget every rehearsal."""
        with self._lock:
            self._kept.clear()
            self._gates.clear()

    def rehearsals(self, faults: list[Fault], digest: str, settings: tuple[Hashable, ...],
                   compute: Callable[[list[Fault]], tuple[list[Rehearsal], bool]]) -> list[Rehearsal]:
        """The rehearsal of each fault, kept or computed (`compute` says whether its results may be kept)."""
        keys = [(digest, settings, id(fault)) for fault in faults]
        with self._lock:
            gate = self._gates.setdefault((digest, settings, tuple(keys)), threading.Lock())
            if len(self._gates) > self.size:  # a gate nobody waits on is cheap to make again
                self._gates.clear()
        with gate:
            found = [self._get(key, fault) for key, fault in zip(keys, faults, strict=True)]
            missing = [fault for fault, kept in zip(faults, found, strict=True) if kept is None]
            if missing:
                fresh, keep = compute(missing)
                by_fault = dict(zip((id(f) for f in missing), fresh, strict=True))
                with self._lock:
                    self.runs += len(missing)
                    if keep:
                        for fault in missing:
                            self._put((digest, settings, id(fault)), by_fault[id(fault)])
                found = [kept if kept is not None else by_fault[id(fault)] for fault, kept in zip(faults, found, strict=True)]
            return [kept for kept in found if kept is not None]

    def _get(self, key: tuple[Hashable, ...], fault: Fault) -> Rehearsal | None:
        with self._lock:
            kept = self._kept.get(key)
            if kept is None or kept.fault is not fault:  # an id reused by another fault object: not ours
                return None
            self._kept.move_to_end(key)
            self.hits += 1
            return kept

    def _put(self, key: tuple[Hashable, ...], rehearsal: Rehearsal) -> None:
        self._kept[key] = rehearsal
        self._kept.move_to_end(key)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)


MEMO = RehearsalMemo()
"""The process's memo: every caller of `rehearse_many` shares it unless it passes its own."""
