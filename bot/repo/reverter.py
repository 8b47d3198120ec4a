"""The bot's own revert of an open fault (time limit, halt, a fault that never shipped).

It goes the way the team's changes go: straight to the branch for `delivery: push`, and
through a pull request GitHub merges for `delivery: pr`, whose main is typically protected
(GitHub refuses a direct push there: `[remote rejected] main -> main (protected branch
hook declined)`).

What it undoes: the commit that landed the fault (`landed_sha`: the squash or rebased
commit GitHub made, or the PR's merge commit, reverted against its first parent) — or,
after a regression, the team's commit that broke the fault again (the team's earlier fix
stays theirs).

Crash-safe like injection: an intent is recorded before anything reaches the remote, and
a revert that already landed is recorded rather than made twice. A revert that cannot be
made (a conflict, a protected branch, a refused merge) is recorded once as needing the
organizer; the engine then stops asking for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

from bot.catalog.faults import Fault
from bot.config import TeamSettings
from bot.errors import FaultbotError
from bot.forge import Forge
from bot.game import events as ev
from bot.game.clock import Clock
from bot.game.timeline import FaultInstance, State
from bot.repo.cache import PushRefused, PushRejected, TeamCache
from bot.repo.workspace import Author, RevertConflict

if TYPE_CHECKING:
    from bot.store.eventlog import Store


class RevertRefused(FaultbotError):
    """The bot's revert did not happen now (the branch moved) or cannot happen (left for the organizer)."""


class Reverter:
    """Reverts one team's open faults as the persona that injected them."""

    def __init__(self, team: TeamSettings, cache: TeamCache, store: Store, clock: Clock,
                 forge: Forge | None = None, merge_method: str = "merge") -> None:
        self.team = team
        self.cache = cache
        self.store = store
        self.clock = clock
        self.forge = forge
        self.merge_method = merge_method
        self.after_push: Callable[[str], None] = lambda sha: None  # the revert reached the branch

    def revert(self, fault: Fault, instance: FaultInstance, reason: str) -> str | None:
        """Undo an open fault; the revert's sha on the branch, or None when the change was
        already gone (the team beat us to it). RevertRefused when it could not be done."""
        with self.cache.exclusive():
            return self._revert(fault, instance, reason)

    def _revert(self, fault: Fault, instance: FaultInstance, reason: str) -> str | None:
        closed = ev.Halted if reason == "halt" else ev.TimedOut
        head = self.cache.sync(self.team.branch)
        done = self._already_done(fault, closed, reason, head)
        if done is not None:
            return done
        target = self._target(instance)
        landed = self.store.latest(self.team.name, ev.Landed, fault.id)
        persona = self.team.persona(landed.persona if landed else None)
        try:
            sha = self.cache.revert(target, Author(persona.name, persona.email))
        except RevertConflict as exc:
            self._failed(fault, reason, target, f"{exc.message}; needs the organizer")
        if sha is None:
            self._record(fault, closed(reason=reason, note="the fault's change was already gone"))
            return None
        if self.team.delivery == "pr" and self.forge is not None:
            return self._propose(fault, closed, reason, sha, head, target, persona.name)
        self._record(fault, ev.RevertIntent(sha=sha, parent=head, persona=persona.name, reason=reason,
                                            target=target))
        self._push(fault, reason, target, sha, self.team.branch, head)
        self.after_push(sha)
        self._record(fault, closed(reason=reason, revert_sha=sha, fixed_by=ev.Who(persona.name, persona.email)))
        return sha

    def _target(self, instance: FaultInstance) -> str:
        """The commit to undo: the regressing one after a regression, else the one that landed the fault."""
        if instance.state is State.regressed and instance.regressed_sha:
            return instance.regressed_sha
        target = instance.landed_sha or instance.injected_sha
        if not target:
            raise RevertRefused(f"{instance.fault} in {self.team.name} has no landed commit to revert")
        return target

    def _already_done(self, fault: Fault, closed: type[ev.Closed], reason: str, head: str) -> str | None:
        """A revert an interrupted run already landed: record it instead of reverting again."""
        intent = self.store.latest(self.team.name, ev.RevertIntent, fault.id)
        if intent is None:
            return None
        who = ev.Who(name=intent.persona)
        if intent.delivery == "pr" and self.forge is not None:
            pull = self.forge.find_pull_request(intent.branch)
            if pull is None or pull.head_sha != intent.sha:
                return None
            if pull.merged and pull.merge_sha:
                self._record(fault, closed(reason=reason, revert_sha=pull.merge_sha, recovered=True, fixed_by=who,
                                           pr=pull.number))
                return pull.merge_sha
            return None
        if self.cache.has_commit(intent.sha) and self.cache.contains(intent.sha, head):  # pushed before a crash
            self._record(fault, closed(reason=reason, revert_sha=intent.sha, recovered=True, fixed_by=who))
            return intent.sha
        return None

    def _propose(self, fault: Fault, closed: type[ev.Closed], reason: str, sha: str, head: str, target: str,
                 persona: str) -> str:
        """`delivery: pr`: push the revert to its own branch, open a PR and have GitHub merge it."""
        assert self.forge is not None
        info = self.cache.commit_info(sha)
        title = info.message.splitlines()[0]
        first = re.sub(r"[^a-z0-9]+", "", persona.split()[0].lower()) or "dev"
        slug = "-".join(re.sub(r"[^a-z0-9]+", " ", title.lower()).split()[:6]) or "revert"
        branch = f"{first}/{slug}"
        self._record(fault, ev.RevertIntent(sha=sha, parent=head, persona=persona, reason=reason, target=target,
                                            delivery="pr", branch=branch))
        self._push(fault, reason, target, sha, branch, head)
        pull = self.forge.find_pull_request(branch)
        if pull is None or pull.state != "open" or pull.head_sha != sha:
            pull = self.forge.open_pull_request(branch, self.team.branch, title, info.message.partition("\n")[2].strip())
        outcome = self.forge.merge_pull_request(pull.number, self.merge_method, sha, title)
        if not outcome.merged or outcome.sha is None:
            self._failed(fault, reason, target, f"PR #{pull.number}: GitHub refused the merge: {outcome.message}; "
                                                "left open for the organizer")
        self.after_push(sha)
        self._record(fault, closed(reason=reason, revert_sha=outcome.sha, fixed_by=ev.Who(persona), pr=pull.number))
        return str(outcome.sha)

    def _push(self, fault: Fault, reason: str, target: str, sha: str, branch: str, head: str) -> None:
        try:
            self.cache.push(sha, branch)
        except PushRejected:
            self.cache.checkout_detached(head)
            # The team pushed meanwhile — maybe their fix. Look again before reverting.
            raise RevertRefused(
                f"{branch} of {self.team.name} moved while reverting {fault.id}; "
                "the next poll checks for a fix before trying again", retryable=True,
            ) from None
        except PushRefused as exc:
            self.cache.checkout_detached(head)
            self._failed(fault, reason, target, exc.message)

    def _failed(self, fault: Fault, reason: str, target: str, error: str) -> NoReturn:
        """Record once that the organizer must take over, and stop."""
        self._record(fault, ev.RevertFailed(reason=reason, error=error, target=target))
        raise RevertRefused(f"could not revert {fault.id} in {self.team.name}: {error}")

    def _record(self, fault: Fault, facts: ev.Facts) -> None:
        self.store.append(self.team.name, facts, fault=fault.id, at=self.clock.now())
