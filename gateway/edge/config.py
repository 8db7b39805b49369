"""Settings of the REST edge, read once from MODELGW_* variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.config import GatewayConfig
from gateway.edge.console_signin import OidcSignIn
from settings.env import port as read_port

# gRPC service -> the gateway server that hosts it.
SERVICE_HOSTS = {
    "modelgateway.v1.RegistryService": "registry",
    "modelgateway.v1.ExecutionService": "execution",
    "modelgateway.v1.AdminService": "admin",
    "modelgateway.v1.RolloutService": "admin",
}
# Addresses that mean "every interface" when bound, but cannot be connected to.
_WILDCARDS = {"", "0.0.0.0", "::", "[::]"}


@dataclass(frozen=True)
class EdgeConfig:
    """Where Envoy listens, where the gRPC servers are, and where rendered files go."""

    home: Path
    host: str
    port: int
    admin_port: int
    upstream_host: str
    upstream_ports: Mapping[str, int]
    # The MCP server (`modelgw mcp`), served at /mcp.
    mcp_port: int
    # Request body limits: SubmitJob carries the records, so it may be as large as
    # a gRPC message; every other call is small.
    max_message_bytes: int
    max_small_body_bytes: int
    # The token claim that marks a superuser: the console shows superuser controls by it.
    superuser_claim: str = "superuser"
    # The console's single sign-on (MODELGW_CONSOLE_OIDC_*); None: tokens are pasted.
    oidc: OidcSignIn | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> EdgeConfig:
        """MODELGW_ENVOY_PORT and MODELGW_ENVOY_ADMIN_PORT, and the servers' addresses
        (MODELGW_MCP_PORT: the MCP server's)."""
        env = os.environ if env is None else env
        gateway = GatewayConfig.from_env(env)
        return cls(
            home=gateway.home,
            host=gateway.host,
            port=read_port(env, "MODELGW_ENVOY_PORT", 8080),
            admin_port=read_port(env, "MODELGW_ENVOY_ADMIN_PORT", 9901),
            upstream_host="127.0.0.1" if gateway.host in _WILDCARDS else gateway.host,
            upstream_ports=dict(gateway.ports),
            mcp_port=read_port(env, "MODELGW_MCP_PORT", 50054),
            max_message_bytes=gateway.max_message_bytes,
            max_small_body_bytes=1024 * 1024,
            superuser_claim=gateway.auth.superuser_claim,
            oidc=OidcSignIn.from_env(env),
        )

    @property
    def out_dir(self) -> Path:
        """Where `modelgw envoy-config` writes envoy.yaml and what it refers to."""
        return self.home / "envoy"
