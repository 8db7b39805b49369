"""The consensus package's errors: one root, a subclass per failure.

None of them is a ValueError, so a caller that maps them to its own answer (the
registry's INVALID_ARGUMENT) catches exactly these, never a bug's ValueError.
"""

from __future__ import annotations


class ConsensusError(Exception):
    """A consensus definition, formula or evaluation that is wrong; the message says how."""


class DefinitionError(ConsensusError):
    """A definition (a backend config, an Algorithm 1 document) that is not well
    formed; the message names the bad key path."""


class FormulaError(ConsensusError):
    """A syntax or semantic error in a formula's text, at a 1-based line and column."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.message = message
        self.line = line
        self.column = column


class EvaluationError(ConsensusError):
    """One evaluation failed: division by zero, a bad log or sqrt, overflow, a bad input."""
