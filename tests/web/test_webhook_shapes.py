"""The webhook shapes faultbot checks are GitHub's own (../shared/contracts/github-webhooks.json).

Every field bot.web.payloads requires is one the schema requires, with the schema's type, for
`push` and for every `pull-request-*` webhook: so no delivery GitHub sends can be refused.
And what the schema refuses in those fields, faultbot refuses too.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
from openapi_schema_validator import OAS30Validator
from pydantic import BaseModel

from bot.web.payloads import SHAPES, shape_problem
from tests.shared_files import CONTRACTS_DIR, require

WEBHOOKS = CONTRACTS_DIR / "github-webhooks.json"
EXAMPLES = CONTRACTS_DIR / "github-webhook-examples"
JSON_TYPES = {str: "string", int: "integer", dict: "object"}


@cache
def _spec() -> dict[str, Any]:
    return json.loads(require(WEBHOOKS).read_text(encoding="utf-8"))


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = _spec()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    if "allOf" in schema:  # GitHub composes the pull request: the merged requirements count
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for part in (_resolve(p) for p in schema["allOf"]):
            merged["properties"].update(part.get("properties", {}))
            merged["required"] += part.get("required", [])
        return merged
    return schema


def _webhook_schemas(event: str) -> list[tuple[str, dict[str, Any]]]:
    names = ["push"] if event == "push" else [n for n in _spec()["x-webhooks"] if n.startswith("pull-request-")]
    found = []
    for name in names:
        body = _spec()["x-webhooks"][name]["post"]["requestBody"]["content"]["application/json"]["schema"]
        found.append((name, _resolve(body)))
    assert found
    return found


def _requirements(model: type[BaseModel], schema: dict[str, Any], where: str) -> list[str]:
    """What the model requires that the schema does not (empty: the model is a relaxation)."""
    wrong = []
    for field, info in model.model_fields.items():
        if field not in schema.get("required", []):
            wrong.append(f"{where}.{field} is not required by GitHub's schema")
            continue
        property_schema = _resolve(schema["properties"][field])
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            assert property_schema.get("type") == "object", f"{where}.{field}"
            wrong += _requirements(annotation, property_schema, f"{where}.{field}")
            continue
        origin = getattr(annotation, "__origin__", annotation)
        if property_schema.get("type") != JSON_TYPES[origin]:
            wrong.append(f"{where}.{field}: GitHub says {property_schema.get('type')}, faultbot {JSON_TYPES[origin]}")
    return wrong


@pytest.mark.parametrize("event", sorted(SHAPES))
def test_every_field_faultbot_requires_github_requires_too(event: str) -> None:
    for name, schema in _webhook_schemas(event):
        assert _requirements(SHAPES[event], schema, name) == []


def test_githubs_example_deliveries_pass() -> None:
    examples = sorted(require(EXAMPLES).glob("*/*.json"))
    assert len(examples) >= 6
    for path in examples:
        event = "push" if path.parent.name == "push" else "pull_request"
        assert shape_problem(event, json.loads(path.read_text(encoding="utf-8"))) is None, path.name


def _mutations(payload: dict[str, Any]) -> list[tuple[str, Any]]:
    """Payloads broken in a field faultbot reads: each must break GitHub's schema too."""
    return [
        ("repository is a string", {**payload, "repository": "x"}),
        ("no repository", {k: v for k, v in payload.items() if k != "repository"}),
        ("full_name is a number", {**payload, "repository": {**payload["repository"], "full_name": 7}}),
        ("ref is null", {**payload, "ref": None}),
        ("a list", [1, 2, 3]),
        ("null", None),
    ]


@pytest.mark.parametrize("case", range(6))
def test_what_githubs_schema_refuses_in_those_fields_faultbot_refuses(case: int) -> None:
    payload = json.loads(require(EXAMPLES / "push" / "with-new-branch.payload.json").read_text(encoding="utf-8"))
    name, broken = _mutations(payload)[case]
    (_, schema), = _webhook_schemas("push")
    components = {"components": _spec()["components"]}
    validator = OAS30Validator({**schema, **components})
    assert not validator.is_valid(broken), f"{name}: the schema accepts it, so faultbot must too"
    assert shape_problem("push", broken) is not None, name


def test_the_body_cap_is_githubs() -> None:
    from bot.web.webhooks import MAX_BODY

    readme = (CONTRACTS_DIR / "README.md")
    assert "capped at 25 MB" in require(readme).read_text(encoding="utf-8")
    assert MAX_BODY == 25 * 1024 * 1024
