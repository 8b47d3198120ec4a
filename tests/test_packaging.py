"""Everything bot/ imports at run time is a runtime dependency (not only in the dev extra),
so `pip install .` — the Docker image — runs the daemon."""

from __future__ import annotations

import ast
import sys
from importlib.metadata import packages_distributions, requires

from packaging.requirements import Requirement

from tests.conftest import ROOT


def third_party_imports() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "bot").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("bot", "__future__")}


def test_runtime_imports_are_runtime_dependencies() -> None:
    runtime = {
        Requirement(r).name.lower().replace("_", "-")
        for r in requires("faultbot") or []
        if "extra ==" not in r
    }
    providers = packages_distributions()
    missing = {}
    for module in sorted(third_party_imports()):
        dists = {d.lower().replace("_", "-") for d in providers.get(module, [])}
        if not dists & runtime:
            missing[module] = sorted(dists)
    assert missing == {}, f"imported by bot/ but not in [project.dependencies]: {missing}"
