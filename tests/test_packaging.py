"""Everything bot/ imports at run time is a runtime dependency (not only in the dev extra),
so `pip install .` — the Docker image — runs the daemon."""

from __future__ import annotations

import ast
import sys
from importlib.metadata import packages_distributions, requires

from packaging.requirements import Requirement

from tests.conftest import ROOT

TOOLS = {"ruff", "mypy", "import-linter", "check-jsonschema", "pytest-xdist"}  # commands the suite runs, or a pytest plugin it loads: never imported
LOCAL = {"bot", "tests", "bench", "chat", "conftest", "__future__"}  # ours (chat: examples/chat-app's backend)


def third_party_imports(*folders: str) -> set[str]:
    names: set[str] = set()
    for path in (p for folder in folders for p in (ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in LOCAL}


def _names(requirements: list[str]) -> set[str]:
    return {Requirement(r).name.lower().replace("_", "-") for r in requirements}


def _declared(extra: str | None) -> set[str]:
    wanted = [r for r in requires("faultbot") or [] if (f'extra == "{extra}"' in r if extra else "extra ==" not in r)]
    names = _names(wanted)
    for requirement in map(Requirement, wanted):  # `faultbot[postgres]` in dev: that extra's too
        if requirement.name == "faultbot":
            names |= set().union(*(_declared(e) for e in requirement.extras)) - {"faultbot"}
    return names - {"faultbot"}


def test_runtime_imports_are_runtime_dependencies() -> None:
    runtime = {
        Requirement(r).name.lower().replace("_", "-")
        for r in requires("faultbot") or []
        if "extra ==" not in r
    }
    providers = packages_distributions()
    missing = {}
    for module in sorted(third_party_imports("bot")):
        dists = {d.lower().replace("_", "-") for d in providers.get(module, [])}
        if not dists & runtime:
            missing[module] = sorted(dists)
    assert missing == {}, f"imported by bot/ but not in [project.dependencies]: {missing}"


def test_the_dev_extra_is_what_the_tests_import() -> None:
    """Every third-party module the tests (and benchmarks) import is declared, runtime or dev;
    every dev requirement is imported somewhere or is one of the tools the suite runs."""
    runtime, dev = _declared(None), _declared("dev")
    providers = packages_distributions()
    imported: dict[str, set[str]] = {}
    for module in sorted(third_party_imports("tests", "bench", "examples/chat-app/backend/tests")):
        imported[module] = {d.lower().replace("_", "-") for d in providers.get(module, [])}
    undeclared = {m: sorted(d) for m, d in imported.items() if not d & (runtime | dev)}
    assert undeclared == {}, f"imported by the tests but declared nowhere: {undeclared}"
    used = set().union(*imported.values())
    unused = sorted(dev - used - TOOLS)
    assert unused == [], f"in the dev extra but imported by no test: {unused}"
