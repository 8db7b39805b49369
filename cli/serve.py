"""`modelgw serve SERVICE`: one gRPC server, or a prefork parent of several."""

from __future__ import annotations

import argparse
import asyncio
import os

from cli._run import Commands, positive
from gateway.config import SERVICE_PORTS, GatewayConfig
from settings import logs


def add_command(commands: Commands) -> None:
    """Adds `serve`."""
    serve = commands.add_parser("serve", help="run one gRPC server")
    serve.add_argument("service", choices=sorted(SERVICE_PORTS))
    serve.add_argument(
        "--processes",
        type=positive,
        help="server processes sharing the port (SO_REUSEPORT); "
        "default MODELGW_SERVER_PROCESSES, else 1",
    )
    serve.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Serves args.service until SIGTERM; with several processes, as their prefork parent."""
    config = GatewayConfig.from_env()
    logs.configure(config.log_level, args.service)
    processes = args.processes or config.server_processes
    if processes > 1 and config.prefork_child is None:
        from gateway.prefork import run_prefork, service_spec

        return run_prefork(service_spec(args.service, config, processes))
    if config.prefork_child is not None:
        from gateway.prefork import bind_to_parent

        bind_to_parent(os.environ)
    from gateway.server import serve

    try:
        import uvloop

        uvloop.run(serve(args.service, config))
    except ImportError:
        asyncio.run(serve(args.service, config))
    return 0
