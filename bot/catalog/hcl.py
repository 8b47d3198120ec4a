"""A Terraform module read with python-hcl2, and its simple values resolved.

Checks compare what Terraform would apply, not how a file spells it: `5432`, `"5432"` and
`var.db_port` (default 5432) are the same port. What resolves: literals, `var.X` (its
`default`, overridden by `terraform.tfvars` / `*.auto.tfvars`), `local.X`, and string
templates built from those (`"${var.hostname}.${var.zone_name}"`). A variable without a
default (set at apply time) and a reference to another object (`aws_security_group.db.id`)
stay symbols, compared by name. Anything else (function calls, arithmetic, conditionals) is
`Unknown`: a check never passes on a value it could not work out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

from bot.errors import CatalogError

_OPTIONS = SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
_WHOLE = re.compile(r"^\$\{(?P<expr>[^{}]*)\}$")
_PART = re.compile(r"\$\{(?P<expr>[^{}]*)\}")
_REFERENCE = re.compile(r"^[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*|\[\d+\])*$")
_MAX_DEPTH = 16


@dataclass(frozen=True)
class Symbol:
    """A value known only by name: an input set at apply time, or another object's attribute."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Unknown:
    """An expression this reader does not evaluate (a function call, arithmetic, ...)."""

    text: str

    def __str__(self) -> str:
        return f"<{self.text}>"


@dataclass(frozen=True)
class Block:
    """One `resource` or `data` block: `aws_security_group_rule.cluster_to_db`."""

    mode: str  # resource | data
    type: str
    name: str
    body: Mapping[str, Any]
    file: str

    @property
    def address(self) -> str:
        """Terraform's address: `aws_route53_record.chat`, `data.aws_route53_zone.main`."""
        return f"{self.type}.{self.name}" if self.mode == "resource" else f"data.{self.type}.{self.name}"


@dataclass
class TerraformModule:
    """The `.tf` files of one folder (a root module), parsed."""

    variables: dict[str, Any] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)

    @classmethod
    def load(cls, folder: Path, relative_to: Path | None = None) -> TerraformModule:
        """Parse every `*.tf` in `folder` (not below it); CatalogError naming a file HCL cannot read."""
        module = cls()
        inputs: dict[str, Any] = {}
        for path in sorted(folder.glob("*.tf")):
            shown = path.relative_to(relative_to).as_posix() if relative_to else path.name
            document = _parse(path, shown)
            for item in document.get("variable", []):
                for name, body in item.items():
                    if isinstance(body, Mapping) and "default" in body:
                        inputs[name] = body["default"]
                    else:
                        inputs.setdefault(name, Symbol(f"var.{name}"))
            for item in document.get("locals", []):
                module.locals.update(item)
            for mode in ("resource", "data"):
                for item in document.get(mode, []):
                    for kind, named in item.items():
                        for name, body in named.items():
                            module.blocks.append(Block(mode, kind, name, body, shown))
        # Values given for variables override their defaults, as `terraform apply` does.
        tfvars = [folder / "terraform.tfvars", *sorted(folder.glob("*.auto.tfvars"))]
        for path in (p for p in tfvars if p.is_file()):
            shown = path.relative_to(relative_to).as_posix() if relative_to else path.name
            inputs.update({k: v for k, v in _parse(path, shown).items() if not k.startswith("__")})
        module.variables = inputs
        return module

    def of_type(self, kind: str, mode: str = "resource") -> list[Block]:
        """Blocks of one type."""
        return [b for b in self.blocks if b.type == kind and b.mode == mode]

    def find(self, address: str) -> Block | None:
        """A block by its address."""
        return next((b for b in self.blocks if b.address == address), None)

    def value(self, raw: Any, depth: int = 0) -> Any:
        """The value Terraform would use for `raw` (as python-hcl2 gives it): resolved, a Symbol or Unknown."""
        if depth > _MAX_DEPTH:
            return Unknown("a cycle of locals or variables")
        if isinstance(raw, list):
            return [self.value(item, depth + 1) for item in raw]
        if isinstance(raw, Mapping):
            return {k: self.value(v, depth + 1) for k, v in raw.items()}
        if not isinstance(raw, str):
            return raw
        whole = _WHOLE.match(raw)
        if whole:
            return self._expression(whole.group("expr").strip(), depth)
        if "${" not in raw:
            return raw
        pieces: list[str] = []
        position = 0
        for part in _PART.finditer(raw):
            pieces.append(raw[position:part.start()])
            value = self._expression(part.group("expr").strip(), depth)
            if isinstance(value, (Symbol, Unknown)) or isinstance(value, (list, dict)):
                return Unknown(raw) if not isinstance(value, Symbol) else Symbol(raw)
            pieces.append(_as_text(value))
            position = part.end()
        pieces.append(raw[position:])
        return "".join(pieces)

    def _expression(self, expr: str, depth: int) -> Any:
        if expr.startswith('"') and expr.endswith('"'):
            return self.value(expr[1:-1], depth + 1)
        if re.fullmatch(r"-?\d+", expr):
            return int(expr)
        if not _REFERENCE.match(expr):
            return Unknown(expr)
        head, _, rest = expr.partition(".")
        name = rest.split(".", 1)[0].split("[", 1)[0]
        if head == "var" and name in self.variables and rest == name:
            return self.value(self.variables[name], depth + 1)
        if head == "local" and name in self.locals and rest == name:
            return self.value(self.locals[name], depth + 1)
        if head in ("var", "local"):
            return Symbol(expr) if head == "var" else Unknown(expr)
        return Symbol(expr)


def _parse(path: Path, shown: str) -> dict[str, Any]:
    try:
        document = hcl2.loads(path.read_text(encoding="utf-8"), serialization_options=_OPTIONS)
    except UnicodeDecodeError:
        raise CatalogError(f"{shown}: not UTF-8 text") from None
    except Exception as exc:  # noqa: BLE001 - lark raises many kinds; all mean "not HCL we can read"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CatalogError(f"{shown}: Terraform that HCL cannot parse: {first}") from None
    return document if isinstance(document, dict) else {}


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def as_int(value: Any) -> int | None:
    """A port or count as Terraform converts it (`"5432"` is 5432); None if it is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def as_list(value: Any) -> list[Any]:
    """A list attribute; a single value counts as a one-item list, a missing one as empty."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def blocks_in(body: Mapping[str, Any], name: str) -> Iterator[Mapping[str, Any]]:
    """Nested blocks (`ingress { ... }`) of a block body: one or many."""
    found = body.get(name)
    for item in as_list(found):
        if isinstance(item, Mapping):
            yield item
