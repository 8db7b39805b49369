"""What both locustfiles share: the paper's parameters as command-line options
(also environment variables, and passed from a master to its workers), tokens,
and the record submitted.

Users, spawn rate and run time are locust's own `-u`, `-r`, `-t`.
"""

from __future__ import annotations

import os
import random
from typing import Any

from locust import events

CAFFEINE = {"smiles": "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"}


@events.init_command_line_parser.add_listener  # type: ignore[untyped-decorator]
def _options(parser: Any) -> None:
    parser.add_argument(
        "--model",
        env_var="LOCUST_MODEL",
        default="demo.echo",
        help="model to submit jobs to (the paper: a 1 s consensus model; demo.sleep)",
    )
    parser.add_argument(
        "--record",
        env_var="LOCUST_RECORD",
        default="",
        help='JSON of the one input record (default: caffeine SMILES; demo.sleep: {"seconds": 1})',
    )
    parser.add_argument(
        "--token",
        env_var="MODELGW_TOKEN",
        default="",
        help="bearer token for every user; default: a token per user signed with "
        "the local key of MODELGW_HOME",
    )
    parser.add_argument(
        "--wait-min",
        env_var="LOCUST_WAIT_MIN",
        type=float,
        default=0.0,
        help="seconds each user waits between calls, at least",
    )
    parser.add_argument(
        "--wait-max",
        env_var="LOCUST_WAIT_MAX",
        type=float,
        default=0.0,
        help="... at most (uniform between the two)",
    )
    parser.add_argument(
        "--result-jobs",
        env_var="LOCUST_RESULT_JOBS",
        type=int,
        default=5,
        help="jobs each result-retrieval user submits at start, then reads back",
    )
    parser.add_argument(
        "--grpc-target",
        env_var="LOCUST_GRPC_TARGET",
        default="",
        help="host:port of the execution server (default: --host without its scheme)",
    )
    parser.add_argument(
        "--grpc-channels",
        env_var="LOCUST_GRPC_CHANNELS",
        type=int,
        default=16,
        help="HTTP/2 channels per locust process, shared round-robin by its users",
    )
    parser.add_argument(
        "--call-timeout",
        env_var="LOCUST_CALL_TIMEOUT",
        type=float,
        default=600.0,
        help="seconds before a call counts as failed",
    )


def wait_seconds(options: Any) -> float:
    low, high = options.wait_min, max(options.wait_min, options.wait_max)
    return random.uniform(low, high) if high > 0 else 0.0


def record(options: Any) -> dict[str, Any]:
    import json

    return json.loads(options.record) if options.record else dict(CAFFEINE)


_counter = iter(range(1_000_000_000))


def bearer(options: Any) -> str:
    """The user's token: --token, or one signed locally for a fresh user name."""
    if options.token:
        return str(options.token)
    from gateway.authn import create_token
    from gateway.config import GatewayConfig

    if not os.environ.get("MODELGW_HOME"):
        raise RuntimeError("give --token (or MODELGW_TOKEN), or MODELGW_HOME with the local key")
    auth = GatewayConfig.from_env().auth
    user = f"locust-{os.getpid()}-{next(_counter)}"
    return create_token(auth, user, superuser=False, ttl_s=24 * 3600)
