"""faultbot: a GitOps game-day bot that breaks a team's service with a plausible commit."""

from __future__ import annotations

from functools import cache


@cache
def version() -> str:
    """The installed faultbot's version ("0.0.0+local" from a source tree never installed)."""
    # importlib.metadata (with email and zipfile) costs every command a tenth of a second at
    # start-up; only `--version` and the crash log need it (issue 17, P1-cli).
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("faultbot")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+local"


def __getattr__(name: str) -> str:
    """`bot.__version__`, computed when first asked for."""
    if name == "__version__":
        return version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
