"""The ceiling: a bare grpc.aio server with one unary method that returns its request.

Same server options, concurrency limit and event loop (uvloop) as the gateway's
servers (gateway.server.server_options), no interceptor, no Redis: what one
Python gRPC process can answer on this machine. `python -m loadtest.echo_server PORT`.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import grpc
import uvloop

from gateway.config import GatewayConfig
from gateway.server import server_options


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


if __name__ == "__main__":
    uvloop.run(serve(int(sys.argv[1])))
