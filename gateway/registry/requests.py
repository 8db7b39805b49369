"""Reading the fields of a registry request: an update mask, descriptive fields,
an access role, a user name, a visibility. Each refusal is INVALID_ARGUMENT
naming the field and what it accepts."""

from __future__ import annotations

from authz.actions import Role
from gateway.authn import UserNameError, check_user_name
from gateway.errors import InvalidArgument
from gateway.registry import limits, store, validation
from modelgateway.v1 import model_pb2

ROLES = {model_pb2.ACCESS_ROLE_READER: Role.READER, model_pb2.ACCESS_ROLE_OWNER: Role.OWNER}
VISIBILITIES = {model_pb2.VISIBILITY_PUBLIC: True, model_pb2.VISIBILITY_PRIVATE: False}

_UPDATABLE = ", ".join([*store.UPDATABLE_COLUMNS, *limits.MASK_PATHS])


def update_mask(given: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """An UpdateModel's mask as the descriptive fields and the limits it names."""
    paths = list(dict.fromkeys(given))
    if not paths:
        raise InvalidArgument(
            f"update_mask is required: name the fields to change, any of {_UPDATABLE}"
        )
    descriptive = [p for p in paths if p in store.UPDATABLE_COLUMNS]
    limit_fields: list[tuple[str, str]] = []
    unknown = []
    for path in paths:
        if path in store.UPDATABLE_COLUMNS:
            continue
        named = limits.mask_fields(path)
        if named is None:
            unknown.append(path)
        else:
            limit_fields += [f for f in named if f not in limit_fields]
    if unknown:
        raise InvalidArgument(
            f"update_mask names fields that cannot be updated: {', '.join(unknown)}; "
            f"updatable are {_UPDATABLE}"
        )
    return descriptive, limit_fields


def descriptive_fields(
    model: model_pb2.Model, fields: list[str] | tuple[str, ...]
) -> dict[str, object]:
    """The validated values of the named descriptive fields of model."""
    limits = {
        "display_name": validation.MAX_DISPLAY_NAME,
        "description": validation.MAX_DESCRIPTION,
        "backend": validation.MAX_BACKEND_INFO,
    }
    values: dict[str, object] = {}
    for field in fields:
        if field == "tags":
            values[field] = validation.tags(model.tags)
        else:
            values[field] = validation.text(getattr(model, field), f"model.{field}", limits[field])
    return values


def role(role: int) -> Role:
    """The access role a request names; INVALID_ARGUMENT for none."""
    if role not in ROLES:
        raise InvalidArgument("role is required: ACCESS_ROLE_READER or ACCESS_ROLE_OWNER")
    return ROLES[role]


def user(user: str) -> str:
    """A grant's user name, checked as tokens' names are."""
    try:
        check_user_name(user)
    except UserNameError as exc:
        raise InvalidArgument(f"user: {exc}") from None
    return user
