"""Manifest YAML is read as kubectl reads it (trailing TABs), or reported with its line: never dropped."""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.main import CParser

from bot.catalog.manifests import split_documents
from bot.catalog.yamlread import _SLOW, MAX_DEPTH, _load_fast, read_yaml, repaired_text
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


# --- libyaml (ruamel.yaml.clib) reads what it can; the pure parser keeps the words and the repairs ---

def _yaml_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def test_libyaml_reads_every_real_manifest_as_the_pure_parser_does(tmp_path: Path) -> None:
    assert CParser is not None, "ruamel.yaml.clib is a runtime dependency: without it every rehearsal parses in pure Python"
    files = [f for name in ("podinfo", "aks-store-demo", "argocd-kustomize-guestbook", "argocd-helm-guestbook")
             for f in _yaml_files(copy_realworld(tmp_path, name))]
    files += _yaml_files(Path(__file__).resolve().parents[2] / "examples")
    fast = 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        for part in split_documents(text):
            if not part.strip() or "\t" in part or "{{" in part:  # Helm templates are not YAML until rendered
                continue
            read = _load_fast(part)
            if read is _SLOW:
                continue
            fast += 1
            assert repr(read) == repr(YAML(typ="safe", pure=True).load(part)), path
    assert fast > 100, fast  # the comparison really ran on the real files, through libyaml


def test_text_libyaml_refuses_gets_the_pure_parsers_words_and_line() -> None:
    text = "kind: Service\nmetadata:\n  name: [web\n"
    assert _load_fast(text) is _SLOW
    read = read_yaml(text)
    assert [str(p) for p in read.problems] == ["line 4: expected ',' or ']', but got '<stream end>'"]  # libyaml: "did not find expected ',' or ']'"


def test_deep_nesting_is_left_to_the_pure_parser() -> None:
    deep = "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5)) + "  " * (MAX_DEPTH + 5) + "leaf: 1\n"
    assert _load_fast(deep) is _SLOW
    shallow = "a:\n  b:\n    c: 1\n"
    assert _load_fast(shallow) == {"a": {"b": {"c": 1}}}
    assert read_yaml(deep).documents[0].data == YAML(typ="safe", pure=True).load(deep)


def test_a_text_with_a_tab_anywhere_keeps_the_repair_and_its_notes() -> None:
    read = read_yaml("kind: Service\t\nmetadata:\n  name: web\n")
    assert read.repaired_lines == (1,)
    assert read.documents[0].data == {"kind": "Service", "metadata": {"name": "web"}}


def test_line_breaks_only_libyaml_takes_stay_refused_as_before() -> None:
    # U+2028 is a line break to libyaml and an error to the pure scanner: the text keeps the old answer.
    for text in ("kind: Service\u2028name: web\n", "kind: Service\x85name: web\n"):
        assert YAML(typ="safe").load(text) == {"kind": "Service", "name": "web"}  # what libyaml alone would say
        assert read_yaml(text).problems, text
