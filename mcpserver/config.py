"""Settings of the MCP server, read once from MODELGW_* variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from gateway.config import AuthConfig
from settings import SettingsError, process
from settings.env import port as read_port

DEFAULT_PORT = 50054
MCP_PATH = "/mcp"


@dataclass(frozen=True)
class MCPConfig:
    """Where the server listens, the gateway it calls, and how it names itself to clients."""

    host: str
    port: int
    # The gateway's gRPC address (Envoy's port: it routes every service).
    target: str
    # The URL clients reach this server at (through Envoy): the OAuth resource.
    public_url: str
    # The authorization server named in the RFC 9728 metadata.
    issuer_url: str
    auth: AuthConfig
    # Host headers the server accepts (DNS rebinding protection); "*" accepts any.
    allowed_hosts: tuple[str, ...]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> MCPConfig:
        """MODELGW_MCP_PORT, MODELGW_MCP_TARGET, MODELGW_MCP_PUBLIC_URL,
        MODELGW_MCP_ISSUER_URL, MODELGW_MCP_ALLOWED_HOSTS and the MODELGW_JWT_* settings."""
        env = os.environ if env is None else env
        home = process.home(env)
        auth = AuthConfig.from_env(env, home)
        envoy_port = read_port(env, "MODELGW_ENVOY_PORT", 8080)
        public_url = _url(
            env, "MODELGW_MCP_PUBLIC_URL", f"http://127.0.0.1:{envoy_port}{MCP_PATH}"
        )
        origin = public_url.removesuffix(MCP_PATH)
        issuer_default = auth.issuer if auth.issuer.startswith(("http://", "https://")) else origin
        hosts = env.get("MODELGW_MCP_ALLOWED_HOSTS", "127.0.0.1:*,localhost:*,[::1]:*")
        return cls(
            host=process.host(env),
            port=read_port(env, "MODELGW_MCP_PORT", DEFAULT_PORT),
            target=env.get("MODELGW_MCP_TARGET") or f"127.0.0.1:{envoy_port}",
            public_url=public_url,
            issuer_url=_url(env, "MODELGW_MCP_ISSUER_URL", issuer_default),
            auth=auth,
            allowed_hosts=tuple(h.strip() for h in hosts.split(",") if h.strip()),
        )


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name) or default
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"{name} must be an http(s) URL, e.g. {default}; got {value[:100]!r}")
    return value
