"""The consensus formula's parse tree compiled into nested closures: one closure
per node, so an evaluation walks no tree and looks nothing up but the aliases.

Every intermediate value must be finite; a failure raises EvaluationError.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Real
from typing import Any

from lark import Token, Tree

from consensus._functions import FUNCTIONS
from consensus.errors import EvaluationError, FormulaError

Values = Mapping[str, Any]
Node = Callable[[Values], float]


@dataclass(frozen=True)
class Reference:
    """One place where the formula names an alias, as written."""

    name: str
    line: int
    column: int


def position(node: Tree[Token] | Token) -> tuple[int, int]:
    """Where a node begins: its first token's line and column."""
    while isinstance(node, Tree):
        node = node.children[0]
    return node.line or 1, node.column or 1


def _where(token: Token) -> str:
    return f"at line {token.line}, column {token.column}"


def _finite(value: float, what: str, token: Token) -> float:
    if value - value == 0.0:  # false for inf and nan
        return value
    raise EvaluationError(f"{what} gives a non-finite value {_where(token)}")


class Compiler:
    """Turns the parse tree into nested closures, recording alias references."""

    def __init__(self, references: list[Reference]) -> None:
        self._references = references

    def compile(self, node: Tree[Token] | Token) -> Node:
        """The closure that evaluates node; FormulaError for an unknown function or arity."""
        if isinstance(node, Token):
            return self._number(node) if node.type == "NUMBER" else self._name(node)
        method: Callable[[list[Any]], Node] = getattr(self, f"_{node.data}")
        return method(node.children)

    def _number(self, token: Token) -> Node:
        value = float(token.value)
        if not math.isfinite(value):
            raise FormulaError(f"number {token.value} is out of range", *position(token))
        return lambda _: value

    def _name(self, token: Token) -> Node:
        # A function's name may also be an alias: a call needs its parentheses.
        name = str(token.value)
        self._references.append(Reference(name, token.line or 1, token.column or 1))
        return _alias_node(name, token)

    def _group(self, children: list[Any]) -> Node:
        return self.compile(children[1])

    def _cond(self, children: list[Any]) -> Node:
        test, then, otherwise = (self.compile(children[i]) for i in (0, 2, 4))
        return lambda v: then(v) if test(v) != 0.0 else otherwise(v)

    def _or_(self, children: list[Any]) -> Node:
        left, right = (self.compile(c) for c in children)
        return lambda v: 1.0 if left(v) != 0.0 or right(v) != 0.0 else 0.0

    def _and_(self, children: list[Any]) -> Node:
        left, right = (self.compile(c) for c in children)
        return lambda v: 1.0 if left(v) != 0.0 and right(v) != 0.0 else 0.0

    def _not_(self, children: list[Any]) -> Node:
        operand = self.compile(children[0])
        return lambda v: 1.0 if operand(v) == 0.0 else 0.0

    def _compare(self, children: list[Any]) -> Node:
        left, op, right = self.compile(children[0]), children[1], self.compile(children[2])
        return _COMPARISONS[op.value](left, right)

    def _arith(self, children: list[Any]) -> Node:
        left, op, right = self.compile(children[0]), children[1], self.compile(children[2])
        return _ARITHMETIC[op.value](left, right, op)

    def _sign(self, children: list[Any]) -> Node:
        operand = self.compile(children[1])
        if children[0].value == "+":
            return operand
        return lambda v: -operand(v)

    def _pow(self, children: list[Any]) -> Node:
        base, op, exponent = self.compile(children[0]), children[1], self.compile(children[2])
        return _power(base, exponent, op)

    def _call(self, children: list[Any]) -> Node:
        name_token: Token = children[0]
        function = FUNCTIONS.get(name_token.value.lower())
        if function is None:
            known = ", ".join(sorted(FUNCTIONS))
            raise FormulaError(
                f"unknown function {name_token.value!r} (known: {known})", *position(name_token)
            )
        args = [self.compile(c) for c in children[2:-1] if not _is_punct(c)]
        problem = function.arity_problem(len(args))
        if problem:
            raise FormulaError(problem, *position(name_token))
        return _call_node(function.name, function.impl, args, name_token)


def _is_punct(node: Any) -> bool:
    return isinstance(node, Token) and node.type in {"QMARK", "COLON", "COMMA", "LPAR", "RPAR"}


def _alias_node(name: str, token: Token) -> Node:
    def alias(values: Values) -> float:
        try:
            value = values[name]
        except KeyError:
            value = _lookup_folded(values, name)
        if type(value) is float and value - value == 0.0:
            return value
        return _as_number(value, name)

    return alias


def _lookup_folded(values: Values, name: str) -> Any:
    folded = name.casefold()
    matches = [key for key in values if isinstance(key, str) and key.casefold() == folded]
    if len(matches) == 1:
        return values[matches[0]]
    if matches:
        raise EvaluationError(f"values for {name!r} differ only by case: {sorted(matches)}")
    raise EvaluationError(f"no value for {name!r}")


def _as_number(value: Any, name: str) -> float:
    if not isinstance(value, Real):
        raise EvaluationError(f"the value of {name!r} is not a number: {value!r}")
    try:
        number = float(value)
    except (OverflowError, ValueError):
        raise EvaluationError(f"the value of {name!r} is out of range") from None
    if not math.isfinite(number):
        raise EvaluationError(f"the value of {name!r} is not finite: {number!r}")
    return number


def _add(left: Node, right: Node, op: Token) -> Node:
    return lambda v: _finite(left(v) + right(v), "'+'", op)


def _sub(left: Node, right: Node, op: Token) -> Node:
    return lambda v: _finite(left(v) - right(v), "'-'", op)


def _mul(left: Node, right: Node, op: Token) -> Node:
    return lambda v: _finite(left(v) * right(v), "'*'", op)


def _div(left: Node, right: Node, op: Token) -> Node:
    def divide(v: Values) -> float:
        numerator, denominator = left(v), right(v)
        if denominator == 0.0:
            raise EvaluationError(f"division by zero {_where(op)}")
        return _finite(numerator / denominator, "'/'", op)

    return divide


def _power(base: Node, exponent: Node, op: Token) -> Node:
    def power(v: Values) -> float:
        x, y = base(v), exponent(v)
        try:
            result = math.pow(x, y)
        except OverflowError:
            raise EvaluationError(f"{x!r} {op.value} {y!r} overflows {_where(op)}") from None
        except ValueError:
            raise EvaluationError(f"{x!r} {op.value} {y!r} is undefined {_where(op)}") from None
        return _finite(result, f"'{op.value}'", op)

    return power


def _call_node(name: str, impl: Callable[..., float], args: list[Node], token: Token) -> Node:
    def call(v: Values) -> float:
        xs = [arg(v) for arg in args]
        try:
            result = impl(*xs)
        except (ValueError, ArithmeticError) as error:
            raise EvaluationError(f"{name}: {error} {_where(token)}") from None
        return _finite(result, name, token)

    return call


_ARITHMETIC: dict[str, Callable[[Node, Node, Token], Node]] = {
    "+": _add,
    "-": _sub,
    "*": _mul,
    "/": _div,
}

_COMPARISONS: dict[str, Callable[[Node, Node], Node]] = {
    "<": lambda a, b: lambda v: 1.0 if a(v) < b(v) else 0.0,
    "<=": lambda a, b: lambda v: 1.0 if a(v) <= b(v) else 0.0,
    ">": lambda a, b: lambda v: 1.0 if a(v) > b(v) else 0.0,
    ">=": lambda a, b: lambda v: 1.0 if a(v) >= b(v) else 0.0,
    "==": lambda a, b: lambda v: 1.0 if a(v) == b(v) else 0.0,
    "!=": lambda a, b: lambda v: 1.0 if a(v) != b(v) else 0.0,
}
