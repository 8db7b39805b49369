"""Reading one MODELGW_* variable: a whole number, a number, a port, one of a few
words, or a comma-separated list; a malformed value raises SettingsError naming it.

A variable that is missing or blank means its default, except for a list, where
set but empty means an empty list (the allow-lists allow nothing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from settings import SettingsError

Env = Mapping[str, str]

_HIGHEST_PORT = 65535


def _raw(env: Env, name: str) -> str | None:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return None
    return raw.strip()


def optional_whole(env: Env, name: str, *, minimum: int = 0) -> int | None:
    """`name` as a whole number of at least `minimum`; None when unset."""
    raw = _raw(env, name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise SettingsError(f"{name}={raw!r} must be at least {minimum}")
    return value


def whole(env: Env, name: str, default: int, *, minimum: int = 0) -> int:
    """`name` as a whole number of at least `minimum`; `default` when unset."""
    value = optional_whole(env, name, minimum=minimum)
    return default if value is None else value


def number(env: Env, name: str, default: float, *, positive: bool = False) -> float:
    """`name` as a number, never negative (with `positive`, above 0); `default` when unset."""
    raw = _raw(env, name)
    if raw is None:
        value = default
    else:
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is not a number") from None
        if value < 0:
            raise SettingsError(f"{name}={value} must not be negative")
    if positive and value <= 0:
        raise SettingsError(f"{name}={value} must be positive")
    return value


def port(env: Env, name: str, default: int, *, minimum: int = 0) -> int:
    """`name` as a TCP port number from `minimum` (0: any free port) to 65535."""
    raw = _raw(env, name) or str(default)
    if not raw.isdigit() or not minimum <= int(raw) <= _HIGHEST_PORT:
        raise SettingsError(f"{name}={raw!r} is not a TCP port number")
    return int(raw)


def choice(env: Env, name: str, default: str, choices: Sequence[str]) -> str:
    """`name`, upper-cased, as one of `choices` (upper-case words)."""
    value = (_raw(env, name) or default).upper()
    if value not in choices:
        listed = f"{', '.join(choices[:-1])} or {choices[-1]}"
        raise SettingsError(f"{name}={value!r}: use {listed}")
    return value


def items(env: Env, name: str) -> tuple[str, ...] | None:
    """`name` as comma-separated items, stripped, empty ones dropped; None when missing.

    Set but empty is the empty tuple: a list that allows nothing.
    """
    raw = env.get(name)
    return None if raw is None else split_items(raw)


def split_items(raw: str) -> tuple[str, ...]:
    """Comma-separated items, stripped: a trailing comma or spaces around items are harmless."""
    return tuple(item.strip() for item in raw.split(",") if item.strip())
