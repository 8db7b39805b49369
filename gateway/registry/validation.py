"""What a well-formed model, version and schema look like.

Each check raises InvalidArgument with a message that names the field, what
was wrong and what is accepted, so that a caller can fix the request without
reading the source.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import jsonschema

from backendspec import BACKEND_KINDS as WORKER_KINDS
from backendspec import BackendNotAllowed, BackendPolicy, BackendSpecError, check_backend_spec
from gateway.errors import InvalidArgument, PermissionDenied

MODEL_NAME_MAX = 128
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_MODEL_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_BACKEND_KIND = re.compile(r"[a-z][a-z0-9_]{0,31}")

MAX_TAGS = 32
MAX_DISPLAY_NAME = 200
MAX_DESCRIPTION = 20_000
MAX_BACKEND_INFO = 200
MAX_NOTES = 20_000
MAX_SCHEMA_BYTES = 256 * 1024

# Backend kinds a version may have: those the workers run, and consensus (a formula
# over other models); a version naming another kind could never execute, so it is
# refused when it is created.
VERSION_KINDS = WORKER_KINDS | {"consensus"}

# The schema a version gets when it declares none: any JSON object.
ANY_OBJECT_SCHEMA: dict[str, Any] = {"type": "object"}


def model_name(name: str, field: str = "name") -> str:
    """The name if it is a valid model name, else INVALID_ARGUMENT naming field."""
    if not name:
        raise InvalidArgument(f"{field} is required: the model's name, for example 'rdkit.logp'")
    if len(name) > MODEL_NAME_MAX or not _MODEL_NAME.fullmatch(name):
        raise InvalidArgument(
            f"{field} {_shorten(name)!r} is not a valid model name: use 1 to {MODEL_NAME_MAX} "
            "lowercase letters, digits and hyphens in dot-separated labels of at most 63 "
            "characters, each starting and ending with a letter or digit (e.g. 'rdkit.logp')"
        )
    return name


def version_string(version: str, field: str = "version") -> str:
    """The version if it is a valid version string, else INVALID_ARGUMENT naming field."""
    if not version:
        raise InvalidArgument(f"{field} is required, for example '1.0.0'")
    if not _VERSION.fullmatch(version):
        raise InvalidArgument(
            f"{field} {_shorten(version)!r} is not a valid version: use 1 to 64 letters, digits, "
            "'.', '_', '+' or '-', starting with a letter or digit (e.g. '1.0.0')"
        )
    return version


def text(value: str, field: str, limit: int) -> str:
    """The text if it fits limit and holds no NUL, else INVALID_ARGUMENT naming field."""
    if len(value) > limit:
        raise InvalidArgument(f"{field} is {len(value)} characters long; the limit is {limit}")
    if "\x00" in value:
        raise InvalidArgument(f"{field} contains a NUL character (\\u0000); remove it")
    return value


def tags(values: Iterable[str]) -> list[str]:
    """The tags, deduplicated in order, if each is a valid tag and they are few enough."""
    unique = list(dict.fromkeys(values))
    if len(unique) > MAX_TAGS:
        raise InvalidArgument(f"a model has at most {MAX_TAGS} tags; {len(unique)} were given")
    for tag in unique:
        if not _TAG.fullmatch(tag):
            raise InvalidArgument(
                f"tag {_shorten(tag)!r} is not valid: use 1 to 64 letters, digits, '.', '_', ':' "
                "or '-', starting with a letter or digit"
            )
    return unique


def backend_kind(kind: str) -> str:
    """The kind if it is a known backend kind, else INVALID_ARGUMENT listing them."""
    if not kind:
        raise InvalidArgument(
            f"version.backend.kind is required: one of {', '.join(sorted(VERSION_KINDS))}"
        )
    if not _BACKEND_KIND.fullmatch(kind) or kind not in VERSION_KINDS:
        raise InvalidArgument(
            f"version.backend.kind {_shorten(kind)!r} is unknown: use one of "
            f"{', '.join(sorted(VERSION_KINDS))}"
        )
    return kind


def backend_config(
    kind: str, config: dict[str, Any], policy: BackendPolicy | None
) -> dict[str, Any]:
    """Checks a version's backend config as the worker that will run it would
    (with policy None, its shape alone: for a reader that runs nothing).

    A malformed config is INVALID_ARGUMENT. A well-formed one outside the operator's
    allow-list is PERMISSION_DENIED, for superusers too: the request is valid and
    would be accepted under another configuration, but no caller may make a worker
    run what its operator did not allow.
    """
    timeout = config.get("timeout_s", 1.0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise InvalidArgument(
            f"version.backend.config.timeout_s {timeout!r} must be a positive number of seconds"
        )
    if kind != "consensus":  # consensus definitions are checked by their own verifier
        runnable = {k: v for k, v in config.items() if k != "timeout_s"}
        try:
            check_backend_spec({"kind": kind, "config": runnable})
        except BackendSpecError as exc:
            raise InvalidArgument(f"version.backend.config: {exc}") from None
        if policy is None:
            return config
        try:
            policy.check(kind, runnable)
        except BackendNotAllowed as exc:
            raise PermissionDenied(f"version.backend.config: {exc.message}") from None
    return config


def json_schema(schema: dict[str, Any] | None, field: str) -> dict[str, Any]:
    """Checks that schema is a valid JSON Schema (draft 2020-12) describing records."""
    if not schema:
        return dict(ANY_OBJECT_SCHEMA)
    size = len(json.dumps(schema))
    if size > MAX_SCHEMA_BYTES:
        raise InvalidArgument(f"{field} is {size} bytes of JSON; the limit is {MAX_SCHEMA_BYTES}")
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise InvalidArgument(
            f"{field} is not a valid JSON Schema (draft 2020-12): at {where}: {exc.message}"
        ) from None
    return schema


def page_size(size: int) -> int:
    """The page size asked for (0 means 100), from 1 to 1000."""
    if size < 0 or size > 1000:
        raise InvalidArgument(f"page_size {size} is out of range: use 1 to 1000, or 0 for 100")
    return size or 100


def _shorten(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[:limit] + "..."
