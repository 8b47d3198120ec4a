"""Turn an organizer's own breaking change into a fault draft (`faultbot faults new`).

Given the tree before the change and each changed file's old and new content, write what a
fault author would: every scalar change of a Kubernetes object as a `yaml.set` at its path
(on the object's role), everything else as a patch (per source folder), and `fixed_when`
proposed from what the change touches: semantic checks for the Kubernetes kinds and the
Terraform it recognises, the team's tests and an acceptance *stub* for source changes. A
proposed check is kept only if the healthy tree passes it. The draft is marked `draft: true`
(no forward fix, no wrong fix, maybe a stub): verified, never scheduled, until its author
finishes it. Pure: no git (the app layer reads the commit), no process.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from bot.catalog.binding import CheckContext, RoleBinding
from bot.catalog.checks import evaluate_one
from bot.catalog.faultspec import Check
from bot.catalog.hcl import Symbol, TerraformModule
from bot.catalog.manifests import WORKLOAD_KINDS, ManifestIndex, ResourceRef
from bot.catalog.roles import DIRECTORY_ROLES, Role, Roles
from bot.catalog.scratch import file_diff
from bot.catalog.tfchecks import ingress_rules
from bot.catalog.yamlpath import Step, format_path
from bot.catalog.yamlread import read_yaml
from bot.errors import CatalogError, FaultbotError

STUB = "acceptance_test.py"
STUB_TEXT = '''"""NOT YET A PROOF. faultbot wrote this stub for {fault_id} from commit {sha}.

Replace the test below with one that passes on the healthy commit and fails once the change
is in, judging what a user would notice. Fixtures (faultbot's sandbox plugin): `backend`
(the commit's backend, started as the check's `serve:` says; `.get`, `.post_json`, `.url`),
`checkout` and `folders` (the commit's files). Until then `faults verify` reports this
check as not proven.
"""

import pytest


def test_the_behaviour_this_change_breaks(backend) -> None:
    pytest.fail("acceptance stub: not yet a proof; write the behaviour this change breaks")
'''
_PAIRS = {Role.frontend_service: Role.frontend_workload, Role.backend_service: Role.backend_workload,
          Role.db_service: Role.db_workload}
_BY_KIND = {"Ingress": (Role.ingress,), "Service": tuple(_PAIRS), "Secret": (Role.db_secret,),
            **{kind: tuple(_PAIRS.values()) for kind in WORKLOAD_KINDS}}


_CHECK: TypeAdapter[Check] = TypeAdapter(Check)


@dataclass(frozen=True)
class Change:
    """One file the commit changed (None: absent on that side)."""

    path: str
    before: bytes | None
    after: bytes | None


@dataclass
class Draft:
    """A fault as written from a commit, plus what its author still has to do."""

    fault_id: str
    spec: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)
    targets: dict[Role, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class _Work:
    before: Path
    after: Path
    index: ManifestIndex
    roles: Roles
    targets: dict[Role, str] = field(default_factory=dict)
    edits: list[dict[str, Any]] = field(default_factory=list)
    patches: dict[str, list[Change]] = field(default_factory=dict)
    touched: list[tuple[Role, str, list[str]]] = field(default_factory=list)  # (role, kind, changed paths)
    folders: set[Role] = field(default_factory=set)

    def role_of(self, ref: ResourceRef, kind: str) -> Role | None:
        """The role an object plays: discovered, else the first free role its kind can play."""
        for role in _BY_KIND.get(kind, ()):
            target = self.roles.try_resolve(role)
            if target is not None and target.directory is None and ref in {r.ref for r in target.resources}:
                return role
        for role in _BY_KIND.get(kind, ()):
            if role not in self.targets and self.roles.try_resolve(role) is None:
                self.pin(role, f"{ref.kind}/{ref.name}")
                return role
        return None

    def pin(self, role: Role, target: str) -> None:
        self.targets[role] = target
        self.roles = Roles(self.index, self.targets)


def draft_fault(before: Path, after: Path, changes: list[Change], *, fault_id: str | None, sha: str,
                message: str) -> Draft:
    """Write a fault draft reproducing `changes` on the tree `before` (whose changed self is `after`)."""
    index = ManifestIndex.scan(before)
    work = _Work(before, after, index, Roles(index))
    for change in changes:
        if not _as_yaml_sets(work, change):
            _as_patch(work, change)
    edits = work.edits + [_patch_edit(role, name) for name, role in _patch_names(work)]
    subject, _, body = message.strip().partition("\n")
    fault_id = fault_id or f"{_family(work)}/{_slug(subject)}"
    checks, notes = _propose_checks(work)
    spec: dict[str, Any] = {
        "id": fault_id, "title": subject.strip() or "A hand-made breakage", "family": fault_id.split("/")[0],
        "severity": "high", "symptom": f"TODO: what users see after {sha[:12]} (written by faultbot faults new)",
        "commit_messages": _messages(subject.strip(), body.strip(), [c.path for c in changes]),
        "roles": sorted({str(r) for r in _edit_roles(edits)} or {str(Role.frontend_source)}),
        "edits": edits, "fixed_when": checks or [{"check": "text", "path": changes[0].path, "pattern": "TODO"}],
        "fixes": [{"name": "revert the commit", "kind": "revert"}], "draft": True,
    }
    draft = Draft(fault_id, spec, targets=dict(work.targets), notes=notes)
    for name, role in _patch_names(work):
        draft.files[name] = "".join(_relative_diff(c, role, work) for c in work.patches[str(role) if role else ""])
    if any(c.get("check") == "acceptance" for c in checks):
        draft.files[STUB] = STUB_TEXT.format(fault_id=fault_id, sha=sha[:12])
    if not checks:
        draft.notes.append("no check could be proposed for this change: write fixed_when yourself")
    return draft


# --- edits ---------------------------------------------------------------------------------

def _documents(text: str) -> list[Any]:
    read = read_yaml(text)
    if read.problems:
        raise ValueError(str(read.problems[0]))
    return [doc.data for doc in read.documents]


def _as_yaml_sets(work: _Work, change: Change) -> bool:
    """Scalar changes of objects that play a role, as yaml.set; False to leave the file to a patch."""
    if change.before is None or change.after is None or not change.path.endswith((".yaml", ".yml")):
        return False
    try:
        old_docs, new_docs = (_documents(c.decode("utf-8")) for c in (change.before, change.after))
    except (UnicodeDecodeError, FaultbotError, ValueError):
        return False
    except Exception:  # noqa: BLE001 - ruamel's parse errors: not YAML we can read, so a patch
        return False
    if len(old_docs) != len(new_docs):
        return False
    edits: list[dict[str, Any]] = []
    touched: list[tuple[Role, str, list[str]]] = []
    for old, new in zip(old_docs, new_docs, strict=True):
        if old == new:
            continue
        if not (isinstance(old, Mapping) and isinstance(new, Mapping) and old.get("kind") == new.get("kind")
                and (old.get("metadata") or {}).get("name") == (new.get("metadata") or {}).get("name")):
            return False
        found = _scalar_changes(old, new, ())
        if found is None:
            return False
        ref = ResourceRef(str(old["kind"]), str(old["metadata"]["name"]),
                          str((old.get("metadata") or {}).get("namespace") or _namespace(work, change.path, old)))
        role = work.role_of(ref, ref.kind)
        if role is None:
            return False
        edits += [{"op": "yaml.set", "role": str(role), "path": format_path(steps), "value": value}
                  for steps, value in found]
        touched.append((role, ref.kind, [format_path(steps) for steps, _ in found]))
    work.edits += edits
    work.touched += touched
    return True


def _namespace(work: _Work, path: str, doc: Mapping[str, Any]) -> str:
    same = [r for r in work.index.resources if r.path == path and r.name == doc["metadata"]["name"]]
    return same[0].namespace if same else "default"


def _scalar_changes(old: Any, new: Any, path: tuple[Step, ...]) -> list[tuple[tuple[Step, ...], Any]] | None:
    """Every (path, new value) where only scalars differ; None if the shape changed."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        if set(old) != set(new):
            return None
        found: list[tuple[tuple[Step, ...], Any]] = []
        for key in old:
            inner = _scalar_changes(old[key], new[key], (*path, Step(key=str(key))))
            if inner is None:
                return None
            found += inner
        return found
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return None
        names = [item.get("name") if isinstance(item, Mapping) else None for item in old]
        by_name = all(isinstance(n, str) for n in names) and len(set(names)) == len(names) and \
            names == [item.get("name") if isinstance(item, Mapping) else None for item in new]
        found = []
        for number, (a, b) in enumerate(zip(old, new, strict=True)):
            step = Step(match=("name", str(names[number]))) if by_name else Step(index=number)
            inner = _scalar_changes(a, b, (*path, step))
            if inner is None:
                return None
            found += inner
        return found
    if isinstance(old, (Mapping, list)) or isinstance(new, (Mapping, list)) or type(old) is not type(new):
        return None if old != new else []
    return [] if old == new else [(path, new)]


def _as_patch(work: _Work, change: Change) -> None:
    role = next((r for r in sorted(DIRECTORY_ROLES) if (t := work.roles.try_resolve(r)) is not None
                 and t.directory and change.path.startswith(t.directory.rstrip("/") + "/")), None)
    work.patches.setdefault(str(role) if role else "", []).append(change)
    if role is not None:
        work.folders.add(role)


def _patch_names(work: _Work) -> list[tuple[str, Role | None]]:
    return [(f"{key.replace('_source', '') or 'change'}.patch", Role(key) if key else None) for key in sorted(work.patches)]


def _patch_edit(role: Role | None, name: str) -> dict[str, Any]:
    return {"op": "patch", "file": name, **({"role": str(role)} if role else {})}


def _relative_diff(change: Change, role: Role | None, work: _Work) -> str:
    """A git-style diff of one file, relative to its role's folder (the patch applies there)."""
    path = change.path
    if role is not None:
        target = work.roles.resolve(role)
        path = path.removeprefix((target.directory or "").rstrip("/") + "/")
    return file_diff(path, change.before, change.after)


def _edit_roles(edits: list[dict[str, Any]]) -> set[Role]:
    return {Role(e["role"]) for e in edits if e.get("role")}


# --- checks --------------------------------------------------------------------------------

def _propose_checks(work: _Work) -> tuple[list[dict[str, Any]], list[str]]:
    proposals: list[dict[str, Any]] = []
    for role, kind, paths in work.touched:
        proposals += _kubernetes_checks(work, role, kind, paths)
    if Role.terraform in work.folders:
        proposals += _terraform_checks(work)
    notes: list[str] = []
    kept = [p for p in _unique(proposals) if _passes_before(work, p, notes)]
    seeing = [p for p in kept if p.get("sees")]
    if seeing:  # a check that passes before and after only adds noise to a draft
        kept = seeing
    for proposal in kept:
        proposal.pop("sees", None)
    if Role.backend_source in work.folders:
        kept.append({"check": "tests", "role": str(Role.backend_source)})
    if work.folders & {Role.backend_source, Role.frontend_source}:
        kept.append({"check": "acceptance", "file": STUB})
        notes.append(f"{STUB} is a stub, not yet a proof: write the behaviour the change breaks")
    return kept, notes


def _kubernetes_checks(work: _Work, role: Role, kind: str, paths: list[str]) -> list[dict[str, Any]]:
    if kind == "Ingress":
        return [{"check": "ingress_routes", "role": str(role)}]
    if kind == "Service":
        workload = _PAIRS.get(role)
        if workload is not None and work.roles.try_resolve(workload) is None:
            selected = work.index.workloads_selected_by(_selector(work, role), work.roles.resolve(role).resource.namespace)
            if len(selected) == 1:
                work.pin(workload, f"{selected[0].kind}/{selected[0].name}")
        paired = {"workload_role": str(workload)} if workload and work.roles.try_resolve(workload) else {}
        return [{"check": "service_selects", "role": str(role), **paired},
                {"check": "service_target_port", "role": str(role)}]
    if kind in WORKLOAD_KINDS:
        checks: list[dict[str, Any]] = [{"check": "replicas", "role": str(role)}] if any("replicas" in p for p in paths) else []
        if any("Probe" in p or "ports" in p for p in paths):
            checks.append({"check": "probes_target_ports", "role": str(role)})
        if any(".env" in p or "envFrom" in p for p in paths):
            checks.append({"check": "refs_resolve", "role": str(role)})
            for name in {m.group(1) for p in paths if (m := re.search(r"env\[name=(\w*HOST\w*)\]", p))}:
                checks.append({"check": "env_host_resolves", "role": str(role), "env": name})
        return checks
    if kind in ("Secret", "ConfigMap"):
        return [{"check": "refs_resolve", "role": str(w)} for w in (Role.backend_workload, Role.db_workload)
                if work.roles.try_resolve(w)]
    return []


def _selector(work: _Work, role: Role) -> Mapping[str, Any]:
    selector = (work.roles.resolve(role).resource.body.get("spec") or {}).get("selector")
    return selector if isinstance(selector, Mapping) else {}


def _terraform_checks(work: _Work) -> list[dict[str, Any]]:
    folder = work.roles.resolve(Role.terraform).directory or "terraform"
    try:
        module = TerraformModule.load(work.before / folder)
    except CatalogError:
        return []
    proposals = []
    for rule in ingress_rules(module):
        if rule.ports and rule.protocol in ("tcp", "udp") and isinstance(rule.into, Symbol):
            for group in rule.groups:
                if isinstance(group, Symbol):
                    proposals.append({"check": "terraform_allows", "to": rule.into.name, "source": group.name,
                                      "port": rule.ports[0], "protocol": rule.protocol})
    if module.of_type("aws_route53_record") and work.roles.try_resolve(Role.ingress):
        proposals.append({"check": "dns_record", "ingress": str(Role.ingress)})
    return proposals


def _passes_before(work: _Work, proposal: dict[str, Any], notes: list[str]) -> bool:
    """Keep a proposal the healthy tree passes; mark the ones that also see the breakage."""
    check: Check = _CHECK.validate_python(proposal)
    binding = RoleBinding.from_targets(t for r in Role if (t := work.roles.try_resolve(r)) is not None)
    before = evaluate_one(check, CheckContext(work.before, binding))
    if not before.passed:
        return False
    after = evaluate_one(check, CheckContext(work.after, binding))
    proposal["sees"] = not after.passed
    return True


def _unique(proposals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    for proposal in proposals:
        if proposal not in seen:
            seen.append(proposal)
    return seen


# --- naming --------------------------------------------------------------------------------

def _family(work: _Work) -> str:
    roles = {r for r, _, _ in work.touched} | work.folders
    if roles & {Role.frontend_source, Role.backend_source}:
        return "app-bug"
    terraform = b"".join(c.before or b"" for c in work.patches.get(str(Role.terraform), []))
    if roles & {Role.db_service, Role.db_workload, Role.db_secret} or (
            Role.terraform in roles and b"aws_route53_record" not in terraform):
        return "db-unreachable"
    return "web-unreachable"


def _slug(subject: str) -> str:
    words = re.findall(r"[a-z0-9]+", subject.lower())[:6]
    return "-".join(words) or "hand-made"


def _messages(subject: str, body: str, paths: list[str]) -> list[str]:
    """The commit's own words: its subject, and its body's first line (or what it touched)."""
    first_body_line = next((line.strip() for line in body.splitlines() if line.strip()), "")
    touched = ", ".join(Path(p).name for p in paths[:2]) + (" and more" if len(paths) > 2 else "")
    second = first_body_line if first_body_line and first_body_line != subject else f"Update {touched}"
    return [subject or f"Update {touched}", second]
