"""Who is asking."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller, as established from its token.

    ``superuser`` comes from the token, never from the database, so a grant
    table can never make anyone a superuser.
    """

    user: str
    superuser: bool = False
