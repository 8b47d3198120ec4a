"""`python -m bot` runs the same CLI as the `faultbot` console script."""

from __future__ import annotations

from bot.app.cli import main

raise SystemExit(main())
