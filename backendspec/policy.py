"""The operator's allow-list: which python callables and which commands may run at all.

A version's backend spec is code that runs with the worker's privileges, and a model
owner writes it. Owners are trusted with their models, not with the platform, so the
python and subprocess kinds run only what the operator listed:

- MODELGW_ALLOWED_CALLABLES: comma-separated module prefixes; a prefix p matches
  module m when m == p or m starts with p + "." (default: workers.builtin).
- MODELGW_ALLOWED_COMMANDS: comma-separated absolute executable paths, matched
  exactly against command[0] (default: none).

The registry refuses a version outside the list at CreateModelVersion and a worker
refuses a job outside its own list (its --allow-callables / --allow-commands flags
replace the variables). The http kind runs nothing on the worker and needs no entry.

Commands are compared as written, never resolved: the path listed is the path run.
A symlink or file the model could replace (anything under /tmp, or a directory the
worker's user may write) must not be listed, and listing an interpreter or a shell
allows any program, because the owner chooses every argument.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from backendspec.python_kind import CALLABLE_PATH, MODULE_NAME
from backendspec.subprocess_kind import executable_problem
from settings import SettingsError
from settings.env import items, split_items

ALLOWED_CALLABLES_ENV = "MODELGW_ALLOWED_CALLABLES"
ALLOWED_COMMANDS_ENV = "MODELGW_ALLOWED_COMMANDS"
CALLABLES_FLAG = "--allow-callables"
COMMANDS_FLAG = "--allow-commands"
DEFAULT_CALLABLES: tuple[str, ...] = ("workers.builtin",)

class BackendNotAllowed(Exception):
    """A version's backend is outside the allow-list; message says which list to change."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _chosen(
    flag: str | None, flag_name: str, env: Mapping[str, str], env_name: str
) -> tuple[tuple[str, ...] | None, str]:
    """The list a worker's flag or else the environment gives (None: neither, the
    default), and which of the two it came from, for error messages."""
    if flag is not None:
        return split_items(flag), flag_name
    return items(env, env_name), env_name


@dataclass(frozen=True)
class BackendPolicy:
    """Which python module prefixes and executable paths a registry accepts and a worker runs."""

    callables: tuple[str, ...] = DEFAULT_CALLABLES
    commands: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_prefixes(self.callables, ALLOWED_CALLABLES_ENV)
        _check_commands(self.commands, ALLOWED_COMMANDS_ENV)

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        callables: str | None = None,
        commands: str | None = None,
    ) -> BackendPolicy:
        """The lists from the environment; callables/commands (a worker's flags) replace them.

        Unset means the default; set but empty means nothing is allowed.
        """
        env = os.environ if env is None else env
        prefixes, source = _chosen(callables, CALLABLES_FLAG, env, ALLOWED_CALLABLES_ENV)
        _check_prefixes(DEFAULT_CALLABLES if prefixes is None else prefixes, source)
        paths, source = _chosen(commands, COMMANDS_FLAG, env, ALLOWED_COMMANDS_ENV)
        _check_commands(paths or (), source)
        return cls(
            callables=DEFAULT_CALLABLES if prefixes is None else prefixes, commands=paths or ()
        )

    def allows_module(self, module: str) -> bool:
        return any(module == p or module.startswith(p + ".") for p in self.callables)

    def check(self, kind: str, config: Mapping[str, Any]) -> None:
        """Raise BackendNotAllowed unless a version of this kind and config may run."""
        if kind == "python":
            self.check_callable(config.get("callable"))
        elif kind == "subprocess":
            self.check_command(config.get("command"))

    def check_callable(self, path: object) -> None:
        match = CALLABLE_PATH.fullmatch(path) if isinstance(path, str) else None
        if match is None:
            raise BackendNotAllowed(
                f"python callable {path!r} is not of the form 'package.module:function'"
            )
        if not self.allows_module(match["module"]):
            raise BackendNotAllowed(
                f"python callable {path!r} is not allowed: module {match['module']!r} is "
                f"outside {_callables_list(self.callables)}"
            )

    def check_defined_in_allowed_module(self, path: str, target: object) -> None:
        """The object a callable path resolved to must be defined where the list allows,
        not merely imported into an allowed module (`from os import system`)."""
        module = getattr(target, "__module__", None)
        if not isinstance(module, str) or not self.allows_module(module):
            raise BackendNotAllowed(
                f"python callable {path!r} is defined in module {module!r}, not in the "
                f"module named, and {module!r} is outside {_callables_list(self.callables)}"
            )

    def check_command(self, command: object) -> None:
        program = command[0] if isinstance(command, Sequence) and command else None
        if not isinstance(program, str) or isinstance(command, str):
            raise BackendNotAllowed("subprocess backend config has no command list")
        problem = executable_problem(program)
        if problem:
            raise BackendNotAllowed(f"subprocess command {program!r} {problem}")
        if program not in self.commands:
            listed = ", ".join(self.commands) or "empty"
            raise BackendNotAllowed(
                f"subprocess command {program!r} is not allowed: it is not listed in "
                f"{ALLOWED_COMMANDS_ENV} ({listed}); the operator lists absolute executable "
                f"paths there, or in a worker's {COMMANDS_FLAG}"
            )


def _callables_list(prefixes: tuple[str, ...]) -> str:
    listed = ", ".join(prefixes) or "empty"
    return (
        f"{ALLOWED_CALLABLES_ENV} ({listed}); the operator adds module prefixes there, "
        f"or in a worker's {CALLABLES_FLAG}"
    )


def _check_prefixes(prefixes: tuple[str, ...], source: str) -> None:
    for prefix in prefixes:
        if not MODULE_NAME.fullmatch(prefix):
            raise SettingsError(
                f"{source} entry {prefix!r} is not a dotted module name such as 'workers.builtin'"
            )


def _check_commands(commands: tuple[str, ...], source: str) -> None:
    for command in commands:
        problem = executable_problem(command)
        if problem:
            raise SettingsError(f"{source} entry {command!r} {problem}")
