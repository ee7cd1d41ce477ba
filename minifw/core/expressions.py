"""Safe target expressions: ``Expression("sin(x) * exp(-x / 4)")(x)``, a formula given as text.

The text is parsed with ``ast.parse(text, mode="eval")`` and every node is
checked against a whitelist before anything runs; it is then evaluated by
walking that checked tree with numpy. Nothing is ever handed to ``eval``,
``exec`` or ``compile``, so text can name nothing outside the whitelist:

- text: plain ASCII, at most ``MAX_LENGTH`` characters;
- numbers: int and float literals, finite (``1e999`` is refused); every value
  is a float64. ``True``/``False`` are refused (write 1 and 0), as are text,
  bytes, complex numbers, ``None`` and ``...``;
- inputs: ``x`` for an expression of one input, or ``x0``, ``x1``, ... for
  several, up to ``x99``. ``x`` and ``x0`` are both the first input, but ``x``
  may not be mixed with ``x1``, ``x2``, ... (it would be unclear which it means);
- constants: ``pi``, ``e``, ``tau``;
- arithmetic: ``+ - * / // % **`` and unary ``+ -``, as numpy does them
  (``1 / 0`` is inf with numpy's warning, never an exception);
- comparisons: ``< <= > >= == !=``, chained as in Python (``0 < x < 1``), each
  giving 1.0 where it holds and 0.0 elsewhere;
- calls of the functions in ``FUNCTIONS`` by bare name with positional
  arguments: numpy's elementwise functions, plus ``where(c, a, b)`` (a where c
  is not 0, else b) and ``clip(a, low, high)`` in place of ``if``/``and``/``or``.

Everything else (attributes, indexing, other names and calls, lambdas,
comprehensions, containers, keyword and starred arguments, ``:=``, ``and``,
``or``, ``not``, ``if``) is a ConfigError that quotes the refused part and its
column. So are texts longer than ``MAX_LENGTH`` characters or nested deeper
than ``MAX_DEPTH`` levels (a clear message rather than a RecursionError).
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np

from .errors import ConfigError
from .validation import as_matrix, is_finite

Array = np.ndarray

MAX_LENGTH = 1000  # characters
# Inputs are x0 ... x99: a grid over more axes than that could never be built, and a name
# like x99999999 must not make a data source try.
MAX_INPUTS = 100
# Levels of operators and calls inside one another. Far more than a formula needs, and
# low enough that the recursive evaluator can never approach Python's recursion limit.
MAX_DEPTH = 50

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}

# fmt: off
_ONE_ARGUMENT = [
    "sin", "cos", "tan", "arcsin", "arccos", "arctan",
    "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh",
    "exp", "expm1", "log", "log1p", "log2", "log10",
    "sqrt", "cbrt", "square", "abs", "sign", "floor", "ceil", "rint", "sinc",
]
# fmt: on
_TWO_ARGUMENTS = ["arctan2", "hypot", "minimum", "maximum", "heaviside"]


def _where(condition: Array, a: Array, b: Array) -> Array:
    # Conditions are 0/1 floats (comparisons give those), so "holds" means "is not 0".
    return np.where(condition != 0, a, b)


# name -> (numpy function, number of arguments): the only things an expression can call.
FUNCTIONS: dict[str, tuple[Callable[..., Any], int]] = {
    **{name: (getattr(np, name), 1) for name in _ONE_ARGUMENT},
    **{name: (getattr(np, name), 2) for name in _TWO_ARGUMENTS},
    "where": (_where, 3),
    "clip": (np.clip, 3),
}

# ufuncs rather than Python's operators: on float64 scalars too, 1 / 0 is inf, not an exception.
_UNARY = {ast.UAdd: np.positive, ast.USub: np.negative}
_BINARY = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.FloorDiv: np.floor_divide,
    ast.Mod: np.mod,
    ast.Pow: np.power,
}
_COMPARISONS = {
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
}

_VARIABLE = re.compile(r"x(0|[1-9][0-9]*)?")  # x, x0, x1, ...; no x01, which reads as x1

# The operators Python has and expressions do not, by symbol, for the messages.
_SYMBOLS = {
    ast.MatMult: "@",
    ast.BitOr: "|",
    ast.BitAnd: "&",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.Invert: "~",
    ast.Not: "not",
    ast.And: "and",
    ast.Or: "or",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
}

_ARITHMETIC = "arithmetic is + - * / // % ** and unary + -"
_LOGIC = "use comparisons (they give 0 or 1), * for 'and', 1 - c for 'not', and where(c, a, b)"
_NAMES = "the names are x (one input) or x0, x1, ... (several inputs), and pi, e, tau"
_CALLS = "the functions, called by bare name, are: " + ", ".join(FUNCTIONS)
_CONSTANTS = "the only constants are real numbers and pi, e, tau"
_FORMULA = "write the formula itself, in x, numbers, operators and function calls"

# Node kinds refused outright: what to call them, and what to write instead.
_REFUSED: dict[type[ast.AST], tuple[str, str]] = {
    ast.Attribute: ("attribute access", "call functions by their bare name, like sin(x)"),
    ast.Subscript: ("indexing", "name the inputs x0, x1, ... rather than x[0], x[1]"),
    ast.Lambda: ("a lambda", _FORMULA),
    ast.ListComp: ("a comprehension", _FORMULA),
    ast.SetComp: ("a comprehension", _FORMULA),
    ast.DictComp: ("a comprehension", _FORMULA),
    ast.GeneratorExp: ("a generator", _FORMULA),
    ast.JoinedStr: ("an f-string", _CONSTANTS),
    ast.Starred: ("a starred argument", "pass each argument by position, like clip(x, 0, 1)"),
    ast.NamedExpr: ("an assignment", _FORMULA),
    ast.Tuple: ("a tuple", "an expression gives one number per sample"),
    ast.List: ("a list", "an expression gives one number per sample"),
    ast.Set: ("a set", "an expression gives one number per sample"),
    ast.Dict: ("a dict", "an expression gives one number per sample"),
    ast.IfExp: ("the conditional", "use where(c, a, b) for 'a if c else b'"),
}


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"an expression must be text, like 'sin(x)'; got {value!r}")
    # ast.parse refuses leading spaces (an "unexpected indent"), which mean nothing here.
    return value.strip()


@attrs.frozen
class Expression:
    """y = the formula ``text`` in x (or x0, x1, ...), evaluated elementwise with numpy.

    ``Expression(text)(x)`` maps x of shape (samples, inputs) to y of shape
    (samples, 1), float64; a formula without x (``"2"``) gives a column of that
    value. ``inputs`` is the number of input columns it reads: 1 for ``x`` (and
    for a formula without inputs), the highest index + 1 for ``x0``, ``x1``, ...
    The module docstring lists what a formula may hold; anything else raises
    ConfigError when the Expression is built, before anything is evaluated.
    Surrounding whitespace is dropped; ``str()`` gives the text back, and two
    Expressions with the same text are equal.

    >>> Expression("x0 * x1 + 1")(np.array([[2.0, 3.0]]))
    array([[7.]])
    """

    text: str = attrs.field(converter=_text)
    inputs: int = attrs.field(init=False, eq=False)
    _tree: ast.expr = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        tree = _parse(self.text)
        # Set once here, from the text: the instance stays immutable to its users.
        object.__setattr__(self, "_tree", tree)
        object.__setattr__(self, "inputs", _Checker(self.text).check(tree))

    def __call__(self, x: Array) -> Array:
        """y of shape (samples, 1) for x of shape (samples, ``inputs``); DataError otherwise."""
        x = as_matrix("x", x, columns=self.inputs, what="inputs")
        columns = [x[:, i : i + 1] for i in range(self.inputs)]
        value = _evaluate(self._tree, columns)
        # astype copies: the caller gets its own writable column, even from a lone constant.
        return np.broadcast_to(value, (x.shape[0], 1)).astype(np.float64)

    def __str__(self) -> str:
        """The formula's text."""
        return self.text


# A number written against a name or a bracket, as on paper: 2x, 3sin(x), 2(x + 1); not 2e3.
_JUXTAPOSED = re.compile(r"(?<![\w.])(\d+(?:\.\d*)?)(?![eE][-+]?\d)([A-Za-z_(][\w]*)")


def _parse(text: str) -> ast.expr:
    """The parsed body of ``text``, or ConfigError (never SyntaxError or RecursionError)."""
    if not text:
        raise ConfigError("an expression cannot be empty; write a formula in x, like sin(x)")
    if len(text) > MAX_LENGTH:
        raise ConfigError(
            f"expression is {len(text)} characters long; at most {MAX_LENGTH} are allowed"
        )
    if not text.isascii():
        # Every allowed name and symbol is ASCII. Refusing the rest here also keeps Python's
        # parser from normalising look-alikes (a full-width ｘ parses as x).
        first = next(i for i, char in enumerate(text) if not char.isascii())
        lines = re.split(r"\r\n|\r|\n", text[:first])
        raise ConfigError(
            f"the character {text[first]!r}{_position(text, len(lines), len(lines[-1]))} is not "
            "allowed in an expression; formulas are plain ASCII, like sin(x) * exp(-x / 4)"
        )
    try:
        return ast.parse(text, mode="eval").body
    except SyntaxError as error:
        where = ""
        if error.lineno and error.offset:  # 0 or None when unknown, or at the very end
            where = _position(text, error.lineno, error.offset - 1)
        # Newcomers write 2x as on paper. minifw does not guess a product: it says how.
        juxtaposed = _JUXTAPOSED.search(text)
        hint = (
            f"; a number times a name needs *: write {juxtaposed[1]}*{juxtaposed[2]}, "
            f"not {juxtaposed[0]}"
            if juxtaposed
            else ""
        )
        raise ConfigError(
            f"cannot read expression {shorten(text)!r}: {error.msg}{where}{hint}"
        ) from None
    # Some Pythons raise ValueError for a null byte; the others are the parser's own limits.
    except (ValueError, RecursionError, MemoryError) as error:
        raise ConfigError(f"cannot read expression {shorten(text)!r}: {error}") from None


def shorten(text: str, limit: int = 60) -> str:
    """``text``, cut to ``limit`` characters ending in "..." if it is longer (for messages)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _position(text: str, line: int, column: int) -> str:
    """' at column N' (1-based), with the line too if the text has several."""
    several = re.search(r"\r|\n", text)  # the newlines Python's tokenizer counts
    return f" at line {line}, column {column + 1}" if several else f" at column {column + 1}"


class _Checker:
    """Walks a parsed expression, refusing every node outside the whitelist."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.variables: list[ast.Name] = []

    def check(self, root: ast.expr) -> int:
        """The number of inputs ``root`` reads, or ConfigError for its first refused part."""
        # An explicit stack, not recursion: a deep tree gets a message, not a RecursionError.
        stack = [(root, 1)]
        while stack:
            node, depth = stack.pop()
            if depth > MAX_DEPTH:
                raise ConfigError(
                    f"expression nests deeper than {MAX_DEPTH} levels of operators and calls, "
                    f"reaching {self.quote(node)}; at most {MAX_DEPTH} are allowed "
                    "(a + b + c counts a level per +)"
                )
            # Reversed, so the leftmost refused part is the one reported.
            stack.extend((child, depth + 1) for child in reversed(self.children(node)))
        return self.inputs()

    def children(self, node: ast.expr) -> Sequence[ast.expr]:
        """The sub-expressions of an allowed ``node``; ConfigError if it is refused."""
        match node:
            case ast.Constant(value=value):
                self.constant(node, value)
                return []
            case ast.Name(id=name):
                self.name(node, name)
                return []
            case ast.UnaryOp(op=op, operand=operand):
                self.operator(node, op, _UNARY, _ARITHMETIC)
                return [operand]
            case ast.BinOp(left=left, op=op, right=right):
                self.operator(node, op, _BINARY, _ARITHMETIC)
                return [left, right]
            case ast.Compare(left=left, ops=ops, comparators=comparators):
                for op in ops:
                    self.operator(node, op, _COMPARISONS, "compare with < <= > >= == !=")
                return [left, *comparators]
            case ast.BoolOp(op=op):
                self.operator(node, op, {}, _LOGIC)  # always refused, naming and/or
            case ast.Call():
                self.call(node)
                return node.args
        what, instead = _REFUSED.get(type(node), (f"{type(node).__name__} syntax", _FORMULA))
        raise self.refuse(node, what, instead)

    def constant(self, node: ast.Constant, value: object) -> None:
        if isinstance(value, bool):
            raise self.refuse(node, "the boolean", "write 1 or 0")
        if not isinstance(value, int | float):
            raise self.refuse(node, "the constant", _CONSTANTS)
        if not is_finite(value):  # inf, or an int too large for a float
            raise self.refuse(node, "the number", "numbers must be finite, at most about 1.8e308")

    def name(self, node: ast.Name, name: str) -> None:
        if _VARIABLE.fullmatch(name):
            if name != "x" and int(name[1:]) >= MAX_INPUTS:
                raise self.refuse(node, "the input", f"inputs are x0 to x{MAX_INPUTS - 1}")
            self.variables.append(node)
        elif name in FUNCTIONS:
            raise self.refuse(node, "the function name", f"call it, as in {name}(x)")
        elif name not in CONSTANTS:
            raise self.refuse(node, "the name", _NAMES)

    def operator(self, node: ast.expr, op: ast.AST, allowed: dict[Any, Any], instead: str) -> None:
        if type(op) not in allowed:
            symbol = _SYMBOLS.get(type(op), type(op).__name__)
            logic = isinstance(op, ast.Not)  # the unary operator ~ gets the arithmetic hint
            raise self.refuse(node, f"the operator '{symbol}' in", _LOGIC if logic else instead)

    def call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute):
            raise self.refuse(func, *_REFUSED[ast.Attribute])
        if not isinstance(func, ast.Name) or func.id not in FUNCTIONS:
            what = "calling" if not isinstance(func, ast.Name) else "the function"
            raise self.refuse(func, what, _CALLS)
        if node.keywords:
            raise self.refuse(
                node.keywords[0], "the keyword argument", "pass arguments by position"
            )
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                raise self.refuse(argument, *_REFUSED[ast.Starred])
        arity = FUNCTIONS[func.id][1]
        if len(node.args) != arity:
            raise ConfigError(
                f"{func.id} takes {arity} argument{'s' if arity > 1 else ''}; "
                f"got {len(node.args)} in {self.quote(node)}"
            )

    def inputs(self) -> int:
        indices = [0 if v.id == "x" else int(v.id[1:]) for v in self.variables]
        several = max(indices, default=0) > 0
        for variable in self.variables:
            if several and variable.id == "x":
                raise self.refuse(
                    variable,
                    "the name",
                    "x is the only input of a one-input formula; "
                    "with several inputs name each one: x0, x1, ...",
                )
        return max(indices, default=0) + 1

    def quote(self, node: ast.AST) -> str:
        """``'source segment' at column N`` for ``node``."""
        segment = ast.get_source_segment(self.text, node) or type(node).__name__
        # col_offset counts UTF-8 bytes, which are characters in ASCII text.
        return f"{shorten(segment)!r}{_position(self.text, node.lineno, node.col_offset)}"

    def refuse(self, node: ast.AST, what: str, instead: str) -> ConfigError:
        """The error for a refused ``node``: what it is, where, and what to write instead."""
        return ConfigError(f"{what} {self.quote(node)} is not allowed in an expression; {instead}")


def _evaluate(node: ast.expr, columns: Sequence[Array]) -> Any:
    """The value of a checked ``node``: a (samples, 1) array, or a float64 scalar."""
    match node:
        case ast.Constant(value=value):
            return np.float64(value)
        case ast.Name(id=name) if name in CONSTANTS:
            return np.float64(CONSTANTS[name])
        case ast.Name(id=name):
            return columns[0 if name == "x" else int(name[1:])]
        case ast.UnaryOp(op=op, operand=operand):
            return _UNARY[type(op)](_evaluate(operand, columns))
        case ast.BinOp(left=left, op=op, right=right):
            return _BINARY[type(op)](_evaluate(left, columns), _evaluate(right, columns))
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            # a < b < c is (a < b) and (b < c), as in Python, elementwise.
            holds, a = np.True_, _evaluate(left, columns)
            for op, right in zip(ops, comparators, strict=True):
                b = _evaluate(right, columns)
                holds = np.logical_and(holds, _COMPARISONS[type(op)](a, b))
                a = b
            return np.asarray(holds, dtype=np.float64)
        case ast.Call(func=ast.Name(id=name), args=args):
            return FUNCTIONS[name][0](*(_evaluate(a, columns) for a in args))
    # Unreachable for a checked tree; a guard in case the checker and this ever disagree.
    raise ConfigError(f"cannot evaluate {type(node).__name__}")
