"""The rooms of the code, read from its own syntax trees: who imports whom, who speaks
the Redis job protocol, and how large a module or a function may grow.

docs/architecture.md draws the rooms; these checks keep the drawing true.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "audit", "authz", "backendspec", "cli", "consensus", "gateway", "mcpserver", "mesh", "modelgw",
    "rollouts", "scheduler", "settings", "workers",
)  # fmt: skip
# The redis-py calls of the job protocol: streams, sorted sets, hashes, scripts,
# pub/sub and pipelines. Only scheduler/ sends them.
JOB_PROTOCOL_CALLS = frozenset(
    {
        "xadd", "xread", "xreadgroup", "xautoclaim", "xclaim", "xack", "xdel", "xtrim",
        "xpending", "xpending_range", "xgroup_create", "xgroup_createconsumer",
        "xinfo_consumers", "xinfo_groups", "xinfo_stream", "xlen", "xrange", "xrevrange",
        "eval", "evalsha", "fcall", "register_script", "script_load",
        "zadd", "zrem", "zrange", "zrangebyscore", "zrevrange", "zrank", "zcard", "zcount",
        "zscore", "zremrangebyscore", "hset", "hget", "hgetall", "hmget", "hdel", "hincrby",
        "expire", "pexpire", "publish", "lpush", "rpush", "blpop", "lrange", "llen",
        "scan_iter", "pipeline",
    }
)  # fmt: skip
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules(*roots: str) -> Iterator[tuple[Path, ast.Module]]:
    for root in roots:
        for path in sorted((ROOT / root).rglob("*.py")):
            yield path.relative_to(ROOT), ast.parse(path.read_text(), str(path))


def _imported(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Every module an import statement names, at any depth (function-level too)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module


def _imports_of(package: str) -> set[tuple[str, str]]:
    """(file:line, first-party package) for each first-party import in package."""
    return {
        (f"{path}:{line}", name.split(".")[0])
        for path, tree in _modules(package)
        for line, name in _imported(tree)
        if name.split(".")[0] in PACKAGES and name.split(".")[0] != package
    }


# Which first-party packages each may import: data flows one way, from the leaves
# (settings, authz, consensus, backendspec, scheduler) to the processes built of
# them, and cli, the composition root, imports what it builds.
ALLOWED_IMPORTS = {
    "settings": set(),
    # The client: only the generated protos, grpc and google.*.
    "modelgw": set(),
    "authz": set(),
    "consensus": set(),
    # Rollout logic is pure: strategies, guardrails, the traffic split.
    "rollouts": {"scheduler"},
    "backendspec": {"settings"},
    "scheduler": {"settings"},
    "audit": {"scheduler", "settings"},
    "workers": {"backendspec", "consensus", "scheduler", "settings"},
    # prefork's children are managed with mesh/process.py, the mesh's own helpers.
    "gateway": {
        "audit", "authz", "backendspec", "consensus", "mesh", "rollouts", "scheduler", "settings",
    },
    "mesh": {"backendspec", "scheduler", "settings", "workers"},
    # The MCP server is built on the client library; it verifies tokens as the gateway does.
    "mcpserver": {"gateway", "modelgw", "settings"},
    "cli": set(PACKAGES) - {"cli"},
}


@pytest.mark.parametrize("package", sorted(ALLOWED_IMPORTS))
def test_each_package_imports_only_what_its_room_may(package: str) -> None:
    wrong = sorted(
        (where, name) for where, name in _imports_of(package) if name not in ALLOWED_IMPORTS[package]
    )
    assert not wrong, f"{package} imports outside its room: {wrong}"


def test_the_gateway_imports_nothing_from_the_workers() -> None:
    assert not {where for where, name in _imports_of("gateway") if name == "workers"}


def test_only_the_scheduler_sends_job_protocol_commands() -> None:
    others = [p for p in PACKAGES if p != "scheduler"]
    calls = [
        f"{path}:{node.lineno} {node.func.attr}"
        for path, tree in _modules(*others)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in JOB_PROTOCOL_CALLS
    ]
    assert not calls, f"Redis job-protocol calls outside scheduler/: {calls}"


def test_modules_and_functions_stay_small() -> None:
    too_long = []
    for path, tree in _modules(*PACKAGES, "tests"):
        lines = len((ROOT / path).read_text().splitlines())
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{path}: {lines} lines")
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{path}:{node.lineno} {node.name}: {length} lines")
    assert not too_long, too_long


def test_the_checker_sees_what_it_checks() -> None:
    # A check over an empty tree passes whatever the code does.
    assert len(list(_modules(*PACKAGES))) > 100
    assert ("x:1", "workers") in {("x:1", n.split(".")[0]) for _, n in _imported(
        ast.parse("def f():\n    from workers.worker import Worker\n")
    )}
