"""`modelgw login`, and how the user commands (models, jobs) reach the gateway:
the target, the stored token, and errors turned into a message and an exit code.

The token is kept in $MODELGW_CONFIG_DIR/token (default ~/.config/modelgw/token),
readable by its owner only; MODELGW_TOKEN, when set, wins over it.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from cli._run import Commands

if TYPE_CHECKING:
    import modelgw

TOKEN_FILE = "token"
MAX_TOKEN = 16_384


def add_command(commands: Commands) -> None:
    """Adds `login`."""
    login = commands.add_parser(
        "login", help="store a bearer token for the models and jobs commands"
    )
    login.add_argument("--token", required=True, help="the token; '-' reads it from standard input")
    login.set_defaults(run=run_login)


def add_target_option(parser: argparse.ArgumentParser) -> None:
    """Adds --target (default MODELGW_TARGET, else Envoy at 127.0.0.1:8080)."""
    parser.add_argument(
        "--target",
        default=None,
        help="host:port of the gateway (default MODELGW_TARGET, else 127.0.0.1:8080)",
    )


def config_dir() -> Path:
    """$MODELGW_CONFIG_DIR, else ~/.config/modelgw."""
    configured = os.environ.get("MODELGW_CONFIG_DIR")
    return Path(configured) if configured else Path.home() / ".config" / "modelgw"


def stored_token() -> str | None:
    """MODELGW_TOKEN, else the token `modelgw login` stored, else None."""
    token = os.environ.get("MODELGW_TOKEN")
    if token:
        return token
    try:
        return (config_dir() / TOKEN_FILE).read_text().strip() or None
    except FileNotFoundError:
        return None


def save_token(token: str) -> Path:
    """Writes the token to the config directory (0700) as a file only its owner reads (0600)."""
    token = token.strip()
    if not token or len(token) > MAX_TOKEN or any(c.isspace() or c == "\0" for c in token):
        raise ValueError("the token must be one line of printable characters without spaces")
    folder = config_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    path = folder / TOKEN_FILE
    temporary = folder / f".{TOKEN_FILE}.{os.getpid()}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(token + "\n")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return path


def run_login(args: argparse.Namespace) -> int:
    """Stores args.token (or standard input's first line for '-')."""
    token = sys.stdin.readline() if args.token == "-" else args.token
    try:
        path = save_token(token)
    except (ValueError, OSError) as exc:
        print(f"modelgw login: {exc}", file=sys.stderr)
        return 2
    print(f"token stored in {path}", file=sys.stderr)
    return 0


def reports_errors(
    run: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    """Wraps a command so that a failure prints one line and exits non-zero, never a
    traceback: 2 for bad input (the caller's to fix), 1 otherwise."""
    from modelgw import GatewayError, InvalidInput

    @functools.wraps(run)
    def guarded(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except InvalidInput as exc:
            return _fail(args, str(exc), 2)
        except GatewayError as exc:
            return _fail(args, f"{exc} ({exc.code.name})", 1)
        except (ValueError, OSError, UnicodeDecodeError) as exc:
            return _fail(args, str(exc), 2)
        except TimeoutError as exc:
            return _fail(args, str(exc) or "timed out", 1)
        except KeyboardInterrupt:
            return _fail(args, "interrupted", 130)

    return guarded


def _fail(args: argparse.Namespace, message: str, code: int) -> int:
    print(f"modelgw {args.command}: {message}", file=sys.stderr)
    return code


def client(args: argparse.Namespace) -> modelgw.Client:
    """A client for args.target with the stored token."""
    import modelgw

    return modelgw.Client(args.target, stored_token())
