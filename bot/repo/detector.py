"""Work out from the repository alone whether, how and by which commit a fault was fixed.

Walk the first-parent history from the commit that landed the fault to the branch head,
evaluating the fault's `fixed_when` checks only at commits that touch a path those checks
read (any other commit cannot change the verdict). The first commit where every check
passes is the fix; a later commit where one fails again is a regression, and the fault is
open again until the next fix. Automation commits (image-tag bumps) are never the fix.

No date of any commit is read: a team controls those. When a fix happened is decided by
the caller from what the server or the bot observed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from bot.catalog.behaviour import Runner
from bot.catalog.checks import CheckContext, CheckResult, RoleBinding, all_pass, evaluate
from bot.catalog.faults import Fault
from bot.catalog.manifests import ManifestIndex
from bot.catalog.readset import ReadSet, read_set
from bot.repo.workspace import CommitInfo, LocalRepo

_REVERT_MESSAGE = re.compile(r"This reverts commit ([0-9a-f]{7,40})")


@dataclass(frozen=True)
class FixCommit:
    """The commit that made every check pass, and how."""

    sha: str
    kind: str  # revert | forward-fix (a bot-revert is recorded by the injector, not found here)
    author_name: str
    author_email: str


@dataclass(frozen=True)
class Regression:
    """A commit after a fix that broke the fault's checks again."""

    sha: str
    after_fix: str


@dataclass
class Detection:
    """What the history from the fault to `head` says."""

    head: str
    fixes: list[FixCommit] = field(default_factory=list)
    regressions: list[Regression] = field(default_factory=list)
    results: list[CheckResult] = field(default_factory=list)
    first_response: CommitInfo | None = None
    passing: bool = False  # the verdict at head, as the walk left it (automation included)
    reads: ReadSet | None = None  # what the checks read in the last tree judged (None: look at every commit)
    change: FaultChange | None = None  # the fault's own change (fixed once it landed)

    @property
    def fixed(self) -> FixCommit | None:
        """The fix in force at head (None if open or regressed)."""
        if not self.fixes:
            return None
        last_fix = self.fixes[-1]
        if self.regressions and self.regressions[-1].after_fix == last_fix.sha:
            return None
        return last_fix

    @property
    def failing(self) -> list[str]:
        """Checks failing at head, for people."""
        return [f"{r.name}: {r.reason}" for r in self.results if not r.passed]

    @property
    def progress(self) -> tuple[int, int]:
        """(checks passing, checks in all) at head."""
        return sum(r.passed for r in self.results), len(self.results)


def is_automation(commit: CommitInfo, automation: Iterable[str]) -> bool:
    """Commits by CI bots (by name or email) are not the team's work."""
    who = {commit.author_name.lower(), commit.author_email.lower()}
    return any(name.lower() in who for name in automation)


class FixDetector:
    """Fix search for one fault instance, in a repository clone faultbot owns."""

    def __init__(self, repo: LocalRepo, automation: Iterable[str] = (), bot_shas: Iterable[str] = (),
                 runner: Runner | None = None) -> None:
        self.repo = repo
        self.automation = tuple(automation)
        self.bot_shas = set(bot_shas)
        self.runner = runner  # behavioural checks run in its sandbox, cached by what they read

    def _context(self, fault: Fault, binding: RoleBinding, index: ManifestIndex | None = None) -> CheckContext:
        return CheckContext(self.repo.path, binding, index, fault_dir=fault.folder, runner=self.runner)

    def scan(self, fault: Fault, binding: RoleBinding, injected: str, parent: str, landed: str, head: str,
             resume: Detection | None = None) -> Detection:
        """Every fix and regression on the first-parent line `landed..head`, and the verdict at head.

        With `resume` (an earlier scan of the same fault whose head is an ancestor of this
        head) only the new commits are walked: a 3-hour event with CI bumping image tags on
        every push would otherwise re-evaluate the whole history at every poll.
        """
        # The fault's own change: what landed (the pushed commit, or a squash or rebased commit
        # GitHub made), or the injected commit where it landed through a merge commit.
        known = resume.change if resume is not None else None
        change = known if known is not None and known.commits == (injected, landed) else self._change(injected, parent, landed)
        if not self.repo.contains(landed, head):
            return self._rewritten(fault, binding, change, head, Detection(head=head))
        if resume is not None and self.repo.has_commit(resume.head) and self.repo.contains(resume.head, head):
            detection = replace(resume, head=head, fixes=list(resume.fixes), regressions=list(resume.regressions))
            start = resume.head
            passing, results, readset = resume.passing, resume.results, resume.reads
        else:
            detection, start, passing = Detection(head=head), landed, False
            self.repo.checkout_detached(landed)
            context = self._context(fault, binding)
            results = evaluate(fault.spec.fixed_when, context)
            readset = read_set(fault.spec.fixed_when, context)
        commits = self.repo.first_parent_log(start, head)
        for commit in commits:
            automated = is_automation(commit, self.automation)
            if detection.first_response is None and not automated and commit.sha not in self.bot_shas:
                detection.first_response = commit
            if readset is not None and not self._needs(readset, commit.sha):
                continue  # nothing the checks read changed: the verdict stands, no checkout
            self.repo.checkout_detached(commit.sha)
            context = self._context(fault, binding, ManifestIndex.scan(self.repo.path, binding.root))
            results = evaluate(fault.spec.fixed_when, context)
            readset = read_set(fault.spec.fixed_when, context)  # what this tree reads, for the next commit
            now_passing = all_pass(results)
            if automated:
                passing = now_passing  # the tree changed, but not by the team: never their fix
                continue
            if now_passing and not passing:
                kind = self._kind(commit, change)
                # A merge commit is GitHub's; the fix is by whoever wrote the merged branch.
                author = self.repo.commit_info(commit.parents[1]) if len(commit.parents) > 1 else commit
                detection.fixes.append(FixCommit(commit.sha, kind, author.author_name, author.author_email))
            elif passing and not now_passing and detection.fixes:
                detection.regressions.append(Regression(commit.sha, detection.fixes[-1].sha))
            passing = now_passing
        detection.reads, detection.change = readset, change  # a resumed walk needs neither again
        detection.results = results
        detection.passing = passing
        return detection

    def _change(self, injected: str, parent: str, landed: str) -> FaultChange:
        base, fault_head = (f"{landed}^1", landed) if len(self.repo.commit_info(landed).parents) == 1 else (parent, injected)
        return FaultChange((injected, landed), base, fault_head, self.repo.changed_paths(fault_head))

    def _needs(self, readset: ReadSet, sha: str) -> bool:
        """Does the commit change anything the checks read (judged from its changed files only)?"""
        for path, before, after in self.repo.changes(sha):
            def texts(blobs: tuple[str | None, ...] = (before, after)) -> list[str | None]:
                return [self.repo.blob_text(b) if b is not None else None for b in blobs]
            if readset.needs(path, texts):
                return True
        return False

    def _rewritten(self, fault: Fault, binding: RoleBinding, change: FaultChange, head: str,
                   detection: Detection) -> Detection:
        """The team rewrote history (a force-push past the fault): judge the head as it is."""
        self.repo.checkout_detached(head)
        detection.results = evaluate(fault.spec.fixed_when, self._context(fault, binding))
        commit = self.repo.commit_info(head)
        if all_pass(detection.results) and not is_automation(commit, self.automation):
            kind = "revert" if self._undone(change, head) else "forward-fix"
            detection.fixes.append(FixCommit(head, kind, commit.author_name, commit.author_email))
            detection.first_response = commit
        return detection

    def _kind(self, commit: CommitInfo, change: FaultChange) -> str:
        """A revert says so (in its message, or in a commit a merge brought in) or puts the
        fault's own lines back; anything else that mends the checks is a forward fix."""
        messages = [commit.message]
        if len(commit.parents) > 1:
            messages += self.repo.merged_messages(commit.sha)
        for message in messages:
            for named in _REVERT_MESSAGE.findall(message):
                if any(sha.startswith(named) for sha in change.commits):
                    return "revert"
        return "revert" if self._undone(change, commit.sha) else "forward-fix"

    def _undone(self, change: FaultChange, commit: str) -> bool:
        if self.repo.same_content(change.base, commit, change.paths):
            return True  # every path the fault touched is back to its original content
        return self.repo.undoes(change.base, change.head, commit, change.paths)


@dataclass(frozen=True)
class FaultChange:
    """The fault as a change to the branch: the commits that carry it, and its diff `base..head`."""

    commits: tuple[str, ...]
    base: str
    head: str
    paths: list[str]
