"""The python kind's config: {"callable": "package.module:function"}."""

from __future__ import annotations

import re
from typing import Any

from backendspec.base import BackendSpecError, reject_unknown_keys, require_mapping

_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
MODULE_NAME = re.compile(rf"{_IDENTIFIER}(?:\.{_IDENTIFIER})*")
# After ':' one public name, never an attribute path: `chemistry:os.system` would
# reach through a module an allowed one happens to import.
CALLABLE_PATH = re.compile(rf"(?P<module>{MODULE_NAME.pattern}):(?P<name>[A-Za-z][A-Za-z0-9_]*)")


def check_python_config(config: object) -> None:
    """Checks the form only: the callable is not imported (the registry cannot run it)."""
    checked: dict[str, Any] = require_mapping(config)
    reject_unknown_keys("python", checked, ("callable",))
    path = checked.get("callable")
    if not isinstance(path, str) or not path:
        raise BackendSpecError(
            "python backend config key 'callable' is required: a string "
            "'package.module:function', for example 'workers.builtin.chemistry:logp'"
        )
    if not CALLABLE_PATH.fullmatch(path):
        raise BackendSpecError(
            f"python backend config key 'callable' {path!r} is not of the form "
            "'package.module:function': after ':' comes one public name (letters, "
            "digits and '_', not starting with '_'), for example "
            "'workers.builtin.chemistry:logp'"
        )
