"""`faultbot run` that kills itself with SIGKILL at one risky step of an injection: the tests' entry point.

The product carries no crash hook. The daemon offers an `instrument` seam (it hands over each
team's injector once built); this module uses it to make one injector step kill the process
(no cleanup, no goodbye to the database), exactly as a kill -9 or an OOM kill would at that
moment:

    python -m tests.app.crashing_daemon PHASE --config repos.yaml [--gate FILE] [--stamp FILE]

`--gate`: on reaching the step, create FILE.reached and wait until FILE exists before dying (so
a fail-over test can have its standby ready first). `--stamp`: write the wall-clock time of the
kill there (take-over times are measured from it).
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bot.app.control import install_signal_handlers, run_daemon
from bot.repo.injector import Injector

# The injector's steps around a push, by the attribute that observes each.
PHASES = {
    "inject.before_commit": "before_commit",
    "inject.before_push": "before_push",
    "inject.after_push": "after_push",
    "revert.after_push": "after_revert_push",
}
GATE_LIMIT_S = 300.0


def killer(gate: Path | None, stamp: Path | None) -> Callable[[str], None]:
    """A step observer that (after the gate opens) records the time and SIGKILLs this process."""

    def die(_what: str) -> None:
        if gate is not None:
            gate.with_name(gate.name + ".reached").touch()
            deadline = time.monotonic() + GATE_LIMIT_S
            while not gate.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
        if stamp is not None:
            stamp.write_text(repr(time.time()), encoding="utf-8")
        os.kill(os.getpid(), signal.SIGKILL)

    return die


def instrument(phase: str, gate: Path | None = None, stamp: Path | None = None) -> Callable[[Injector], None]:
    """Install the killer on the injector step named by `phase`."""
    attribute = PHASES[phase]
    die = killer(gate, stamp)

    def install(injector: Injector) -> None:
        setattr(injector, attribute, die)

    return install


def main(argv: list[str] | None = None) -> int:
    """Run the daemon with the crash installed until SIGTERM (or the crash)."""
    parser = argparse.ArgumentParser(prog="crashing_daemon")
    parser.add_argument("phase", choices=sorted(PHASES))
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--gate", type=Path)
    parser.add_argument("--stamp", type=Path)
    args = parser.parse_args(argv)
    stop = threading.Event()
    install_signal_handlers(stop)
    run_daemon(args.config, stop=stop, instrument=instrument(args.phase, args.gate, args.stamp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
