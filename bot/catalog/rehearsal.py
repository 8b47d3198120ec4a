"""Rehearse a fault on a copy of a repository: healthy before, broken after, fixed by each
reference fix, and still broken after each listed wrong fix (both directions: a check that
accepts a wrong fix is as bad as one that rejects a right one). This is what `faults verify`,
`plan` and `validate` stand on.

A fault may offer several variants (one per shape of repository): they are tried in order,
and the first whose edits apply and whose checks go from healthy to broken is the one used.

No git: edits change a scratch copy (`ScratchTree`), a revert is putting the fault's paths
back, and the diff is computed in Python. Patch edits are the one thing git does for us
(its 3-way apply); the caller passes that in as `apply_patch`, so this layer stays pure.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bot.catalog.behaviour import Runner
from bot.catalog.binding import DEFAULT_KUBERNETES_VERSION, CheckContext, RoleBinding, roles_for
from bot.catalog.binding import binding_as_targets as binding_as_targets  # re-exported for callers
from bot.catalog.checks import CheckResult, all_pass, evaluate, is_behavioural
from bot.catalog.edits import EditContext, PatchApplier, apply_edits
from bot.catalog.faults import Fault
from bot.catalog.faultspec import ReferenceFix, Variant, WrongFix, iter_roles
from bot.catalog.manifests import DeployRoot, ManifestIndex
from bot.catalog.memo import MEMO, RehearsalMemo, Same, WatchingRunner, settings_key
from bot.catalog.roles import Role, Roles
from bot.catalog.rollout import blocked
from bot.catalog.scratch import ScratchTree, Snapshot, changed_lines, content_digest, puts_back
from bot.catalog.shapes import unmet
from bot.catalog.traffic_checks import healthy_refusals
from bot.errors import EditError, RoleError

STILL_PASSING = "the fault's own checks still pass after it is applied"
LANES = 3
"""Faults whose checks run code are rehearsed this many at once, each lane on its own scratch
copy: a sandbox job mostly waits (on a server starting, a page loading), so one fault's tests
run while another's page loads (issue 17 P5: `validate`'s first tree judged 13 jobs one by
one). Faults with cheap checks only never need a lane of their own: a copy would cost more."""


@dataclass(frozen=True)
class FixOutcome:
    """How one reference fix fared."""

    name: str
    kind: str  # revert | forward
    passed: bool  # the checks pass
    reason: str
    skipped: bool = False  # not for this repository's shape, or not for the variant used
    same_as_revert: bool = False  # a forward fix that puts the fault's own lines back here (judged a revert)


@dataclass(frozen=True)
class WrongFixOutcome:
    """How one listed wrong fix fared: it must leave the fault's checks failing."""

    name: str
    stayed_broken: bool
    reason: str
    skipped: bool = False  # not for this repository's shape, or not for the variant used


@dataclass
class Rehearsal:
    """Everything learned by trying one fault on one repository."""

    fault: Fault
    applicable: bool = False
    reason: str = ""
    dangling_role: bool = False
    healthy_before: bool = False
    broken_after: bool = False
    variant: str = ""
    diff: str = ""
    lines_changed: tuple[int, int] = (0, 0)
    changed_paths: list[str] = field(default_factory=list)
    before: list[CheckResult] = field(default_factory=list)
    after: list[CheckResult] = field(default_factory=list)
    fixes: list[FixOutcome] = field(default_factory=list)
    wrong_fixes: list[WrongFixOutcome] = field(default_factory=list)
    binding: RoleBinding | None = None
    contents: Mapping[str, bytes | None] = field(default_factory=dict)  # the changed paths as the fault leaves them

    @property
    def unhealthy(self) -> bool:
        """The repo looks broken already (not merely unsuited to this fault)."""
        return self.dangling_role or (self.applicable and not self.healthy_before)

    @property
    def breaks(self) -> bool:
        """Applies to a healthy repo and breaks it: the fault can be played here."""
        return self.applicable and self.healthy_before and self.broken_after

    @property
    def ok(self) -> bool:
        """Breaks, every reference fix that fits mends it, and no wrong fix that fits does."""
        tried = [f for f in self.fixes if not f.skipped]
        return (
            self.breaks and any(f.kind == "forward" for f in tried) and any(f.kind == "revert" for f in tried)
            and all(f.passed for f in tried)
            and all(w.stayed_broken for w in self.wrong_fixes if not w.skipped)
        )

    @property
    def both_ways(self) -> bool:
        """Proven in both directions: ok, with at least one wrong fix shown to stay broken here."""
        return self.ok and any(not w.skipped for w in self.wrong_fixes)

    def forward_fix(self) -> ReferenceFix | None:
        """The first reference forward fix that mends the fault here without restoring the
        original tree (the one a test or a demo team plays as "forward")."""
        for outcome in self.fixes:
            if outcome.kind == "forward" and outcome.passed and not outcome.skipped and not outcome.same_as_revert:
                return next(f for f in self.fault.spec.fixes if f.name == outcome.name and f.kind == "forward")
        return None

    @property
    def notes(self) -> list[str]:
        """What is worth knowing but not a failure (a forward fix that is a revert here)."""
        return [f"fix {f.name!r} writes the fault's own lines back on this repo (it would be judged a revert)"
                for f in self.fixes if f.same_as_revert]


def needed_roles(fault: Fault) -> list[Role]:
    """Every role the fault's edits, conditions, checks and fixes name, in a stable order."""
    spec = fault.spec
    roles = list(spec.roles)
    fixes: list[ReferenceFix | WrongFix] = [*spec.fixes, *spec.wrong_fixes]
    edits = [e for v in spec.all_variants for e in v.edits] + [e for fix in fixes for e in fix.edits]
    conditions = [c for v in spec.all_variants for c in v.when] + [c for fix in fixes for c in fix.when]
    for item in [*edits, *conditions]:
        for name in ("role", "connection"):
            role = getattr(item, name, None)
            if isinstance(role, Role):
                roles.append(role)
    roles += list(iter_roles(spec.fixed_when))
    return list(dict.fromkeys(roles))


def bind_roles(fault: Fault, roles: Roles, *, kubernetes_version: str = DEFAULT_KUBERNETES_VERSION) -> RoleBinding:
    """Resolve the fault's roles on a healthy tree; RoleError says which and why."""
    targets = [roles.resolve(role) for role in needed_roles(fault)]
    binding = RoleBinding.from_targets(targets, root=roles.index.deploy, objects=roles.objects,
                                       kubernetes_version=kubernetes_version)
    if not binding.refs:
        return binding
    return binding.with_refused(healthy_refusals(CheckContext(roles.index.root, binding, roles.index)))


def rehearse(
    fault: Fault,
    source: Path,
    *,
    apply_patch: PatchApplier,
    targets: Mapping[Role, str] | None = None,
    root: DeployRoot | None = None,
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION,
    with_fixes: bool = True,
    workdir: Path | None = None,
    runner: Runner | None = None,
) -> Rehearsal:
    """Try `fault` on a scratch copy of the tree at `source`; never touches `source`."""
    return rehearse_many([fault], source, apply_patch=apply_patch, targets=targets, root=root,
                         kubernetes_version=kubernetes_version, with_fixes=with_fixes, workdir=workdir, runner=runner)[0]


def rehearse_many(
    faults: list[Fault],
    source: Path,
    *,
    apply_patch: PatchApplier,
    targets: Mapping[Role, str] | None = None,
    root: DeployRoot | None = None,
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION,
    with_fixes: bool = True,
    workdir: Path | None = None,
    runner: Runner | None = None,
    memo: RehearsalMemo | None = MEMO,
) -> list[Rehearsal]:
    """Rehearse several faults on one scratch copy, reset to the source between them.

    `runner` runs behavioural checks (bot.sandbox); without one they fail, never pass. A tree
    whose content was rehearsed before with the same fault and settings is not rehearsed again
    (`memo`, see bot.catalog.memo; None rehearses every time).
    """
    root = root or DeployRoot()

    def compute(chosen: list[Fault]) -> tuple[list[Rehearsal], bool]:
        watching = WatchingRunner(runner) if runner is not None else None

        def one(fault: Fault, tree: ScratchTree) -> Rehearsal:
            return _Rehearser(fault, tree, apply_patch, targets, root, kubernetes_version, watching).run(with_fixes)

        with tempfile.TemporaryDirectory(prefix="faultbot-rehearse-", dir=workdir) as scratch:
            results = _in_lanes(chosen, source, Path(scratch), one, LANES if runner is not None else 1)
        return results, watching is None or not watching.undecided

    if memo is None:
        return compute(faults)[0]
    settings = settings_key(targets, root, kubernetes_version, with_fixes, Same(runner), Same(apply_patch))
    return memo.rehearsals(faults, content_digest(source), settings, compute)


def runs_code(fault: Fault) -> bool:
    """Does judging this fault run code in the sandbox (the team's tests, a browser)?"""
    return any(is_behavioural(check) for check in fault.spec.fixed_when)


def _in_lanes(faults: list[Fault], source: Path, scratch: Path, one: Callable[[Fault, ScratchTree], Rehearsal],
              lanes: int) -> list[Rehearsal]:
    """Each fault rehearsed on a scratch tree reset to the source; those that run code first and
    up to `lanes` at once (results in the faults' order)."""
    slow = [i for i, fault in enumerate(faults) if runs_code(fault)]
    lanes = max(1, min(lanes, len(slow)))
    order = iter(slow + [i for i in range(len(faults)) if i not in set(slow)])
    results: dict[int, Rehearsal] = {}
    lock = threading.Lock()

    def lane(number: int) -> None:
        tree: ScratchTree | None = None
        while True:
            with lock:
                index = next(order, None)
            if index is None:
                return
            tree = tree or ScratchTree(source, scratch / f"tree-{number}")
            tree.reset()
            results[index] = one(faults[index], tree)

    if lanes == 1:
        lane(0)
    else:
        with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="faultbot-rehearse") as pool:
            for done in [pool.submit(lane, n) for n in range(lanes)]:
                done.result()  # a lane's exception is the caller's
    return [results[i] for i in range(len(faults))]


@dataclass
class _Rehearser:
    """One fault on one scratch tree that holds the healthy state."""

    fault: Fault
    tree: ScratchTree
    apply_patch: PatchApplier
    targets: Mapping[Role, str] | None
    root: DeployRoot
    kubernetes_version: str
    runner: Runner | None = None

    def _context(self, binding: RoleBinding, index: ManifestIndex | None = None) -> CheckContext:
        return CheckContext(self.tree.tree, binding, index, fault_dir=self.fault.folder, runner=self.runner)

    def run(self, with_fixes: bool) -> Rehearsal:
        result = Rehearsal(self.fault)
        index = ManifestIndex.scan(self.tree.tree, self.root)
        roles = Roles(index, self.targets)
        try:
            binding = bind_roles(self.fault, roles, kubernetes_version=self.kubernetes_version)
        except RoleError as exc:
            result.dangling_role = exc.dangling
            result.reason = exc.message
            return result
        result.binding = binding
        result.before = evaluate(self.fault.spec.fixed_when, self._context(binding, index))
        result.healthy_before = all_pass(result.before)
        variant = self._choose_variant(result, roles, binding)
        if variant is None:
            return result
        if not result.healthy_before:
            result.reason = "the repo does not pass the fault's checks before it is applied: " + _failing(result.before)
        if with_fixes and result.broken_after:
            broken = self.tree.snapshot()
            for fix in self.fault.spec.fixes:
                self.tree.restore(broken)
                result.fixes.append(self._try_fix(fix, variant, result.changed_paths, binding, broken))
            for wrong in self.fault.spec.wrong_fixes:
                self.tree.restore(broken)
                result.wrong_fixes.append(self._try_wrong_fix(wrong, variant, binding))
            self.tree.restore(broken)
            failed = [f for f in result.fixes if not f.passed and not f.skipped]
            passing_wrong = [w for w in result.wrong_fixes if not w.stayed_broken and not w.skipped]
            if not result.reason and failed:
                result.reason = "; ".join(f"fix {f.name!r}: {f.reason}" for f in failed)
            elif not result.reason and not any(f.kind == "forward" and not f.skipped for f in result.fixes):
                result.reason = "no forward fix fits this repository"
            elif not result.reason and passing_wrong:
                result.reason = "; ".join(f"WRONG FIX PASSES {w.name!r}: {w.reason}" for w in passing_wrong)
        return result

    def _choose_variant(self, result: Rehearsal, roles: Roles, binding: RoleBinding) -> Variant | None:
        """Apply the first variant that fits and breaks; leave the tree in that state."""
        variants = self.fault.spec.all_variants
        reasons: list[str] = []
        applied: tuple[Variant, list[str], str, list[CheckResult]] | None = None
        for variant in variants:
            self.tree.reset()
            outcome = self._apply(variant, roles)
            if isinstance(outcome, str):
                reasons.append(outcome)
                continue
            after = evaluate(self.fault.spec.fixed_when, self._context(binding))
            refused = [r for r in after if r.name == "kubernetes_accepts" and not r.passed]
            if refused and result.healthy_before:
                # ArgoCD's sync of the fault would fail and the old objects keep running: nothing breaks.
                reasons.append(f"the change itself is refused ({refused[0].reason}), so nothing would break")
                continue
            if not all_pass(after) or not result.healthy_before:
                self._record(result, variant, outcome, self.tree.diff(), after)
                return variant
            reasons.append(STILL_PASSING + _why_still_passing(self._context(binding)))
            applied = applied or (variant, outcome, self.tree.diff(), after)
        result.reason = _why_none_fits(variants, reasons)
        if applied is not None:  # it applies, but breaks nothing here: say so, with the diff
            variant, paths, diff, after = applied
            self._record(result, variant, paths, diff, after)
        self.tree.reset()
        return None

    def _record(self, result: Rehearsal, variant: Variant, paths: list[str], diff: str, after: list[CheckResult]) -> None:
        result.applicable = True
        result.variant = variant.name
        result.changed_paths = paths
        result.contents = self.tree.snapshot()  # the injector writes these rather than editing and scanning again
        result.diff = diff
        result.lines_changed = changed_lines(diff)
        result.after = after
        result.broken_after = not all_pass(after)

    def _apply(self, variant: Variant, roles: Roles) -> list[str] | str:
        """The paths a variant's edits changed, or why it does not fit."""
        context = EditContext(self.tree.tree, roles, self.fault.folder, self.apply_patch)
        try:
            reason = unmet(variant.when, context)
            if reason is not None:
                return reason
            return apply_edits(variant.edits, context)
        except (EditError, RoleError) as exc:
            return exc.message
        finally:
            self.tree.touched(context.changed)  # even a failed edit's earlier siblings wrote files

    def _skip(self, fix: ReferenceFix | WrongFix, variant: Variant) -> str | None:
        """Why a fix is not for this variant (None: it is)."""
        if fix.variants is not None and variant.name not in fix.variants:
            return f"not for variant {variant.name!r}"
        return None

    def _edit(self, fix: ReferenceFix | WrongFix, binding: RoleBinding) -> tuple[str, bool] | None:
        """Make a fix's edits as a team member would, with roles as bound on the healthy tree:
        None when done, else (why not, whether it was merely not for this shape)."""
        roles = roles_for(ManifestIndex.scan(self.tree.tree, binding.root), binding)
        context = EditContext(self.tree.tree, roles, self.fault.folder, self.apply_patch)
        try:
            reason = unmet(fix.when, context)
            if reason is not None:
                return f"not for this repository: {reason}", True
            apply_edits(fix.edits, context)
        except (EditError, RoleError) as exc:
            return exc.message, False
        finally:
            self.tree.touched(context.changed)
        return None

    def _try_fix(self, fix: ReferenceFix, variant: Variant, fault_paths: list[str], binding: RoleBinding,
                 broken: Snapshot) -> FixOutcome:
        skip = self._skip(fix, variant)
        if skip is not None:
            return FixOutcome(fix.name, fix.kind, True, skip, skipped=True)
        if fix.kind == "revert":
            self.tree.revert_paths(fault_paths)  # what `git revert` of the fault commit does on a clean history
        else:
            problem = self._edit(fix, binding)
            if problem is not None:
                reason, skipped = problem
                return FixOutcome(fix.name, fix.kind, skipped, reason if skipped else f"does not apply: {reason}", skipped=skipped)
        results = evaluate(self.fault.spec.fixed_when, self._context(binding))
        if not all_pass(results):
            return FixOutcome(fix.name, fix.kind, False, "checks still fail: " + _failing(results))
        if fix.kind == "forward" and self._puts_back(fault_paths, broken):
            # Issue 16's rule, as the fix search applies it: a commit that writes the fault's own
            # lines back is judged a revert, whatever else it changes.
            return FixOutcome(fix.name, fix.kind, True, "puts the fault's own lines back on this repo (judged a revert)",
                              same_as_revert=True)
        return FixOutcome(fix.name, fix.kind, True, "all checks pass")

    def _puts_back(self, fault_paths: list[str], broken: Snapshot) -> bool:
        tree = self.tree
        return all(puts_back(tree.original(p), broken.get(p, tree.original(p)), tree.current(p)) for p in fault_paths)

    def _try_wrong_fix(self, wrong: WrongFix, variant: Variant, binding: RoleBinding) -> WrongFixOutcome:
        skip = self._skip(wrong, variant)
        if skip is not None:
            return WrongFixOutcome(wrong.name, True, skip, skipped=True)
        before = self.tree.diff()
        problem = self._edit(wrong, binding)
        if problem is not None:
            reason, skipped = problem
            if skipped:
                return WrongFixOutcome(wrong.name, True, reason, skipped=True)
            # A wrong fix that cannot be applied proves nothing about the checks.
            return WrongFixOutcome(wrong.name, False, f"does not apply, so it proves nothing: {reason}")
        if self.tree.diff() == before:
            # Nor does one whose edits leave the broken tree as it was: it stays broken trivially.
            return WrongFixOutcome(wrong.name, False, "changes nothing in the broken tree, so it proves nothing")
        results = evaluate(self.fault.spec.fixed_when, self._context(binding))
        if all_pass(results):
            return WrongFixOutcome(wrong.name, False, "every check passes, but this change does not fix it: "
                                                      "the checks are too weak")
        return WrongFixOutcome(wrong.name, True, "still broken: " + _failing(results))


def fitting_fixes(fault: Fault, tree: Path, binding: RoleBinding, variant: str, *, apply_patch: PatchApplier,
                  kind: str = "forward") -> list[ReferenceFix | WrongFix]:
    """The fixes of one kind (`forward` or `wrong`) meant for this variant and this tree's shape."""
    fixes: list[ReferenceFix | WrongFix] = [f for f in fault.spec.fixes if f.kind == kind] if kind != "wrong" else list(fault.spec.wrong_fixes)
    context = EditContext(tree, roles_for(ManifestIndex.scan(tree, binding.root), binding), fault.folder, apply_patch)
    found = []
    for fix in fixes:
        if fix.variants is not None and (variant or fault.spec.all_variants[0].name) not in fix.variants:
            continue
        try:
            if unmet(fix.when, context) is None:
                found.append(fix)
        except RoleError:
            continue
    return found


def apply_fix(fault: Fault, fix: ReferenceFix | WrongFix, tree: Path, binding: RoleBinding, *, apply_patch: PatchApplier) -> list[str]:
    """Make a reference (or wrong) fix's edits in `tree`, the way a team member would by hand."""
    context = EditContext(tree, roles_for(ManifestIndex.scan(tree, binding.root), binding), fault.folder, apply_patch)
    return apply_edits(fix.edits, context)


def _why_none_fits(variants: list[Variant], reasons: list[str]) -> str:
    """One line: each variant's reason, named (or once, when they all say the same)."""
    if len(set(reasons)) == 1:
        return reasons[0]
    return "; ".join(f"{variant.name}: {reason}" for variant, reason in zip(variants, reasons, strict=True))


def _why_still_passing(context: CheckContext) -> str:
    """When a rollout keeps the old pods serving, say so: that is why nothing broke."""
    for resource in context.written.resources:
        if context.binding.baseline(resource) is not None and context.index.find(resource.ref) is not resource:
            reason = blocked(resource, context.objects)
            if reason is not None:
                return f" (new pods of {resource.kind}/{resource.name} could not become Ready: {reason}; the old ones keep serving)"
    return ""


def _failing(results: list[CheckResult]) -> str:
    return "; ".join(f"{r.name}: {r.reason}" for r in results if not r.passed)
