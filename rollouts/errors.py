"""The one error of rollout plans: a parameter out of range, naming its field."""

from __future__ import annotations


class PlanError(ValueError):
    """A strategy parameter or guardrail that cannot be used; `field` names it as the
    StartRollout request spells it, and the message says what to send instead."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
