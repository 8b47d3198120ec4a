"""What a fault file says: the strict models of fault.yaml (edits, checks, fixes, hints).

Pydantic at the boundary, `extra="forbid"`, as for repos.yaml: an unknown key, op, check
or role is an error naming the file, line and field (see catalog.py), never ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from bot.base.durations import Duration
from bot.catalog.behaviourspec import Acceptance, Browser, TeamTests
from bot.catalog.roles import Role
from bot.catalog.specbase import Model
from bot.catalog.terraformspec import DnsRecord, TerraformAllows
from bot.catalog.yamlpath import parse_path

FAULT_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*/[a-z0-9]+(?:-[a-z0-9]+)*$")


def _valid_path(value: str) -> str:
    parse_path(value)
    return value


def _valid_regex(value: str) -> str:
    try:
        re.compile(value, re.MULTILINE)
    except re.error as exc:
        raise ValueError(f"bad regular expression {value!r}: {exc}") from None
    return value


YamlPath = Annotated[str, AfterValidator(_valid_path)]
Regex = Annotated[str, AfterValidator(_valid_regex)]


# --- edits -------------------------------------------------------------------------------

class YamlSet(Model):
    op: Literal["yaml.set"]
    role: Role
    path: YamlPath
    value: Any


class YamlDelete(Model):
    op: Literal["yaml.delete"]
    role: Role
    path: YamlPath


class YamlAppend(Model):
    op: Literal["yaml.append"]
    role: Role
    path: YamlPath
    value: Any


class FileAdd(Model):
    """Add a file; with `role`, next to that role's manifest (and in its kustomization)."""

    op: Literal["file.add"]
    path: str
    role: Role | None = None
    content: str | None = None
    source: str | None = None
    kustomize: bool = True

    @model_validator(mode="after")
    def _one_content(self) -> FileAdd:
        if (self.content is None) == (self.source is None):
            raise ValueError("give exactly one of content: or source:")
        return self


class FileDelete(Model):
    op: Literal["file.delete"]
    path: str | None = None
    role: Role | None = None
    kustomize: bool = True

    @model_validator(mode="after")
    def _one_target(self) -> FileDelete:
        if (self.path is None) == (self.role is None):
            raise ValueError("give exactly one of path: or role:")
        return self


class TextReplace(Model):
    op: Literal["text.replace"]
    role: Role | None = None
    path: str | None = None
    glob: str = "**/*"
    pattern: Regex
    replacement: str
    count: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _one_target(self) -> TextReplace:
        if (self.path is None) == (self.role is None):
            raise ValueError("give exactly one of path: or role:")
        return self


class Patch(Model):
    op: Literal["patch"]
    file: str
    role: Role | None = None


Edit = Annotated[
    YamlSet | YamlDelete | YamlAppend | FileAdd | FileDelete | TextReplace | Patch,
    Field(discriminator="op"),
]


# --- checks ------------------------------------------------------------------------------

class IngressRoutes(Model):
    check: Literal["ingress_routes"]
    role: Role = Role.ingress


class ServiceSelects(Model):
    check: Literal["service_selects"]
    role: Role
    workload_role: Role | None = None


class ServiceTargetPort(Model):
    check: Literal["service_target_port"]
    role: Role


class EnvHostResolves(Model):
    check: Literal["env_host_resolves"]
    role: Role
    env: str
    port_env: str | None = None
    workload_role: Role | None = None


class RefsResolve(Model):
    check: Literal["refs_resolve"]
    role: Role


class NetworkAllows(Model):
    check: Literal["network_allows"]
    to_role: Role
    from_role: Role | None = None
    from_namespace: str | None = None
    port: int | str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> NetworkAllows:
        if (self.from_role is None) == (self.from_namespace is None):
            raise ValueError("give exactly one of from_role: or from_namespace:")
        return self


class Replicas(Model):
    check: Literal["replicas"]
    role: Role
    min: int = 1


class ProbesTargetPorts(Model):
    check: Literal["probes_target_ports"]
    role: Role


class YamlValue(Model):
    check: Literal["yaml_value"]
    role: Role
    path: YamlPath
    equals: Any = None
    not_equals: Any = None
    one_of: list[Any] | None = None
    not_one_of: list[Any] | None = None

    @model_validator(mode="after")
    def _one_test(self) -> YamlValue:
        given = [n for n in ("equals", "not_equals", "one_of", "not_one_of") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of equals:, not_equals:, one_of:, not_one_of:")
        return self


class Text(Model):
    check: Literal["text"]
    role: Role | None = None
    path: str | None = None
    glob: str = "**/*"
    pattern: Regex
    present: bool = True

    @model_validator(mode="after")
    def _one_target(self) -> Text:
        if (self.path is None) == (self.role is None):
            raise ValueError("give exactly one of path: or role:")
        return self


class AllOf(Model):
    check: Literal["all"]
    checks: list[Check] = Field(min_length=1)


class AnyOf(Model):
    check: Literal["any"]
    checks: list[Check] = Field(min_length=1)


Check = Annotated[
    IngressRoutes | ServiceSelects | ServiceTargetPort | EnvHostResolves | RefsResolve | NetworkAllows | Replicas | ProbesTargetPorts | YamlValue | Text | AllOf | AnyOf
    | TerraformAllows | DnsRecord  # terraformspec.py
    | TeamTests | Acceptance | Browser,  # behaviourspec.py
    Field(discriminator="check"),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()


# --- the fault ---------------------------------------------------------------------------

class Hint(Model):
    after: Duration
    text: str = Field(min_length=1)


class ReferenceFix(Model):
    name: str = Field(min_length=1)
    kind: Literal["revert", "forward"]
    message: str | None = None
    edits: list[Edit] = Field(default_factory=list)

    @model_validator(mode="after")
    def _edits_match_kind(self) -> ReferenceFix:
        if self.kind == "revert" and self.edits:
            raise ValueError("a revert fix takes no edits (it is `git revert` of the fault)")
        if self.kind == "forward" and not self.edits:
            raise ValueError("a forward fix needs edits")
        return self


class WrongFix(Model):
    """A plausible change that touches the broken thing but does not mend it: the fault's
    checks must still fail after it (`faults verify` proves it)."""

    name: str = Field(min_length=1)
    message: str | None = None
    edits: list[Edit] = Field(min_length=1)


class FaultSpec(Model):
    id: str
    title: str = Field(min_length=1)
    family: str
    severity: Literal["low", "medium", "high", "critical"]
    symptom: str = Field(min_length=1)
    commit_messages: list[str] = Field(min_length=2)
    roles: list[Role] = Field(min_length=1)
    edits: list[Edit] = Field(min_length=1)
    fixed_when: list[Check] = Field(min_length=1)
    hints: list[Hint] = Field(default_factory=list)
    fixes: list[ReferenceFix] = Field(min_length=1)
    wrong_fixes: list[WrongFix] = Field(default_factory=list)
    draft: bool = False
    """Written by `faults new` and not yet proven: verified, never scheduled."""

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not FAULT_ID.match(value):
            raise ValueError(f"{value!r} must be family/name in lowercase-with-dashes")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> FaultSpec:
        if not self.id.startswith(self.family + "/"):
            raise ValueError(f"id {self.id!r} must start with its family {self.family!r}/")
        kinds = {fix.kind for fix in self.fixes}
        if kinds != {"revert", "forward"} and not (self.draft and kinds == {"revert"}):
            raise ValueError("fixes need the revert and at least one forward fix")
        return self


def iter_roles(checks: list[Any]) -> Iterator[Role]:
    """Every role the checks (recursively) name."""
    for check in checks:
        if isinstance(check, (AllOf, AnyOf)):
            yield from iter_roles(check.checks)
            continue
        for _, value in check:  # every Role-valued field, nested ones (serve.role) included
            if isinstance(value, Role):
                yield value
            elif isinstance(value, Model):
                yield from (v for _, v in value if isinstance(v, Role))
            elif isinstance(value, list):
                yield from (v for v in value if isinstance(v, Role))
