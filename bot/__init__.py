"""faultbot: a GitOps game-day bot that breaks a team's service with a plausible commit."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("faultbot")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+local"
