"""`modelgw token create` and `modelgw builtins register`: what is done with the
platform's signing key."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from cli._run import Commands
from gateway.config import GatewayConfig


def add_commands(commands: Commands) -> None:
    """Adds `token create` and `builtins register`."""
    token = commands.add_parser("token", help="local bearer tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", help="print a token signed with the local key")
    create.add_argument("--user", required=True, help="the user name (the token's sub claim)")
    create.add_argument("--superuser", action="store_true", help="make the user a superuser")
    create.add_argument("--ttl", type=int, default=24 * 3600, help="lifetime in seconds")
    create.set_defaults(run=create_token)

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
    register.set_defaults(run=register_builtins)


def create_token(args: argparse.Namespace) -> int:
    """Prints a token for args.user signed with the local key."""
    from gateway.authn import LifetimeError, UserNameError, create_token

    config = GatewayConfig.from_env()
    try:
        token = create_token(config.auth, args.user, superuser=args.superuser, ttl_s=args.ttl)
    except (UserNameError, LifetimeError) as exc:
        print(f"modelgw token create: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


def register_builtins(args: argparse.Namespace) -> int:
    """Registers the built-in models through the registry, as a superuser, once.

    A step of its own, run with the platform's credentials (`modelgw up` runs it
    before the worker starts): the worker, which runs owners' models, never holds
    a superuser token or the key that signs one.
    """
    from gateway.admin.register import register_builtins
    from settings import logs

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
