"""A grant, and how it is spelt in a Casbin line so that no user can pose as a role or a group.

Casbin's role manager treats a subject equal to a role's name as holding that
role (`has_link(x, x)` is true), and a g-line's subject may itself be a role.
With bare names, a user literally called ``owner`` held ``owner`` on every
model. So every term carries its namespace: users are ``user:NAME``, roles
``role:NAME``, and the one group, every authenticated user, is
``group:everyone``. No user name, whatever it contains, can spell a term
outside ``user:``.

The database holds the lines in this form too (migration 0004), so the
casbin_rule table can be read without knowing a convention that is not in it.
"""

from __future__ import annotations

from typing import NamedTuple

EVERYONE = "*"
"""The user of the public grant: ("*", "reader", model) makes a model public.

Only a sentinel in Python: no user may be called "*" (gateway.authn refuses
it), and in Casbin lines the public group is spelt EVERYONE_TERM.
"""

USER = "user:"
ROLE = "role:"
EVERYONE_TERM = "group:everyone"


class Grant(NamedTuple):
    """``user`` holds ``role`` on ``model``: bare names, as the API speaks of them."""

    user: str
    role: str
    model: str


class UnknownTerm(ValueError):
    """A stored line whose subject or role has no namespace this code knows."""


def user_term(user: str) -> str:
    """The Casbin subject of the user called ``user``, whatever the name holds."""
    return USER + user


def subject_term(user: str) -> str:
    """The subject of a grant's user: EVERYONE is the public group."""
    return EVERYONE_TERM if user == EVERYONE else user_term(user)


def role_term(role: str) -> str:
    return ROLE + role


def line_of(grant: Grant) -> tuple[str, str, str]:
    """The g-line (subject, role, model) that stores ``grant``."""
    return subject_term(grant.user), role_term(grant.role), grant.model


def grant_of(subject: str, role: str, model: str) -> Grant:
    """The grant a stored g-line holds; UnknownTerm if it is not in a known namespace."""
    if subject == EVERYONE_TERM:
        user = EVERYONE
    elif subject.startswith(USER) and len(subject) > len(USER):
        user = subject[len(USER) :]
    else:
        raise UnknownTerm(f"g-line subject {subject!r} is neither user:NAME nor {EVERYONE_TERM}")
    if not role.startswith(ROLE) or len(role) == len(ROLE):
        raise UnknownTerm(f"g-line role {role!r} is not role:NAME")
    return Grant(user, role[len(ROLE) :], model)
