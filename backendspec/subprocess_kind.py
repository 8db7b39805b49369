"""The subprocess kind's config, and what an owner may put in it.

  {"command": ["/abs/prog", "arg", ...], "env": {"NAME": "value"},
   "limits": {"memory_mb": N, "cpu_seconds": N, "file_mb": N}}  (env and limits optional)

The worker runs the command in a sandbox (workers/backends/sandbox.py) whose
environment the owner's `env` joins: so `env` may not set what the sandbox sets,
nor what would turn an allowed tool into a program of the owner's choosing.
"""

from __future__ import annotations

import posixpath
import re

from backendspec.base import BackendSpecError, reject_unknown_keys, require_mapping

LIMIT_KEYS = ("memory_mb", "cpu_seconds", "file_mb")
SUBPROCESS_CONFIG_KEYS = ("command", "env", "limits")
_NO_CWD = (
    "'cwd' is not accepted: every run gets a fresh private working directory "
    "(HOME and TMPDIR point at it); ship files the tool needs beside the program"
)

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The sandbox sets these itself.
_RESERVED = frozenset({"PATH", "HOME", "TMPDIR"})
# Variables that change how a program is loaded or what code an interpreter runs:
# with them an owner could turn an allowed tool into a program of their own.
_DENIED_PREFIXES = ("LD_", "DYLD_", "PYTHON", "MODELGW_", "GCONV_", "MALLOC_", "BASH_FUNC_")
_DENIED = frozenset(
    {
        "IFS", "ENV", "BASH_ENV", "SHELLOPTS", "PS4", "GLIBC_TUNABLES", "LOCPATH", "NLSPATH",
        "HOSTALIASES", "RES_OPTIONS", "LOCALDOMAIN", "PERL5LIB", "PERL5OPT", "PERLLIB",
        "RUBYLIB", "RUBYOPT", "NODE_OPTIONS", "NODE_PATH", "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH", "R_PROFILE", "R_PROFILE_USER",
        "R_ENVIRON", "R_ENVIRON_USER", "R_LIBS", "R_LIBS_USER", "OPENSSL_CONF",
        "OPENSSL_ENGINES", "LUA_INIT", "LUA_PATH", "LUA_CPATH", "TCLLIBPATH",
    }
)  # fmt: skip
OWNER_ENV_RULE = (
    "a version's env may not set PATH, HOME or TMPDIR (the sandbox sets them), nor "
    f"variables that change how a program loads or what an interpreter runs: names "
    f"starting {', '.join(_DENIED_PREFIXES)} and {', '.join(sorted(_DENIED))}"
)


def check_subprocess_config(config: object) -> None:
    checked = require_mapping(config)
    if "cwd" in checked:
        raise BackendSpecError(f"subprocess backend config key {_NO_CWD}")
    reject_unknown_keys("subprocess", checked, SUBPROCESS_CONFIG_KEYS)
    command = checked.get("command")
    if (
        not isinstance(command, list)
        or not command
        or not all(isinstance(part, str) for part in command)
        or not command[0]
    ):
        raise BackendSpecError(
            "subprocess backend config key 'command' is required: a non-empty list of "
            "strings, program first, for example ['/opt/tools/pka', '--json']"
        )
    problem = executable_problem(command[0])
    if problem:
        raise BackendSpecError(f"subprocess backend command[0] {command[0]!r} {problem}")
    if any("\x00" in part for part in command):
        raise BackendSpecError("subprocess backend command contains a NUL character")
    _check_env(checked.get("env", {}))
    if "limits" in checked and (problem := limits_problem(checked["limits"])):
        raise BackendSpecError(f"subprocess backend config key {problem}")


def executable_problem(path: str) -> str | None:
    """Why path cannot be a command[0] (or an allow-list entry), or None."""
    if "\x00" in path:
        return "contains a NUL character"
    if not posixpath.isabs(path):
        return "is not an absolute path"
    if posixpath.normpath(path) != path:
        return "must be written plainly: no '.' or '..' segments, repeated or trailing '/'"
    return None


def owner_env_problem(name: str) -> str | None:
    """Why a version's env may not set this variable, or None."""
    if not _ENV_NAME.fullmatch(name):
        return f"{name!r} is not a variable name (letters, digits and '_', not first a digit)"
    if name in _RESERVED or name in _DENIED or name.startswith(_DENIED_PREFIXES):
        return f"{name} may not be set: {OWNER_ENV_RULE}"
    return None


def limits_problem(limits: object) -> str | None:
    """Why a version's `limits` is unusable, or None."""
    if not isinstance(limits, dict):
        return f"'limits' must be an object with any of {', '.join(LIMIT_KEYS)}"
    for key, value in limits.items():
        if key not in LIMIT_KEYS:
            return f"'limits' key {key!r} is unknown: use {', '.join(LIMIT_KEYS)}"
        # JSON (and protobuf's Struct) numbers may arrive as 256.0: integral is enough.
        whole = isinstance(value, int | float) and not isinstance(value, bool)
        if not whole or value < 1 or value != int(value):
            return f"'limits.{key}' must be a whole number of at least 1"
    return None


def _check_env(env: object) -> None:
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        raise BackendSpecError(
            "subprocess backend config key 'env' must map variable names to string values"
        )
    for name in env:
        problem = owner_env_problem(name)
        if problem:
            raise BackendSpecError(f"subprocess backend config key 'env': {problem}")
