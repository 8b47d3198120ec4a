"""GitHub's branch protection rules, and the exact words GitHub refuses with.

One rule set serves both doors of the test forge: the smart-HTTP git server refuses
pushes (through its proc-receive hook, `git_protect_hook`), and the REST server refuses
API merges. The wording is GitHub's own, as seen in real push and API output:

* push, PR required (e.g. supportpal/github-gh-cli#47, SageMathOER-CCC/sage-discrete-math#84):
  `remote: error: GH006: Protected branch update failed for refs/heads/main.`
  `remote: error: Changes must be made through a pull request.`
  ` ! [remote rejected] main -> main (protected branch hook declined)`
* push, force pushes off (hexojs/hexo#2817): `remote: error: Cannot force-push to a protected branch.`
* push or merge, a required check missing (Diogomrol/gocd-s3-artifact-plugin#11,
  PennyDreadfulMTG/Penny-Dreadful-Tools#6226): `Required status check "ci" is expected.`;
  several (RFD-FHEM/RFFHEM#1144): `4 of 6 required status checks are expected.`
  The API answers 405 with that message and documentation_url
  https://help.github.com/articles/about-protected-branches.

Requiring a pull request does not stop an API merge: that is how the rule is met.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass

ZERO_SHA = "0" * 40
PROTECTION_DOCS = "https://help.github.com/articles/about-protected-branches"
REFUSED_REASON = "protected branch hook declined"


@dataclass(frozen=True)
class BranchProtection:
    """A classic branch protection rule, with GitHub's defaults for a new rule."""

    require_pull_request: bool = True
    required_status_checks: tuple[str, ...] = ()
    allow_force_pushes: bool = False
    allow_deletions: bool = False

    def to_json(self) -> str:
        """The rule as JSON, to hand to the git hook through its environment."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> BranchProtection:
        """The inverse of `to_json`."""
        fields = json.loads(text)
        fields["required_status_checks"] = tuple(fields["required_status_checks"])
        return cls(**fields)


def push_refusal(
    rule: BranchProtection, ref: str, old: str, new: str, is_ancestor: Callable[[str, str], bool]
) -> list[str] | None:
    """The `error:` lines GitHub prints for a refused push to a protected `ref`, or None."""
    if new == ZERO_SHA:
        reason = None if rule.allow_deletions else "Cannot delete this protected branch."
    elif rule.require_pull_request:
        reason = "Changes must be made through a pull request."
    elif old != ZERO_SHA and not rule.allow_force_pushes and not is_ancestor(old, new):
        reason = "Cannot force-push to a protected branch."
    else:
        reason = checks_refusal(rule, set())
    if reason is None:
        return None
    return [f"error: GH006: Protected branch update failed for {ref}.", f"error: {reason}"]


def checks_refusal(rule: BranchProtection, passed: Collection[str]) -> str | None:
    """GitHub's message when required status checks have not passed, or None when all have."""
    missing = [name for name in rule.required_status_checks if name not in passed]
    if not missing:
        return None
    if len(rule.required_status_checks) == 1:
        return f'Required status check "{missing[0]}" is expected.'
    return f"{len(missing)} of {len(rule.required_status_checks)} required status checks are expected."


def protected_refs(rules: Mapping[str, BranchProtection]) -> dict[str, str]:
    """Branch → rule, as the refname → JSON map the git hook reads."""
    return {f"refs/heads/{branch}": rule.to_json() for branch, rule in rules.items()}


__all__ = [
    "PROTECTION_DOCS",
    "REFUSED_REASON",
    "ZERO_SHA",
    "BranchProtection",
    "checks_refusal",
    "protected_refs",
    "push_refusal",
]
