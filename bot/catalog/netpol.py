"""Would Kubernetes NetworkPolicies let this traffic through? (the subset faults need)

Semantics, from the Kubernetes docs: a pod is isolated for ingress once any policy with
policyType Ingress selects it; then a connection is allowed only if some such policy has
an ingress rule whose `from` peers match the source and whose `ports` match the port (an
empty list means all). The same holds for egress on the source pod. `ipBlock` peers do
not match in-cluster pods; they match an address from outside the cluster (a load
balancer's or a node port's client) when its CIDR holds it and no `except` does. Flows are TCP; a rule for UDP does not allow them.
Not modelled: egress to DNS (a policy that isolates egress must also allow port 53 for a
Service name to resolve) — a check may pass where DNS would in fact be blocked.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.catalog.manifests import Resource, dig

PodView = tuple[str, Mapping[str, str], Sequence[Mapping[str, Any]]]  # namespace, labels, ports


@dataclass(frozen=True)
class Verdict:
    """Allowed or not, and why."""

    allowed: bool
    reason: str


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Does a label selector (matchLabels + matchExpressions) match these labels?"""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _policy_types(policy: Resource) -> set[str]:
    types = dig(policy.body, "spec", "policyTypes")
    if types:
        return set(types)
    # Kubernetes default: Ingress always, Egress when egress rules are present.
    return {"Ingress", "Egress"} if dig(policy.body, "spec", "egress") else {"Ingress"}


def _namespace_labels(namespace: str) -> dict[str, str]:
    return {"kubernetes.io/metadata.name": namespace}


def _address_in(block: Any, address: str) -> bool:
    if not isinstance(block, Mapping):
        return False
    try:
        ip = ipaddress.ip_address(address)
        if ip not in ipaddress.ip_network(str(block.get("cidr")), strict=False):
            return False
        return not any(ip in ipaddress.ip_network(str(e), strict=False) for e in block.get("except") or [])
    except ValueError:
        return False


def _peer_matches(peer: Mapping[str, Any], policy_ns: str, pod: PodView | None, namespace: str, address: str | None = None) -> bool:
    if address is not None:
        return _address_in(peer.get("ipBlock"), address)
    if "ipBlock" in peer:
        return False
    pod_selector = peer.get("podSelector")
    ns_selector = peer.get("namespaceSelector")
    if ns_selector is not None:
        if not selects(ns_selector, _namespace_labels(namespace)):
            return False
    elif namespace != policy_ns:
        return False
    if pod_selector is None or not (pod_selector.get("matchLabels") or pod_selector.get("matchExpressions")):
        return True  # no podSelector, or `{}`: every pod of the selected namespace(s)
    return pod is not None and selects(pod_selector, pod[1])


def _port_ok(rule_ports: Sequence[Mapping[str, Any]] | None, port: Any, pod_ports: Sequence[Mapping[str, Any]]) -> bool:
    if not rule_ports or port is None:
        return True
    names = {p.get("name"): p.get("containerPort") for p in pod_ports}
    wanted = names.get(port, port) if isinstance(port, str) else port
    for rule_port in rule_ports:
        if str(rule_port.get("protocol", "TCP")).upper() != "TCP":
            continue  # the flows faults care about are TCP (HTTP, PostgreSQL)
        value = rule_port.get("port")
        if value is None:
            return True
        value = names.get(value, value) if isinstance(value, str) else value
        end = rule_port.get("endPort", value)
        if isinstance(value, int) and isinstance(wanted, int) and value <= wanted <= end:
            return True
        if value == wanted:
            return True
    return False


def _direction_allows(
    policies: list[Resource], direction: str, subject: PodView, peer: PodView | None, peer_ns: str,
    port: Any, port_owner: PodView, address: str | None = None,
) -> tuple[bool, str]:
    subject_ns, subject_labels, _ = subject
    isolating = [
        p for p in policies
        if p.namespace == subject_ns and direction in _policy_types(p)
        and selects(dig(p.body, "spec", "podSelector") or {}, subject_labels)
    ]
    if not isolating:
        return True, f"no {direction} policy isolates those pods"
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in isolating:
        for rule in dig(policy.body, "spec", key) or []:
            peers = rule.get(peers_key)
            peer_ok = not peers or any(_peer_matches(x, policy.namespace, peer, peer_ns, address) for x in peers)
            if peer_ok and _port_ok(rule.get("ports"), port, port_owner[2]):
                return True, f"NetworkPolicy/{policy.name} allows it"
    names = ", ".join(p.name for p in isolating)
    return False, f"{direction} to those pods is isolated by {names} and no rule allows this flow"


def flow_allowed(
    policies: list[Resource],
    *,
    to_pod: PodView,
    from_pod: PodView | None = None,
    from_namespace: str | None = None,
    from_address: str | None = None,
    port: Any = None,
) -> Verdict:
    """Is traffic from a pod (or any pod of a namespace, or an address outside the cluster) to
    `to_pod` on `port` allowed?"""
    source_ns = from_pod[0] if from_pod is not None else (from_namespace or "")
    ok, reason = _direction_allows(policies, "Ingress", to_pod, from_pod, source_ns, port, to_pod, from_address)
    if not ok:
        return Verdict(False, reason)
    if from_pod is not None:
        ok, egress_reason = _direction_allows(policies, "Egress", from_pod, to_pod, to_pod[0], port, to_pod)
        if not ok:
            return Verdict(False, egress_reason)
    return Verdict(True, reason)
