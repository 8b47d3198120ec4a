"""Terraform judged by what it means (python-hcl2): Route 53 names as Route 53 reads them,
security-group rules as AWS applies them, variables and locals resolved."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.catalog.checks import CheckContext, RoleBinding, Status, evaluate_one
from bot.catalog.hcl import Symbol, TerraformModule, Unknown
from bot.catalog.manifests import ManifestIndex
from bot.catalog.roles import Role, Roles
from bot.catalog.terraformspec import DnsRecord, TerraformAllows
from bot.catalog.tfchecks import route53_name
from tests.conftest import CHAT_APP

DNS = DnsRecord(check="dns_record", ingress=Role.ingress)
FIREWALL = TerraformAllows(check="terraform_allows", to="var.db_security_group_id",
                           source="var.cluster_security_group_id", port=5432)
NAME_LINE = "  name    = var.hostname\n"
RULE_PORTS = "  from_port                = 5432\n  to_port                  = 5432\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    copy = tmp_path / "chat-app"
    shutil.copytree(CHAT_APP, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def judge(tree: Path, check: DnsRecord | TerraformAllows) -> tuple[Status, str]:
    roles = Roles(ManifestIndex.scan(CHAT_APP))
    binding = RoleBinding.from_targets(roles.resolve(r) for r in (Role.terraform, Role.ingress))
    result = evaluate_one(check, CheckContext(tree, binding))
    return result.status, result.reason


def edit(tree: Path, old: str, new: str, file: str = "main.tf") -> None:
    path = tree / "terraform" / file
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("name", [
    'var.hostname', '"chat.example.com"', '"chat.example.com."', '"chat"', '"CHAT.Example.COM"',
    '"chat.${var.zone_name}"', '"${var.hostname}."', '"${var.hostname}"',
])
def test_every_spelling_route53_reads_as_the_site_is_fixed(tree: Path, name: str) -> None:
    edit(tree, NAME_LINE, f"  name    = {name}\n")
    status, reason = judge(tree, DNS)
    assert status is Status.passed, reason


def test_the_label_as_hostname_with_the_zone_appended_is_fixed(tree: Path) -> None:
    edit(tree, NAME_LINE, '  name    = "${var.hostname}.${var.zone_name}"\n')
    edit(tree, 'default     = "chat.example.com"', 'default     = "chat"', "variables.tf")
    assert judge(tree, DNS)[0] is Status.passed
    (tree / "terraform" / "terraform.tfvars").write_text('hostname = "chat.example.com"\n')  # tfvars win over defaults
    status, reason = judge(tree, DNS)
    assert status is Status.failed and "chat.example.com.example.com" in reason


@pytest.mark.parametrize(("name", "seen"), [
    ('"${var.hostname}.${var.zone_name}"', "chat.example.com.example.com"),
    ('"${var.hostname}.${var.zone_name}."', "chat.example.com.example.com"),
    ('"www.${var.zone_name}"', "www.example.com"),
    ('"chat.example.org"', "chat.example.org.example.com"),
    ('lower(var.hostname)', "cannot work out"),
])
def test_names_route53_reads_otherwise_are_not_fixed(tree: Path, name: str, seen: str) -> None:
    edit(tree, NAME_LINE, f"  name    = {name}\n")
    status, reason = judge(tree, DNS)
    assert status is Status.failed and seen in reason, reason


def test_route53_name_follows_the_aws_provider() -> None:
    assert route53_name("chat", "example.com.") == "chat.example.com"
    assert route53_name("", "example.com") == "example.com"
    assert route53_name("\\052.example.com", "example.com") == "*.example.com"
    assert route53_name("Chat.Example.com.", "example.com") == "chat.example.com"


def test_the_firewall_is_fixed_only_when_the_db_port_is_open_again(tree: Path) -> None:
    assert judge(tree, FIREWALL)[0] is Status.passed
    edit(tree, RULE_PORTS, "  from_port                = 5433\n  to_port                  = 5433\n")
    status, reason = judge(tree, FIREWALL)
    assert status is Status.failed and "tcp 5433 from var.cluster_security_group_id" in reason


@pytest.mark.parametrize(("ports", "protocol", "fixed"), [
    (("5000", "6000"), "tcp", True),
    (('"5432"', '"5432"'), "tcp", True),  # a string is a number to Terraform
    (("0", "0"), "-1", True),             # every protocol, every port
    (("5432", "5432"), "6", True),        # tcp by number
    (("5433", "5432"), "tcp", False),     # an empty range
    (("5432", "5432"), "udp", False),
    (("5431", "5431"), "tcp", False),
])
def test_port_ranges_and_protocols_compare_as_values(tree: Path, ports: tuple[str, str], protocol: str, fixed: bool) -> None:
    edit(tree, RULE_PORTS, f"  from_port                = {ports[0]}\n  to_port                  = {ports[1]}\n")
    edit(tree, 'protocol                 = "tcp"', f'protocol                 = "{protocol}"')
    status, reason = judge(tree, FIREWALL)
    assert (status is Status.passed) == fixed, reason


def test_an_unrelated_all_traffic_egress_rule_is_no_fix(tree: Path) -> None:
    edit(tree, RULE_PORTS, "  from_port                = 5433\n  to_port                  = 5433\n")
    with (tree / "terraform" / "main.tf").open("a") as handle:
        handle.write('resource "aws_security_group_rule" "all_out" {\n  type = "egress"\n'
                     '  security_group_id = var.db_security_group_id\n  source_security_group_id = var.cluster_security_group_id\n'
                     '  protocol = "-1"\n  from_port = 0\n  to_port = 0\n}\n')
    assert judge(tree, FIREWALL)[0] is Status.failed


def test_ports_from_variables_and_locals(tree: Path) -> None:
    edit(tree, RULE_PORTS, "  from_port                = local.db_port\n  to_port                  = var.db_port\n")
    with (tree / "terraform" / "main.tf").open("a") as handle:
        handle.write('locals {\n  db_port = var.db_port\n}\nvariable "db_port" {\n  default = 5432\n}\n')
    assert judge(tree, FIREWALL)[0] is Status.passed
    (tree / "terraform" / "prod.auto.tfvars").write_text("db_port = 6432\n")
    assert judge(tree, FIREWALL)[0] is Status.failed


def test_inline_rules_vpc_rules_and_cidrs(tree: Path) -> None:
    (tree / "terraform" / "main.tf").write_text(
        'resource "aws_security_group" "db" {\n  ingress {\n    from_port = 5432\n    to_port = 5432\n'
        '    protocol = "tcp"\n    cidr_blocks = ["10.0.0.0/8"]\n  }\n}\n'
        'resource "aws_vpc_security_group_ingress_rule" "pg" {\n  security_group_id = var.db_security_group_id\n'
        '  referenced_security_group_id = var.cluster_security_group_id\n  ip_protocol = "tcp"\n'
        '  from_port = 5432\n  to_port = 5432\n}\n')
    inline = TerraformAllows(check="terraform_allows", to="aws_security_group.db.id", source="10.20.0.0/16", port=5432)
    assert judge(tree, inline)[0] is Status.passed
    outside = TerraformAllows(check="terraform_allows", to="aws_security_group.db.id", source="192.168.0.0/16", port=5432)
    assert judge(tree, outside)[0] is Status.failed
    assert judge(tree, FIREWALL)[0] is Status.passed


def test_unparseable_terraform_fails_naming_the_file(tree: Path) -> None:
    edit(tree, RULE_PORTS, "  from_port = {{{\n")
    status, reason = judge(tree, FIREWALL)
    assert status is Status.failed and "terraform/main.tf" in reason and "cannot parse" in reason


def test_values_resolve_or_stay_symbols() -> None:
    module = TerraformModule.load(CHAT_APP / "terraform")
    assert module.value("${var.hostname}") == "chat.example.com"
    assert module.value("${var.dns_ttl}") == 300
    assert module.value("${var.db_security_group_id}") == Symbol("var.db_security_group_id")
    assert module.value("${data.aws_route53_zone.main.zone_id}") == Symbol("data.aws_route53_zone.main.zone_id")
    assert isinstance(module.value("${var.dns_ttl * 2}"), Unknown)
