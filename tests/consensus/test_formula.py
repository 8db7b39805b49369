"""The formula language: the paper's formula, precedence, functions, errors with positions."""

from __future__ import annotations

import math

import pytest

from consensus.errors import DefinitionError, EvaluationError, FormulaError
from consensus.formula import MAX_DEPTH, MAX_LENGTH, parse

PAPER = "ChildModel1 <= 0 ? ChildModel1+ChildModel2 : ChildModel1*ChildModel2"
PAPER_FOLDED = "ChildModel1 <= 0 ?\nChildModel1+ChildModel2 :\nChildModel1*ChildModel2"


@pytest.mark.parametrize("text", [PAPER, PAPER_FOLDED])
@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (-2.0, 3.0, 1.0),  # A <= 0: A + B = -2 + 3
        (2.0, 3.0, 6.0),  # A > 0: A * B = 2 * 3
        (0.0, 3.0, 3.0),  # the boundary takes the first branch: 0 + 3
        (0.5, -4.0, -2.0),
    ],
)
def test_the_papers_formula_in_both_branches(
    text: str, a: float, b: float, expected: float
) -> None:
    formula = parse(text)
    assert formula.aliases == {"ChildModel1", "ChildModel2"}
    assert formula.evaluate({"ChildModel1": a, "ChildModel2": b}) == expected


def test_aliases_match_case_insensitively() -> None:
    formula = parse(PAPER)
    assert formula.evaluate({"CHILDMODEL1": 2, "childmodel2": 3}) == 6.0
    assert formula.bind(["CHILDMODEL1", "CHILDMODEL2"]) == {
        "ChildModel1": "CHILDMODEL1",
        "ChildModel2": "CHILDMODEL2",
    }


def test_bind_refuses_an_unknown_alias_with_its_position_and_ambiguous_children() -> None:
    formula = parse("A +\n  Zed")
    with pytest.raises(FormulaError) as caught:
        formula.bind(["A"])
    assert (caught.value.line, caught.value.column) == (2, 3)
    with pytest.raises(DefinitionError, match="differ only by case"):
        formula.bind(["A", "a", "Zed"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # ternary: lowest, right-associative, nestable in every position
        ("1 ? 2 : 3", 2),
        ("0 ? 2 : 3", 3),
        ("0 ? 1 : 0 ? 2 : 3", 3),
        ("0 ? 1 : 1 ? 2 : 3", 2),
        ("1 ? 0 ? 5 : 6 : 7", 6),
        ("1 ? 2 : 3 + 10", 2),
        ("0 ? 2 : 3 + 10", 13),
        ("(0 ? 2 : 3) + 10", 13),
        ("1 || 0 ? 4 : 5", 4),
        # power: right-associative, tighter than unary minus on its left
        ("2 ** 3 ** 2", 512),
        ("2 ^ 3 ^ 2", 512),
        ("(2 ** 3) ** 2", 64),
        ("-2 ** 2", -4),
        ("-2 ^ 2", -4),
        ("(-2) ** 2", 4),
        ("2 ** -1", 0.5),
        ("2 ** -1 ** 2", 0.5),
        ("- -3", 3),
        ("+-3", -3),
        ("-+3", -3),
        ("2 * -3", -6),
        # arithmetic
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 4 - 3", 3),
        ("24 / 4 / 3", 2),
        ("2 * 3 ** 2", 18),
        ("7 / 2", 3.5),
        (".5 + 1.", 1.5),
        ("1e3 + 2.5E-1", 1000.25),
        # comparisons give 1 or 0 and bind looser than arithmetic
        ("1 + 1 == 2", 1),
        ("3 < 2", 0),
        ("2 <= 2", 1),
        ("3 > 2", 1),
        ("2 >= 3", 0),
        ("1 != 1", 0),
        # && binds tighter than ||; ! and not bind looser than comparisons (as in Python)
        ("1 || 0 && 0", 1),
        ("(1 || 0) && 0", 0),
        ("0 && 1 || 1", 1),
        ("1 or 0 and 0", 1),
        ("not 0 and 0", 0),
        ("NOT 0 AND 1", 1),
        ("!0", 1),
        ("!5", 0),
        ("!2 > 3", 1),
        ("!!7", 1),
        ("not 1 == 2", 1),
        ("0 && 1/0", 0),
        ("1 || 1/0", 1),
        ("1 ? 5 : 1/0", 5),
        ("0 ? 1/0 : 5", 5),
    ],
)
def test_precedence_and_associativity(text: str, expected: float) -> None:
    assert parse(text).evaluate({}) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("min(3, 1, 2)", 1),
        ("max(3, 1, 2)", 3),
        ("MAX(4)", 4),
        ("abs(-2.5)", 2.5),
        ("sqrt(16)", 4),
        ("log(exp(2))", 2),
        ("log(8, 2)", 3),
        ("exp(0)", 1),
        ("round(2.567, 2)", 2.57),
        ("round(2.4)", 2),
        ("round(2.5)", 2),
        ("round(1234, -2)", 1200),
        ("mean(1, 2, 6)", 3),
        ("sum(1, 2, 3)", 6),
        ("median(5, 1, 3)", 3),
        ("median(4, 1, 3, 2)", 2.5),
        ("wmean(1, 1, 4, 2)", 3),
        ("wmean(10, 0, 2, 5)", 2),
        ("wmean(7, 3)", 7),
        ("clamp(5, 0, 1)", 1),
        ("clamp(-5, 0, 1)", 0),
        ("clamp(0.5, 0, 1)", 0.5),
        ("max(A, B) - min(A, B)", 2),
        ("wmean(A, 0.25, B, 0.75)", 2.5),
    ],
)
def test_functions(text: str, expected: float) -> None:
    assert parse(text).evaluate({"A": 1.0, "B": 3.0}) == pytest.approx(expected, abs=1e-12)


def test_a_function_name_may_be_an_alias() -> None:
    assert parse("log + max(log, 1)").evaluate({"log": 2.0}) == 4.0


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("A +", 1, 4, "expected an operand, found the end"),
        ("A + * B", 1, 5, "expected an operand, found '*'"),
        ("(A + B", 1, 7, "expected ')', found the end"),
        ("A ? B", 1, 6, "expected ':', found the end"),
        ("A B", 1, 3, "found 'B'"),
        ("A $ B", 1, 3, "found '$'"),
        ("A <= 0 ?\nA + B :\nA * * B", 3, 5, "expected an operand, found '*'"),
        ("a < b < c", 1, 7, "found '<'"),
        ("max(1,)", 1, 7, "expected an operand, found ')'"),
        ("foo(1)", 1, 1, "unknown function 'foo'"),
        ("1 + \n  bar(2)", 2, 3, "unknown function 'bar'"),
        ("A + max()", 1, 5, "max takes at least 1 argument, got 0"),
        ("sqrt(1, 2)", 1, 1, "sqrt takes 1 argument, got 2"),
        ("log()", 1, 1, "log takes 1 or 2 arguments, got 0"),
        ("clamp(1, 2)", 1, 1, "clamp takes 3 arguments, got 2"),
        ("wmean(1, 2, 3)", 1, 1, "wmean takes (value, weight) pairs, got 3 arguments"),
        ("A + 1e999", 1, 5, "number 1e999 is out of range"),
        ("", 1, 1, "the formula is empty"),
        (" \n\t ", 1, 1, "the formula is empty"),
    ],
)
def test_syntax_errors_carry_line_and_column(
    text: str, line: int, column: int, message: str
) -> None:
    with pytest.raises(FormulaError) as caught:
        parse(text)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert message in caught.value.message
    assert str(caught.value).startswith(f"line {line}, column {column}: ")


def test_too_long_and_too_deep_are_formula_errors() -> None:
    with pytest.raises(FormulaError, match="too long"):
        parse("1+" * (MAX_LENGTH // 2) + "1")
    with pytest.raises(FormulaError, match="nests too deeply"):
        parse("(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(FormulaError, match="nests too deeply"):
        parse("-" * 5000 + "1")
    with pytest.raises(FormulaError, match="nests too deeply"):
        parse("1" + "+1" * 4000)
    assert parse("(" * 50 + "1" + ")" * 50).evaluate({}) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A / B", "division by zero at line 1, column 3"),
        ("log(B)", "log of a non-positive number"),
        ("log(-1)", "log of a non-positive number"),
        ("log(2, 1)", "log base"),
        ("sqrt(-1)", "sqrt of a negative number"),
        ("exp(1000)", "overflows"),
        ("1e308 * 10", "non-finite"),
        ("1e308 + 1e308", "non-finite"),
        ("10 ** 400", "overflows"),
        ("(-8) ** (1/3)", "undefined"),
        ("0 ** -1", "undefined"),
        ("wmean(1, -1, 2, 2)", "negative"),
        ("wmean(1, 0, 2, 0)", "sum to zero"),
        ("clamp(1, 2, 0)", "reversed"),
        ("round(1, 0.5)", "whole number"),
        ("Missing + 1", "no value for 'Missing'"),
    ],
)
def test_evaluation_errors_are_per_call_not_crashes(text: str, message: str) -> None:
    formula = parse(text)
    with pytest.raises(EvaluationError, match=message):
        formula.evaluate({"A": 1.0, "B": 0.0})


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "1", None, [1.0]])
def test_bad_input_values_are_evaluation_errors(bad: object) -> None:
    with pytest.raises(EvaluationError, match="'A'"):
        parse("A + 1").evaluate({"A": bad})


def test_integers_and_booleans_are_numbers() -> None:
    assert parse("A + B").evaluate({"A": 2, "B": True}) == 3.0


def test_formulas_compare_by_text() -> None:
    assert parse("A + B") == parse("A + B")
    assert parse("A + B") != parse("A+B")
