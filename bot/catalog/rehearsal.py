"""Rehearse a fault on a copy of a repository: healthy before, broken after, fixed by each
reference fix. This is what `faults verify`, `plan` and `validate` stand on.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.catalog.checks import CheckContext, CheckResult, RoleBinding, all_pass, evaluate
from bot.catalog.edits import EditContext, apply_edits
from bot.catalog.faults import Fault
from bot.catalog.faultspec import ReferenceFix, iter_roles
from bot.catalog.manifests import ManifestIndex
from bot.catalog.roles import Role, Roles
from bot.errors import EditError, GitError, RoleError
from bot.repo.workspace import Author, LocalRepo

REHEARSAL_AUTHOR = Author("Rehearsal", "rehearsal@localhost")


@dataclass(frozen=True)
class FixOutcome:
    """How one reference fix fared."""

    name: str
    kind: str
    passed: bool
    reason: str


@dataclass
class Rehearsal:
    """Everything learned by trying one fault on one repository."""

    fault: Fault
    applicable: bool = False
    reason: str = ""
    dangling_role: bool = False
    healthy_before: bool = False
    broken_after: bool = False
    diff: str = ""
    lines_changed: tuple[int, int] = (0, 0)
    changed_paths: list[str] = field(default_factory=list)
    before: list[CheckResult] = field(default_factory=list)
    after: list[CheckResult] = field(default_factory=list)
    fixes: list[FixOutcome] = field(default_factory=list)

    @property
    def unhealthy(self) -> bool:
        """The repo looks broken already (not merely unsuited to this fault)."""
        return self.dangling_role or (self.applicable and not self.healthy_before)

    @property
    def ok(self) -> bool:
        """Applies, breaks, and every reference fix mends it."""
        return (
            self.applicable and self.healthy_before and self.broken_after
            and bool(self.fixes) and all(f.passed for f in self.fixes)
        )


def needed_roles(fault: Fault) -> list[Role]:
    """Every role the fault's edits, checks and fixes name, in a stable order."""
    roles = list(fault.spec.roles)
    for edit in [*fault.spec.edits, *(e for fix in fault.spec.fixes for e in fix.edits)]:
        role = getattr(edit, "role", None)
        if role is not None:
            roles.append(role)
    roles += list(iter_roles(fault.spec.fixed_when))
    return list(dict.fromkeys(roles))


def bind_roles(fault: Fault, roles: Roles) -> RoleBinding:
    """Resolve the fault's roles on a healthy tree; RoleError says which and why."""
    return RoleBinding.from_targets(roles.resolve(role) for role in needed_roles(fault))


def binding_as_targets(binding: RoleBinding) -> dict[Role, str]:
    """Turn a binding back into `targets:` so later trees resolve the same objects."""
    targets = {role: f"{refs[0].kind}/{refs[0].name}" for role, refs in binding.refs.items() if len(refs) == 1}
    targets.update(binding.directories)
    return targets


def _fail(rehearsal: Rehearsal, reason: str) -> Rehearsal:
    rehearsal.reason = reason
    return rehearsal


def rehearse(
    fault: Fault,
    source: Path,
    *,
    targets: Mapping[Role, str] | None = None,
    with_fixes: bool = True,
    workdir: Path | None = None,
) -> Rehearsal:
    """Try `fault` on a scratch copy of the tree at `source`; never touches `source`."""
    with tempfile.TemporaryDirectory(prefix="faultbot-rehearse-", dir=workdir) as scratch:
        repo = LocalRepo.from_directory(source, Path(scratch) / "repo", REHEARSAL_AUTHOR)
        return rehearse_in(fault, repo, targets=targets, with_fixes=with_fixes)


def rehearse_many(
    faults: list[Fault],
    source: Path,
    *,
    targets: Mapping[Role, str] | None = None,
    with_fixes: bool = True,
    workdir: Path | None = None,
) -> list[Rehearsal]:
    """Rehearse several faults on one scratch copy, reset to the healthy commit between them.

    One copy and one `git init` for all faults instead of one per fault: the tree copy and
    the initial commit dominate a rehearsal's cost (see bench/bench_rehearsal.py).
    """
    with tempfile.TemporaryDirectory(prefix="faultbot-rehearse-", dir=workdir) as scratch:
        repo = LocalRepo.from_directory(source, Path(scratch) / "repo", REHEARSAL_AUTHOR)
        base = repo.head()
        results = []
        for fault in faults:
            repo.checkout_detached(base)
            results.append(rehearse_in(fault, repo, targets=targets, with_fixes=with_fixes))
        return results


def rehearse_in(
    fault: Fault, repo: LocalRepo, *, targets: Mapping[Role, str] | None = None, with_fixes: bool = True
) -> Rehearsal:
    """Rehearse inside a scratch repo we own (its HEAD is the healthy state)."""
    result = Rehearsal(fault)
    base = repo.head()
    index = ManifestIndex.scan(repo.path)
    roles = Roles(index, targets)
    try:
        binding = bind_roles(fault, roles)
    except RoleError as exc:
        result.dangling_role = exc.dangling
        return _fail(result, exc.message)
    result.before = evaluate(fault.spec.fixed_when, CheckContext(repo.path, binding, index))
    result.healthy_before = all_pass(result.before)
    try:
        result.changed_paths = apply_edits(fault.spec.edits, EditContext(repo.path, roles, fault.folder))
    except (EditError, RoleError) as exc:
        return _fail(result, exc.message)
    broken = repo.commit_all(fault.spec.commit_messages[0], REHEARSAL_AUTHOR)
    result.applicable = True
    result.diff = repo.diff(base, broken)
    result.lines_changed = repo.changed_lines(base, broken)
    result.after = evaluate(fault.spec.fixed_when, CheckContext(repo.path, binding))
    result.broken_after = not all_pass(result.after)
    if not result.healthy_before:
        result.reason = "the repo does not pass the fault's checks before it is applied: " + _failing(result.before)
    elif not result.broken_after:
        result.reason = "the fault's own checks still pass after it is applied"
    if with_fixes:
        for fix in fault.spec.fixes:
            result.fixes.append(_try_fix(fault, fix, repo, base, broken, binding))
        if not result.reason and not all(f.passed for f in result.fixes):
            result.reason = "; ".join(f"fix {f.name!r}: {f.reason}" for f in result.fixes if not f.passed)
    return result


def _try_fix(fault: Fault, fix: ReferenceFix, repo: LocalRepo, base: str, broken: str, binding: RoleBinding) -> FixOutcome:

    repo.checkout_detached(broken)
    try:
        if fix.kind == "revert":
            fixed = repo.revert(broken, REHEARSAL_AUTHOR)
        else:
            roles = Roles(ManifestIndex.scan(repo.path), binding_as_targets(binding))
            apply_edits(fix.edits, EditContext(repo.path, roles, fault.folder))
            fixed = repo.commit_all(fix.message or f"Fix: {fix.name}", REHEARSAL_AUTHOR)
    except (EditError, RoleError, GitError) as exc:
        return FixOutcome(fix.name, fix.kind, False, f"does not apply: {exc.message}")
    results = evaluate(fault.spec.fixed_when, CheckContext(repo.path, binding))
    if not all_pass(results):
        return FixOutcome(fix.name, fix.kind, False, "checks still fail: " + _failing(results))
    if fix.kind == "forward" and repo.tree_of(fixed) == repo.tree_of(base):
        return FixOutcome(fix.name, fix.kind, False, "this 'forward' fix restores the original tree: it is a revert")
    return FixOutcome(fix.name, fix.kind, True, "all checks pass")


def _failing(results: list[CheckResult]) -> str:
    return "; ".join(f"{r.name}: {r.reason}" for r in results if not r.passed)
