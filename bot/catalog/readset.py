"""What a fault's checks read in one tree, precisely enough that a commit touching none of it
is passed over without a checkout (issue 17, P4: judging one commit must cost O(changed files)).

`checks.reads` answers with globs, and for Kubernetes checks those are "any YAML anywhere":
a fix may add a manifest the healthy tree did not have. That made every YAML commit in a big
repository a checkout, a walk of every file and a full evaluation. Here the same answer is
split: the files the index of this tree was built from (deployed manifests, kustomizations,
what generators read) are read for certain; any other manifest-named file matters only if,
before or after the commit, its text can hold a Kubernetes object (an ArgoCD Application,
a manifest a kustomization or a deployed folder may pick up), and kustomization or chart
files matter wherever they appear (they decide what is deployed). Only the changed files'
texts are looked at, so the cost follows the commit, not the repository.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from bot.catalog.binding import CheckContext
from bot.catalog.checks import reads
from bot.catalog.faultspec import Check
from bot.catalog.manifests import KUSTOMIZATION_NAMES

# The globs `checks.reads` gives for "a manifest may appear anywhere"; replaced here by `needs`.
_ANY_MANIFEST = frozenset({"*.yaml", "*.yml", "*Kustomization"})
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
DEPLOY_DECIDING = frozenset({*KUSTOMIZATION_NAMES, "Chart.yaml"})

Texts = Callable[[], Iterable[str | None]]
"""A changed file's texts before and after the commit (None: absent, or not text)."""


def could_hold_object(text: str | None) -> bool:
    """False only for a text in which no Kubernetes object (nor ArgoCD Application) can be
    written: both `apiVersion` and `kind` keys are needed, and YAML spells those letters
    otherwise only with a double-quoted escape (None: the file is absent on that side)."""
    if text is None:
        return False
    return ("apiVersion" in text and "kind" in text) or "\\" in text


@dataclass(frozen=True)
class ReadSet:
    """The paths a fault's checks depend on at one tree."""

    globs: frozenset[str]  # fnmatch globs and exact paths (text, Terraform, kustomizations, generator sources)
    files: frozenset[str]  # the deployed manifest files of this tree
    manifests: bool  # do the checks read Kubernetes objects at all

    def needs(self, path: str, texts: Texts) -> bool:
        """Can a change to `path` (with these texts before/after) change the checks' verdict?"""
        if any(path == glob or fnmatch.fnmatch(path, glob) for glob in self.globs):
            return True
        if not self.manifests:
            return False
        if path in self.files or PurePosixPath(path).name in DEPLOY_DECIDING:
            return True
        if not path.endswith(MANIFEST_SUFFIXES):
            return False
        return any(could_hold_object(text) for text in texts())


def read_set(checks: list[Check], context: CheckContext) -> ReadSet:
    """What `checks` read in the tree of `context` (built from its index: no walk of the tree)."""
    globs = reads(checks, context)
    manifests = bool(globs & _ANY_MANIFEST)
    files = {r.path for r in context.written.resources} | {r.path for r in context.index.resources}
    return ReadSet(frozenset(globs - _ANY_MANIFEST), frozenset(files), manifests)
