"""Points a rendered Envoy bootstrap at the gateway servers' Kubernetes Services.

`modelgw envoy-config` renders one STATIC cluster per gRPC server, all on one
host (127.0.0.1 when MODELGW_HOST is a wildcard): right for `make up`, where
every server runs on the machine. In Kubernetes each server is its own
Deployment behind a headless Service, so this script, run by the edge pod's
second init container, turns each cluster into STRICT_DNS on
`<server>-pods.<namespace>.svc.<cluster domain>`. Envoy then resolves every
ready pod and balances each gRPC call across them (a ClusterIP would pin
Envoy's few long-lived HTTP/2 connections to a few pods).

Usage: python upstreams.py BOOTSTRAP  (POD_NAMESPACE from the downward API;
CLUSTER_DOMAIN defaults to cluster.local). Rewrites BOOTSTRAP in place.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import yaml

# How often Envoy re-resolves a Service: new pods take traffic within this.
DNS_REFRESH = "5s"


def service_host(server: str, namespace: str, domain: str) -> str:
    """The headless Service in front of one server's pods (see k8s/<server>.yaml)."""
    return f"{server}-pods.{namespace}.svc.{domain}"


def point_at_services(bootstrap: dict[str, Any], namespace: str, domain: str) -> dict[str, Any]:
    """Returns bootstrap with every upstream cluster resolved through DNS."""
    for cluster in bootstrap["static_resources"]["clusters"]:
        cluster["type"] = "STRICT_DNS"
        cluster["dns_refresh_rate"] = DNS_REFRESH
        cluster["dns_lookup_family"] = "V4_PREFERRED"
        for group in cluster["load_assignment"]["endpoints"]:
            for endpoint in group["lb_endpoints"]:
                address = endpoint["endpoint"]["address"]["socket_address"]
                address["address"] = service_host(cluster["name"], namespace, domain)
    return bootstrap


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: upstreams.py BOOTSTRAP", file=sys.stderr)
        return 2
    namespace = os.environ.get("POD_NAMESPACE", "")
    if not namespace:
        print("upstreams.py: POD_NAMESPACE is not set", file=sys.stderr)
        return 2
    domain = os.environ.get("CLUSTER_DOMAIN", "") or "cluster.local"
    path = Path(argv[1])
    bootstrap = yaml.safe_load(path.read_text(encoding="utf-8"))
    point_at_services(bootstrap, namespace, domain)
    path.write_text(yaml.safe_dump(bootstrap, sort_keys=False), encoding="utf-8")
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
