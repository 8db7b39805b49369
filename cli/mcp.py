"""`modelgw mcp`: the MCP server for agents, over streamable HTTP (behind Envoy at
/mcp) or, with --stdio, over stdin/stdout for a desktop agent with MODELGW_TOKEN."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from cli._run import Commands


def add_command(commands: Commands) -> None:
    """Adds `mcp`."""
    mcp = commands.add_parser(
        "mcp", help="serve the models and jobs to agents (Model Context Protocol)"
    )
    mcp.add_argument(
        "--stdio",
        action="store_true",
        help="serve one agent over stdin/stdout, every call with the token in MODELGW_TOKEN",
    )
    mcp.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Serves until SIGTERM (HTTP) or until the agent closes stdin (stdio)."""
    from mcpserver.config import MCPConfig
    from mcpserver.server import serve_http, serve_stdio
    from settings import logs, process

    config = MCPConfig.from_env()
    # Log lines go to stderr: over stdio, stdout carries the protocol alone.
    logs.configure(process.log_level(os.environ), "mcp")
    if not args.stdio:
        asyncio.run(serve_http(config))
        return 0
    token = os.environ.get("MODELGW_TOKEN", "").strip()
    if not token:
        print(
            "modelgw mcp --stdio: set MODELGW_TOKEN to your bearer token "
            "(`modelgw token create --user NAME` signs a local one)",
            file=sys.stderr,
        )
        return 2
    asyncio.run(serve_stdio(config, token))
    return 0
