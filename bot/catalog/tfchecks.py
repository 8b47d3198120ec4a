"""Terraform checks with AWS's meaning: security-group rules and Route 53 names.

A rule is read from any of the three ways AWS's provider writes one: an
`aws_security_group_rule` (type = "ingress"), an `ingress { }` block of an
`aws_security_group`, or an `aws_vpc_security_group_ingress_rule`. Ports compare as numbers
over the inclusive `from_port..to_port` range (`-1`/"all" protocol: every port), CIDRs as
networks. Egress rules never admit anything into a group.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bot.catalog.checkbase import CheckFailed, Judged
from bot.catalog.hcl import Symbol, TerraformModule, Unknown, as_int, as_list, blocks_in
from bot.catalog.manifests import dig
from bot.catalog.terraformspec import DnsRecord, TerraformAllows
from bot.errors import CatalogError

_PROTOCOLS = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp",
              "-1": "all", "all": "all"}
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class IngressRule:
    """One rule that lets traffic into a security group."""

    where: str
    into: Any
    protocol: str
    ports: tuple[int, int] | None  # inclusive; None: every port
    groups: tuple[Any, ...]
    networks: tuple[Network, ...]
    self_group: bool

    def admits_port(self, protocol: str, port: int) -> bool:
        """Does the rule's protocol and port range cover this port?"""
        if self.protocol == "all":
            return True
        if self.protocol != protocol or self.ports is None:
            return False
        low, high = self.ports
        return low <= port <= high


def load_module(ctx: Judged, role_directory: str) -> TerraformModule:
    """The module in a role's folder; a parse error is a failed check (Terraform would refuse it too)."""
    folder = ctx.tree / role_directory
    if not folder.is_dir():
        raise CheckFailed(f"{role_directory}/ is gone")
    try:
        return TerraformModule.load(folder, ctx.tree)
    except CatalogError as exc:
        raise CheckFailed(exc.message) from None


def reference(module: TerraformModule, text: str) -> Any:
    """A reference as a fault writes it (`var.db_security_group_id`), resolved like a rule's value."""
    return module.value("${" + text + "}")


def _network(value: Any) -> Network | None:
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return None


def _rule(module: TerraformModule, where: str, into: Any, body: Mapping[str, Any], protocol_key: str,
          groups: list[Any], cidr_keys: tuple[str, ...]) -> IngressRule:
    protocol = _PROTOCOLS.get(str(module.value(body.get(protocol_key, ""))).lower(), "unknown")
    low, high = as_int(module.value(body.get("from_port"))), as_int(module.value(body.get("to_port")))
    ports = (low, high) if low is not None and high is not None else None
    networks = tuple(n for key in cidr_keys for v in as_list(module.value(body.get(key))) if (n := _network(v)))
    return IngressRule(where, into, protocol, ports, tuple(groups), networks, module.value(body.get("self")) is True)


def ingress_rules(module: TerraformModule) -> Iterator[IngressRule]:
    """Every rule that admits traffic into some group, in the three forms AWS's provider has."""
    for block in module.of_type("aws_security_group_rule"):
        if str(module.value(block.body.get("type"))).lower() != "ingress":
            continue
        groups = [module.value(block.body["source_security_group_id"])] if "source_security_group_id" in block.body else []
        yield _rule(module, block.address, module.value(block.body.get("security_group_id")), block.body, "protocol",
                    groups, ("cidr_blocks", "ipv6_cidr_blocks"))
    for block in module.of_type("aws_security_group"):
        for number, inline in enumerate(blocks_in(block.body, "ingress")):
            groups = as_list(module.value(inline.get("security_groups")))
            yield _rule(module, f"{block.address}.ingress[{number}]", Symbol(f"{block.address}.id"), inline, "protocol",
                        groups, ("cidr_blocks", "ipv6_cidr_blocks"))
    for block in module.of_type("aws_vpc_security_group_ingress_rule"):
        groups = [module.value(block.body["referenced_security_group_id"])] if "referenced_security_group_id" in block.body else []
        yield _rule(module, block.address, module.value(block.body.get("security_group_id")), block.body, "ip_protocol",
                    groups, ("cidr_ipv4", "cidr_ipv6"))


def _same(a: Any, b: Any) -> bool:
    """Two resolved references are the same group (Unknown is never the same as anything)."""
    if isinstance(a, Unknown) or isinstance(b, Unknown):
        return False
    return a == b


def _admits_source(rule: IngressRule, source: Any, source_network: Network | None, to: Any) -> bool:
    if source_network is not None:
        return any(source_network.version == n.version and source_network.subnet_of(n) for n in rule.networks)  # type: ignore[arg-type]
    if rule.self_group and _same(source, to):
        return True
    if any(_same(source, group) for group in rule.groups):
        return True
    return any(n.prefixlen == 0 for n in rule.networks)  # 0.0.0.0/0 admits every group's members too


def terraform_allows(check: TerraformAllows, ctx: Judged) -> str:
    """Pass when an ingress rule into `to` admits `source` on `port`/`protocol`."""
    module = load_module(ctx, ctx.directory(check.role))
    to = reference(module, check.to)
    source_network = ipaddress.ip_network(check.source, strict=False) if "/" in check.source else None
    source = None if source_network is not None else reference(module, check.source)
    into = [r for r in ingress_rules(module) if _same(r.into, to)]
    if not into:
        raise CheckFailed(f"no ingress rule into {check.to} in {ctx.directory(check.role)}/")
    for rule in into:
        if rule.admits_port(check.protocol, check.port) and _admits_source(rule, source, source_network, to):
            return f"{rule.where} lets {check.source} reach {check.to} on {check.protocol}/{check.port}"
    seen = "; ".join(f"{r.where}: {r.protocol} {_ports(r)} from {_sources(r)}" for r in into)
    raise CheckFailed(f"no rule lets {check.source} reach {check.to} on {check.protocol}/{check.port} ({seen})")


def _ports(rule: IngressRule) -> str:
    if rule.protocol == "all":
        return "all ports"
    if rule.ports is None:
        return "ports unknown"
    low, high = rule.ports
    if low > high:
        return f"{low}-{high} (an empty range)"
    return str(low) if low == high else f"{low}-{high}"


def _sources(rule: IngressRule) -> str:
    parts = [str(g) for g in rule.groups] + [str(n) for n in rule.networks] + (["self"] if rule.self_group else [])
    return ", ".join(parts) or "nothing"


# --- Route 53 -------------------------------------------------------------------------------

_OCTAL = re.compile(r"\\([0-7]{3})")


def route53_name(name: str, zone: str) -> str:
    """The name Route 53 stores for a record `name` in `zone` (the AWS provider's expandRecordName)."""
    clean = _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), name)  # Route 53 writes `*` as \052
    record = clean.lower().removesuffix(".")
    zone = zone.lower().removesuffix(".")
    if not record:
        return zone
    if record == zone or record.endswith("." + zone):
        return record
    return f"{record}.{zone}"


def _zone_name(module: TerraformModule, zone_id: Any) -> str | None:
    """The zone a record's zone_id points at, when it names a zone block of this module."""
    if not isinstance(zone_id, Symbol):
        return None
    address = zone_id.name.removesuffix(".zone_id").removesuffix(".id")
    block = module.find(address)
    if block is None or block.type != "aws_route53_zone":
        return None
    name = module.value(block.body.get("name"))
    return name if isinstance(name, str) else None


def _wanted_names(check: DnsRecord, ctx: Judged) -> list[str]:
    if check.name is not None:
        return [check.name.lower().removesuffix(".")]
    assert check.ingress is not None
    ingress = ctx.resource(check.ingress)
    hosts = [str(h).lower().removesuffix(".") for rule in dig(ingress.body, "spec", "rules") or []
             if isinstance(rule, Mapping) and (h := rule.get("host"))]
    if not hosts:
        raise CheckFailed(f"Ingress/{ingress.name} names no host, so no DNS name can be checked")
    return hosts


def dns_record(check: DnsRecord, ctx: Judged) -> str:
    """Pass when some record of the wanted types answers for every wanted name."""
    module = load_module(ctx, ctx.directory(check.role))
    types = {t.upper() for t in check.types}
    answered: dict[str, str] = {}
    problems: list[str] = []
    for block in module.of_type("aws_route53_record"):
        if str(module.value(block.body.get("type"))).upper() not in types:
            continue
        name = module.value(block.body.get("name"))
        zone = _zone_name(module, module.value(block.body.get("zone_id")))
        if not isinstance(name, str):
            problems.append(f"{block.address} has a name faultbot cannot work out ({name})")
            continue
        if zone is None:
            problems.append(f"{block.address}: its zone is not a zone of this module, so its full name is unknown")
            continue
        answered[route53_name(name, zone)] = block.address
    wanted = _wanted_names(check, ctx)
    missing = [n for n in wanted if n not in answered]
    if missing:
        have = ", ".join(f"{a} = {n}" for n, a in answered.items()) or "no record of type " + "/".join(sorted(types))
        raise CheckFailed(f"no Route 53 record answers for {', '.join(missing)} ({have}{'; ' if problems else ''}{'; '.join(problems)})")
    return "; ".join(f"{answered[n]} answers for {n}" for n in wanted)
