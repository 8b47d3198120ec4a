"""Which objects a team's repository deploys, named and namespaced as the cluster will see them.

The root is the team's `path:` (what ArgoCD deploys) or, without one, discovered:
1. a Helm chart (`Chart.yaml`) is refused with one line: faultbot edits plain manifests;
2. a kustomization at the root, else the single in-repo ArgoCD Application whose
   `source.path` exists in the tree, else the kustomizations no other one reaches ("tops"):
   one top is the root; several tops that share no file are all deployed (one app each, as
   with podinfo's `bases/`); several that share files are overlays of one app, and which one
   the cluster runs is the organizer's choice: one line names them and the `path:` to write;
3. without kustomize, a plain directory. ArgoCD deploys a directory non-recursively unless
   `directory.recurse` is set; without `path:` every folder with manifests counts, unless the
   same object is defined in several folders (kubernetes/examples' guestbook keeps copies in
   `all-in-one/`): then only the shallowest folder counts and the others are reported.
Files that cannot be read are reported (`notes`), never dropped silently.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any

from bot.base.yamlguard import read_bounded
from bot.catalog.kustomize import (
    GeneratedObject,
    KustomizeBuild,
    Note,
    NoteKind,
    Scope,
    build,
    kustomization_in,
    reached_files,
)
from bot.catalog.manifests import SKIP_DIRS, Resource, dig
from bot.catalog.yamlread import read_yaml
from bot.errors import UnsafeYaml

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
CLUSTER_SCOPED = frozenset({
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume",
    "StorageClass", "PriorityClass", "IngressClass", "ClusterIssuer", "APIService",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
})
# kustomize's prefix/suffix transformer leaves these names alone.
UNPREFIXED = frozenset({"Namespace", "CustomResourceDefinition"})
HELM_MESSAGE = (
    "Helm chart: faultbot edits plain manifests or kustomize trees; "
    "render it (helm template) or point `path:` at the rendered manifests"
)


class Mode(StrEnum):
    """How the root deploys."""

    kustomize = "kustomize"
    directory = "directory"
    refused = "refused"  # Helm, a missing path, or an ambiguous choice: see `problem`


@dataclass(frozen=True)
class DeployedSet:
    """The deployed objects of one tree, with the transforms and notes that explain them."""

    root: str  # "" for the tree's top; several roots are joined by ", "
    mode: Mode
    resources: tuple[Resource, ...] = ()  # names and namespaces as deployed
    files: tuple[tuple[str, Scope], ...] = ()
    generated: tuple[GeneratedObject, ...] = ()
    kustomizations: tuple[str, ...] = ()
    notes: tuple[Note, ...] = ()
    problem: str | None = None  # one line: why nothing is deployed from here
    reason: str = ""  # one line: how the root was chosen
    sources: tuple[str, ...] = ()  # files kustomize generators name (env files, `files:`), present or not

    def scope_of(self, path: str) -> Scope | None:
        """The kustomize transforms of a deployed file (None for a plain directory file)."""
        return next((scope for file, scope in self.files if file == path), None)


def deployed_set(tree: Path, path: str | None = None, *, recurse: bool = False, default_namespace: str = "default") -> DeployedSet:
    """What `tree` deploys from `path` (ArgoCD's source path), or from the discovered root."""
    if path is not None:
        path = PurePosixPath(path.strip("/") or ".").as_posix()
        path = "" if path == "." else path
        folder = tree / path if path else tree
        if ".." in PurePosixPath(path).parts or not folder.is_dir():
            return DeployedSet(path, Mode.refused, problem=f"path: {path!r} is not a directory of the repository")
        if (folder / "Chart.yaml").is_file():
            return DeployedSet(path, Mode.refused, problem=HELM_MESSAGE)
        if kustomization_in(folder) is not None:
            return _from_builds(tree, [build(tree, path)], default_namespace, f"path: {path or '.'} (kustomize)")
        return _directory(tree, [folder] if not recurse else list(_folders(folder)), default_namespace, f"path: {path or '.'}")
    return _discover(tree, default_namespace)


def _discover(tree: Path, default_namespace: str) -> DeployedSet:
    if (tree / "Chart.yaml").is_file():
        return DeployedSet("", Mode.refused, problem=HELM_MESSAGE)
    if kustomization_in(tree) is not None:
        return _from_builds(tree, [build(tree, "")], default_namespace, "the kustomization at the top of the repository")
    application = _argocd_source_path(tree)
    if application is not None:
        return replace(deployed_set(tree, application[0], default_namespace=default_namespace), reason=application[1])
    kfiles = [k for folder in _folders(tree) if (k := kustomization_in(folder)) is not None]
    if kfiles:
        reach = {k: reached_files(tree, k) for k in kfiles}
        rels = {k: k.parent.relative_to(tree).as_posix() for k in kfiles}
        tops = [k for k in kfiles if not any(k.relative_to(tree).as_posix() in reach[o] for o in kfiles if o != k)]
        shared = Counter(f for k in tops for f in reach[k] if not f.endswith(tuple(_kustomization_suffixes())))
        if len(tops) > 1 and any(count > 1 for count in shared.values()):
            names = ", ".join(sorted(rels[k] for k in tops))
            overlays = sorted(rels[k] for k in tops if any(shared[f] > 1 for f in reach[k]))
            example = overlays[0]
            return DeployedSet("", Mode.refused, problem=(
                f"several kustomize roots deploy the same files ({names}); set the team's `path:` to the one "
                f"ArgoCD deploys (e.g. path: {example})"
            ))
        reason = "the only kustomize root" if len(tops) == 1 else f"{len(tops)} kustomize roots that share no file"
        return _from_builds(tree, [build(tree, rels[k]) for k in sorted(tops)], default_namespace, reason)
    charts = sorted(p.parent.relative_to(tree).as_posix() for p in _files(tree) if p.name == "Chart.yaml")
    folders = [f for f in _folders(tree) if not any(_within(f.relative_to(tree).as_posix(), c) for c in charts)]
    found = _directory(tree, folders, default_namespace, "every folder with manifests (no kustomization, no path:)")
    if not found.resources and charts:
        return DeployedSet("", Mode.refused, problem=HELM_MESSAGE)
    return _prefer_shallowest(tree, found, default_namespace)


def _kustomization_suffixes() -> tuple[str, ...]:
    return ("kustomization.yaml", "kustomization.yml", "Kustomization")


def _argocd_source_path(tree: Path) -> tuple[str, str] | None:
    """The source path of the one ArgoCD Application kept in the repo, if it names a folder here."""
    found = []
    for file in _files(tree):
        if file.suffix not in (".yaml", ".yml"):
            continue
        try:
            text = read_bounded(file)
            if not might_be_application(text):
                continue  # parsing every YAML file of a big repo to find one Application dominated a scan
            read = read_yaml(text)
        except (OSError, UnicodeDecodeError, UnsafeYaml):
            continue
        for doc in read.documents:
            if isinstance(doc.data, dict) and doc.data.get("kind") == "Application" and str(doc.data.get("apiVersion", "")).startswith("argoproj.io/"):
                source_path = dig(doc.data, "spec", "source", "path")
                if isinstance(source_path, str) and (tree / source_path).is_dir():
                    found.append((source_path.strip("/"), f"path: {source_path} of the ArgoCD Application in {file.relative_to(tree).as_posix()}"))
    return found[0] if len(found) == 1 else None


def might_be_application(text: str) -> bool:
    """False only for a text that cannot hold an ArgoCD Application: its apiVersion must say
    `argoproj.io/`, and YAML can spell those letters otherwise only with a double-quoted escape."""
    return "argoproj" in text or "\\" in text


def _from_builds(tree: Path, builds: list[KustomizeBuild], default_namespace: str, reason: str) -> DeployedSet:
    if any(b.helm for b in builds):
        return DeployedSet(", ".join(b.root for b in builds), Mode.refused, problem=HELM_MESSAGE)
    files = [(f, s) for b in builds for f, s in b.files]
    notes = [n for b in builds for n in b.notes]
    resources: list[Resource] = []
    for rel, scope in files:
        resources += _objects(tree, rel, scope, default_namespace, notes)
    return DeployedSet(
        ", ".join(b.root or "." for b in builds), Mode.kustomize, tuple(resources), tuple(files),
        tuple(g for b in builds for g in b.generated), tuple(k for b in builds for k in b.kustomizations),
        tuple(dict.fromkeys(notes)), reason=reason, sources=tuple(dict.fromkeys(s for b in builds for s in b.sources)),
    )


def _directory(tree: Path, folders: list[Path], default_namespace: str, reason: str) -> DeployedSet:
    notes: list[Note] = []
    resources: list[Resource] = []
    for folder in folders:
        for file in sorted(p for p in folder.iterdir() if p.is_file() and not p.is_symlink() and p.suffix in MANIFEST_SUFFIXES):
            resources += _objects(tree, file.relative_to(tree).as_posix(), None, default_namespace, notes)
    roots = sorted({r.path.rpartition("/")[0] for r in resources})
    return DeployedSet(", ".join(r or "." for r in roots), Mode.directory, tuple(resources), notes=tuple(notes), reason=reason)


def _prefer_shallowest(tree: Path, found: DeployedSet, default_namespace: str) -> DeployedSet:
    """Where copies of one object live in several folders, only the shallowest folder counts."""
    identities = Counter((r.kind, r.namespace, r.name) for r in found.resources)
    if all(count == 1 for count in identities.values()):
        return found
    folders = sorted({PurePosixPath(r.path).parent.as_posix() for r in found.resources}, key=lambda f: (len(PurePosixPath(f).parts) if f != "." else 0, f))
    chosen = folders[0]
    kept = _directory(tree, [tree / chosen if chosen != "." else tree], default_namespace,
                      f"the shallowest folder with manifests ({chosen}); the same objects are defined again below it")
    ignored = [Note(NoteKind.ignored, f, f"not deployed: it defines objects again that {chosen} already defines (set `path:` to choose)") for f in folders[1:]]
    return replace(kept, notes=(*kept.notes, *ignored))


def _objects(tree: Path, rel: str, scope: Scope | None, default_namespace: str, notes: list[Note]) -> list[Resource]:
    try:
        read = read_yaml(read_bounded(tree / rel))
    except UnsafeYaml as exc:
        notes.append(Note(NoteKind.refused, rel, exc.message))
        return []
    except (OSError, UnicodeDecodeError) as exc:
        notes.append(Note(NoteKind.unreadable, rel, f"cannot read: {exc}"))
        return []
    if read.repaired_lines:
        notes.append(Note(NoteKind.repaired, rel, f"read with trailing TABs ignored on line(s) {_ranges(read.repaired_lines)} (kubectl accepts them)"))
    found = []
    for doc in read.documents:
        if doc.problem is not None and doc.problem.refused:
            notes.append(Note(NoteKind.refused, rel, doc.problem.message))
            continue
        if doc.problem is not None:
            notes.append(Note(NoteKind.unreadable, rel, f"{doc.problem}; kubectl may accept it, faultbot cannot read it"))
            continue
        if not _is_object(doc.data):
            continue
        found.append(_resource(doc.data, rel, doc.index, scope, default_namespace))
    return found


def _resource(body: Any, rel: str, index: int, scope: Scope | None, default_namespace: str) -> Resource:
    kind, written = body["kind"], body["metadata"]["name"]
    name = scope.name(written) if scope is not None and kind not in UNPREFIXED else written
    if kind in CLUSTER_SCOPED:
        namespace = ""
    else:
        namespace = (scope.namespace if scope else None) or dig(body, "metadata", "namespace") or default_namespace
    return Resource(kind, name, str(namespace), rel, index, body)


def _is_object(doc: Any) -> bool:
    return (
        isinstance(doc, dict) and isinstance(doc.get("apiVersion"), str) and isinstance(doc.get("kind"), str)
        and isinstance(dig(doc, "metadata", "name"), str)
    )


def _within(folder: str, parent: str) -> bool:
    """True when posix folder `folder` is `parent` or below it ("." is the top)."""
    return parent == "." or folder == parent or folder.startswith(parent + "/")


def _ranges(lines: tuple[int, ...]) -> str:
    parts: list[str] = []
    for line in lines:
        if parts and parts[-1].split("-")[-1] == str(line - 1):
            parts[-1] = f"{parts[-1].split('-')[0]}-{line}"
        else:
            parts.append(str(line))
    return ", ".join(parts)


def _files(root: Path) -> Iterator[Path]:
    for folder in _folders(root):
        yield from (folder / e.name for e in _entries(folder) if e.is_file(follow_symlinks=False))


def _folders(root: Path) -> Iterator[Path]:
    """root and every folder below it, skipping VCS/CI/vendor folders, never through symlinks."""
    stack = [root]
    while stack:
        folder = stack.pop(0)
        yield folder
        stack += [folder / e.name for e in _entries(folder)
                  if e.is_dir(follow_symlinks=False) and e.name not in SKIP_DIRS]


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    """A folder's entries by name (the order `sorted(iterdir())` gives), from one scandir:
    its cached types spare a stat per entry, which a 20,000-file tree felt."""
    try:
        with os.scandir(folder) as found:
            return sorted(found, key=lambda e: e.name)
    except OSError:
        return []
