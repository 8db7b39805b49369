"""The MCP server: building it (tools, cards, authentication) and serving it, over
streamable HTTP (behind Envoy at /mcp) or over stdio (one local user's agent).

Both transports call the gateway through one modelgw.AsyncClient channel; each
call carries the caller's own token (mcpserver.caller).
"""

from __future__ import annotations

import uvicorn
from mcp.server import MCPServer
from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings

from mcpserver import cards, tools
from mcpserver.auth import GatewayTokenVerifier
from mcpserver.caller import Callers
from mcpserver.config import MCP_PATH, MCPConfig
from modelgw import AsyncClient

INSTRUCTIONS = (
    "Model Gateway runs registered scientific models (chemistry, biology) as jobs. "
    "Find a model with search_models (task words), read describe_model for its input "
    "schema and an example record, run it with submit_job, then wait_for_job. "
    "Every call acts as you: you see only the models you may read."
)


def build_server(callers: Callers, config: MCPConfig | None = None) -> MCPServer:
    """The server with every tool and the model cards; with `config`, an OAuth 2
    protected resource verifying the gateway's JWTs (the HTTP transport)."""
    auth: dict[str, object] = {}
    if config is not None:
        auth = {
            "token_verifier": GatewayTokenVerifier(config.auth),
            "auth": AuthSettings(
                issuer_url=config.issuer_url,  # type: ignore[arg-type]  # pydantic parses it
                resource_server_url=config.public_url,  # type: ignore[arg-type]
                required_scopes=[],
                # The verifier checks the gateway's own audience claim.
                validate_token_resource=False,
            ),
        }
    server = MCPServer(
        name="model-gateway",
        title="Model Gateway",
        instructions=INSTRUCTIONS,
        **auth,  # type: ignore[arg-type]
    )
    tools.register(server, callers)
    cards.register(server, callers)
    return server


async def serve_http(config: MCPConfig) -> None:
    """Streamable HTTP at /mcp on config.host:port until SIGINT or SIGTERM."""
    async with AsyncClient(config.target) as client:
        server = build_server(Callers(client), config)
        app = server.streamable_http_app(
            streamable_http_path=MCP_PATH,
            # No session state: any replica can answer any request.
            stateless_http=True,
            transport_security=_transport_security(config),
            host=config.host,
        )
        uv = uvicorn.Config(
            app, host=config.host, port=config.port, log_level="warning", lifespan="on"
        )
        await uvicorn.Server(uv).serve()


async def serve_stdio(config: MCPConfig, token: str) -> None:
    """MCP over stdin/stdout, every call made with `token` (MODELGW_TOKEN)."""
    async with AsyncClient(config.target, token) as client:
        server = build_server(Callers(client, fixed_token=token))
        await server.run_stdio_async()


def _transport_security(config: MCPConfig) -> TransportSecuritySettings:
    if "*" in config.allowed_hosts:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    hosts = config.allowed_hosts
    origins = [f"{scheme}://{host}" for host in hosts for scheme in ("http", "https")]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(hosts),
        allowed_origins=origins,
    )
