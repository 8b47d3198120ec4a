"""The one error hierarchy: every error a user can cause or fix is a FaultbotError.

The CLI prints a FaultbotError as one line and exits 2; anything else is a bug and exits 1.
`retryable` tells the daemon whether trying again later can help (a network blip) or not
(a config mistake), in the spirit of kopf's TemporaryError / PermanentError.
"""

from __future__ import annotations


class FaultbotError(Exception):
    """Base of every error faultbot reports to a person."""

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable

    @property
    def message(self) -> str:
        """The one-line message, as printed."""
        return str(self.args[0]) if self.args else ""


class ConfigError(FaultbotError):
    """repos.yaml is wrong; the message names the file, line and field path."""


class ConfigErrors(ConfigError):
    """Several config problems, reported together so the organizer fixes them in one go."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class CatalogError(FaultbotError):
    """A fault definition in fault_patches/ is malformed; names the file and field."""


class RoleError(FaultbotError):
    """A role cannot be resolved in a team's repository (missing or ambiguous).

    `dangling` marks the case where the repo *has* the part but one of its references
    points nowhere (a Service selecting no pods): a sign the repo is already broken,
    not that the fault does not fit it.
    """

    def __init__(self, message: str, *, dangling: bool = False) -> None:
        super().__init__(message)
        self.dangling = dangling


class EditError(FaultbotError):
    """A fault's edit cannot be applied to a tree (the fault does not apply there)."""


class GitError(FaultbotError):
    """A git command failed; carries the (redacted) command, exit status and output."""

    def __init__(
        self,
        message: str,
        *,
        command: str = "",
        status: int | None = None,
        output: str = "",
        stdout: str = "",
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.command = command
        self.status = status
        self.output = output
        self.stdout = stdout
        """What git printed for machines (`--porcelain`), where the command has such output."""


class LeaseLost(FaultbotError):
    """This process no longer holds the event's leadership lease: it must not act.

    Raised by the lease check before every side effect (a push, a pull request, an event
    written by the daemon); never retryable by the same process, which goes back to standby.
    """


class UnsafeYaml(FaultbotError):
    """A YAML file faultbot did not write is too large, or its aliases expand too far (an alias bomb)."""
