"""Property-based tests: the parser and evaluator raise only their documented errors.

Trees are generated from the grammar, printed twice (fully parenthesized and
with the fewest parentheses the precedence table allows) and checked against
a reference evaluator written directly over the tree.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consensus.errors import EvaluationError, FormulaError
from consensus.formula import parse

ALIASES = ("A", "b", "Child_1")
SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Loosest first, as in the formula module's docstring.
LEVEL = {
    "?": 0,
    "||": 1,
    "&&": 2,
    "!": 3,
    "cmp": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "neg": 7,
    "**": 8,
    "atom": 9,
}
COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")
FUNCTIONS = {
    "min": (1, 3),
    "max": (1, 3),
    "abs": (1, 1),
    "sqrt": (1, 1),
    "log": (1, 2),
    "exp": (1, 1),
    "round": (1, 2),
    "mean": (1, 3),
    "wmean": (2, 4),
    "clamp": (3, 3),
}


@dataclass(frozen=True)
class Node:
    op: str  # "num", "alias", "neg", "!", "?", "call", "cmp" or a binary operator
    args: tuple[Node, ...] = ()
    value: float = 0.0
    name: str = ""


numbers = st.one_of(
    st.integers(0, 1000).map(float),
    st.floats(0, 1e300, allow_nan=False),
    st.sampled_from([0.0, 0.5, 1e-300, 1e308]),
)
leaves = st.one_of(
    numbers.map(lambda v: Node("num", value=v)),
    st.sampled_from(ALIASES).map(lambda n: Node("alias", name=n)),
)


def _extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    binary = st.tuples(st.sampled_from(["+", "-", "*", "/", "**", "&&", "||"]), children, children)
    compare = st.tuples(st.sampled_from(COMPARISONS), children, children)
    call = st.sampled_from(sorted(FUNCTIONS)).flatmap(
        lambda f: st.tuples(
            st.just(f), st.lists(children, min_size=FUNCTIONS[f][0], max_size=FUNCTIONS[f][1])
        )
    )
    return st.one_of(
        binary.map(lambda t: Node(t[0], (t[1], t[2]))),
        compare.map(lambda t: Node("cmp", (t[1], t[2]), name=t[0])),
        children.map(lambda c: Node("neg", (c,))),
        children.map(lambda c: Node("!", (c,))),
        st.tuples(children, children, children).map(lambda t: Node("?", t)),
        call.filter(lambda t: t[0] != "wmean" or len(t[1]) % 2 == 0).map(
            lambda t: Node("call", tuple(t[1]), name=t[0])
        ),
    )


trees = st.recursive(leaves, _extend, max_leaves=12)
values = st.fixed_dictionaries({a: st.floats(allow_nan=True, allow_infinity=True) for a in ALIASES})


def full(node: Node) -> str:
    """Every operation in parentheses."""
    if node.op == "num":
        return repr(node.value)
    if node.op == "alias":
        return node.name
    if node.op == "call":
        return f"{node.name}({', '.join(full(a) for a in node.args)})"
    if node.op == "neg":
        return f"(-{full(node.args[0])})"
    if node.op == "!":
        return f"(!{full(node.args[0])})"
    if node.op == "?":
        return "({} ? {} : {})".format(*(full(a) for a in node.args))
    op = node.name if node.op == "cmp" else node.op
    return f"({full(node.args[0])} {op} {full(node.args[1])})"


def minimal(node: Node, need: int = 0) -> str:
    """Parentheses only where the precedence table requires them."""
    text, level = _minimal(node)
    return f"({text})" if level < need else text


def _minimal(node: Node) -> tuple[str, int]:
    if node.op in ("num", "alias"):
        return full(node), LEVEL["atom"]
    if node.op == "call":
        return f"{node.name}({', '.join(minimal(a) for a in node.args)})", LEVEL["atom"]
    if node.op == "neg":
        return f"-{minimal(node.args[0], LEVEL['neg'])}", LEVEL["neg"]
    if node.op == "!":
        return f"not {minimal(node.args[0], LEVEL['!'])}", LEVEL["!"]
    if node.op == "?":
        test, then, otherwise = node.args
        return f"{minimal(test, 1)} ? {minimal(then)} : {minimal(otherwise)}", 0
    if node.op == "cmp":
        left, right = node.args
        return f"{minimal(left, 5)} {node.name} {minimal(right, 5)}", LEVEL["cmp"]
    left, right = node.args
    level = LEVEL[node.op]
    if node.op == "**":  # right-associative: base an atom, exponent a unary
        return f"{minimal(left, 9)} ^ {minimal(right, 7)}", level
    word = {"&&": "and", "||": "||"}.get(node.op, node.op)
    return f"{minimal(left, level)} {word} {minimal(right, level + 1)}", level


class Failed(Exception):
    pass


def reference(node: Node, env: dict[str, float]) -> float:
    """The documented semantics, operator by operator (functions are left to the formula)."""
    if node.op == "num":
        return node.value
    if node.op == "alias":
        value = env[node.name]
        if not math.isfinite(value):
            raise Failed
        return value
    if node.op == "?":
        test, then, otherwise = node.args
        return reference(then, env) if reference(test, env) != 0 else reference(otherwise, env)
    if node.op == "&&":
        return float(reference(node.args[0], env) != 0 and reference(node.args[1], env) != 0)
    if node.op == "||":
        return float(reference(node.args[0], env) != 0 or reference(node.args[1], env) != 0)
    if node.op == "!":
        return float(reference(node.args[0], env) == 0)
    if node.op == "neg":
        return -reference(node.args[0], env)
    if node.op == "call":
        return parse(full(node)).evaluate(env)  # may raise EvaluationError
    return _binary(node, *(reference(a, env) for a in node.args))


def _binary(node: Node, x: float, y: float) -> float:
    if node.op == "cmp":
        return float(
            {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y, "==": x == y, "!=": x != y}[
                node.name
            ]
        )
    if node.op == "/" and y == 0:
        raise Failed
    try:
        result = {
            "+": lambda: x + y,
            "-": lambda: x - y,
            "*": lambda: x * y,
            "/": lambda: x / y,
            "**": lambda: math.pow(x, y),
        }[node.op]()
    except (ValueError, OverflowError):
        raise Failed from None
    if not math.isfinite(result):
        raise Failed
    return result


def outcome(text: str, env: dict[str, float]) -> float | str:
    try:
        result = parse(text).evaluate(env)
    except EvaluationError:
        return "error"
    assert math.isfinite(result)
    return result


@SETTINGS
@given(st.text(max_size=200))
def test_any_text_parses_or_raises_formula_error(text: str) -> None:
    try:
        parse(text)
    except FormulaError as error:
        assert error.line >= 1 and error.column >= 1


FORMULA_ALPHABET = "0123456789.eE+-*/^()<>=!&|?:, \n\tABbC_hild1notandorminaxlgsqrtwe"


@SETTINGS
@given(st.text(alphabet=FORMULA_ALPHABET, max_size=120))
def test_formula_like_text_parses_or_raises_formula_error(text: str) -> None:
    try:
        formula = parse(text)
    except FormulaError:
        return
    with contextlib.suppress(EvaluationError):
        formula.evaluate(dict.fromkeys(formula.aliases, 1.5))


@SETTINGS
@given(trees, values)
def test_generated_formulas_evaluate_or_raise_evaluation_error(
    tree: Node, env: dict[str, float]
) -> None:
    text = full(tree)
    assert parse(text).aliases <= set(ALIASES)
    outcome(text, env)


@SETTINGS
@given(trees, values)
def test_printing_with_fewest_parentheses_keeps_the_value(
    tree: Node, env: dict[str, float]
) -> None:
    assert outcome(minimal(tree), env) == outcome(full(tree), env)


@SETTINGS
@given(trees, values)
def test_the_evaluator_agrees_with_the_reference(tree: Node, env: dict[str, float]) -> None:
    try:
        expected: float | str = reference(tree, env)
    except (Failed, EvaluationError):
        expected = "error"
    assert outcome(full(tree), env) == expected
