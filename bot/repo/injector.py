"""Inject a fault as a simulated developer: one plausible commit, pushed or merged via a PR.

The order of effects is what makes a crash safe:
1. fetch the team's branch head and refuse if the fault does not apply there (or the repo
   is already failing the fault's checks) — nothing is pushed;
2. commit locally as the persona (author *and* committer);
3. record an *intent* (team, fault, local sha) in the store;
4. push without force (PR delivery: push a branch, open and merge a PR);
5. record that it landed, with the time the bot saw the server accept it.
A crash between 4 and 5 leaves an intent whose commit is already on the remote; the next
`inject` (or the daemon on start) finds it there and records it instead of committing again.
A push still running when faultbot was killed holds the team cache's lock until git has the
forge's answer (workspace.py), so that look at the remote happens only once the push ended;
and any commit of ours for the fault found on the branch counts, whichever intent it was.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.catalog.behaviour import Runner
from bot.catalog.binding import DEFAULT_KUBERNETES_VERSION
from bot.catalog.checks import RoleBinding
from bot.catalog.faults import Catalog, Fault
from bot.catalog.manifests import DeployRoot
from bot.catalog.rehearsal import rehearse
from bot.config import Persona, TeamSettings
from bot.errors import EditError, FaultbotError
from bot.forge import Forge
from bot.game import events as ev
from bot.game.clock import Clock
from bot.game.events import Kind
from bot.game.timeline import FaultInstance, fold
from bot.repo.cache import PushRefused, PushRejected, TeamCache
from bot.repo.reverter import Reverter
from bot.repo.workspace import Author, apply_patch

if TYPE_CHECKING:
    from bot.store.eventlog import Store

MAX_ATTEMPTS = 3


class InjectionRefused(FaultbotError):
    """The fault was not injected (does not apply, already injected, merge refused)."""


@dataclass(frozen=True)
class Injection:
    """What landed in the team's repository."""

    team: str
    fault: str
    sha: str
    parent: str
    branch: str
    delivery: str
    persona: str
    message: str
    pushed_at: datetime | None
    landed_sha: str | None = None
    pr_number: int | None = None
    pr_url: str | None = None
    diff: str = ""
    dry_run: bool = False
    recovered: bool = False
    variant: str = ""  # which of the fault's variants fit this repository

    def as_json(self) -> dict[str, Any]:
        """For `--json` (the diff only on a dry run)."""
        data = asdict(self)
        data["pushed_at"] = self.pushed_at.isoformat() if self.pushed_at else None
        if not self.dry_run:
            data.pop("diff")
        return data


@dataclass(frozen=True)
class Choice:
    """The persona and message this team gets for this fault (stable for a seed)."""

    persona: Persona
    message: str
    branch_name: str


def choose(team: TeamSettings, fault: Fault) -> Choice:
    """Draw persona, message and PR branch name from the team's seed: same seed, same commit."""
    rng = random.Random(f"{team.scenario.seed}/{team.name}/{fault.id}")
    persona = rng.choice(team.personas)
    message = rng.choice(fault.spec.commit_messages)
    first = re.sub(r"[^a-z0-9]+", "", persona.name.split()[0].lower()) or "dev"
    slug = "-".join(re.sub(r"[^a-z0-9]+", " ", message.lower()).split()[:5]) or "update"
    return Choice(persona, message, f"{first}/{slug}")


HookFn = Callable[[str], None]


class Injector:
    """Injects faults into one team's repository."""

    def __init__(
        self, team: TeamSettings, cache: TeamCache, store: Store, clock: Clock,
        forge: Forge | None = None, merge_method: str = "merge",
        before_push: HookFn | None = None, after_push: HookFn | None = None,
        root: DeployRoot | None = None, kubernetes_version: str = DEFAULT_KUBERNETES_VERSION, runner: Runner | None = None,
    ) -> None:
        self.team = team
        self.root = root or DeployRoot()  # what the team's ArgoCD deploys: the tree is read from there
        self.kubernetes_version = kubernetes_version
        self.runner = runner
        self.cache = cache
        self.store = store
        self.clock = clock
        self.forge = forge
        self.merge_method = merge_method
        # Observers around the push, for logging and for tests that play a teammate
        # pushing at the worst moment, or a crash right after the push.
        self.before_push = before_push or (lambda sha: None)
        self.before_commit: HookFn = lambda fault_id: None
        self.after_push = after_push or (lambda sha: None)
        self.reverter = Reverter(team, cache, store, clock, forge, merge_method)

    @property
    def after_revert_push(self) -> HookFn:
        """Observer of a bot revert reaching the branch."""
        return self.reverter.after_push

    @after_revert_push.setter
    def after_revert_push(self, hook: HookFn) -> None:
        self.reverter.after_push = hook

    # -- public ---------------------------------------------------------------------------

    def inject(self, fault: Fault, *, dry_run: bool = False, force: bool = False,
               seen_head: str | None = None) -> Injection:
        """Inject `fault` (or, on a dry run, show the diff it would push).

        Refused while the team has another open fault, unless `force`: two breakages at once
        overlap in the team's repo, and a fix of one can read as progress on the other. (The
        daemon forces: its engine already decided that a second fault is due.) `seen_head`:
        the branch head the caller saw on the remote a moment ago; the first try commits on
        it without fetching when the cache has it (TeamCache.sync), a retry always fetches.
        """
        with self.cache.exclusive():
            return self._inject(fault, dry_run=dry_run, force=force, seen_head=seen_head)

    def _inject(self, fault: Fault, *, dry_run: bool, force: bool, seen_head: str | None = None) -> Injection:
        if not dry_run:
            landed = self.store.latest(self.team.name, ev.Landed, fault.id)
            if landed is not None:
                raise InjectionRefused(
                    f"{fault.id} is already injected in {self.team.name} as {landed.sha[:12]}; nothing pushed"
                )
            busy = [i for i in fold(self.store.events(self.team.name)) if i.is_open]
            if busy and not force:
                raise InjectionRefused(
                    f"{self.team.name} already has an open fault ({busy[0].fault}, injected "
                    f"{busy[0].injected_at:%Y-%m-%d %H:%M}Z): a second one at once would overlap it and muddle "
                    "whose fix is whose; nothing pushed (--force injects anyway)"
                )
            recovered = self._recover(fault)
            if recovered is not None:
                return recovered
        if self.team.delivery == "pr" and self.forge is None and not dry_run:
            raise InjectionRefused(f"team {self.team.name} uses delivery: pr, which needs `repo: owner/name` on GitHub")
        choice = choose(self.team, fault)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                parent, sha, diff, binding, variant = self._commit(fault, choice, dry_run,
                                                                   seen_head if attempt == 1 else None)
            except InjectionRefused:
                # "Already broken" may be our own earlier push, landed after we stopped waiting for it.
                recovered = None if dry_run else self._recover(fault)
                if recovered is not None:
                    return recovered
                raise
            if dry_run:
                return self._result(fault, choice, sha, parent, None, diff=diff, dry_run=True, variant=variant)
            self._record(fault, ev.Intent(sha=sha, parent=parent, branch=self._push_branch(choice),
                                          delivery=self.team.delivery, persona=choice.persona.name,
                                          message=choice.message, binding=binding.to_json(), variant=variant))
            try:
                return self._deliver(fault, choice, sha, parent, binding, variant)
            except PushRefused as exc:
                self.cache.checkout_detached(parent)
                raise InjectionRefused(
                    f"{self.team.name} refuses pushes to {self._push_branch(choice)}: {exc.message}; nothing landed"
                    + (" (a protected branch takes changes through a PR: delivery: pr)" if self.team.delivery == "push" else "")
                ) from None
            except PushRejected:
                recovered = self._recover(fault)  # the branch moved: maybe under an earlier push of ours
                if recovered is not None:
                    return recovered
                if attempt == MAX_ATTEMPTS:
                    raise InjectionRefused(
                        f"{self.team.branch} of {self.team.name} kept moving; gave up after {MAX_ATTEMPTS} tries, nothing pushed"
                    ) from None
        raise AssertionError("unreachable")

    def revert(self, fault: Fault, instance: FaultInstance, reason: str) -> str | None:
        """Revert an open fault as its persona (time limit, halt, not shipped); see Reverter."""
        return self.reverter.revert(fault, instance, reason)

    def close_without_revert(self, fault: Fault, reason: str) -> None:
        """Time limit with `on_time_limit: leave`, or a halt of a fault the team already undid."""
        self._record(fault, (ev.TimedOut if reason == "time-limit" else ev.Halted)(reason=reason))

    def reconcile(self, catalog: Catalog) -> list[Injection]:
        """On start: record every fault whose intent reached the remote before a crash."""
        with self.cache.exclusive():
            return self._reconcile(catalog)

    def _reconcile(self, catalog: Catalog) -> list[Injection]:
        landed = {e.fault for e in self.store.events(self.team.name, kinds=(Kind.LANDED,))}
        pending = {e.fault for e in self.store.events(self.team.name, kinds=(Kind.INTENT,))} - landed
        found = []
        for fault_id in sorted(f for f in pending if f is not None):
            recovered = self._recover(catalog.get(fault_id)) if fault_id in catalog.faults else None
            if recovered is not None:
                found.append(recovered)
        return found

    # -- steps ----------------------------------------------------------------------------

    def _commit(self, fault: Fault, choice: Choice, dry_run: bool,
                seen_head: str | None = None) -> tuple[str, str, str, RoleBinding, str]:
        """Apply the fault at the branch head and commit it as the persona (locally); the
        roles it bound on the healthy tree travel with it to the log (fix search needs them),
        with the variant that fits this tree (rehearsed first on a scratch copy)."""
        # A head seen a moment ago spares a fetch only where a moved branch refuses our push (push
        # delivery); a PR branch is never refused, and its PR would rest on a tree not rehearsed.
        seen = seen_head if self.team.delivery == "push" else None
        parent = self.cache.sync(self.team.branch, seen=seen)
        where = f"{self.team.name} at {parent[:12]}"
        rehearsal = rehearse(fault, self.cache.path, apply_patch=apply_patch, targets=self.team.targets,
                             root=self.root, kubernetes_version=self.kubernetes_version, with_fixes=False,
                             runner=self.runner)
        if rehearsal.binding is None or not rehearsal.applicable:
            raise InjectionRefused(f"{fault.id} does not apply to {where}: {rehearsal.reason}; nothing pushed")
        if not rehearsal.healthy_before:
            raise InjectionRefused(f"{fault.id}: {where} already fails this fault's checks; nothing pushed")
        if not rehearsal.broken_after:
            raise InjectionRefused(f"{fault.id} breaks nothing at {where}: {rehearsal.reason}; nothing pushed")
        # The rehearsal edited a copy of exactly this tree: its files are the fault, written as they are.
        try:
            self.cache.write_files(rehearsal.contents)
        except EditError as exc:
            self.cache.checkout_detached(parent)
            raise InjectionRefused(f"{fault.id} does not apply to {where}: {exc.message}; nothing pushed") from None
        author = Author(choice.persona.name, choice.persona.email)
        self.before_commit(fault.id)
        sha = self.cache.commit_all(choice.message, author)
        # The diff is shown only on a dry run (git's own); a push needs none (one git process fewer).
        return parent, sha, self.cache.diff(parent, sha) if dry_run else "", rehearsal.binding, rehearsal.variant

    def _push_branch(self, choice: Choice) -> str:
        return choice.branch_name if self.team.delivery == "pr" else self.team.branch

    def _deliver(self, fault: Fault, choice: Choice, sha: str, parent: str, binding: RoleBinding, variant: str) -> Injection:
        branch = self._push_branch(choice)
        self.before_push(sha)
        self.cache.push(sha, branch)
        pushed_at = self.clock.now()
        self.after_push(sha)
        if self.team.delivery == "push":
            self._record(fault, ev.Landed(sha=sha, parent=parent, branch=branch, pushed_at=pushed_at,
                                          delivery="push", persona=choice.persona.name, message=choice.message,
                                          landed_sha=sha, binding=binding.to_json(), variant=variant))
            return self._result(fault, choice, sha, parent, pushed_at, variant=variant)
        return self._merge(fault, choice, sha, parent, binding, variant)

    def _merge(self, fault: Fault, choice: Choice, sha: str, parent: str, binding: RoleBinding, variant: str) -> Injection:
        assert self.forge is not None
        branch = choice.branch_name
        pull = self.forge.find_pull_request(branch)
        if pull is None or pull.state != "open" or pull.head_sha != sha:
            body = f"{choice.message}.\n\nSmall follow-up; no behaviour change intended."
            pull = self.forge.open_pull_request(branch, self.team.branch, choice.message, body)
            self._record(fault, ev.PrOpened(sha=sha, number=pull.number, url=pull.url, branch=branch))
        outcome = self.forge.merge_pull_request(pull.number, self.merge_method, sha, choice.message)
        if not outcome.merged:
            self._record(fault, ev.PrBlocked(sha=sha, number=pull.number, reason=outcome.message))
            raise InjectionRefused(
                f"PR #{pull.number} for {fault.id} is open in {self.team.name} but GitHub refused the merge: "
                f"{outcome.message}; left open for the organizer"
            )
        merged_at = outcome.merged_at or self.clock.now()
        self._record(fault, ev.Landed(sha=sha, parent=parent, branch=self.team.branch, pushed_at=merged_at,
                                      delivery="pr", persona=choice.persona.name, message=choice.message,
                                      landed_sha=outcome.sha, pr=pull.number, pr_url=pull.url,
                                      binding=binding.to_json(), variant=variant))
        return self._result(fault, choice, sha, parent, merged_at, landed_sha=outcome.sha,
                            pr_number=pull.number, pr_url=pull.url, variant=variant)

    def _recover(self, fault: Fault) -> Injection | None:
        """After a crash or a push whose answer never came: a commit of ours for this fault that
        reached the branch is recorded as landed, not made again.

        Every intent of the fault is looked for, not only the latest: a push that timed out
        can land after a later attempt recorded its own intent (issue 15 item 2).
        """
        intents = [e.facts for e in self.store.events(self.team.name, fault.id, (Kind.INTENT,))
                   if isinstance(e.facts, ev.Intent)]
        if not intents:
            return None
        self.cache.sync(self.team.branch)
        latest = intents[-1]
        if latest.delivery == "pr" and self.forge is not None:
            # A squash or rebase merge leaves our commit out of main's history: ask GitHub.
            pull = self.forge.find_pull_request(latest.branch)
            if pull is not None and pull.merged:
                merged = next((i for i in reversed(intents) if i.sha == pull.head_sha), None)
                if merged is not None:
                    return self._landed_from_intent(fault, merged, pull.merged_at, pull.merge_sha, pull.number, pull.url)
        tip = f"refs/remotes/origin/{self.team.branch}"
        for intent in reversed(intents):
            if self.cache.has_commit(intent.sha) and self.cache.contains(intent.sha, tip):
                return self._landed_from_intent(fault, intent, self.clock.now(), intent.sha, None, None)
        if latest.delivery == "pr" and self.forge is not None:
            remote = self.cache.remote_head(latest.branch)
            if remote == latest.sha:  # the branch got pushed; carry on with the PR
                choice = Choice(self.team.persona(latest.persona), latest.message, latest.branch)
                return self._merge(fault, choice, latest.sha, latest.parent, RoleBinding.from_json(latest.binding),
                                   latest.variant)
        return None

    def _landed_from_intent(self, fault: Fault, intent: ev.Intent, at: datetime | None,
                            landed: str | None, pr: int | None, url: str | None) -> Injection:
        moment = at or self.clock.now()
        self._record(fault, ev.Landed(sha=intent.sha, parent=intent.parent, branch=self.team.branch,
                                      pushed_at=moment, delivery=intent.delivery, persona=intent.persona,
                                      message=intent.message, landed_sha=landed, pr=pr, pr_url=url, recovered=True,
                                      binding=intent.binding, variant=intent.variant))
        choice = Choice(self.team.persona(intent.persona), intent.message, intent.branch)
        return self._result(fault, choice, intent.sha, intent.parent, moment,
                            landed_sha=landed, pr_number=pr, pr_url=url, recovered=True)

    # -- helpers --------------------------------------------------------------------------

    def _record(self, fault: Fault, facts: ev.Facts) -> None:
        now = self.clock.now()
        if isinstance(facts, ev.Landed):
            # With the branch head as the bot just saw it, the baseline the watcher compares
            # against: in one transaction, so neither is ever on record without the other (and
            # twenty teams landing at once queue for SQLite's write lock once each, not twice).
            self.store.append_all(self.team.name, [(facts, fault.id), (ev.Head(head=facts.landed_sha or facts.sha), None)],
                                  at=now)
            return
        self.store.append(self.team.name, facts, fault=fault.id, at=now)

    def _result(self, fault: Fault, choice: Choice, sha: str, parent: str, pushed_at: datetime | None,
                **extra: Any) -> Injection:
        return Injection(
            team=self.team.name, fault=fault.id, sha=sha, parent=parent,
            branch=self.team.branch, delivery=self.team.delivery, persona=choice.persona.name,
            message=choice.message, pushed_at=pushed_at, **extra,
        )


def cache_path(workdir: Path, team: str) -> Path:
    """Where a team's cache clone lives."""
    return workdir / "repos" / team
