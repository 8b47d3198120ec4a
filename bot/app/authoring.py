"""`faultbot faults new --repo PATH --from COMMIT`: an organizer's own breaking commit becomes
a fault, then is verified, and what is proven and what is not is said plainly.

The organizer's repository is only read (the commit and its parent are exported to a temp
folder through git's plumbing, with a private index). The draft is written by
bot.catalog.authoring; this module reads git, writes the fault folder, checks that the fault
reproduces the commit exactly, and rehearses it on the parent.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from bot.catalog.authoring import STUB, Change, Draft, draft_fault
from bot.catalog.behaviour import Runner
from bot.catalog.edits import EditContext, apply_edits
from bot.catalog.faults import Fault, load_fault
from bot.catalog.manifests import ManifestIndex
from bot.catalog.rehearsal import Rehearsal, rehearse
from bot.catalog.roles import Roles
from bot.errors import CatalogError, EditError, FaultbotError, GitError, RoleError
from bot.repo.workspace import LocalRepo, apply_patch


@dataclass
class Authored:
    """A fault written from a commit, and how far it is proven."""

    fault: Fault
    draft: Draft
    commit: str
    proven: list[str] = field(default_factory=list)
    not_proven: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """`faults new --json`."""
        return {"fault": self.fault.id, "folder": str(self.fault.folder), "commit": self.commit,
                "targets": {str(k): v for k, v in self.draft.targets.items()},
                "proven": self.proven, "not_proven": self.not_proven, "notes": self.draft.notes}


def author_fault(repo_path: Path, commit: str, catalog_root: Path, *, fault_id: str | None = None,
                 runner: Runner | None = None) -> Authored:
    """Write `catalog_root/<family>/<name>/` from `commit` of the repo at `repo_path` and verify it."""
    repo = LocalRepo(repo_path)
    try:
        info = repo.commit_info(repo.git("rev-parse", "--verify", f"{commit}^{{commit}}").strip())
    except GitError as exc:
        raise FaultbotError(f"{repo_path}: no commit {commit!r} there ({exc.message})") from None
    if len(info.parents) != 1:
        raise FaultbotError(f"{info.sha[:12]} has {len(info.parents)} parents: give the commit that makes the change, not a merge")
    with tempfile.TemporaryDirectory(prefix="faultbot-author-") as scratch:
        before = repo.export_tree(info.parents[0], Path(scratch) / "before")
        after = repo.export_tree(info.sha, Path(scratch) / "after")
        changes = [Change(p, _read(before / p), _read(after / p)) for p in repo.changed_paths(info.sha)]
        if not changes:
            raise FaultbotError(f"{info.sha[:12]} changes no file")
        draft = draft_fault(before, after, changes, fault_id=fault_id, sha=info.sha, message=info.message)
        fault = _write(draft, catalog_root, info.sha)
        authored = Authored(fault, draft, info.sha)
        _check_reproduction(authored, before, changes, Path(scratch) / "replay")
        rehearsal = rehearse(fault, before, apply_patch=apply_patch, targets=draft.targets, runner=runner)
        _report(authored, rehearsal)
    return authored


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() and not path.is_symlink() else None


def _write(draft: Draft, catalog_root: Path, sha: str) -> Fault:
    family, name = draft.fault_id.split("/", 1)
    folder = catalog_root / family / name
    if folder.exists():
        raise FaultbotError(f"{folder} already exists; choose another --id family/name")
    folder.mkdir(parents=True)
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 4096
    with (folder / "fault.yaml").open("w", encoding="utf-8") as handle:
        handle.write(f"# Written by `faultbot faults new` from commit {sha[:12]}. A draft (never scheduled) until\n"
                     "# you add a forward fix (fixes:) and wrong fixes (wrong_fixes:), replace any acceptance\n"
                     "# stub, then remove `draft: true` and run `faultbot faults verify`.\n")
        yaml.dump(draft.spec, handle)
    for file_name, content in draft.files.items():
        (folder / file_name).write_text(content, encoding="utf-8")
    try:
        return load_fault(folder / "fault.yaml")
    except CatalogError:
        shutil.rmtree(folder)
        raise


def _check_reproduction(authored: Authored, before: Path, changes: list[Change], replay: Path) -> None:
    """Apply the fault's edits to a copy of the parent: the changed files must equal the commit's."""
    shutil.copytree(before, replay, symlinks=True)
    context = EditContext(replay, Roles(ManifestIndex.scan(replay), authored.draft.targets), authored.fault.folder,
                          apply_patch)
    try:
        apply_edits(authored.fault.spec.all_variants[0].edits, context)
    except (EditError, RoleError) as exc:
        authored.not_proven.append(f"the fault does not apply to the commit's parent: {exc.message}")
        return
    differ = [c.path for c in changes if _read(replay / c.path) != c.after]
    extra = sorted(set(context.changed) - {c.path for c in changes})
    if differ or extra:
        authored.not_proven.append(f"the fault does not reproduce the commit exactly (differs in {', '.join(differ + extra)})")
    else:
        authored.proven.append(f"reproduces commit {authored.commit[:12]} exactly ({len(changes)} file(s))")


def _report(authored: Authored, rehearsal: Rehearsal) -> None:
    proven, missing = authored.proven, authored.not_proven
    if not rehearsal.applicable:
        missing.append(f"does not apply: {rehearsal.reason}")
        return
    for before, after in zip(rehearsal.before, rehearsal.after, strict=True):
        if not before.passed:
            stub = before.name == f"acceptance({STUB})"
            missing.append(f"{before.name} fails on the healthy parent"
                           + (": it is a stub, not yet a proof" if stub else f": {before.reason}"))
        elif not after.passed and not after.reason.startswith("not run"):
            proven.append(f"{after.name} passes before the change and sees it: {after.reason}")
        elif after.passed:
            missing.append(f"{after.name} passes before and after: it does not see this change")
    if rehearsal.healthy_before and rehearsal.broken_after:
        proven.append("healthy before, broken after: the fault's checks tell the two apart")
    elif rehearsal.healthy_before:
        missing.append("the checks still pass after the change: write one that sees what it breaks")
    for fix in rehearsal.fixes:
        if fix.passed and not fix.skipped and rehearsal.breaks:
            proven.append(f"fix {fix.name!r} mends it")
        elif not fix.passed:
            missing.append(f"fix {fix.name!r}: {fix.reason}")
    if not any(f.kind == "forward" for f in authored.fault.spec.fixes):
        missing.append("no forward fix yet (fixes:): add one that is not a revert")
    if not authored.fault.spec.wrong_fixes:
        missing.append("no wrong fix yet (wrong_fixes:): the other direction is unproven")
    for wrong in rehearsal.wrong_fixes:
        (proven if wrong.stayed_broken else missing).append(f"wrong fix {wrong.name!r}: {wrong.reason}")
    if authored.draft.targets:
        pinned = ", ".join(f"{k}: {v}" for k, v in authored.draft.targets.items())
        proven.append(f"verified with roles pinned for this repo (put them in the team's targets:): {pinned}")
