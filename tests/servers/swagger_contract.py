"""Check JSON bodies against the response schemas of a Swagger 2.0 description (ArgoCD's).

Swagger 2.0 schemas are a JSON Schema draft-4 dialect, so they are checked with
jsonschema's Draft4Validator, the whole document riding along to resolve
`#/definitions/...`. Two choices make the check stricter than the file alone:

* Objects are closed (`additionalProperties: false` where a definition lists
  `properties` and says nothing else): ArgoCD's JSON comes from the same Go types as
  its swagger, so a key the swagger lacks is a typo in our server, not a real field.
* Formats are checked (`date-time` as RFC 3339, `int32`/`int64` ranges, `byte` as
  base64): jsonschema skips formats it has no checker for, silently.

Swagger 2.0 has no `nullable`, so a null anywhere a type is declared is a violation.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, FormatChecker

from tests.servers.openapi_contract import CONTRACTS_DIR
from tests.servers.openapi_contract import SchemaViolation as Violation

ARGOCD_SWAGGER = CONTRACTS_DIR / "argocd-swagger-subset.json"

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


def _formats() -> FormatChecker:
    checker = FormatChecker(formats=())

    @checker.checks("date-time")
    def date_time(value: object) -> bool:
        return not isinstance(value, str) or bool(_RFC3339.match(value))

    @checker.checks("int32")
    def int32(value: object) -> bool:
        return not isinstance(value, int) or -(2**31) <= value < 2**31

    @checker.checks("int64")
    def int64(value: object) -> bool:
        return not isinstance(value, int) or -(2**63) <= value < 2**63

    @checker.checks("byte", raises=(binascii.Error, ValueError))
    def byte(value: object) -> bool:
        if isinstance(value, str):
            base64.b64decode(value, validate=True)
        return True

    return checker


class SwaggerContract:
    """A Swagger 2.0 document able to validate the responses of its operations."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self._definitions = {name: _closed(schema) for name, schema in document["definitions"].items()}
        self._formats = _formats()

    @classmethod
    def load(cls, path: Path) -> SwaggerContract:
        """Read a JSON Swagger description."""
        return cls(json.loads(path.read_text()))

    def operations(self) -> set[tuple[str, str]]:
        """Every (METHOD, path template) the description covers."""
        methods = {"get", "put", "post", "delete", "patch", "head", "options"}
        return {(m.upper(), path) for path, item in self.document["paths"].items() for m in item if m in methods}

    def response_schema(self, method: str, path: str, status: int) -> dict[str, Any] | None:
        """The schema of that answer's body (the `default` response for unlisted statuses)."""
        responses = self.document["paths"][path][method.lower()]["responses"]
        response = responses.get(str(status)) or responses.get("default")
        return None if response is None else response.get("schema")

    def definition_validator(self, name: str) -> Draft4Validator:
        """A validator for one named definition (e.g. `v1alpha1Application`)."""
        return self._validator({"$ref": f"#/definitions/{name}"})

    def violations(self, method: str, path: str, status: int, body: Any) -> list[Violation]:
        """Every schema violation of `body` as the answer to `METHOD path` with `status`."""
        schema = self.response_schema(method, path, status)
        if schema is None:
            return [Violation(method, path, status, "", "status not documented for this operation")]
        return [
            Violation(method, path, status, "/".join(str(p) for p in error.absolute_path), error.message)
            for error in self._validator(schema).iter_errors(body)
        ]

    def _validator(self, schema: dict[str, Any]) -> Draft4Validator:
        # In draft 4 `$ref` hides its siblings, so the root can carry the definitions.
        definitions = {**self._definitions, "__checked__": _closed(schema)}
        return Draft4Validator({"$ref": "#/definitions/__checked__", "definitions": definitions},
                               format_checker=self._formats)


def _closed(schema: Any) -> Any:
    """The schema with every object that lists `properties` closed to other keys."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: _closed(value) for key, value in schema.items() if key != "properties"}
    if "properties" in schema:
        result["properties"] = {name: _closed(value) for name, value in schema["properties"].items()}
        result.setdefault("additionalProperties", False)
    return result
