"""Watch one team's repository: a cheap check per poll, fix search only when the branch moved.

One `git ls-remote` per poll (a few hundred bytes) answers "did anything change?"; only
then does the cache fetch the new objects and the detector walk the new commits. What it
finds goes into the event log with the time the bot observed it (or the server's time,
for a merged PR), never a commit date.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.catalog.behaviour import Runner
from bot.catalog.checks import RoleBinding
from bot.catalog.faults import Catalog
from bot.config import TeamSettings
from bot.errors import FaultbotError
from bot.forge import PullRequest
from bot.game import events as ev
from bot.game.clock import Clock
from bot.game.events import Kind
from bot.game.timeline import FaultInstance, State, fold
from bot.repo.cache import TeamCache
from bot.repo.detector import Detection, FixDetector
from bot.store.eventlog import Store
from bot.store.staleness import mark_fresh, mark_stale

if TYPE_CHECKING:
    from bot.forge.github import GitHubForge  # PyGithub: imported where a team has `repo:`

DEFAULT_AUTOMATION = ("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com")


@dataclass
class RefreshResult:
    """What one refresh of a team did."""

    team: str
    head: str | None
    moved: bool
    recorded: list[Kind]


class TeamWatcher:
    """Change detection and fix search for one team."""

    def __init__(
        self, team: TeamSettings, cache: TeamCache, store: Store, clock: Clock, catalog: Catalog,
        forge: GitHubForge | None = None, automation: Iterable[str] = DEFAULT_AUTOMATION,
        poll_interval: timedelta = timedelta(seconds=30), runner: Runner | None = None,
    ) -> None:
        self.team = team
        self.runner = runner
        self.cache = cache
        self.store = store
        self.clock = clock
        self.catalog = catalog
        self.forge = forge
        self.automation = tuple(automation)
        self.poll_interval = poll_interval
        self.last_checked: datetime | None = None
        self._scans: dict[str, Detection] = {}  # per fault: where the last walk stopped
        self._searched = False  # has this process searched the history once yet?
        self._delivered: dict[str, PullRequest] = {}  # PRs webhooks carried, by merge and head sha

    def instances(self) -> list[FaultInstance]:
        """This team's fault instances, from the log."""
        return fold(self.store.events(self.team.name))

    def refresh(self, *, source: str = "poll", force: bool = False) -> RefreshResult:
        """Check the branch; if it moved (or `force`), search every injected fault for fixes."""
        with self.cache.exclusive():
            return self._refresh(source, force)

    def _refresh(self, source: str, force: bool) -> RefreshResult:
        now = self.clock.now()
        previous_check = self.last_checked
        heads = self.cache.remote_heads()  # one ls-remote answers both "moved?" and "new branches?"
        head = heads.get(self.team.branch)
        self.last_checked = now
        self._new_branches(set(heads), now, source)
        last = self.store.last(self.team.name, kinds=(Kind.HEAD,))
        last_head = last.facts.head if last is not None and isinstance(last.facts, ev.Head) else None
        moved = last is None or last_head != head
        tracked = [i for i in self.instances() if i.state in (State.injected, State.regressed, State.fixed)]
        # The first look of a process searches whatever the log says: a run killed mid-scan by
        # an older release may have marked a head seen that it never searched.
        force = force or not self._searched
        found: list[tuple[ev.Facts, str | None]] = []
        scans: dict[str, Detection] = {}
        if head is not None and tracked and (moved or force):
            # Fetched, not checked out: fix search checks out only the commits it must judge (O(changed files)).
            self.cache.fetch(self.team.branch)  # a failure here records nothing: the next look scans again
            since = previous_check or (last.at if last else None)
            for instance in tracked:
                scans[instance.fault] = self._scan(instance, head)
                found += [(facts, instance.fault) for facts in self._update(instance, scans[instance.fault], now, since)]
            self._searched = True
        if moved:
            # "Processed up to here", written in the same transaction as what processing found.
            found.append((ev.Head(head=head, previous=last_head,
                                  previous_check_at=previous_check or (last.at if last else None)), None))
        if found:
            self.store.append_all(self.team.name, found, source=source, at=now)
        self._scans.update(scans)  # only once recorded: a resumed walk must not skip what was lost
        # What GitHub adds comes after: a fix is on record from git alone, never waiting for REST calls.
        later = self._from_github(scans, now) if scans or any(i.pr_pending for i in tracked) else []
        if later:
            self.store.append_all(self.team.name, later, source=source, at=now)
        recorded = [f.KIND for f, _ in found + later if not isinstance(f, ev.Head)]
        return RefreshResult(self.team.name, head, moved, recorded)

    def note_pull(self, pull: PullRequest) -> None:
        """A pull_request delivery's PR: fix enrichment uses it rather than asking GitHub again."""
        for sha in {pull.merge_sha, pull.head_sha} - {None, ""}:
            self._delivered[str(sha)] = pull

    def _new_branches(self, branches: set[str], now: datetime, source: str) -> None:
        """A branch the team creates after a fault landed is their first sign of response."""
        last = self.store.latest(self.team.name, ev.Branches)
        if last is not None and set(last.branches) == branches:
            return
        self.store.append(self.team.name, ev.Branches(tuple(sorted(branches))), source=source, at=now)
        if last is None:
            return  # the first look is the baseline, not a response
        ours = {e.facts.branch for e in self.store.events(self.team.name, kinds=(Kind.INTENT,))
                if isinstance(e.facts, ev.Intent)}
        added = sorted(branches - set(last.branches) - ours - {self.team.branch})
        if not added:
            return
        for instance in self.instances():
            if instance.is_open and instance.first_response is None:
                self.store.append(self.team.name, ev.Response(kind="branch", branch=added[0], at=now,
                                                              at_source="observed"),
                                  fault=instance.fault, source=source, at=now)

    def _scan(self, instance: FaultInstance, head: str) -> Detection:
        fault = self.catalog.get(instance.fault)
        assert instance.injected_sha and instance.parent_sha and instance.landed_sha
        # The bot's own commits (its personas', its reverts) are never a team's fix or response.
        personas = tuple(p.email for p in self.team.personas)
        detector = FixDetector(self.cache, self.automation + personas, self._bot_shas(), self.runner)
        return detector.scan(
            fault, RoleBinding.from_json(instance.binding), instance.injected_sha,
            instance.parent_sha, instance.landed_sha, head, resume=self._scans.get(instance.fault),
        )

    def _update(self, instance: FaultInstance, detection: Detection, now: datetime,
                since: datetime | None) -> list[ev.Facts]:
        """What a scan says changed for one fault, from git alone (recorded by the caller, with the head)."""
        found: list[ev.Facts] = []
        passing, total = detection.progress
        if (passing, total) != (instance.progress or (-1, -1)):
            found.append(ev.Progress(passing, total, tuple(detection.failing)))
        fix = detection.fixed
        if fix is not None and instance.state is not State.fixed:
            # Once fixed, a fault stays fixed at that commit until a team commit breaks it
            # again (REGRESSED): a later fault's fix passing these checks too is not a new fix.
            found.append(ev.Fixed(
                sha=fix.sha, kind=fix.kind, fixed_by=ev.Who(fix.author_name, fix.author_email),
                fixed_at=now, fixed_at_source="observed",
                uncertainty_s=round((now - since).total_seconds(), 3) if since else None,
                pr_lookup="pending" if self.forge is not None else None,
            ))
        elif fix is None and instance.state is State.fixed and detection.regressions:
            found.append(ev.Regressed(detection.regressions[-1].sha, detection.regressions[-1].after_fix))
        return found

    def _from_github(self, scans: dict[str, Detection], now: datetime) -> list[tuple[ev.Facts, str | None]]:
        """First responses and fixes' PRs: what needs GitHub, asked once the git facts are recorded."""
        later: list[tuple[ev.Facts, str | None]] = []
        for instance in self.instances():
            detection = scans.get(instance.fault)
            if detection is not None and instance.first_response is None:
                response = self._first_pull(instance)
                if response is None and detection.first_response is not None:
                    response = ev.Response(kind="commit", sha=detection.first_response.sha,
                                           author=detection.first_response.author_name, at=now, at_source="observed")
                if response is not None:
                    later.append((response, instance.fault))
            if instance.pr_pending and instance.fix_sha:
                pull = self._fix_pull(instance.fix_sha, now)
                if pull is not None:
                    later.append((pull, instance.fault))
        return later

    def _fix_pull(self, sha: str, now: datetime) -> ev.FixPull | None:
        """The PR that merged a fix, as a FixPull; None while GitHub cannot say (it is asked again next look)."""
        delivered = self._delivered.get(sha)
        if delivered is not None and delivered.merged:
            return ev.FixPull(sha=sha, pr=_pull_info(delivered), source="webhook")
        try:
            pull = self._merged_pull(sha)
        except FaultbotError as exc:
            # git proved the fix; GitHub cannot say yet whether a PR merged it. The fix stays on
            # record with our observation, GitHub is marked stale, and the next look asks again.
            mark_stale(self.store, self.team.name, "github", exc.message, now)
            return None
        mark_fresh(self.store, self.team.name, "github", now)
        return ev.FixPull(sha=sha, pr=_pull_info(pull) if pull is not None else None)

    def _merged_pull(self, sha: str) -> PullRequest | None:
        """The merged PR that brought `sha` in, if any; ForgeError when GitHub cannot answer."""
        if self.forge is None:
            return None
        pulls = [p for p in self.forge.pulls_for_commit(sha) if p.merged]
        exact = [p for p in pulls if p.merge_sha == sha]
        best = exact or pulls
        return best[0] if best else None

    def _first_pull(self, instance: FaultInstance) -> ev.Response | None:
        """The team's first PR after the fault landed (GitHub's created_at), if any."""
        if self.forge is None or instance.injected_at is None:
            return None
        try:
            pulls = [p for p in self.forge.pulls_opened_since(instance.injected_at)
                     if p.number != instance.injected_pr and p.author.lower() not in {a.lower() for a in self.automation}]
        except FaultbotError:
            return None
        timed = [(p.opened_at, p) for p in pulls if p.opened_at is not None]  # no time, no response time
        if not timed:
            return None
        opened_at, first = min(timed, key=lambda pair: pair[0])
        return ev.Response(kind="pull_request", number=first.number, author=first.author, at=opened_at,
                           at_source="github:created_at")

    def _bot_shas(self) -> set[str]:
        """The bot's reverts: its own commits and what GitHub landed for them (a squash, a merge)."""
        shas = set()
        for event in self.store.events(self.team.name, kinds=(Kind.REVERT_INTENT, Kind.TIMED_OUT, Kind.HALTED)):
            if isinstance(event.facts, ev.RevertIntent):
                shas.add(event.facts.sha)
            elif isinstance(event.facts, ev.Closed) and event.facts.revert_sha:
                shas.add(event.facts.revert_sha)
        return shas


def _pull_info(pull: PullRequest) -> ev.PullInfo:
    return ev.PullInfo(pull.number, pull.author, pull.opened_at, pull.merged_at, pull.url)
