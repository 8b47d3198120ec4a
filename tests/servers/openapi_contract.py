"""Check JSON bodies against the response schemas of an OpenAPI 3.0 description.

The contract files live in `shared/contracts/` beside the repository checkout (not in
it); `tests.shared_files` finds them, and skips (in CI: fails) a test when they are absent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker

from tests.shared_files import CONTRACTS_DIR

GITHUB_REST_SUBSET = CONTRACTS_DIR / "github-rest-subset.json"


@dataclass(frozen=True)
class SchemaViolation:
    """One way a response body breaks its schema."""

    method: str
    path: str
    status: int
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status} at {self.where or '<root>'}: {self.message}"


class OpenAPIContract:
    """An OpenAPI 3.0 document, able to validate responses of its operations."""

    def __init__(self, document: dict[str, Any], error_schema: str | None = None) -> None:
        """`error_schema`: pointer to the body of error statuses an operation does not list
        (GitHub's `basic-error` when the document has one)."""
        self.document = document
        self._checked = _as_github_means_it(document)
        if error_schema is None and "basic-error" in document.get("components", {}).get("schemas", {}):
            error_schema = _pointer("components", "schemas", "basic-error")
        self._error_schema = error_schema

    @classmethod
    def load(cls, path: Path) -> OpenAPIContract:
        """Read a JSON OpenAPI description."""
        return cls(json.loads(path.read_text()))

    def operations(self) -> set[tuple[str, str]]:
        """Every (METHOD, path template) the description covers."""
        methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
        return {(m.upper(), path) for path, item in self.document["paths"].items() for m in item if m in methods}

    def has_operation(self, method: str, path: str) -> bool:
        """Whether the description covers `METHOD path` (path as templated in the document)."""
        return method.lower() in self.document["paths"].get(path, {})

    def response_schema_pointer(self, method: str, path: str, status: int) -> str | None:
        """JSON pointer to the schema of that response's JSON body, or None if undocumented."""
        responses = self.document["paths"][path][method.lower()]["responses"]
        key = next((k for k in (str(status), f"{status // 100}XX", "default") if k in responses), "default")
        response = responses.get(key)
        if response is None:
            return None
        parts = ["paths", path, method.lower(), "responses", key]
        if "$ref" in response:  # a shared response under components/responses
            parts = response["$ref"].removeprefix("#/").split("/")
            response = self.document["components"]["responses"][parts[-1]]
        if "application/json" not in response.get("content", {}):
            return None
        return _pointer(*parts, "content", "application/json", "schema")

    def violations(self, method: str, path: str, status: int, body: Any) -> list[SchemaViolation]:
        """Every schema violation of `body` as the answer to `METHOD path` with `status`.

        Error statuses an operation does not list (GitHub documents 401 nowhere, for
        instance) are checked against the error schema, `basic-error` for GitHub.
        """
        pointer = self.response_schema_pointer(method, path, status)
        if pointer is None and status >= 400 and self._error_schema is not None:
            pointer = self._error_schema
        if pointer is None:
            return [SchemaViolation(method, path, status, "", "status not documented for this operation")]
        # `$ref` wins over its siblings in OAS 3.0, so the whole document rides along
        # only to resolve `#/components/...` references.
        validator = OAS30ReadValidator({**self._checked, "$ref": pointer}, format_checker=oas30_format_checker)
        return [
            SchemaViolation(method, path, status, "/".join(str(p) for p in error.absolute_path), error.message)
            for error in validator.iter_errors(body)
        ]


def _as_github_means_it(node: Any) -> Any:
    """A copy of the document with two constructs rewritten to what GitHub actually sends.

    * `{"nullable": true, "oneOf": [...]}` without `type` (commit `author`/`committer`):
      strict OAS 3.0.3 ignores `nullable` there, yet GitHub sends `null` for commits
      whose email belongs to no account. Null is allowed explicitly instead.
    * `discriminator` is dropped: the only one (contents: directory vs file) has an
      array alternative it cannot apply to, and plain `oneOf` (exactly one alternative
      matches) is at least as strict.
    Every other keyword is kept and checked as written.
    """
    if isinstance(node, list):
        return [_as_github_means_it(item) for item in node]
    if not isinstance(node, dict):
        return node
    copy = {key: _as_github_means_it(value) for key, value in node.items() if key != "discriminator"}
    composite = [key for key in ("oneOf", "anyOf", "allOf") if key in copy]
    if copy.get("nullable") is True and "type" not in copy and composite:
        del copy["nullable"]
        return {"anyOf": [{"type": "object", "nullable": True, "enum": [None]}, copy]}
    return copy


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(quote(part.replace("~", "~0").replace("/", "~1"), safe="~") for part in parts)
