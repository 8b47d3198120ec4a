"""Rehearse a fault on a copy of a repository: healthy before, broken after, fixed by each
reference fix, and still broken after each listed wrong fix (both directions: a check that
accepts a wrong fix is as bad as one that rejects a right one). This is what `faults verify`,
`plan` and `validate` stand on.

No git: edits change a scratch copy (`ScratchTree`), a revert is putting the fault's paths
back, and the diff is computed in Python. Patch edits are the one thing git does for us
(its 3-way apply); the caller passes that in as `apply_patch`, so this layer stays pure.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.catalog.behaviour import Runner
from bot.catalog.checks import CheckContext, CheckResult, RoleBinding, all_pass, evaluate
from bot.catalog.edits import EditContext, PatchApplier, apply_edits
from bot.catalog.faults import Fault
from bot.catalog.faultspec import Edit, ReferenceFix, WrongFix, iter_roles
from bot.catalog.manifests import ManifestIndex
from bot.catalog.roles import Role, Roles
from bot.catalog.scratch import ScratchTree, changed_lines
from bot.errors import EditError, RoleError


@dataclass(frozen=True)
class FixOutcome:
    """How one reference fix fared."""

    name: str
    kind: str
    passed: bool
    reason: str


@dataclass(frozen=True)
class WrongFixOutcome:
    """How one listed wrong fix fared: it must leave the fault's checks failing."""

    name: str
    stayed_broken: bool
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
    wrong_fixes: list[WrongFixOutcome] = field(default_factory=list)

    @property
    def unhealthy(self) -> bool:
        """The repo looks broken already (not merely unsuited to this fault)."""
        return self.dangling_role or (self.applicable and not self.healthy_before)

    @property
    def ok(self) -> bool:
        """Applies, breaks, every reference fix mends it and no listed wrong fix does."""
        return (
            self.applicable and self.healthy_before and self.broken_after
            and bool(self.fixes) and all(f.passed for f in self.fixes)
            and all(w.stayed_broken for w in self.wrong_fixes)
        )

    @property
    def both_ways(self) -> bool:
        """Proven in both directions: ok, with at least one wrong fix shown to stay broken."""
        return self.ok and bool(self.wrong_fixes)


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
    apply_patch: PatchApplier,
    targets: Mapping[Role, str] | None = None,
    with_fixes: bool = True,
    workdir: Path | None = None,
    runner: Runner | None = None,
) -> Rehearsal:
    """Try `fault` on a scratch copy of the tree at `source`; never touches `source`."""
    return rehearse_many([fault], source, apply_patch=apply_patch, targets=targets, with_fixes=with_fixes,
                         workdir=workdir, runner=runner)[0]


def rehearse_many(
    faults: list[Fault],
    source: Path,
    *,
    apply_patch: PatchApplier,
    targets: Mapping[Role, str] | None = None,
    with_fixes: bool = True,
    workdir: Path | None = None,
    runner: Runner | None = None,
) -> list[Rehearsal]:
    """Rehearse several faults on one scratch copy, reset to the source between them.

    `runner` runs behavioural checks (bot.sandbox); without one they fail, never pass.
    """
    with tempfile.TemporaryDirectory(prefix="faultbot-rehearse-", dir=workdir) as scratch:
        tree = ScratchTree(source, Path(scratch) / "tree")
        results = []
        for fault in faults:
            tree.reset()
            results.append(_rehearse_in(fault, tree, _Tools(apply_patch, runner), targets, with_fixes))
        return results


@dataclass(frozen=True)
class _Tools:
    """What the catalog cannot do itself, passed in: git's patch apply, a sandbox runner."""

    apply_patch: PatchApplier
    runner: Runner | None

    def context(self, fault: Fault, tree: Path, binding: RoleBinding, index: ManifestIndex | None = None) -> CheckContext:
        return CheckContext(tree, binding, index, fault_dir=fault.folder, runner=self.runner)


def _rehearse_in(fault: Fault, tree: ScratchTree, tools: _Tools, targets: Mapping[Role, str] | None,
                 with_fixes: bool) -> Rehearsal:
    """Rehearse inside a scratch tree that holds the healthy state."""
    result = Rehearsal(fault)
    index = ManifestIndex.scan(tree.tree)
    roles = Roles(index, targets)
    try:
        binding = bind_roles(fault, roles)
    except RoleError as exc:
        result.dangling_role = exc.dangling
        return _fail(result, exc.message)
    result.before = evaluate(fault.spec.fixed_when, tools.context(fault, tree.tree, binding, index))
    result.healthy_before = all_pass(result.before)
    context = EditContext(tree.tree, roles, fault.folder, tools.apply_patch)
    try:
        result.changed_paths = apply_edits(fault.spec.edits, context)
    except (EditError, RoleError) as exc:
        return _fail(result, exc.message)
    finally:
        tree.touched(context.changed)  # even a failed edit's earlier siblings wrote files
    result.applicable = True
    result.diff = tree.diff()
    result.lines_changed = changed_lines(result.diff)
    result.after = evaluate(fault.spec.fixed_when, tools.context(fault, tree.tree, binding))
    result.broken_after = not all_pass(result.after)
    if not result.healthy_before:
        result.reason = "the repo does not pass the fault's checks before it is applied: " + _failing(result.before)
    elif not result.broken_after:
        result.reason = "the fault's own checks still pass after it is applied"
    if with_fixes:
        broken = tree.snapshot()
        for fix in fault.spec.fixes:
            tree.restore(broken)
            result.fixes.append(_try_fix(fault, fix, tree, result.changed_paths, binding, tools))
        for wrong in fault.spec.wrong_fixes:
            tree.restore(broken)
            result.wrong_fixes.append(_try_wrong_fix(fault, wrong, tree, binding, tools))
        tree.restore(broken)
        if not result.reason and not all(f.passed for f in result.fixes):
            result.reason = "; ".join(f"fix {f.name!r}: {f.reason}" for f in result.fixes if not f.passed)
        if not result.reason and not all(w.stayed_broken for w in result.wrong_fixes):
            result.reason = "; ".join(f"WRONG FIX PASSES {w.name!r}: {w.reason}" for w in result.wrong_fixes
                                      if not w.stayed_broken)
    return result


def _apply_fix_edits(fault: Fault, edits: list[Edit], tree: ScratchTree, binding: RoleBinding, tools: _Tools) -> str | None:
    """Apply a fix's edits to the broken tree, with roles as bound on the healthy one; the error if any."""
    roles = Roles(ManifestIndex.scan(tree.tree), binding_as_targets(binding))
    context = EditContext(tree.tree, roles, fault.folder, tools.apply_patch)
    try:
        apply_edits(edits, context)
    except (EditError, RoleError) as exc:
        return exc.message
    finally:
        tree.touched(context.changed)
    return None


def _try_wrong_fix(fault: Fault, wrong: WrongFix, tree: ScratchTree, binding: RoleBinding, tools: _Tools) -> WrongFixOutcome:
    before = tree.diff()
    problem = _apply_fix_edits(fault, wrong.edits, tree, binding, tools)
    if problem is not None:
        # A wrong fix that cannot be applied proves nothing about the checks.
        return WrongFixOutcome(wrong.name, False, f"does not apply, so it proves nothing: {problem}")
    if tree.diff() == before:
        # Nor does one whose edits leave the broken tree as it was: it stays broken trivially.
        return WrongFixOutcome(wrong.name, False, "changes nothing in the broken tree, so it proves nothing")
    results = evaluate(fault.spec.fixed_when, tools.context(fault, tree.tree, binding))
    if all_pass(results):
        return WrongFixOutcome(wrong.name, False, "every check passes, but this change does not fix it: "
                                                  "the checks are too weak")
    return WrongFixOutcome(wrong.name, True, "still broken: " + _failing(results))


def _try_fix(fault: Fault, fix: ReferenceFix, tree: ScratchTree, fault_paths: list[str], binding: RoleBinding,
             tools: _Tools) -> FixOutcome:
    if fix.kind == "revert":
        tree.revert_paths(fault_paths)  # what `git revert` of the fault commit does on a clean history
    else:
        problem = _apply_fix_edits(fault, fix.edits, tree, binding, tools)
        if problem is not None:
            return FixOutcome(fix.name, fix.kind, False, f"does not apply: {problem}")
    results = evaluate(fault.spec.fixed_when, tools.context(fault, tree.tree, binding))
    if not all_pass(results):
        return FixOutcome(fix.name, fix.kind, False, "checks still fail: " + _failing(results))
    if fix.kind == "forward" and tree.same_as_source():
        return FixOutcome(fix.name, fix.kind, False, "this 'forward' fix restores the original tree: it is a revert")
    return FixOutcome(fix.name, fix.kind, True, "all checks pass")


def _failing(results: list[CheckResult]) -> str:
    return "; ".join(f"{r.name}: {r.reason}" for r in results if not r.passed)
