"""The `modelgw` command: the parser of its subcommands, and `main`.

Each subcommand lives in the cli module of the process it builds: serve, worker,
scheduler, audit, tokens (`token`, `builtins`), local (`up`, `envoy-config`) and
mcp (`mcp`); the user commands models, jobs and login run on the modelgw client.
"""

from __future__ import annotations

import argparse
import sys

from cli import audit, jobs, local, login, mcp, models, scheduler, serve, tokens, worker
from settings import SettingsError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelgw", description="Model Gateway")
    commands = parser.add_subparsers(dest="command", required=True)
    serve.add_command(commands)
    tokens.add_commands(commands)
    worker.add_command(commands)
    scheduler.add_command(commands)
    audit.add_command(commands)
    local.add_commands(commands)
    models.add_command(commands)
    jobs.add_command(commands)
    login.add_command(commands)
    mcp.add_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the subcommand argv names; exit code 2 on a configuration error."""
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except SettingsError as exc:  # any MODELGW_* variable or flag that cannot be used
        print(f"modelgw: configuration error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
