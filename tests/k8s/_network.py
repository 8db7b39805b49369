"""NetworkPolicy (networking.k8s.io/v1) read as the API documents it, for the tests
that compute who may reach whom: no cluster, no network plugin.

What it models: pods isolated by the policies that select them, for ingress and
egress separately; a connection passes when the source's egress and the
destination's ingress both allow it; peers by podSelector, namespaceSelector
(both in one peer: AND; separate peers: OR) and ipBlock; ports by number, range
(endPort) or name (resolved on the destination pod's container ports).

What it leaves out: traffic from a pod's own node (the kubelet's probes), which
NetworkPolicy always allows; policies of other namespaces (every endpoint outside
the namespace under test counts as unrestricted). A pod, or a host known only by
its DNS name, counts as inside every ipBlock: an ipBlock rule can make a "may not
reach" check fail, never wrongly pass.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class Endpoint:
    """One end of a connection: a pod (with a namespace) or an address outside the cluster."""

    name: str
    namespace: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    # The pod's named container ports, which a policy may refer to by name.
    ports: Mapping[str, int] = field(default_factory=dict)
    # An IP address, when known; None for pods and for hosts known by name.
    address: str | None = None


def selects(selector: Obj, labels: Mapping[str, str]) -> bool:
    """A metav1.LabelSelector; the empty selector selects everything."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    return all(_expression(e, labels) for e in selector.get("matchExpressions", []))


def _expression(expression: Obj, labels: Mapping[str, str]) -> bool:
    key, operator = expression["key"], expression["operator"]
    values = expression.get("values", [])
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    raise ValueError(f"unknown selector operator {operator}")


def policy_types(policy: Obj) -> list[str]:
    """spec.policyTypes, or its documented default."""
    spec = policy["spec"]
    default = ["Ingress", *(["Egress"] if "egress" in spec else [])]
    types: list[str] = spec.get("policyTypes", default)
    return types


def _in_block(block: Obj, address: str | None) -> bool:
    if address is None:
        return True
    ip = ipaddress.ip_address(address)
    if ip not in ipaddress.ip_network(block["cidr"]):
        return False
    return not any(ip in ipaddress.ip_network(c) for c in block.get("except", []))


def _port_matches(entry: Obj, target: Endpoint, port: int, protocol: str) -> bool:
    if entry.get("protocol", "TCP") != protocol:
        return False
    if "port" not in entry:
        return True
    value = entry["port"]
    if isinstance(value, str):
        return target.ports.get(value) == port
    first: int = value
    last: int = entry.get("endPort", first)
    return first <= port <= last


@dataclass(frozen=True)
class Connection:
    source: Endpoint
    target: Endpoint
    port: int
    protocol: str


@dataclass(frozen=True)
class Cluster:
    """The policies of one namespace, and the labels of every namespace."""

    namespace: str
    policies: Sequence[Obj]
    namespaces: Mapping[str, Mapping[str, str]]

    def allows(self, source: Endpoint, target: Endpoint, port: int, protocol: str = "TCP") -> bool:
        """Whether source may open a connection to target's port."""
        connection = Connection(source, target, port, protocol)
        return self._admitted(connection, "Egress") and self._admitted(connection, "Ingress")

    def isolated(self, pod: Endpoint, direction: str) -> bool:
        """Whether some policy selects pod for direction ("Ingress" or "Egress")."""
        return bool(self._selecting(pod, direction))

    def _selecting(self, pod: Endpoint, direction: str) -> list[Obj]:
        if pod.namespace != self.namespace:
            return []
        return [
            p
            for p in self.policies
            if direction in policy_types(p) and selects(p["spec"]["podSelector"], pod.labels)
        ]

    def _admitted(self, c: Connection, direction: str) -> bool:
        """Egress: by the source's policies; ingress: by the target's."""
        pod, peers_key, other = (
            (c.source, "to", c.target) if direction == "Egress" else (c.target, "from", c.source)
        )
        selecting = self._selecting(pod, direction)
        if not selecting:
            return True
        return any(
            self._peers_match(rule.get(peers_key), other)
            and self._ports_match(rule.get("ports"), c.target, c.port, c.protocol)
            for policy in selecting
            for rule in policy["spec"].get(direction.lower(), [])
        )

    def _peers_match(self, peers: list[Obj] | None, other: Endpoint) -> bool:
        return not peers or any(self._peer_matches(peer, other) for peer in peers)

    def _peer_matches(self, peer: Obj, other: Endpoint) -> bool:
        if "ipBlock" in peer:
            return _in_block(peer["ipBlock"], other.address)
        if other.namespace is None:
            return False
        if "namespaceSelector" in peer:
            in_namespace = selects(peer["namespaceSelector"], self.namespaces[other.namespace])
        else:
            in_namespace = other.namespace == self.namespace
        return in_namespace and selects(peer.get("podSelector", {}), other.labels)

    @staticmethod
    def _ports_match(ports: list[Obj] | None, target: Endpoint, port: int, protocol: str) -> bool:
        return not ports or any(_port_matches(p, target, port, protocol) for p in ports)
