"""The `modelgw` command."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from gateway import logs
from gateway.config import SERVICE_PORTS, GatewayConfig
from settings import SettingsError


def _serve(args: argparse.Namespace) -> int:
    config = GatewayConfig.from_env()
    logs.configure(config.log_level, args.service)
    processes = args.processes or config.server_processes
    if processes > 1 and config.prefork_child is None:
        from gateway.prefork import run_prefork, service_spec

        return run_prefork(service_spec(args.service, config, processes))
    from gateway.server import serve

    try:
        import uvloop

        uvloop.run(serve(args.service, config))
    except ImportError:
        asyncio.run(serve(args.service, config))
    return 0


def _run_until_signalled(service: str, work: Callable[[asyncio.Event], Awaitable[None]]) -> int:
    """Runs work(stop) on uvloop until SIGTERM or SIGINT sets stop."""
    import signal

    import uvloop

    from gateway.metrics import serving_metrics

    config = GatewayConfig.from_env()
    logs.configure(config.log_level, service)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await work(stop)

    with serving_metrics(config.host, config.metrics_ports[service]):
        uvloop.run(main())
    return 0


def _worker(args: argparse.Namespace) -> int:
    from backendspec import BackendPolicy
    from workers.backends import SubprocessLimits
    from workers.backends.sandbox import make_undumpable
    from workers.settings import WorkerSettings
    from workers.worker import Worker

    # Before anything else: a model subprocess runs as this user and must not read
    # this process's environment or memory through /proc, nor ptrace it.
    make_undumpable()
    config = GatewayConfig.from_env()
    models = [m.strip() for m in (args.models or "").split(",") if m.strip()]
    if args.builtins:
        from gateway.admin.catalog import worker_models

        models += [m for m in worker_models() if m not in models]
    if not models and not args.consensus:
        print(
            "modelgw worker: give --models NAME[,NAME...], --builtins and/or --consensus",
            file=sys.stderr,
        )
        return 2
    settings = WorkerSettings(
        models=tuple(models),
        concurrency=args.concurrency,
        model_processes=args.model_processes,
        drain_grace_s=args.drain_grace,
        consensus=args.consensus,
        policy=BackendPolicy.from_env(callables=args.allow_callables, commands=args.allow_commands),
        limits=SubprocessLimits.from_env(
            memory_mb=args.subprocess_memory_mb,
            cpu_seconds=args.subprocess_cpu_seconds,
            file_mb=args.subprocess_file_mb,
        ),
    )

    async def work(stop: asyncio.Event) -> None:
        await Worker(config.redis, config.queue, settings).run(stop)

    return _run_until_signalled("worker", work)


def _builtins_register(args: argparse.Namespace) -> int:
    """Registers the built-in models through the registry, as a superuser, once.

    A step of its own, run with the platform's credentials (`modelgw up` runs it
    before the worker starts): the worker, which runs owners' models, never holds
    a superuser token or the key that signs one.
    """
    from gateway.admin.register import register_builtins

    config = GatewayConfig.from_env()
    logs.configure(config.log_level, "builtins")
    if args.token_file:
        token = args.token_file.read_text().strip()
    elif config.auth.jwks_url:
        print(
            "modelgw builtins register: tokens are verified with MODELGW_JWT_JWKS_URL, so "
            "no local key can sign one: pass --token-file with a superuser's token",
            file=sys.stderr,
        )
        return 2
    else:
        from gateway.authn import create_token

        token = create_token(config.auth, "modelgw-builtins", superuser=True, ttl_s=300)
    created = asyncio.run(register_builtins(args.registry or config.address("registry"), token))
    print(f"registered {len(created)} built-in models: {', '.join(created) or 'none new'}")
    return 0


def _scheduler(args: argparse.Namespace) -> int:
    from scheduler.connection import connect
    from scheduler.duties import run_duties
    from scheduler.monitor import run_gauges
    from workers.settings import WorkerSettings
    from workers.worker import Worker

    config = GatewayConfig.from_env()

    async def work(stop: asyncio.Event) -> None:
        # The scheduler also runs consensus jobs: fanning out to the children
        # and combining their results (see workers/consensus_runner.py).
        consensus = Worker(
            config.redis,
            config.queue,
            WorkerSettings(models=(), concurrency=args.consensus_concurrency, consensus=True),
        )
        client = connect(config.redis, max_connections=4)
        try:
            await asyncio.gather(
                run_duties(client, config.queue, stop, args.interval),
                consensus.run(stop),
                run_gauges(client, stop, live_ms=config.admin.worker_live_ms),
            )
        finally:
            await client.aclose()

    return _run_until_signalled("scheduler", work)


def _audit(args: argparse.Namespace) -> int:
    import os
    import socket

    from audit.shipper import Shipper
    from audit.sink import LocalSink, S3Sink, Sink
    from audit.streams import AuditStreams
    from gateway.registry.database import migrate, open_pool
    from scheduler.connection import connect

    config = GatewayConfig.from_env()
    audit = config.audit
    sink: Sink = (
        S3Sink(audit.bucket, audit.endpoint_url) if audit.bucket else LocalSink(audit.local_root)
    )

    async def work(stop: asyncio.Event) -> None:
        client = connect(config.redis, max_connections=4)
        pool = await open_pool(
            config.database_url, min_size=1, max_size=2, timeout_s=config.database_timeout_s
        )
        try:
            await migrate(pool)  # the outbox table must exist before the first read
            streams = AuditStreams(client, f"{socket.gethostname()}-{os.getpid()}")
            await Shipper(audit, streams, pool, sink).run(stop)
        finally:
            await pool.close()
            await client.aclose()

    return _run_until_signalled("audit", work)


def _token_create(args: argparse.Namespace) -> int:
    from gateway.authn import create_token

    config = GatewayConfig.from_env()
    try:
        token = create_token(config.auth, args.user, superuser=args.superuser, ttl_s=args.ttl)
    except ValueError as exc:
        print(f"modelgw token create: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


def _up(args: argparse.Namespace) -> int:
    from mesh.supervisor import main_up

    return main_up()


def _envoy_config(args: argparse.Namespace) -> int:
    from gateway.edge.config import EdgeConfig
    from gateway.edge.envoy_config import render

    rendered = render(EdgeConfig.from_env())
    print(rendered.bootstrap)
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelgw", description="Model Gateway")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run one gRPC server")
    serve.add_argument("service", choices=sorted(SERVICE_PORTS))
    serve.add_argument(
        "--processes",
        type=_positive,
        help="server processes sharing the port (SO_REUSEPORT); "
        "default MODELGW_SERVER_PROCESSES, else 1",
    )
    serve.set_defaults(run=_serve)

    token = commands.add_parser("token", help="local bearer tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", help="print a token signed with the local key")
    create.add_argument("--user", required=True, help="the user name (the token's sub claim)")
    create.add_argument("--superuser", action="store_true", help="make the user a superuser")
    create.add_argument("--ttl", type=int, default=24 * 3600, help="lifetime in seconds")
    create.set_defaults(run=_token_create)

    worker = commands.add_parser("worker", help="run jobs of the given models")
    worker.add_argument("--models", default="", help="comma-separated model names")
    worker.add_argument(
        "--builtins",
        action="store_true",
        help="also run the built-in models (`modelgw builtins register` registers them)",
    )
    worker.add_argument(
        "--allow-callables",
        metavar="PREFIXES",
        help="comma-separated python module prefixes this worker runs; replaces "
        "MODELGW_ALLOWED_CALLABLES (default workers.builtin)",
    )
    worker.add_argument(
        "--allow-commands",
        metavar="PATHS",
        help="comma-separated absolute executable paths this worker runs; replaces "
        "MODELGW_ALLOWED_COMMANDS (default none)",
    )
    worker.add_argument(
        "--subprocess-memory-mb",
        type=_positive,
        help="address space of a model subprocess; replaces MODELGW_SUBPROCESS_MEMORY_MB (2048)",
    )
    worker.add_argument(
        "--subprocess-cpu-seconds",
        type=_positive,
        help="CPU seconds of a model subprocess; replaces MODELGW_SUBPROCESS_CPU_SECONDS "
        "(default: the job's timeout)",
    )
    worker.add_argument(
        "--subprocess-file-mb",
        type=_positive,
        help="largest file a model subprocess writes; replaces MODELGW_SUBPROCESS_FILE_MB (1024)",
    )
    worker.add_argument(
        "--consensus",
        action="store_true",
        help="also run consensus jobs, of every consensus model, found as they appear",
    )
    worker.add_argument("--concurrency", type=_positive, default=16, help="jobs run at once")
    worker.add_argument(
        "--model-processes",
        type=_positive,
        help="python model processes, each running one batch at a time (default: the "
        "concurrency); fewer queue python batches for a free one",
    )
    worker.add_argument(
        "--drain-grace", type=float, default=30.0, help="seconds running jobs get on SIGTERM"
    )
    worker.set_defaults(run=_worker)

    builtins = commands.add_parser("builtins", help="the built-in models")
    builtins_commands = builtins.add_subparsers(dest="builtins_command", required=True)
    register = builtins_commands.add_parser(
        "register",
        help="register the built-in models (public) through the registry, as a superuser; "
        "models already there are left alone",
    )
    register.add_argument(
        "--registry", help="host:port of the registry (default MODELGW_HOST:MODELGW_REGISTRY_PORT)"
    )
    register.add_argument(
        "--token-file",
        type=Path,
        help="a file holding a superuser's token (default: one signed with the local key)",
    )
    register.set_defaults(run=_builtins_register)

    scheduler = commands.add_parser("scheduler", help="run the job protocol's background duties")
    scheduler.add_argument("--interval", type=float, default=30.0, help="seconds between rounds")
    scheduler.add_argument(
        "--consensus-concurrency", type=int, default=256, help="consensus jobs run at once"
    )
    scheduler.set_defaults(run=_scheduler)

    audit = commands.add_parser(
        "audit", help="ship the audit log (job events, registry and admin changes) to S3"
    )
    audit.set_defaults(run=_audit)

    up = commands.add_parser("up", help="run the local mesh in the foreground (Ctrl-C stops it)")
    up.set_defaults(run=_up)

    envoy_config = commands.add_parser(
        "envoy-config",
        help="render Envoy's configuration, descriptor set, OpenAPI document and docs page "
        "under MODELGW_HOME/envoy; prints the bootstrap's path",
    )
    envoy_config.set_defaults(run=_envoy_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except SettingsError as exc:  # ConfigError, and the workers' allow-list and limits
        print(f"modelgw: configuration error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
