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

from collections.abc import Iterable
from dataclasses import dataclass, field

from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from consensus._compile import Compiler, Node, Reference, Values, position
from consensus.errors import DefinitionError, EvaluationError, FormulaError

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
        DefinitionError when two children differ only by case (which one would it be?).
        """
        by_folded: dict[str, str] = {}
        for alias in children:
            other = by_folded.setdefault(alias.casefold(), alias)
            if other != alias:
                raise DefinitionError(f"children {other!r} and {alias!r} differ only by case")
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
    root = Compiler(references).compile(tree)
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
        offset = error.pos_in_stream or 0
        found = repr(text[offset]) if offset < len(text) else "?"
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
            line, column = position(node)
            raise FormulaError(
                f"the formula nests too deeply (more than {MAX_DEPTH} levels)", line, column
            )
        stack.extend((child, depth + 1) for child in node.children)
