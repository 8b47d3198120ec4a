"""Tests of the pure catalog modules in bot/catalog/.

Until bot/ is split into layer packages, `bot/catalog.py` (a module) shadows the folder
`bot/catalog/`. Giving that module a `__path__` lets `bot.catalog.<module>` import from the
folder, exactly as it will once `bot/catalog/` is a package. Remove this shim then.
"""

from __future__ import annotations

import bot.catalog
from tests.conftest import ROOT

if not hasattr(bot.catalog, "__path__"):
    bot.catalog.__path__ = [str(ROOT / "bot" / "catalog")]  # type: ignore[attr-defined]
