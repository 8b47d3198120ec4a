"""The proc-receive hook that makes `git receive-pack` refuse protected branches as GitHub does.

Why proc-receive and not pre-receive or update: those hooks can only make git report
"(pre-receive hook declined)" or "(hook declined)". A proc-receive hook (git >= 2.29,
`receive.procReceiveRefs`) reports each ref itself, so the client sees GitHub's exact
` ! [remote rejected] main -> main (protected branch hook declined)`, with the hook's
stderr as GitHub's `remote: error: GH006: ...` lines. Refs it lets through are handed
back to receive-pack (`option fall-through`), which updates them as usual, so a push of a
protected and an unprotected ref together refuses the one and lands the other.

The protocol (githooks(5), "proc-receive"): version negotiation in pkt-lines, then the
commands `<old> <new> <ref>` up to a flush, then our report `ok <ref>` / `ng <ref> <reason>`.
The rules arrive as JSON in FORGE_PROTECTED_REFS (refname → BranchProtection JSON),
set per request by the smart-HTTP server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import BinaryIO

from tests.servers.branch_protection import REFUSED_REASON, BranchProtection, push_refusal

RULES_VARIABLE = "FORGE_PROTECTED_REFS"
_REPO_ROOT = Path(__file__).resolve().parents[2]


def install(hooks_dir: Path) -> Path:
    """Write the executable `proc-receive` stub into `hooks_dir` (for core.hooksPath)."""
    hooks_dir.mkdir(parents=True, exist_ok=True)
    hook = hooks_dir / "proc-receive"
    hook.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(_REPO_ROOT)!r})\n"
        "from tests.servers.git_protect_hook import main\n"
        "sys.exit(main())\n"
    )
    hook.chmod(0o755)
    return hook


def main() -> int:
    """Run the hook: read the commands receive-pack hands over, report each one."""
    rules = {ref: BranchProtection.from_json(text) for ref, text in json.loads(os.environ[RULES_VARIABLE]).items()}
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    _read_until_flush(stdin)  # "version=1\0<capabilities>"
    _write(stdout, "version=1\0")
    _flush(stdout)
    commands = [line.split(" ", 2) for line in _read_until_flush(stdin)]
    for old, new, ref in commands:
        rule = rules.get(ref)
        refusal = push_refusal(rule, ref, old, new, _is_ancestor) if rule else None
        if refusal is None:
            _write(stdout, f"ok {ref}\n")
            _write(stdout, "option fall-through\n")
        else:
            for line in refusal:
                print(line, file=sys.stderr)
            _write(stdout, f"ng {ref} {REFUSED_REASON}\n")
    _flush(stdout)
    return 0


def _is_ancestor(old: str, new: str) -> bool:
    # The new objects are still in receive-pack's quarantine, which our inherited
    # environment (GIT_OBJECT_DIRECTORY & co.) points at: do not scrub it.
    proc = subprocess.run(["git", "merge-base", "--is-ancestor", old, new], capture_output=True, check=False)
    return proc.returncode == 0


def _read_until_flush(stream: BinaryIO) -> list[str]:
    lines: list[str] = []
    while True:
        size = int(stream.read(4) or b"0000", 16)
        if size == 0:
            return lines
        lines.append(stream.read(size - 4).decode().rstrip("\n"))


def _write(stream: BinaryIO, text: str) -> None:
    data = text.encode()
    stream.write(b"%04x" % (len(data) + 4) + data)


def _flush(stream: BinaryIO) -> None:
    stream.write(b"0000")
    stream.flush()


__all__ = ["RULES_VARIABLE", "install", "main"]
