"""The vocabulary of authorization: what can be done, and the roles that may do it."""

from __future__ import annotations

import enum


class Action(enum.StrEnum):
    """Something a caller may ask to do. The values are the act field of the Casbin p-lines."""

    READ = "read"
    """Read a model's metadata (and know that it exists)."""
    RUN = "run"
    """Submit jobs to a model."""
    UPDATE = "update"
    """Change metadata, add versions, choose the default version."""
    DELETE = "delete"
    SET_VISIBILITY = "set_visibility"
    """Make a model public or private."""
    MANAGE_READERS = "manage_readers"
    """Grant or revoke readers, list who has access."""
    MANAGE_JOBS = "manage_jobs"
    """See, watch, cancel and list every job of the model, not just one's own."""
    MANAGE_OWNERS = "manage_owners"
    """Grant or revoke owners (superusers only)."""
    CREATE_MODEL = "create_model"
    """Register a new model (global, superusers only)."""
    ADMIN = "admin"
    """Call the admin RPCs (global, superusers only)."""


GLOBAL_ACTIONS: frozenset[Action] = frozenset({Action.CREATE_MODEL, Action.ADMIN})
"""Actions that concern no single model: decided with model None."""


class Role(enum.StrEnum):
    """A per-model role, granted as a Casbin g-line (user, role, model)."""

    OWNER = "owner"
    READER = "reader"
