"""Check kinds for Terraform, as written in fault.yaml (evaluated in tfchecks.py)."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator, model_validator

from bot.catalog.roles import Role
from bot.catalog.specbase import Model


class TerraformAllows(Model):
    """A security group admits `source` on `port`: some ingress rule into `to` allows it.

    `to` and `source` are written as Terraform writes them (`var.db_security_group_id`,
    `aws_security_group.db.id`); `source` may also be a CIDR (`10.0.0.0/16`), then any
    rule whose CIDR block contains it counts.
    """

    check: Literal["terraform_allows"]
    role: Role = Role.terraform
    to: str = Field(min_length=1)
    source: str = Field(min_length=1)
    port: int = Field(ge=0, le=65535)
    protocol: Literal["tcp", "udp"] = "tcp"

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        if "/" in value:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError as exc:
                raise ValueError(f"{value!r} is neither a reference nor a CIDR: {exc}") from None
        return value


class DnsRecord(Model):
    """Some Route 53 record (of `types`) answers for `name`, or for the host the Ingress serves.

    Names compare as Route 53 does: case-insensitive, a trailing dot or not, and a name that
    does not end in its zone's name has the zone appended (`chat` in `example.com`).
    """

    check: Literal["dns_record"]
    role: Role = Role.terraform
    name: str | None = None
    ingress: Role | None = None
    types: list[str] = Field(default_factory=lambda: ["A", "AAAA", "CNAME"], min_length=1)

    @model_validator(mode="after")
    def _one_name(self) -> DnsRecord:
        if (self.name is None) == (self.ingress is None):
            raise ValueError("give exactly one of name: or ingress: (the role whose host the record must serve)")
        return self
