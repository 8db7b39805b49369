"""The consensus formula language: a lark LALR grammar, compiled once into closures.

The paper's formula is accepted as written, also across lines:

    ChildModel1 <= 0 ? ChildModel1+ChildModel2 : ChildModel1*ChildModel2

Precedence, loosest first (all binary operators left-associative unless noted):

    cond ? a : b                 ternary, right-associative, nestable
    ||  or                       short-circuit
    &&  and                      short-circuit
    !   not                      logical not (so `!A > 0` means `!(A > 0)`, as in Python)
    < <= > >= == !=              comparisons, not chainable (`a < b < c` is a syntax error)
    + -                          binary
    * /
    + -                          unary
    ** ^                         power, right-associative, binds tighter than a unary
                                 minus on its left: -2**2 = -4, 2**-1 = 0.5 (as in Python)
    number, alias, f(...), ( )

Booleans are numbers, as in C: a comparison or logical operator gives 1.0 or
0.0, and a condition is true when it is not zero. Words (aliases, function
names, and/or/not) are case-insensitive; `and`, `or` and `not` are reserved.

Every intermediate value must be finite: an overflow, a division by zero, the
log or sqrt of a bad value, or a non-finite input raises EvaluationError for
that evaluation (that record), never a crash.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from consensus._functions import FUNCTIONS

MAX_LENGTH = 10_000
MAX_DEPTH = 100  # nested operators and calls; the compiled closures recurse this deep

RESERVED_WORDS = frozenset({"and", "or", "not"})

_GRAMMAR = r"""
?start: ternary
?ternary: disjunction
        | disjunction QMARK ternary COLON ternary  -> cond
?disjunction: conjunction
            | disjunction _OR conjunction          -> or_
?conjunction: negation
            | conjunction _AND negation            -> and_
?negation: comparison
         | _NOT negation                           -> not_
?comparison: sum
           | sum COMPARE sum                       -> compare
?sum: product
    | sum ADD product                              -> arith
?product: unary
        | product MUL unary                        -> arith
?unary: power
      | ADD unary                                  -> sign
?power: atom
      | atom POW unary                             -> pow
?atom: NUMBER
     | NAME
     | NAME LPAR [ternary (COMMA ternary)*] RPAR   -> call
     | LPAR ternary RPAR                           -> group

NUMBER: /([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
_OR.2: "||" | /or\b/i
_AND.2: "&&" | /and\b/i
_NOT.1: "!" | /not\b/i
COMPARE.3: "<=" | ">=" | "==" | "!=" | "<" | ">"
POW.3: "**" | "^"
MUL: "*" | "/"
ADD: "+" | "-"
QMARK: "?"
COLON: ":"
COMMA: ","
LPAR: "("
RPAR: ")"

%ignore /\s+/
"""

# How each terminal reads in an error message.
_OPERATORS = {"_OR", "_AND", "COMPARE", "ADD", "MUL", "POW", "QMARK"}
_PUNCTUATION = {"RPAR": "')'", "COMMA": "','", "COLON": "':'", "$END": "the end"}

_PARSER = Lark(_GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=False)

Values = Mapping[str, Any]
Node = Callable[[Values], float]


class FormulaError(ValueError):
    """A syntax or semantic error in a formula's text, at a 1-based line and column."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.message = message
        self.line = line
        self.column = column


class EvaluationError(ArithmeticError):
    """One evaluation failed: division by zero, a bad log or sqrt, overflow, a bad input."""


@dataclass(frozen=True)
class Reference:
    """One place where the formula names an alias, as written."""

    name: str
    line: int
    column: int


@dataclass(frozen=True)
class Formula:
    """A parsed formula; build it with parse(). Equal formulas have equal text."""

    text: str
    aliases: frozenset[str]  # identifiers as written; match children case-insensitively
    references: tuple[Reference, ...] = field(compare=False, repr=False)
    _root: Node = field(compare=False, repr=False)

    def evaluate(self, values: Values) -> float:
        """The formula's value for `values` (alias -> number, keys matched case-insensitively)."""
        try:
            return self._root(values)
        except RecursionError:
            raise EvaluationError("the formula nests too deeply for this call stack") from None

    def bind(self, children: Iterable[str]) -> dict[str, str]:
        """Map each identifier in the formula to the child alias it names.

        Raises FormulaError at the first identifier that names no child, and
        ValueError when two children differ only by case (which one would it be?).
        """
        by_folded: dict[str, str] = {}
        for alias in children:
            other = by_folded.setdefault(alias.casefold(), alias)
            if other != alias:
                raise ValueError(f"children {other!r} and {alias!r} differ only by case")
        binding: dict[str, str] = {}
        for ref in self.references:
            child = by_folded.get(ref.name.casefold())
            if child is None:
                raise FormulaError(f"unknown alias {ref.name!r}", ref.line, ref.column)
            binding[ref.name] = child
        return binding


def parse(text: str) -> Formula:
    """Parse and compile a formula; raises FormulaError only."""
    if not isinstance(text, str):
        raise FormulaError(f"the formula must be text, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"the formula is too long: {len(text)} characters, at most {MAX_LENGTH}")
    if not text.strip():
        raise FormulaError("the formula is empty")
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as error:
        raise _syntax_error(text, error) from None
    except LarkError as error:  # not expected from an LALR parse, but never let it escape
        raise FormulaError(f"cannot parse the formula: {error}") from None
    _check_depth(tree)
    references: list[Reference] = []
    root = _Compiler(references).compile(tree)
    return Formula(text, frozenset(r.name for r in references), tuple(references), root)


def _syntax_error(text: str, error: UnexpectedInput) -> FormulaError:
    if isinstance(error, UnexpectedToken) and error.token.type == "$END":
        line, column = _end_position(text)
        return FormulaError(f"expected {_describe(error.expected)}, found the end", line, column)
    if isinstance(error, UnexpectedToken):
        found = f"{error.token.value!r}"
        return FormulaError(
            f"expected {_describe(error.expected)}, found {found}", error.line, error.column
        )
    if isinstance(error, UnexpectedCharacters):
        position = error.pos_in_stream or 0
        found = repr(text[position]) if position < len(text) else "?"
        return FormulaError(
            f"expected {_describe(error.allowed)}, found {found}", error.line, error.column
        )
    return FormulaError(f"syntax error: {error}", max(error.line, 1), max(error.column, 1))


def _describe(expected: Iterable[str]) -> str:
    names = set(expected)
    parts = []
    if names & {"NUMBER", "NAME"}:
        parts.append("an operand")
        names -= {"ADD", "_NOT"}  # here they are a sign or a negation, part of the operand
    if names & _OPERATORS:
        parts.append("an operator")
    parts += [text for name, text in _PUNCTUATION.items() if name in names]
    if not parts:
        return "something else"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def _end_position(text: str) -> tuple[int, int]:
    """Just after the last non-blank character."""
    body = text.rstrip()
    line = body.count("\n") + 1
    return line, len(body) - (body.rfind("\n") + 1) + 1


def _check_depth(tree: Tree[Token]) -> None:
    stack: list[tuple[Tree[Token] | Token, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, Tree):
            continue
        if depth > MAX_DEPTH:
            line, column = _position(node)
            raise FormulaError(
                f"the formula nests too deeply (more than {MAX_DEPTH} levels)", line, column
            )
        stack.extend((child, depth + 1) for child in node.children)


def _position(node: Tree[Token] | Token) -> tuple[int, int]:
    while isinstance(node, Tree):
        node = node.children[0]
    return node.line or 1, node.column or 1


def _where(token: Token) -> str:
    return f"at line {token.line}, column {token.column}"


def _finite(value: float, what: str, token: Token) -> float:
    if value - value == 0.0:  # false for inf and nan
        return value
    raise EvaluationError(f"{what} gives a non-finite value {_where(token)}")


class _Compiler:
    """Turns the parse tree into nested closures, recording alias references."""

    def __init__(self, references: list[Reference]) -> None:
        self._references = references

    def compile(self, node: Tree[Token] | Token) -> Node:
        if isinstance(node, Token):
            return self._number(node) if node.type == "NUMBER" else self._name(node)
        method: Callable[[list[Any]], Node] = getattr(self, f"_{node.data}")
        return method(node.children)

    def _number(self, token: Token) -> Node:
        value = float(token.value)
        if not math.isfinite(value):
            raise FormulaError(f"number {token.value} is out of range", *_position(token))
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
                f"unknown function {name_token.value!r} (known: {known})", *_position(name_token)
            )
        args = [self.compile(c) for c in children[2:-1] if not _is_punct(c)]
        problem = function.arity_problem(len(args))
        if problem:
            raise FormulaError(problem, *_position(name_token))
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
