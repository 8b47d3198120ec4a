"""Manifest YAML is read as kubectl reads it (trailing TABs), or reported with its line: never dropped."""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

from bot.catalog.yamlread import read_yaml, repaired_text
from tests.realworld import copy_realworld


def test_the_real_service_with_trailing_tabs_is_read(tmp_path: Path) -> None:
    tree = copy_realworld(tmp_path, "argocd-kustomize-guestbook")
    text = (tree / "guestbook-ui-svc.yaml").read_text(encoding="utf-8")
    assert "\t\n" in text  # the upstream file really has them
    read = read_yaml(text)
    assert read.problems == ()
    assert read.repaired_lines == tuple(range(1, 10))  # every line but the last ends in a TAB
    assert read.documents[0].data == {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "guestbook-ui"},
        "spec": {"ports": [{"port": 80, "targetPort": 80}], "selector": {"app": "guestbook-ui"}},
    }


def test_repair_keeps_every_position_so_edits_can_splice_into_the_original() -> None:
    original = "kind: Service\t\nspec:\t\n  selector:\n    app: web\t \n"
    repaired, lines = repaired_text(original)
    assert lines == (1, 2, 4)
    node = YAML(typ="rt").load(repaired)
    line, column = node["spec"]["selector"].lc.value("app")
    assert original.splitlines()[line][column:column + 3] == "web"


def test_tabs_inside_a_block_scalar_are_content_and_kept() -> None:
    read = read_yaml("data:\n  script: |\n    a\tb\t\n    c\n")
    assert read.documents[0].data == {"data": {"script": "a\tb\t\nc\n"}}
    assert read.repaired_lines == ()


def test_an_unreadable_document_is_reported_with_its_line_and_its_neighbours_still_read() -> None:
    text = "kind: A\n---\nkind:\tB\n---\nkind: C\n"
    read = read_yaml(text)
    assert [d.data for d in read.documents] == [{"kind": "A"}, None, {"kind": "C"}]
    (problem,) = read.problems
    assert problem.line == 3 and "cannot start any token" in problem.message
    assert str(problem).startswith("line 3: ")


def test_empty_documents_are_kept_in_the_numbering() -> None:
    read = read_yaml("---\nkind: A\n")
    assert [d.data for d in read.documents] == [None, {"kind": "A"}]  # as the manifest index numbers them
