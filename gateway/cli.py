"""The `modelgw` command."""

from __future__ import annotations

import argparse
import asyncio
import sys

from gateway import logs
from gateway.config import SERVICE_PORTS, ConfigError, GatewayConfig


def _serve(args: argparse.Namespace) -> int:
    from gateway.server import serve

    config = GatewayConfig.from_env()
    logs.configure(config.log_level, args.service)
    try:
        import uvloop

        uvloop.run(serve(args.service, config))
    except ImportError:
        asyncio.run(serve(args.service, config))
    return 0


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
    from gateway.mesh.supervisor import main_up

    return main_up()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelgw", description="Model Gateway")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run one gRPC server")
    serve.add_argument("service", choices=sorted(SERVICE_PORTS))
    serve.set_defaults(run=_serve)

    token = commands.add_parser("token", help="local bearer tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", help="print a token signed with the local key")
    create.add_argument("--user", required=True, help="the user name (the token's sub claim)")
    create.add_argument("--superuser", action="store_true", help="make the user a superuser")
    create.add_argument("--ttl", type=int, default=24 * 3600, help="lifetime in seconds")
    create.set_defaults(run=_token_create)

    up = commands.add_parser("up", help="run the local mesh in the foreground (Ctrl-C stops it)")
    up.set_defaults(run=_up)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except ConfigError as exc:
        print(f"modelgw: configuration error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
