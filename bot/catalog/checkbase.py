"""What every check kind shares: how it fails, and what it may read of the tree being judged.

Check kinds live in modules of their own (checks.py for Kubernetes, tfchecks.py for
Terraform, behaviour.py for running code); checks.py registers them all in one table. They
import this module, never checks.py, so adding a kind creates no import cycle.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bot.catalog.behaviour import Runner
    from bot.catalog.manifests import Resource
    from bot.catalog.roles import Role


class CheckFailed(Exception):
    """A check does not hold; the message says why, for people."""


class Judged(Protocol):
    """The tree being judged, as a check kind sees it (checks.CheckContext)."""

    tree: Path
    fault_dir: Path | None
    runner: Runner | None

    def directory(self, role: Role) -> str:
        """The folder bound to a directory role; CheckFailed if it is not bound."""

    def resource(self, role: Role) -> Resource:
        """The object bound to a role, as it is in this tree; CheckFailed if gone."""
