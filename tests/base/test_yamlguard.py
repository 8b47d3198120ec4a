"""The limits on YAML faultbot did not write: bombs and giants refused, real manifests untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.base.yamlguard import MAX_NODES, check_text, read_bounded
from bot.errors import UnsafeYaml
from tests.conftest import CHAT_APP


def _bomb(levels: int, width: int = 9) -> str:
    lines = ["a0: &a0 [" + ",".join(['"lol"'] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [" + ",".join([f"*a{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_without_expanding_it() -> None:
    with pytest.raises(UnsafeYaml, match="aliases expand to more than"):
        check_text(_bomb(9))  # 9^9 nodes once expanded; the check counts over the shared graph


def test_aliases_that_stay_small_are_fine() -> None:
    check_text(_bomb(3))  # 9^3: anchors are legal YAML, and some teams use them
    workflow = (
        "defaults: &defaults {runs-on: ubuntu-latest, timeout-minutes: 10}\n"
        "jobs:\n  test: {<<: *defaults, steps: [{run: make test}]}\n  lint: {<<: *defaults, steps: [{run: make lint}]}\n"
    )
    check_text(workflow)


def test_the_limit_is_on_expanded_nodes_not_on_aliases() -> None:
    just_under = _bomb(2, width=int(MAX_NODES ** 0.5) - 2)
    check_text(just_under)
    with pytest.raises(UnsafeYaml):
        check_text(_bomb(2, width=int(MAX_NODES ** 0.5) + 2))


def test_every_manifest_of_the_example_passes() -> None:
    for path in sorted(CHAT_APP.rglob("*.y*ml")):
        check_text(read_bounded(path))


def test_a_file_past_the_size_limit_is_not_read_whole(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# x\n" * 1000)
    assert read_bounded(big, limit=4000) == "# x\n" * 1000
    with pytest.raises(UnsafeYaml, match="larger than 3999 bytes"):
        read_bounded(big, limit=3999)


def test_deep_flow_nesting_is_refused_before_the_parser_sees_it() -> None:
    with pytest.raises(UnsafeYaml, match="nested deeper than 100 levels"):
        check_text("x: " + "[" * 5000 + "]" * 5000)
    check_text("x: " + "[" * 50 + "]" * 50)
    with pytest.raises(UnsafeYaml):  # quotes are not parsed: 500 brackets in a string count too, on purpose
        check_text("x: '" + "[" * 500 + "'")
