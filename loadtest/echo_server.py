"""The ceiling: a bare grpc.aio server with one unary method that returns its request.

Same server options, concurrency limit and event loop (uvloop) as the gateway's
servers (gateway.server.server_options), no interceptor, no Redis: what one
Python gRPC process can answer on this machine. With `--processes N` it runs N
such processes sharing the port, as the gateway's prefork mode (gateway.prefork)
does, so that the ceiling matches the gateway's process count.

    python -m loadtest.echo_server PORT [--processes N]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import grpc
import uvloop

from gateway.config import GatewayConfig
from gateway.prefork import PreforkSpec, run_prefork
from gateway.server import server_options
from settings import logs


async def _echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return request


def _handler() -> grpc.GenericRpcHandler:
    # No serializers: the method sees and returns raw bytes, so no proto is needed.
    return grpc.method_handlers_generic_handler(
        "bench.Echo", {"Call": grpc.unary_unary_rpc_method_handler(_echo)}
    )


async def serve(port: int) -> None:
    config = GatewayConfig.from_env()
    server = grpc.aio.server(
        options=server_options(config), maximum_concurrent_rpcs=config.max_concurrent_rpcs
    )
    server.add_generic_rpc_handlers((_handler(),))
    if server.add_insecure_port(f"127.0.0.1:{port}") == 0:
        raise OSError(f"cannot listen on 127.0.0.1:{port}")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"echo serving on 127.0.0.1:{port}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.echo_server")
    parser.add_argument("port", type=int)
    parser.add_argument("--processes", type=int, default=1, help="processes sharing the port")
    args = parser.parse_args(argv)
    config = GatewayConfig.from_env()
    if args.processes > 1 and config.prefork_child is None:
        logs.configure(config.log_level, "echo")
        child = (sys.executable, "-m", "loadtest.echo_server", str(args.port))
        return run_prefork(PreforkSpec("echo", child, "127.0.0.1", args.port, args.processes, 1.0))
    uvloop.run(serve(args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
