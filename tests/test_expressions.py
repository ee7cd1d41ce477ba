"""Expressions: formulas given as text are checked node by node, then walked with numpy.

(a) random formulas agree with the same numpy code built alongside them;
(b) hostile text is refused with ConfigError and runs nothing;
(c) the features one by one, the inputs count, and the messages.
"""

import ast
import builtins
import contextlib
import os
import subprocess
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pytest
from helpers import examples
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from minifw import (
    ConfigError,
    DataError,
    Expression,
    ExpressionTarget,
    Target,
    target_from,
)
from minifw.core.expressions import FUNCTIONS, MAX_DEPTH, MAX_INPUTS, MAX_LENGTH
from minifw.core.serialize import from_spec, to_spec
from minifw.core.targets import Sin

# Thirteen samples of two inputs: negatives, zero, fractions (so log, sqrt, // and % all bite).
X = np.column_stack([np.linspace(-3, 3, 13), np.linspace(2, -2, 13) * 1.5])


def columns(x):
    return [x[:, i : i + 1] for i in range(x.shape[1])]


# (a) Random formulas against numpy ---------------------------------------------------

# Written out here rather than read from minifw, so a wrong entry there shows up as a mismatch.
ONE_ARGUMENT = {
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "arcsin": np.arcsin,
    "arccos": np.arccos,
    "arctan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "arcsinh": np.arcsinh,
    "arccosh": np.arccosh,
    "arctanh": np.arctanh,
    "exp": np.exp,
    "expm1": np.expm1,
    "log": np.log,
    "log1p": np.log1p,
    "log2": np.log2,
    "log10": np.log10,
    "sqrt": np.sqrt,
    "cbrt": np.cbrt,
    "square": np.square,
    "abs": np.absolute,
    "sign": np.sign,
    "floor": np.floor,
    "ceil": np.ceil,
    "rint": np.rint,
    "sinc": np.sinc,
}
TWO_ARGUMENTS = {
    "arctan2": np.arctan2,
    "hypot": np.hypot,
    "minimum": np.minimum,
    "maximum": np.maximum,
    "heaviside": np.heaviside,
}
THREE_ARGUMENTS = {
    "where": lambda c, a, b: np.where(np.asarray(c, dtype=bool), a, b),
    "clip": lambda a, low, high: np.minimum(np.maximum(a, low), high),
}
REFERENCE = {
    **{name: (f, 1) for name, f in ONE_ARGUMENT.items()},
    **{name: (f, 2) for name, f in TWO_ARGUMENTS.items()},
    **{name: (f, 3) for name, f in THREE_ARGUMENTS.items()},
}
# The ufunc per operator, as minifw promises: 1 / 0 is inf, never ZeroDivisionError.
BINARY = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.true_divide,
    "//": np.floor_divide,
    "%": np.mod,
    "**": np.power,
}
UNARY = {"-": np.negative, "+": np.positive}
COMPARE = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


class Formula(NamedTuple):
    """A formula as text, the numpy code that computes it, its nesting depth and inputs."""

    text: str
    f: Callable[[list[np.ndarray]], Any]
    depth: int
    inputs: int


def number(value):
    return Formula(repr(value), lambda cols: np.float64(value), 1, 1)


def variable(name):
    index = 0 if name == "x" else int(name[1:])
    return Formula(name, lambda cols: cols[index], 1, index + 1)


def constant(name):
    value = {"pi": np.pi, "e": np.e, "tau": 2 * np.pi}[name]
    return Formula(name, lambda cols: np.float64(value), 1, 1)


def combined(text, f, parts):
    depth = 1 + max(p.depth for p in parts)
    return Formula(text, f, depth, max(p.inputs for p in parts))


def unary(symbol, a):
    return combined(f"({symbol}{a.text})", lambda cols: UNARY[symbol](a.f(cols)), [a])


def binary(symbol, a, b):
    text = f"({a.text} {symbol} {b.text})"
    return combined(text, lambda cols: BINARY[symbol](a.f(cols), b.f(cols)), [a, b])


def comparison(symbols, parts):
    text = parts[0].text + "".join(
        f" {s} {p.text}" for s, p in zip(symbols, parts[1:], strict=True)
    )

    def f(cols):
        values = [p.f(cols) for p in parts]
        holds = np.bool_(True)
        for s, a, b in zip(symbols, values[:-1], values[1:], strict=True):
            holds = holds & COMPARE[s](a, b)
        return np.asarray(holds, dtype=np.float64)

    return combined(f"({text})", f, parts)


def call(name, parts):
    function = REFERENCE[name][0]
    text = f"{name}({', '.join(p.text for p in parts)})"
    return combined(text, lambda cols: function(*(p.f(cols) for p in parts)), parts)


def formulas(names):
    """Random formulas over the whitelist, in the input names ``names``."""
    leaves = st.one_of(
        st.integers(0, 20).map(number),
        st.floats(0, 50, allow_nan=False, allow_infinity=False).map(number),
        st.sampled_from(names).map(variable),
        st.sampled_from(["pi", "e", "tau"]).map(constant),
    )

    def extend(children):
        def chain(length):  # a < b, or a < b <= c
            symbols = st.tuples(*[st.sampled_from(sorted(COMPARE))] * length)
            return st.builds(comparison, symbols, st.tuples(*[children] * (length + 1)))

        def calls(arity):
            names = sorted(name for name, (_, n) in REFERENCE.items() if n == arity)
            return st.builds(call, st.sampled_from(names), st.tuples(*[children] * arity))

        return st.one_of(
            st.builds(unary, st.sampled_from(sorted(UNARY)), children),
            st.builds(binary, st.sampled_from(sorted(BINARY)), children, children),
            *[chain(length) for length in (1, 2)],
            *[calls(arity) for arity in (1, 2, 3)],
        )

    return st.recursive(leaves, extend, max_leaves=10)


def test_the_reference_covers_every_whitelisted_function():
    assert {name: arity for name, (_, arity) in FUNCTIONS.items()} == {
        name: arity for name, (_, arity) in REFERENCE.items()
    }


@settings(max_examples=examples(1000), deadline=None)
@given(formula=st.one_of(formulas(["x", "x0"]), formulas(["x0", "x1"])))
def test_random_formulas_equal_the_numpy_code_built_beside_them(formula):
    assume(formula.depth <= MAX_DEPTH and len(formula.text) <= MAX_LENGTH)
    expression = Expression(formula.text)
    assert expression.inputs == formula.inputs
    x = X[:, : formula.inputs]
    with np.errstate(all="ignore"):
        actual = expression(x)
        expected = np.broadcast_to(formula.f(columns(x)), (len(x), 1))
    assert actual.shape == (len(x), 1) and actual.dtype == np.float64
    np.testing.assert_array_equal(actual, expected)  # NaN equals NaN here


@pytest.mark.parametrize(
    ("text", "numpy"),
    [
        ("sin(x) * exp(-x / 4)", lambda x: np.sin(x) * np.exp(-x / 4)),
        ("x ** 3 - 2 * x + 1", lambda x: x**3 - 2 * x + 1),
        ("-x ** 2", lambda x: -(x**2)),  # ** binds tighter than unary minus, as in Python
        ("2 ** -x", lambda x: 2.0**-x),
        ("x // 0.7 + x % 0.7", lambda x: x // 0.7 + x % 0.7),
        ("sqrt(abs(x)) * sign(x)", lambda x: np.sqrt(np.abs(x)) * np.sign(x)),
        ("hypot(x, 1) - pi * tau / e", lambda x: np.hypot(x, 1) - np.pi * 2 * np.pi / np.e),
        ("heaviside(x, 0.5)", lambda x: np.heaviside(x, 0.5)),
        ("rint(x) + floor(x) + ceil(x)", lambda x: np.rint(x) + np.floor(x) + np.ceil(x)),
    ],
)
def test_formulas_read_as_python_and_numpy_read_them(text, numpy):
    x = X[:, :1]
    np.testing.assert_allclose(Expression(text)(x), numpy(x), rtol=1e-15)


# (b) Hostile text ------------------------------------------------------------------------


@contextlib.contextmanager
def tripwires():
    """Replace every way out of a sandbox with one that records its use and fails loudly.

    ``compile`` stays usable for parsing only (``ast.parse`` calls it with
    ``PyCF_ONLY_AST``); any other use, and any import, open, eval, exec or
    shell command, is recorded in the list the block receives.
    """
    touched = []
    real_compile = builtins.compile

    def trap(name):
        def tripped(*args, **kwargs):
            touched.append(name)
            raise AssertionError(f"{name} was called")

        return tripped

    def parse_only(source, filename, mode, flags=0, *args, **kwargs):
        if not flags & ast.PyCF_ONLY_AST:
            return trap("compile to code")()
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    fakes = {
        (builtins, name): trap(name) for name in ["__import__", "open", "eval", "exec", "input"]
    }
    fakes |= {(os, name): trap(f"os.{name}") for name in ["system", "popen", "remove"]}
    fakes |= {(subprocess, "Popen"): trap("subprocess.Popen"), (builtins, "compile"): parse_only}
    saved = {key: getattr(*key) for key in fakes}
    for (owner, name), fake in fakes.items():
        setattr(owner, name, fake)
    try:
        yield touched
    finally:
        for (owner, name), real in saved.items():
            setattr(owner, name, real)


def outcome(text):
    """(expression, y, None) or (None, None, ConfigError) for ``text``, with the tripwires set.

    y is the expression evaluated on three samples of ones.
    """
    with tripwires() as touched, np.errstate(all="ignore"):
        try:
            expression = Expression(text)
            y = expression(np.ones((3, expression.inputs)))
        except ConfigError as error:
            expression, y, error_found = None, None, error
        else:
            error_found = None
    assert touched == [], f"{text!r} reached {touched}"
    return expression, y, error_found


def test_the_tripwires_catch_what_they_guard():
    with tripwires() as touched:
        for attempt in [
            lambda: eval("1"),
            lambda: __import__("os"),
            lambda: os.system("true"),
            lambda: compile("1", "<test>", "eval"),
        ]:
            with contextlib.suppress(AssertionError):
                attempt()
        ast.parse("1")  # parsing alone is allowed
    assert touched == ["eval", "__import__", "os.system", "compile to code"]
    assert eval("1") == 1  # and everything is put back


HOSTILE = [
    "__import__('os').system('echo hi')",
    "().__class__.__bases__[0].__subclasses__()",
    "open('/etc/passwd').read()",
    "(lambda: 1)()",
    "[c for c in ()]",
    "x.__class__",
    "getattr(x, 'shape')",
    "eval('1')",
    "exec('import os')",
    "compile('1', '', 'eval')",
    "__import__",
    "globals()",
    "np.sin(x)",
    "sin(x=1)",
    "sin(**{'x': 1})",
    "sin(*[x])",
    '"a"',
    "b'a'",
    'f"{x}"',
    "(y := 1)",
    "x[0]",
    "x if x else 1",
    "x and 1",
    "x or 1",
    "not x",
    "(x, x)",
    "[x]",
    "{x}",
    "{1: 2}",
    "{c for c in x}",
    "(c for c in x)",
    "x @ x",
    "~x",
    "x | 1",
    "x is x",
    "x in x",
    "sin(x)(1)",
    "(x)(1)",
    "pi(x)",
    "import os",
    "x = 1",
    "lambda: 0",
    "(yield x)",
    "await x",
    "True",
    "None",
    "...",
    "1j",
    "1e999",
    "1" + "0" * 400,
    "x100",
    "",
    "\0",
    "\ud800",
    "\uff53\uff49\uff4e(\uff58)",  # full-width sin(x), which Python's parser would read as sin(x)
    "(" * 10_000 + "x" + ")" * 10_000,
    "x" * 100_000,
    "-" * 999 + "x",
    "(" * 300 + "x" + ")" * 300,
    "sin(" * 150 + "x" + ")" * 150,
    "x" + "**x" * 300,
    "not " * 240 + "x",
]


@pytest.mark.parametrize("text", HOSTILE, ids=[repr(t[:30]) for t in HOSTILE])
def test_hostile_text_is_refused_and_runs_nothing(text):
    expression, _, error = outcome(text)
    assert expression is None and isinstance(error, ConfigError)
    assert not isinstance(error, SyntaxError | RecursionError)
    assert len(str(error)) < 1000  # a message to read, not the text echoed back


def test_a_shell_command_in_a_formula_leaves_no_trace(tmp_path):
    witness = tmp_path / "ran"
    for text in [
        f"__import__('os').system('touch {witness}')",
        f"open('{witness}', 'w')",
        f"where(1, 1, __import__('os').system('touch {witness}'))",
    ]:
        _, _, error = outcome(text)
        assert isinstance(error, ConfigError)
    assert not witness.exists()


@settings(max_examples=examples(1000), deadline=None)
@given(st.text(max_size=80))
def test_any_text_is_an_expression_or_a_config_error(text):
    expression, y, error = outcome(text)
    event("accepted" if error is None else "refused")
    assert (expression is None) != (error is None)
    if expression is not None:
        assert y.shape == (3, 1) and y.dtype == np.float64


TOKENS = [
    *["x", "x0", "x1", "x2", "pi", "e", "1", "2.5", "0", "1e308"],
    *["(", ")", ",", "+", "-", "*", "/", "//", "%", "**", "<", "<=", "==", "!="],
    *["sin", "log", "sqrt", "where", "clip", "hypot", "abs"],
    *[".", "[", "]", "'a'", "__import__", "__class__", "lambda", ":", "=", ":="],
    *["not", "and", "or", "if", "else", "for", "in", "True", "None", "{", "}", "*", "@"],
]


@settings(max_examples=examples(1000), deadline=None)
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=25).map(" ".join))
def test_token_soup_is_an_expression_or_a_config_error(text):
    expression, y, error = outcome(text)
    event("accepted" if error is None else "refused")
    assert (expression is None) != (error is None)
    if expression is not None:
        assert y.shape == (3, 1) and y.dtype == np.float64


# (c) Features, inputs and messages ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "inputs"),
    [("2", 1), ("x", 1), ("x0", 1), ("x + x0", 1), ("x1", 2), ("x0 * x1", 2), ("pi + x3", 4)],
)
def test_inputs_is_the_highest_input_used_plus_one(text, inputs):
    assert Expression(text).inputs == inputs


def test_x_and_x0_are_both_the_one_input():
    np.testing.assert_array_equal(Expression("x + x0")(X[:, :1]), 2 * X[:, :1])


def test_two_inputs_are_the_two_columns():
    x0, x1 = columns(X)
    np.testing.assert_array_equal(Expression("x0 * x1 - x1")(X), x0 * x1 - x1)
    np.testing.assert_array_equal(Expression("arctan2(x1, x0)")(X), np.arctan2(x1, x0))


def test_x1_alone_reads_two_inputs():
    # x1 alone reads two inputs; x0 is there, unused.
    np.testing.assert_array_equal(Expression("x1")(X), X[:, 1:])


def test_a_formula_without_x_is_a_column_of_its_value():
    y = Expression("2 * pi")(X[:, :1])
    np.testing.assert_array_equal(y, np.full((13, 1), 2 * np.pi))
    y[0, 0] = 5.0  # the caller's own array, not a read-only broadcast view
    assert Expression("2 * pi")(X[:, :1])[0, 0] == 2 * np.pi


def test_constants():
    values = Expression("pi")(X[:1, :1]), Expression("e")(X[:1, :1]), Expression("tau")(X[:1, :1])
    assert [v.item() for v in values] == [np.pi, np.e, 2 * np.pi]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x > 0", [0, 0, 1]),
        ("x >= 0", [0, 1, 1]),
        ("x < 0", [1, 0, 0]),
        ("x <= 0", [1, 1, 0]),
        ("x == 0", [0, 1, 0]),
        ("x != 0", [1, 0, 1]),
        ("-1 < x < 1", [0, 1, 0]),
        ("-1 <= x < 1", [1, 1, 0]),
        ("(x > 0) * 3", [0, 0, 3]),
    ],
)
def test_comparisons_give_one_where_they_hold_and_zero_elsewhere(text, expected):
    y = Expression(text)(np.array([[-1.0], [0.0], [1.0]]))
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y.ravel(), expected)


def test_where_picks_by_a_non_zero_condition():
    x = np.array([[-2.0], [0.0], [3.0]])
    np.testing.assert_array_equal(Expression("where(x > 0, x, 0)")(x).ravel(), [0, 0, 3])
    np.testing.assert_array_equal(Expression("where(x, 1, -1)")(x).ravel(), [1, -1, 1])


def test_clip_bounds_values():
    y = Expression("clip(x, -0.5, 0.5)")(np.array([[-2.0], [0.25], [3.0]]))
    np.testing.assert_array_equal(y.ravel(), [-0.5, 0.25, 0.5])


def test_arithmetic_never_raises_where_numpy_gives_inf_or_nan():
    with np.errstate(all="ignore"):
        y = Expression("1 / x + 0 // x + 0 % x + 9 ** 9 ** 9")(np.array([[0.0]]))
    assert np.isnan(y).all()  # 1/0 = inf, 0//0 = nan: no ZeroDivisionError, no huge integer


def test_text_equality_and_str():
    assert str(Expression("  sin(x) ")) == "sin(x)"
    assert Expression("sin(x)") == Expression(" sin(x)")
    assert hash(Expression("x")) == hash(Expression("x"))
    assert Expression("x") != Expression("x0")  # the same function, but not the same text


def test_nesting_is_allowed_up_to_the_limit_and_no_further():
    deepest = "-" * (MAX_DEPTH - 1) + "x"  # MAX_DEPTH - 1 minus signs over x: MAX_DEPTH levels
    sign = -1 if (MAX_DEPTH - 1) % 2 else 1
    np.testing.assert_array_equal(Expression(deepest)(X[:, :1]), sign * X[:, :1])
    with pytest.raises(ConfigError, match=f"deeper than {MAX_DEPTH} levels"):
        Expression("-" + deepest)


def test_length_is_allowed_up_to_the_limit_and_no_further():
    longest = "0." + "0" * (MAX_LENGTH - 2)
    assert Expression(longest)(X[:1, :1]).item() == 0.0
    with pytest.raises(ConfigError, match=f"{MAX_LENGTH + 1} characters long; at most"):
        Expression(longest + "0")


def test_inputs_are_numbered_below_the_limit():
    assert Expression(f"x{MAX_INPUTS - 1}").inputs == MAX_INPUTS
    with pytest.raises(ConfigError, match=f"the input 'x{MAX_INPUTS}'.*x0 to x{MAX_INPUTS - 1}"):
        Expression(f"x{MAX_INPUTS}")


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("np.sin(x)", ["attribute access 'np.sin' at column 1", "bare name"]),
        ("x.__class__", ["attribute access 'x.__class__'"]),
        ("x + open(1)", ["the function 'open' at column 5", "sin, cos"]),
        ("foo * x", ["the name 'foo' at column 1", "x0, x1", "pi, e, tau"]),
        ("sin", ["the function name 'sin'", "call it, as in sin(x)"]),
        ("x + x1", ["the name 'x' at column 1", "x0, x1"]),
        ("sin(x=1)", ["keyword argument 'x=1' at column 5", "by position"]),
        ("sin(*x)", ["starred argument '*x' at column 5"]),
        ("sin(x, x)", ["sin takes 1 argument; got 2 in 'sin(x, x)'"]),
        ("where(x, 1)", ["where takes 3 arguments; got 2"]),
        ("x and 1", ["the operator 'and'", "where(c, a, b)"]),
        ("x or 1", ["the operator 'or'", "where(c, a, b)"]),
        ("not x", ["the operator 'not'", "1 - c"]),
        ("x if x > 0 else 0", ["the conditional", "where(c, a, b)"]),
        ("x @ x", ["the operator '@' in 'x @ x'", "+ - * / // % **"]),
        ("x is x", ["the operator 'is'", "< <= > >= == !="]),
        ("x[0]", ["indexing 'x[0]'", "x0, x1"]),
        ("(x, 1)", ["a tuple '(x, 1)'", "one number per sample"]),
        ("(lambda: 1)()", ["calling 'lambda: 1' at column 2"]),
        ("[c for c in x]", ["a comprehension"]),
        ("(y := 1)", ["an assignment 'y := 1'"]),
        ("'a' * x", ["the constant \"'a'\" at column 1", "real numbers"]),
        ("f'{x}'", ["an f-string"]),
        ("True * x", ["the boolean 'True'", "1 or 0"]),
        ("1e999", ["the number '1e999'", "finite"]),
        ("1 +", ["cannot read expression '1 +': invalid syntax"]),
        ("1 2", ["cannot read expression '1 2'", "at column 3"]),
        ("(x +\n foo)", ["the name 'foo' at line 2, column 2"]),
        ("x + \uff58", ["the character '\uff58' at column 5", "plain ASCII"]),
        ("(x +\n é)", ["the character 'é' at line 2, column 2"]),
        ("", ["cannot be empty"]),
        (3, ["must be text"]),
    ],
)
def test_messages_name_the_forbidden_part_and_what_is_allowed(text, fragments):
    with pytest.raises(ConfigError) as caught:
        Expression(text)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_evaluation_checks_the_shape_of_x():
    with pytest.raises(DataError, match="expected 2"):
        Expression("x0 * x1")(X[:, :1])
    with pytest.raises(DataError, match="2-D"):
        Expression("x")(np.ones(3))


# ExpressionTarget and target_from -------------------------------------------------------


def test_target_from_gives_registered_targets_by_name():
    assert target_from("sin") == Sin()
    sin = Sin()
    assert target_from(sin) is sin


def test_target_from_parses_any_other_text_as_a_formula():
    target = target_from("sin(x) * exp(-x / 4)")
    assert isinstance(target, ExpressionTarget)
    assert (target.domain, target.inputs) == ((-1.0, 1.0), 1)
    x = X[:, :1]
    np.testing.assert_allclose(target(x), np.sin(x) * np.exp(-x / 4), rtol=1e-15)


def test_an_expression_target_samples_its_inputs():
    x, y = target_from("x0 * x1").source(n=4).arrays()
    assert (x.shape, y.shape) == ((16, 2), (16, 1))
    np.testing.assert_array_equal(y, x[:, :1] * x[:, 1:])


def test_an_unknown_name_lists_the_targets_and_says_it_is_no_expression_either():
    with pytest.raises(ConfigError) as caught:
        target_from("sine")
    message = str(caught.value)
    assert "'sine'" in message and "nor a valid expression" in message
    assert all(name in message for name in Target.registry.names())


def test_a_broken_formula_says_why_it_cannot_be_read():
    with pytest.raises(ConfigError, match=r"nor a valid expression: cannot read expression"):
        target_from("sin(x) +")


def test_non_finite_values_are_refused_by_the_data_source():
    with np.errstate(all="ignore"), pytest.raises(DataError, match="must be finite"):
        ExpressionTarget("log(x)").source(n=5).arrays()  # log of negative x is NaN


def test_an_expression_target_checks_its_domain_and_text():
    assert ExpressionTarget(Expression(" x ")).text == "x"
    assert ExpressionTarget("x", domain=(0, 2)).domain == (0.0, 2.0)
    with pytest.raises(ConfigError, match="domain"):
        ExpressionTarget("x", domain=(2, 1))
    with pytest.raises(ConfigError, match="attribute access"):
        ExpressionTarget("x.real")


def test_an_expression_target_round_trips_as_a_spec_and_refuses_a_tampered_one():
    target = ExpressionTarget("x0 * x1", domain=(0, 3))
    spec = to_spec(target)
    assert spec == {"name": "expression", "text": "x0 * x1", "domain": [0.0, 3.0]}
    assert from_spec(Target, spec) == target
    with pytest.raises(ConfigError, match="the function '__import__'"):
        from_spec(Target, {"name": "expression", "text": "__import__('os')"})
