"""Minimal-diff YAML editing: one scalar, one line; structural edits keep mixed styles."""

from __future__ import annotations

import difflib

from bot.catalog.yamledit import YamlFile, to_roundtrip
from bot.catalog.yamlpath import parse_path, walk

MIXED = """\
# backend, written by hand
apiVersion: apps/v1
kind: Deployment
metadata:
  name: backend  # the API
spec:
  replicas: 2
  template:
    spec:
      containers:
      - name: backend
        image: 'x:1'
        env:
          - name: DB_HOST
            value: postgres   # the db Service
        securityContext:
          capabilities:
            drop:
              - ALL
---
kind: Service
metadata: {name: backend}
"""


def changed(before: str, after: str) -> list[str]:
    return [
        line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def place(yaml_file: YamlFile, path: str) -> tuple[object, object]:
    (found,) = list(walk(yaml_file.document(0).data, parse_path(path)))
    return found


def test_scalar_is_spliced_keeping_comment_and_quotes() -> None:
    yaml_file = YamlFile(MIXED)
    parent, key = place(yaml_file, "spec.template.spec.containers[name=backend].env[name=DB_HOST].value")
    assert yaml_file.document(0).splice_scalar(parent, key, "postgress")
    parent, key = place(yaml_file, "spec.template.spec.containers[0].image")
    assert yaml_file.document(0).splice_scalar(parent, key, "x:2")
    assert sorted(changed(MIXED, yaml_file.render())) == sorted([
        "+        image: 'x:2'",
        "+            value: postgress   # the db Service",
        "-        image: 'x:1'",
        "-            value: postgres   # the db Service",
    ])


def test_append_in_a_mixed_style_document_adds_only_new_lines() -> None:
    yaml_file = YamlFile(MIXED)
    parent, key = place(yaml_file, "spec.template.spec.containers[0].env")
    parent[key].append(to_roundtrip({"name": "DB_SSLMODE", "value": "require"}))
    assert changed(MIXED, yaml_file.render()) == [
        "+          - name: DB_SSLMODE",
        "+            value: require",
    ]


def test_delete_touches_only_the_deleted_lines_and_other_documents_stay() -> None:
    yaml_file = YamlFile(MIXED)
    parent, key = place(yaml_file, "spec.template.spec.containers[0].securityContext")
    del parent[key]
    after = yaml_file.render()
    assert changed(MIXED, after) == [
        "-        securityContext:", "-          capabilities:", "-            drop:", "-              - ALL",
    ]
    assert after.endswith("---\nkind: Service\nmetadata: {name: backend}\n")


def test_paths_must_name_one_place() -> None:
    yaml_file = YamlFile(MIXED)
    assert len(list(walk(yaml_file.document(0).data, parse_path("spec.template.spec.containers[*].env[*]")))) == 1
    assert list(walk(yaml_file.document(0).data, parse_path("spec.template.spec.containers[name=nope]"))) == []
