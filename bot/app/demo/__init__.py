"""`faultbot demo`, and the stand-ins it alone uses (demo-only, never used by `faultbot run`).

* `game` — builds the teams' repositories, runs the real daemon, plays the teams.
* `pager` — an in-process PagerDuty the simulated teams acknowledge and write notes on.
* `inbox` — a local HTTP receiver for the daemon's notifications (hints, organizer feed).
"""

from bot.app.demo.game import DemoResult, run_demo

__all__ = ["DemoResult", "run_demo"]
