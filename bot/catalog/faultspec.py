"""What a fault file says: the strict models of fault.yaml (edits, checks, fixes, hints).

Pydantic at the boundary, `extra="forbid"`, as for repos.yaml: an unknown key, op, check
or role is an error naming the file, line and field (see catalog.py), never ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, field_validator, model_validator

from bot.base.durations import Duration
from bot.catalog.behaviourspec import Acceptance, Browser, TeamTests
from bot.catalog.roles import Role
from bot.catalog.specbase import Model
from bot.catalog.templates import CONNECTION_SET, EVERY_EDIT, YAML_EDIT, YAML_SET, check_templates
from bot.catalog.terraformspec import DnsRecord, TerraformAllows
from bot.catalog.yamlpath import parse_path

FAULT_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*/[a-z0-9]+(?:-[a-z0-9]+)*$")


def _valid_path(value: str) -> str:
    if "{{" not in value:  # a templated path is checked once rendered, on the repo
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
    create: bool = False  # create missing mappings on the way (`metadata.annotations` of a pod template)

    @model_validator(mode="after")
    def _templates(self) -> YamlSet:
        check_templates([self.path, self.value], YAML_SET)
        return self


class YamlDelete(Model):
    op: Literal["yaml.delete"]
    role: Role
    path: YamlPath

    @model_validator(mode="after")
    def _templates(self) -> YamlDelete:
        check_templates(self.path, YAML_EDIT)
        return self


class YamlAppend(Model):
    op: Literal["yaml.append"]
    role: Role
    path: YamlPath
    value: Any

    @model_validator(mode="after")
    def _templates(self) -> YamlAppend:
        check_templates([self.path, self.value], YAML_EDIT)
        return self


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
        check_templates([self.path, self.content], EVERY_EDIT)  # a source: file is checked by the catalog
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


class ConnectionSet(Model):
    """Change the host or the port of a connection exactly where it is written, in any form
    (env value, ConfigMap/Secret key, generator literal or env file, flag, shell, mounted file).
    `value` is a template over `host`, `port`, `service` and `namespace` (the bound datastore's)."""

    op: Literal["connection.set"]
    connection: Role = Role.db_connection
    part: Literal["host", "port"]
    value: str = Field(min_length=1)

    @model_validator(mode="after")
    def _templates(self) -> ConnectionSet:
        check_templates(self.value, CONNECTION_SET)
        return self


Edit = Annotated[
    YamlSet | YamlDelete | YamlAppend | FileAdd | FileDelete | TextReplace | Patch | ConnectionSet,
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
    from_outside: bool = False  # the site's visitors: an ingress controller, or an outside address
    port: int | str | None = None
    through: Role | None = None  # the port is the pod port this Service sends its clients' traffic to

    @model_validator(mode="after")
    def _one_source(self) -> NetworkAllows:
        if sum((self.from_role is not None, self.from_namespace is not None, self.from_outside)) != 1:
            raise ValueError("give exactly one of from_role:, from_namespace: or from_outside: true")
        if self.port is not None and self.through is not None:
            raise ValueError("give port: or through:, not both")
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


class ConnectionResolves(Model):
    """The connection reaches `to_role`'s pods through a Service that offers the dialled port."""

    check: Literal["connection_resolves"]
    connection: Role = Role.db_connection
    to_role: Role | None = None


class Exposed(Model):
    """Outside clients still reach the Service the way they did on the healthy tree."""

    check: Literal["exposed"]
    role: Role = Role.frontend_service


Check = Annotated[
    IngressRoutes | ServiceSelects | ServiceTargetPort | EnvHostResolves | RefsResolve | NetworkAllows | Replicas | ProbesTargetPorts | YamlValue | Text | AllOf | AnyOf
    | ConnectionResolves | Exposed
    | TerraformAllows | DnsRecord  # terraformspec.py
    | TeamTests | Acceptance | Browser,  # behaviourspec.py
    Field(discriminator="check"),
]
# AllOf and AnyOf name `Check` before it exists: with defer_build pydantic resolves it in this
# module when they are first used (an explicit model_rebuild here would build them at import).


# --- the fault ---------------------------------------------------------------------------

class Hint(Model):
    after: Duration
    text: str = Field(min_length=1)


class Condition(Model):
    """A shape the repository must have: a value at a path of a role's object (`is: int|str|missing|present`),
    or a connection part (`is: written|implied`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    role: Role | None = None
    path: YamlPath | None = None
    connection: Role | None = None
    part: Literal["host", "port"] | None = None
    is_: Literal["int", "str", "missing", "present", "written", "implied"] = Field(alias="is")

    @model_validator(mode="after")
    def _one_subject(self) -> Condition:
        on_path = self.role is not None and self.path is not None
        on_connection = self.connection is not None and self.part is not None
        if on_path == on_connection:
            raise ValueError("give role: and path:, or connection: and part:")
        if on_path and self.is_ in ("written", "implied"):
            raise ValueError("a path is int, str, missing or present")
        if on_connection and self.is_ not in ("written", "implied"):
            raise ValueError("a connection part is written or implied")
        check_templates(self.path, EVERY_EDIT)
        return self


class Variant(Model):
    """One way to make the fault's change, for one shape of repository (tried in order)."""

    name: str = Field(min_length=1)
    when: list[Condition] = Field(default_factory=list)
    edits: list[Edit] = Field(min_length=1)


class ReferenceFix(Model):
    name: str = Field(min_length=1)
    kind: Literal["revert", "forward"]
    message: str | None = None
    edits: list[Edit] = Field(default_factory=list)
    when: list[Condition] = Field(default_factory=list)  # only on repositories of this shape
    variants: list[str] | None = None  # only after these variants of the fault

    @model_validator(mode="after")
    def _edits_match_kind(self) -> ReferenceFix:
        if self.kind == "revert" and (self.edits or self.when or self.variants):
            raise ValueError("a revert fix takes no edits, when: or variants: (it is `git revert` of the fault)")
        if self.kind == "forward" and not self.edits:
            raise ValueError("a forward fix needs edits")
        return self


class WrongFix(Model):
    """A plausible change that touches the broken thing but does not mend it: the fault's
    checks must still fail after it (`faults verify` proves it)."""

    name: str = Field(min_length=1)
    message: str | None = None
    edits: list[Edit] = Field(min_length=1)
    when: list[Condition] = Field(default_factory=list)
    variants: list[str] | None = None


class FaultSpec(Model):
    id: str
    title: str = Field(min_length=1)
    family: str
    severity: Literal["low", "medium", "high", "critical"]
    symptom: str = Field(min_length=1)
    commit_messages: list[str] = Field(min_length=2)
    roles: list[Role] = Field(min_length=1)
    edits: list[Edit] | None = Field(default=None, min_length=1)
    variants: list[Variant] | None = Field(default=None, min_length=1)
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
        if (self.edits is None) == (self.variants is None):
            raise ValueError("give edits: or variants:, not both")
        kinds = {fix.kind for fix in self.fixes}
        if kinds != {"revert", "forward"} and not (self.draft and kinds == {"revert"}):
            raise ValueError("fixes need the revert and at least one forward fix")
        names = [v.name for v in self.all_variants]
        if len(set(names)) != len(names):
            raise ValueError("variant names must be unique")
        fixes: list[ReferenceFix | WrongFix] = [*self.fixes, *self.wrong_fixes]
        for fix in fixes:
            unknown = sorted(set(fix.variants or []) - set(names))
            if unknown:
                raise ValueError(f"fix {fix.name!r} names unknown variant(s) {', '.join(unknown)} (known: {', '.join(names)})")
        return self

    @property
    def all_variants(self) -> list[Variant]:
        """The variants to try, in order (plain `edits:` are one variant named `default`)."""
        if self.variants is not None:
            return list(self.variants)
        return [Variant(name="default", edits=list(self.edits or []))]

    def variant(self, name: str | None) -> Variant:
        """A variant by name (the first for None or an unknown name)."""
        variants = self.all_variants
        return next((v for v in variants if v.name == name), variants[0])


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
