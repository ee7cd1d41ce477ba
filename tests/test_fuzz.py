"""Fuzzing every way text and bytes get into minifw: whatever comes in, the answer is a
result or a documented ``MinifwError``, never a traceback from numpy, argparse or Python.

(1) the command line: ``build_parser().parse_args`` plus the ``configuration()`` step on any
    argument list, and ``main(argv)`` end to end in a fresh directory (training forced to one
    epoch and no figure);
(2) the configuration loader: ``RunConfig.load`` on any text and on any TOML document;
(3) the target-expression parser: ``target_from`` on any text and on Python-like expressions
    from a small grammar; nothing may run (a marker file proves it), and an accepted formula
    evaluates to a finite array or a DataError;
(4) the model loader: ``load``, ``load_checkpoint`` and ``load_saved`` on any bytes, on sound
    files with bytes flipped or cut off, and on sound files whose JSON header is mutated;
    then what a file may claim: any number in a header replaced by an integer too large for
    a float, zip bombs in any member (17 to 64 MiB deflated to kilobytes, never decompressed),
    members declaring any size, loss histories claiming any length past the bound; integers
    too large for a float in a ledger line; and layer and data sizes no memory holds.

Probing around these found gaps in the ledger and CSV readers too; they are pinned in (4).

Each ``@settings`` says how many examples a test runs; together they take about 15 s.

A gap that fuzzing found is pinned by a deterministic ``test_gap_...`` at the end of its
section ("Gaps found"), which says how minifw should behave; every one of them is fixed and
passes. A fuzz test that fails names its input: pin a new gap the same way.
"""

import argparse
import atexit
import contextlib
import datetime as dt
import functools
import io
import json
import math
import re
import shutil
import string
import struct
import tempfile
import time
import tomllib
import zipfile
import zlib
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from helpers import examples
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

import minifw
from minifw import ConfigError, DataError, MinifwError, ModelFileError, RunConfig, Target
from minifw.cli import build_parser, main
from minifw.cli.sweep import sweep_grid
from minifw.cli.train import configuration
from minifw.core.data import read_csv
from minifw.core.errors import LedgerError
from minifw.core.expressions import FUNCTIONS
from minifw.core.targets import ExpressionTarget, target_from
from minifw.files.ledger import Ledger
from minifw.files.saving import MAX_HISTORY, load, load_checkpoint, load_saved
from minifw.run.config import _TOML_KINDS as TOML_KINDS
from minifw.run.config import SETTINGS

LOADERS = {"load": load, "load_checkpoint": load_checkpoint, "load_saved": load_saved}
FUZZ = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture]}


def scratch_directory() -> Path:
    """A directory that lives as long as this test process (for files made once per module)."""
    path = Path(tempfile.mkdtemp(prefix="minifw-fuzz-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def captured(call):
    """(exit code, stdout, stderr) of ``call()``: its return value, or SystemExit's code."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = call()
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


def assert_clean_exit(code, out, err):
    """A finished command: 0, or 1/2 with one message on stderr (argparse's or minifw's)."""
    assert code in (0, 1, 2), (code, err)
    assert "Traceback" not in out + err
    if code == 0:
        return
    message = err.strip()
    assert message, "a failing command must say why on stderr"
    assert message.startswith("usage:") or "minifw: error: " in message, message


# (1) The command line ---------------------------------------------------------------------


def subparsers(parser):
    """{name: subparser} of ``parser``'s sub-commands."""
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return action.choices


def flag_table():
    """{command: [(option string, nargs, dest, choices)]} for every flag of every sub-command."""
    table = {}
    for name, sub in subparsers(build_parser()).items():
        flags = [
            (option, action.nargs, action.dest, action.choices)
            for action in sub._actions
            for option in action.option_strings
            if not isinstance(action, argparse._SubParsersAction)
        ]
        table[name] = flags
    return table


FLAGS = flag_table()
COMMANDS = sorted(FLAGS)

# Values a flag may get: the meaningful, the borderline and the hostile.
WORDS = [
    *["sin", "ripple", "gauss", "x", "x0 * x1", "sin(x) * exp(-x / 4)", "0*x+1", "log(x)"],
    *["1 / 0 * x", "__import__('os')", "nope", "expression", "expression:text=x", "sin:foo=1"],
    *["sigmoid", "tanh", "relu", "identity", "leaky_relu:alpha=0.1", "swish", "elu:alpha=-1"],
    *["sgd", "adam", "rmsprop", "adam:beta1=0.8", "adam:beta1=1", "sgd:momentum=-1", "lbfgs"],
    *["sgd:lr=1e308", "sgd:nesterov=maybe", "sgd:lr", "sgd:=1", "adam:schedule=step"],
    *["mse", "mae", "huber:delta=0", "binary_cross_entropy", "step:step_size=1", "cosine"],
    *["he_uniform", "constant:value=1e308", "zeros", "glorot_normal", "step", "warmup"],
    *["float32", "float64", "grid", "uniform", "linear", "log", "blog", "overview", "loss"],
    *["lr=0.1,0.3", "activation=sigmoid,tanh", "layers=5;8,8", "lr=", "=1", "seed=1"],
    *["nan", "inf", "-inf", "-1", "0", "1", "2", "3", "0.5", "1e-3", "1e308", "-0", "1_0"],
    *["", " ", "-", "--", "-h", "--help", "true", "none", "8,8", "8,0", "8,x", "1,2,3"],
    *["model1.npz", "model2.npz", "ckpt.npz", "missing.npz", "in.csv", "in2.csv", "good.toml"],
    *["bad.toml", "out.png", "out.svg", "out.txt", "out.gif", "new.npz", "new.toml", "runs"],
]
UNICODE = st.characters(exclude_categories=["Cs"])  # lone surrogates cannot be written
TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\0"), max_size=12)
# (argv can hold neither NUL nor lone surrogates)
NUMBER = st.one_of(
    st.integers(-3, 64).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(-100, 100).map(lambda v: f"{v:g}"),
)
VALUE = st.one_of(st.sampled_from(WORDS), NUMBER, TEXT)
TOKEN = st.one_of(VALUE, TEXT.map(lambda t: "--" + t), st.sampled_from(["-h", "--", "-"]))
# What each flag (by dest) is meant to get, so that many command lines get past argparse.
FILES = ["model1.npz", "model2.npz", "ckpt.npz", "missing.npz", "in.csv", "in2.csv", "new.npz"]
FILES += ["good.toml", "bad.toml", "new.toml", "out.png", "out.svg", "out.txt", "runs", "."]
SMALL = st.integers(-1, 12).map(str)
REAL = st.sampled_from(["-1.5", "0", "0.25", "1", "3.5", "6.28", "1e-3", "nan", "-inf"])
MEANT = {
    "target": ["sin", "ripple", "gauss", "cubic", "x", "x0 * x1", "0*x+1", "log(x)", "1/0*x"],
    "activation": ["sigmoid", "tanh", "relu", "identity", "elu", "leaky_relu:alpha=0.1"],
    "init": ["he_uniform", "zeros", "glorot_normal", "constant:value=1e308", "blog_uniform"],
    "loss": ["mse", "mae", "huber:delta=0.5", "binary_cross_entropy"],
    "optimizer": ["sgd", "adam", "rmsprop", "adam:beta1=0.8", "sgd:momentum=0.9,nesterov=true"],
    "schedule": ["step:step_size=1", "cosine:decay_steps=10", "exponential:decay_steps=1,rate=0.5"],
    "layers": ["5", "8,8", "3,2,1", "0", "8,x", "1"],
    "grid": ["lr=0.1,0.3", "activation=sigmoid,tanh", "layers=5;8,8", "lr=", "=1", "seed=1"],
}
MEANT["output_activation"] = MEANT["activation"]
PATHS = {"save_model", "checkpoint", "resume", "config", "save_config", "plugins", "model"}
PATHS |= {"input", "output", "out", "plot", "animate", "runs_dir"}


def meant(dest, choices):
    """What flag ``dest`` is meant to get (with argparse's ``choices``, if any)."""
    if choices:
        return st.sampled_from(list(choices))
    if dest in MEANT:
        return st.sampled_from(MEANT[dest])
    if dest in PATHS:
        return st.sampled_from(FILES)
    if dest in ("domain", "plot_domain", "x", "noise", "validation", "lr") or "target" in dest:
        return REAL
    return SMALL


@st.composite
def command_lines(draw, commands=COMMANDS, value=VALUE, token=TOKEN):
    """A sub-command (or, with ``token``, a stray word) and a mix of its real flags with
    ``value``s, and of junk ``token``s (or, without, positional values)."""
    command = draw(
        st.sampled_from(commands) if token is None else st.sampled_from(commands) | token
    )
    argv = [command]
    flags = FLAGS.get(command, [])
    if command == "runs" and draw(st.booleans()):
        argv += ["compare", *draw(st.lists(value, max_size=3))]
    for _ in range(draw(st.integers(0, 6))):
        if flags and draw(st.integers(0, 3)):
            option, nargs, dest, choices = draw(st.sampled_from(flags))
            flag_value = st.one_of(meant(dest, choices), value)
            if nargs == "+":
                n = draw(st.integers(1, 3))
            elif nargs == "?":
                n = draw(st.integers(0, 1))
            else:
                n = 1 if nargs is None else nargs
            argv += [option, *draw(st.lists(flag_value, min_size=n, max_size=n))]
        else:
            argv.append(draw(value if token is None else token))
    return argv


@settings(max_examples=examples(400), **FUZZ)
@given(argv=command_lines())
def test_any_command_line_parses_into_a_configuration_or_exits_cleanly(argv):
    def parse():
        args = build_parser().parse_args(argv)
        if args.command == "train":
            configuration(args)  # reads --config, if any, and applies the flags
        elif args.command == "sweep":
            sweep_grid(args.grid)
        return 0

    try:
        code, out, err = captured(parse)
    except MinifwError as error:  # a refusal of the configuration itself
        event(f"refused: {type(error).__name__}")
        assert str(error)
        return
    event(f"exit {code}")
    assert_clean_exit(code, out, err)


def safe_for_a_real_run(token):
    """Whether ``token`` may reach a command that really runs: it names nothing outside the
    example's directory, asks for no grid over more than two input axes (x2 ... x99: n**k
    points) and holds no whole number above 64 (no huge network, grid or batch count)."""
    if "/" in token or "\\" in token or token == ".." or re.search(r"x(?:[2-9]|\d\d)", token):
        return False
    for piece in re.split(r"[,;=:]", token):
        with contextlib.suppress(ValueError):
            if abs(int(piece)) > 64:  # what argparse's int() and the specs' parser accept
                return False
    return True


SAFE_VALUE = st.one_of(
    st.sampled_from([w for w in WORDS if safe_for_a_real_run(w)]),
    st.integers(-3, 64).map(str),
    st.sampled_from(["nan", "inf", "-inf", "0.5", "1e-3", "-0.0", "1e308", "5e-324", "0.999"]),
    TEXT.filter(safe_for_a_real_run),
)


@functools.cache
def prepared_files():
    """A directory of files for the commands to use: two models (one and two inputs), a
    checkpoint, a configuration, CSV inputs and a ledger of two runs; and those runs' ids."""
    where = scratch_directory()
    with contextlib.chdir(where):
        quick = ["--epochs", "2", "--samples", "6", "--no-plot"]
        for argv in [
            ["train", *quick, "--save", "model1.npz", "--checkpoint", "ckpt.npz"],
            ["train", *quick, "--target", "x0 * x1", "--save", "model2.npz"],
        ]:
            assert captured(lambda argv=argv: main(argv))[0] == 0
        RunConfig(epochs=1, samples=6, no_plot=True).save("good.toml")
        Path("bad.toml").write_text("[training]\nepochs = 'many'\n")
        Path("in.csv").write_text("x0\n0.5\n1.5\n")
        Path("in2.csv").write_text("1,2\n3,4\n")
        ids = [record.id for record in Ledger("runs").records()]
    return where, ids


RUN_IDS = st.deferred(lambda: st.sampled_from(prepared_files()[1]))
# A real run: mostly train (one epoch, no figure), then predict, runs and list.
REAL_COMMANDS = ["train"] * 6 + ["predict"] * 3 + ["runs"] * 2 + ["list"]


@st.composite
def real_command_lines(draw):
    argv = draw(command_lines(REAL_COMMANDS, SAFE_VALUE, token=None))
    if argv[0] == "runs" and argv[1:2] == ["compare"] and draw(st.booleans()):
        argv[2:4] = draw(st.lists(RUN_IDS, min_size=2, max_size=2))
    if argv[0] == "train":
        argv += ["--epochs", "1", "--no-plot"]  # last, so they win
    assume(all(safe_for_a_real_run(token) for token in argv))  # what MEANT holds is safe
    return argv


@settings(max_examples=examples(150), **FUZZ)
@given(argv=real_command_lines())
def test_any_command_line_runs_or_fails_cleanly(argv):
    source, _ = prepared_files()
    with tempfile.TemporaryDirectory() as where, contextlib.chdir(where):
        shutil.copytree(source, where, dirs_exist_ok=True)
        code, out, err = captured(lambda: main(argv))
    event(f"{argv[0]}: exit {code}")
    assert_clean_exit(code, out, err)


# Gaps found: the command line.


@pytest.mark.parametrize("values", [["1"], ["1", "2", "3"]])
def test_gap_predict_x_values_that_do_not_fill_whole_samples(values, capsys):
    with contextlib.chdir(prepared_files()[0]), pytest.raises(SystemExit) as info:
        main(["predict", "model2.npz", "--x", *values])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "minifw: error: " in err
    assert "2 inputs" in err and str(len(values)) in err


@pytest.mark.parametrize(
    ("plot", "problem"),
    [("out.txt", r"\.png|\.svg"), ("adir", "directory")],
    ids=["unsupported suffix", "a directory"],
)
def test_gap_a_plot_path_that_cannot_be_written_is_refused_before_training(plot, problem, capsys):
    Path("adir").mkdir()
    with pytest.raises(SystemExit) as info:
        main(["train", "--epochs", "1", "--plot", plot])
    assert info.value.code == 2
    assert re.search(problem, capsys.readouterr().err)
    assert not Path("runs").exists()  # refused before training: no run was recorded


def test_gap_save_config_is_not_written_for_a_configuration_that_is_refused(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--save-config", "c.toml", "--target", "nope", "--no-plot"])
    assert info.value.code == 2
    assert "target 'nope'" in capsys.readouterr().err
    assert not Path("c.toml").exists()


@pytest.mark.parametrize("flag", ["--save", "--checkpoint"])
def test_gap_an_empty_output_path_is_refused(flag, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--epochs", "1", "--no-plot", flag, ""])
    assert info.value.code == 2
    assert flag in capsys.readouterr().err


# (2) The configuration loader -------------------------------------------------------------

FIELDS = SETTINGS
SECTIONS = sorted({s.group for s in FIELDS.values()})
KEYS_OF = {g: sorted(n for n, s in FIELDS.items() if s.group == g) for g in SECTIONS}


def config_file(text_or_bytes):
    """A fresh file holding ``text_or_bytes``, with a name a message can be searched for."""
    path = Path(tempfile.mkdtemp(dir=".")) / "fuzzed-run.toml"
    if isinstance(text_or_bytes, bytes):
        path.write_bytes(text_or_bytes)
    else:
        path.write_text(text_or_bytes, encoding="utf-8")
    return path


def assert_loads_or_names_the_file(path):
    """RunConfig.load(path) gives a RunConfig, or a ConfigError naming ``path``."""
    try:
        config = RunConfig.load(path)
    except ConfigError as error:
        assert str(path) in str(error), str(error)
        event("refused")
        return None
    assert isinstance(config, RunConfig)
    event("accepted")
    return config


TOML_WORDS = [
    *[f"[{s}]" for s in SECTIONS],
    *["[data.sub]", "[[data]]", "[training", "]", "[", "{", "}", "=", ",", ".", '"', "'", "#"],
    *list(FIELDS),
    *["1", "-1", "0", "1.5", "1e400", "nan", "inf", "-inf", "true", "false", "0x1f", "1_000"],
    *['"sin"', "'x0 * x1'", '"""a\nb"""', "[1, 2]", "[2, 1]", "[]", "[8, 'x']", "{a = 1}"],
    *["1979-05-27T07:32:00Z", "1979-05-27", "07:32:00", "\n", " ", "\t", "\r\n", "\\", "\ufeff"],
]
TOML_ISH = st.lists(st.sampled_from(TOML_WORDS) | TEXT, max_size=30).map("".join)


@settings(max_examples=examples(300), **FUZZ)
@given(content=st.one_of(TOML_ISH, st.text(UNICODE, max_size=200), st.binary(max_size=200)))
def test_any_file_content_is_a_configuration_or_a_config_error_naming_the_file(content):
    assert_loads_or_names_the_file(config_file(content))


# Any TOML document: tables of keys (real ones and not) holding values of every TOML type.
BASIC_KEYS = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=8)
ANY_KEY = st.one_of(BASIC_KEYS, TEXT.filter(bool))
TOML_SCALARS = st.one_of(
    st.text(UNICODE, max_size=12),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    st.booleans(),
    st.datetimes(timezones=st.none() | st.just(dt.UTC)).map(lambda d: d.replace(fold=0)),
    st.dates(),
    st.times().map(lambda t: t.replace(fold=0)),
)
TOML_VALUES = st.recursive(
    TOML_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(BASIC_KEYS, inner, max_size=3),
    max_leaves=6,
)
RIGHT_KIND = {
    (str,): st.sampled_from(["sin", "tanh", "adam:beta1=0.8", "x0 * x1", "", "nope", "grid"]),
    (int,): st.integers(-5, 50),
    (int, float): st.floats(-10, 10) | st.integers(-5, 5) | st.sampled_from([math.inf, math.nan]),
    (bool,): st.booleans(),
    (list,): st.lists(st.integers(-2, 9) | st.floats(-10, 10) | st.text(max_size=3), max_size=3),
}


@st.composite
def toml_documents(draw):
    """{section: {key: value}} with the four real tables and others, and stray top-level keys;
    half of them careful (real keys with values of the right kind, whose range may be wrong)."""
    careful = draw(st.booleans(), label="careful")
    doc = {}
    section_names = st.sampled_from(SECTIONS) if careful else st.sampled_from(SECTIONS) | BASIC_KEYS
    for section in draw(st.lists(section_names, max_size=4, unique=True)):
        table = {}
        real = st.sampled_from(KEYS_OF.get(section) or list(FIELDS))
        for key in draw(st.lists(real if careful else real | ANY_KEY, max_size=5)):
            kinds = TOML_KINDS[FIELDS[key].kind] if key in FIELDS else None
            right = RIGHT_KIND.get(kinds, TOML_VALUES)
            table[key] = draw(right if careful else right | TOML_VALUES)
        doc[section] = table
    if not careful and draw(st.booleans()):  # a key outside any table, or a table that is not one
        doc = {draw(st.sampled_from(SECTIONS) | BASIC_KEYS): draw(TOML_VALUES), **doc}
    return doc


def toml_key(key):
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_string(key)


def toml_string(text):
    # JSON escapes what TOML's basic strings need escaped, except DEL.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return {"inf": "inf", "-inf": "-inf", "nan": "nan"}.get(repr(value), repr(value))
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(map(toml_value, value)) + "]"
    items = (f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items())
    return "{" + ", ".join(items) + "}"


def to_toml(doc):
    """TOML text for ``doc``: tables as [headers], anything else as a key before them."""
    plain = [f"{toml_key(k)} = {toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    tables = [
        "\n".join([f"[{toml_key(k)}]", *(f"{toml_key(a)} = {toml_value(b)}" for a, b in v.items())])
        for k, v in doc.items()
        if isinstance(v, dict)
    ]
    return "\n".join(plain + tables) + "\n"


def canonical(value):
    """``value`` in a form that compares equal for equal TOML (NaN included)."""
    if isinstance(value, dict):
        return sorted((k, canonical(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return (type(value).__name__, repr(value))


@settings(max_examples=examples(300), **FUZZ)
@given(doc=toml_documents())
def test_any_toml_document_is_a_configuration_or_a_config_error_naming_the_file(doc):
    text = to_toml(doc)
    assert canonical(tomllib.loads(text)) == canonical(doc)  # the writer here writes what we mean
    path = config_file(text)
    config = assert_loads_or_names_the_file(path)
    if config is None:
        return
    # Accepted: no key was ignored, and the configuration survives a save and a load.
    written = config.to_dict()
    for section, table in doc.items():
        assert set(table) <= set(written.get(section, {})), (section, table)
    again = RunConfig.load(config.save(path.with_name("again.toml")))
    assert canonical(again.to_dict()) == canonical(written)


# (3) The target-expression parser ----------------------------------------------------------

MARKER = "MINIFW_FUZZ_RAN"  # a file that only code run from an expression would create
PAYLOADS = [
    f"__import__('os').system('touch {MARKER}')",
    f"open('{MARKER}', 'w')",
    f"exec(\"open('{MARKER}', 'w')\")",
    f"eval(\"open('{MARKER}', 'w')\")",
    f"__builtins__['open']('{MARKER}', 'w')",
    f"[open('{MARKER}', 'w') for _ in (1,)]",
    f"(lambda: open('{MARKER}', 'w'))()",
    f"sin(open('{MARKER}', 'w'))",
    f"where(1, x, __import__('pathlib').Path('{MARKER}').touch())",
    "().__class__.__base__.__subclasses__()",
    "x.__class__.__init__.__globals__",
    "getattr(x, '__class__')",
]
NAMES = [
    *["x", "x0", "x1", "pi", "e", "tau", "y", "np", "os", "open", "eval", "exec", "getattr"],
    *["__import__", "__builtins__", "__class__", "True", "None", "nan", "inf", "self", "_"],
    *list(FUNCTIONS),
]
LITERALS = [
    *["0", "1", "2.5", "1e308", "1e999", "0x1f", "0o17", "0b11", "1_000", "1j", ".5", "5."],
    *["'a'", "b'a'", "...", "1" + "0" * 400, "-0.0", "3e-320"],
]
LEAVES = st.one_of(
    st.sampled_from(NAMES),
    st.sampled_from(LITERALS),
    st.integers(-(10**20), 10**20).map(str),
    st.floats().map(repr),
    st.sampled_from(PAYLOADS),
)
BINARY = ["+", "-", "*", "/", "//", "%", "**", "@", "&", "|", "^", "<<", ">>", "and", "or"]
BINARY += ["<", "<=", ">", ">=", "==", "!=", "is", "is not", "in", "not in"]
ATTRIBUTES = ["real", "T", "shape", "__class__", "__globals__", "sin", "__subclasses__"]


def grow(inner):
    """Python-like expressions built from ``inner`` ones: every construct Python has."""
    pair = st.tuples(inner, inner)

    def wrap(text):
        return st.sampled_from([text, f"({text})"])

    return st.one_of(
        st.tuples(inner, st.sampled_from(BINARY), inner).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.tuples(st.sampled_from(["-", "+", "~", "not "]), inner).map("".join),
        st.tuples(
            st.sampled_from(NAMES) | inner.map(lambda t: f"({t})"), st.lists(inner, max_size=4)
        ).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.tuples(inner, st.sampled_from(["*", "**", "a=", ""])).map(
            lambda t: f"sin({t[1]}{t[0]})"
        ),
        st.tuples(inner, st.sampled_from(ATTRIBUTES)).map(lambda t: f"({t[0]}).{t[1]}"),
        pair.map(lambda t: f"({t[0]})[{t[1]}]"),
        pair.map(lambda t: f"({t[0]})[{t[1]}:]"),
        inner.map(lambda t: f"(lambda: {t})"),
        inner.map(lambda t: f"(lambda x: {t})(x)"),
        pair.map(lambda t: f"[{t[0]} for x in {t[1]}]"),
        pair.map(lambda t: f"({t[0]} for c in {t[1]})"),
        pair.map(lambda t: f"{{{t[0]}: {t[1]} for c in ()}}"),
        st.tuples(inner, inner, inner).map(lambda t: f"{t[0]} if {t[1]} else {t[2]}"),
        inner.map(lambda t: f"(y := {t})"),
        pair.map(lambda t: f"({t[0]}, {t[1]})"),
        pair.map(lambda t: f"[{t[0]}, {t[1]}]"),
        pair.map(lambda t: f"{{{t[0]}, {t[1]}}}"),
        pair.map(lambda t: f"{{{t[0]}: {t[1]}}}"),
        inner.map(lambda t: f'f"{{{t}}}"'),
        inner.map(lambda t: f"await {t}"),
        inner.map(lambda t: f"(yield {t})"),
        inner.flatmap(wrap),
    )


PYTHONISH = st.recursive(LEAVES, grow, max_leaves=12)


def formula(inner):
    """Formulas of the whitelist built from ``inner`` ones (each call with its own arity)."""
    calls = [st.tuples(st.just(name), st.lists(inner, min_size=n, max_size=n))
             for name, (_, n) in FUNCTIONS.items()]  # fmt: skip
    allowed = ["+", "-", "*", "/", "//", "%", "**", "<", "<=", ">", ">=", "==", "!="]
    return st.one_of(
        st.tuples(inner, st.sampled_from(allowed), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda t: f"-{t}"),
        st.one_of(calls).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
    )


FORMULA_LEAVES = st.one_of(
    st.sampled_from(["x", "x", "x0", "x1", "pi", "e", "tau", "0", "1", "2.5", "1e308", "3e-320"]),
    st.floats(-1e3, 1e3, allow_subnormal=False).map(repr),
)
# Mostly sound formulas, a few with a hostile part grafted in: they reach evaluation.
FORMULAS = st.recursive(FORMULA_LEAVES | st.sampled_from(PAYLOADS), formula, max_leaves=10).filter(
    lambda text: len(text) <= 1000
)
SPECS = st.tuples(st.sampled_from([*Target.registry.names(), "Sin", " gauss "]), TEXT).map(
    lambda t: f"{t[0]}:{t[1]}"
)


def check_target(text):
    """target_from(text) is a target that samples finitely (or says DataError), or ConfigError;
    and nothing ran."""
    try:
        with np.errstate(all="ignore"):
            target = target_from(text)
    except ConfigError as error:
        assert str(error)
        event("refused")
        return
    finally:
        assert not Path(MARKER).exists(), f"{text!r} ran code"
    event(f"accepted: {type(target).__name__}")
    assert isinstance(target, Target)
    inputs = target.inputs
    if isinstance(target, ExpressionTarget):
        x = np.linspace(-1.5, 1.5, 5 * inputs).reshape(5, inputs)
        with np.errstate(all="ignore"):
            y = target(x)
        assert y.shape == (5, 1) and y.dtype == np.float64
    # Through a data source (uniform points: a grid over many inputs is another matter, below).
    try:
        with np.errstate(all="ignore"):
            x, y = target.source(4, sampling="uniform").arrays()
    except DataError as error:
        assert "must be finite" in str(error), str(error)
        event("sampled: non-finite values refused")
        return
    assert np.isfinite(x).all() and np.isfinite(y).all()
    assert x.shape == (4, inputs) and y.shape[0] == 4


@settings(max_examples=examples(400), **FUZZ)
@given(text=st.one_of(st.text(max_size=60), SPECS, st.sampled_from(PAYLOADS)))
def test_any_text_is_a_target_or_a_config_error(text):
    check_target(text)


@settings(max_examples=examples(600), **FUZZ)
@given(text=st.one_of(PYTHONISH, FORMULAS))
def test_python_like_expressions_are_refused_or_evaluated_and_never_run(text):
    check_target(text)


# Gaps found: the target-expression parser.


@pytest.mark.parametrize("formula", ["x0 + x40", "x99"])
def test_gap_a_formula_of_many_inputs_on_a_grid(formula):
    # Refused where the source is made (or, at the latest, when its data is read).
    with pytest.raises(ConfigError, match="grid"):
        target_from(formula).source(2).arrays()


# (4) The model loader --------------------------------------------------------------------


@functools.cache
def sound_files():
    """{name: bytes} of sound files: a model with its optimizer, data and history; a checkpoint
    of a shuffled Adam run on an ArraySource; a checkpoint of a run on a FunctionSource."""
    where = scratch_directory()
    x = np.linspace(0, 1, 8).reshape(-1, 1)
    network = minifw.Network(
        [minifw.Dense(1, 3, "tanh"), minifw.Dense(3, 1, "sigmoid")],
        seed=0,
        normaliser=minifw.Normaliser((-1.0, 1.0), (0.0, 1.0)),
    )
    trainer = minifw.Trainer(network, "mse", minifw.SGD(lr=0.1, momentum=0.9), batch_size=4)
    source = minifw.ArraySource(x, x * x)
    trainer.fit(source, 2)
    minifw.save(network, where / "model.npz", optimizer=trainer.optimizer, source=source,
                 history=trainer.run_history)  # fmt: skip
    adam = minifw.Trainer(network, "mae", minifw.Adam(lr=0.01), batch_size=3, shuffle=True)
    adam.fit(source, 2)
    minifw.save_checkpoint(adam, where / "adam.npz")
    run = minifw.presets.experiment(target="gauss", samples=6, layers=(2,))
    run.fit(2)
    minifw.save_checkpoint(run.trainer, where / "function.npz")
    return {path.stem: path.read_bytes() for path in where.iterdir()}


def model_file(content):
    path = Path(tempfile.mkdtemp(dir=".")) / "fuzzed-model.npz"
    path.write_bytes(content)
    return path


def assert_every_loader_loads_or_names_the_file(path):
    for name, loader in LOADERS.items():
        try:
            loaded = loader(path)
        except ModelFileError as error:
            assert str(path) in str(error), str(error)
            event(f"{name}: refused")
            continue
        event(f"{name}: loaded")
        network = loaded if name == "load" else getattr(loaded, "network", None)
        assert isinstance(network, minifw.Network)


MAGIC = st.sampled_from([b"", b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY", b"\x80\x04", b"{"])


@settings(max_examples=examples(200), **FUZZ)
@given(content=st.tuples(MAGIC, st.binary(max_size=400)).map(b"".join))
def test_any_bytes_are_refused_naming_the_file(content):
    assert_every_loader_loads_or_names_the_file(model_file(content))


@settings(max_examples=examples(200), **FUZZ)
@given(data=st.data())
def test_sound_files_with_bytes_flipped_or_cut_off_load_or_are_refused(data):
    name = data.draw(st.sampled_from(sorted(sound_files())), label="file")
    content = bytearray(sound_files()[name])
    flips = data.draw(
        st.lists(st.tuples(st.integers(0, len(content) - 1), st.integers(0, 255)), max_size=6)
    )
    for at, byte in flips:
        content[at] = byte
    if data.draw(st.booleans(), label="cut off"):
        content = content[: data.draw(st.integers(0, len(content)), label="length")]
    assert_every_loader_loads_or_names_the_file(model_file(bytes(content)))


def split_file(content):
    """(header, arrays) of a minifw file's bytes."""
    with np.load(io.BytesIO(content), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    return json.loads(arrays.pop("header").tobytes()), arrays


def join_file(header, arrays):
    buffer = io.BytesIO()
    raw = json.dumps(header).encode()  # NaN and Infinity written as such, for the loader to refuse
    np.savez(buffer, header=np.frombuffer(raw, dtype=np.uint8), **arrays)
    return buffer.getvalue()


WORDS_IN_FILES = ["name", "class", "dense", "sgd", "adam", "tanh", "mse", "expression", "loss"]
WORDS_IN_FILES += ["array_source", "function_source", "PCG64", "text", "x0 * x1", "sin"]
JSON_JUNK = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 20)
    | st.sampled_from([-1, 10**12, 2**62, 2**64, 10**400])
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(WORDS_IN_FILES),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(WORDS_IN_FILES) | st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
JUNK_ARRAYS = st.builds(
    lambda shape, dtype: np.zeros(shape, dtype=dtype),
    st.lists(st.integers(0, 4), max_size=3).map(tuple),
    st.sampled_from(["float64", "float32", "int8", "uint8", "bool", "complex128", "<U2"]),
)


def places(tree, path=()):
    """Every path into a JSON tree, the root's () included."""
    yield path
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from places(value, (*path, key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from places(value, (*path, index))


def mutate(data, header):
    """``header`` with one change: a value deleted, replaced by junk, or a junk entry added."""
    path = data.draw(st.sampled_from(list(places(header))), label="path")
    if not path:
        return data.draw(JSON_JUNK, label="new header")
    *above, last = path
    parent = header
    for step in above:
        parent = parent[step]
    action = data.draw(st.sampled_from(["delete", "replace", "add"]), label="action")
    if action == "delete":
        del parent[last]
    elif action == "replace":
        parent[last] = data.draw(JSON_JUNK, label="value")
    elif isinstance(parent[last], dict):
        key = data.draw(st.sampled_from(WORDS_IN_FILES) | st.text(max_size=5), label="key")
        parent[last][key] = data.draw(JSON_JUNK, label="value")
    elif isinstance(parent[last], list):
        parent[last].append(data.draw(JSON_JUNK, label="value"))
    return header


@settings(max_examples=examples(400), **FUZZ)
@given(data=st.data())
def test_sound_files_with_a_mutated_header_or_arrays_load_or_are_refused(data):
    name = data.draw(st.sampled_from(sorted(sound_files())), label="file")
    header, arrays = split_file(sound_files()[name])
    for _ in range(data.draw(st.integers(1, 3), label="changes")):
        header = mutate(data, header)
    if data.draw(st.integers(0, 3), label="arrays too") == 0:
        key = data.draw(st.sampled_from(sorted(arrays)), label="array")
        if data.draw(st.booleans(), label="drop"):
            del arrays[key]
        else:
            arrays[key] = data.draw(JUNK_ARRAYS, label="junk array")
    assert_every_loader_loads_or_names_the_file(model_file(join_file(header, arrays)))


# Numbers and sizes a file may claim: integers too large for a float anywhere in a header,
# zip members declaring more bytes than they hold, loss histories of any length.

# Whole numbers past a float's range (about 1.8e308), of any sign, and some that fit.
HUGE_INTS = st.one_of(
    st.integers(309, 600).map(lambda digits: 10**digits),
    st.integers(309, 600).map(lambda digits: -(10**digits)),
    st.sampled_from([2**64, 2**1024, -(2**1024), 10**308]),
)


def numeric_places(tree, path=()):
    """Every path to a number (not a bool) in a JSON tree."""
    if isinstance(tree, dict | list):
        items = tree.items() if isinstance(tree, dict) else enumerate(tree)
        for key, value in items:
            yield from numeric_places(value, (*path, key))
    elif isinstance(tree, int | float) and not isinstance(tree, bool):
        yield path


@settings(max_examples=examples(100), **FUZZ)
@given(data=st.data())
def test_a_header_number_too_large_for_a_float_loads_or_is_refused(data):
    name = data.draw(st.sampled_from(sorted(sound_files())), label="file")
    header, arrays = split_file(sound_files()[name])
    for _ in range(data.draw(st.integers(1, 3), label="changes")):
        path = data.draw(st.sampled_from(list(numeric_places(header))), label="path")
        parent = header
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = data.draw(HUGE_INTS, label="value")
    assert_every_loader_loads_or_names_the_file(model_file(join_file(header, arrays)))


@functools.cache
def zero_mebibyte():
    """A mebibyte of zeros, deflated, ending on a full flush: a block that can be repeated."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(bytes(2**20)) + compressor.flush(zlib.Z_FULL_FLUSH)


def bomb(prefix, mebibytes):
    """A raw deflate stream of ``prefix`` then ``mebibytes`` MiB of zeros: about a kilobyte a
    mebibyte, made at once by repeating one compressed block."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    return head + zero_mebibyte() * mebibytes + b"\x03\x00"  # then an empty final block


def zip_of(members):
    """A zip archive of ``members``, (name, method, data as stored, CRC, uncompressed size)
    each, written by hand so that any member can be a ready-made deflate stream."""
    out, central = io.BytesIO(), []
    for name, method, data, crc, size in members:
        encoded, offset = name.encode(), out.tell()
        fields = (20, 0, method, 0, 0x21, crc, len(data), size, len(encoded))
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields, 0) + encoded + data)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, *fields, 0, 0, 0, 0,
                                   0, offset) + encoded)  # fmt: skip
    start = out.tell()
    out.write(b"".join(central))
    count, size = len(members), out.tell() - start
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, size, start, 0))
    return out.getvalue()


def rebuilt(content, name, member=None, declared=None):
    """The archive ``content`` with ``name`` replaced by (or added as) ``member`` (a deflate
    stream and its uncompressed size), or with its size declared as ``declared``."""
    members = []
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for info in archive.infolist():
            data = archive.read(info)
            if info.filename == name and member is not None:
                continue
            size = declared if info.filename == name and declared is not None else len(data)
            members.append((info.filename, 0, data, zlib.crc32(data), size))
    if member is not None:
        stream, size = member
        members.append((name, 8, stream, 0, size))  # the CRC is never right: never checked
    return zip_of(members)


def npy_claiming(shape, dtype):
    """An .npy header of an array of ``shape`` and ``dtype``."""
    buffer = io.BytesIO()
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False}
    np.lib.format.write_array_header_1_0(buffer, {**header, "shape": shape})
    return buffer.getvalue()


@contextlib.contextmanager
def counting_reads():
    """A list that the bytes decompressed from any zip member are added to, while inside."""
    counted = [0]
    real = zipfile.ZipExtFile.read

    def read(self, n=-1):
        data = real(self, n)
        counted[0] += len(data)
        return data

    with mock.patch.object(zipfile.ZipExtFile, "read", read):
        yield counted


def loads_reading_at_most(path, limit):
    """Every loader loads ``path`` or refuses it naming the file, decompressing at most
    ``limit`` bytes in all, quickly."""
    began = time.perf_counter()
    with counting_reads() as counted:
        assert_every_loader_loads_or_names_the_file(path)
    assert counted[0] <= limit, f"{counted[0]:,} bytes decompressed"
    assert time.perf_counter() - began < 5


@settings(max_examples=examples(60), **FUZZ)
@given(data=st.data())
def test_a_zip_bomb_in_any_member_is_never_decompressed(data):
    """A member that really holds 17 to 64 MiB (deflated to a kilobyte a mebibyte): one the
    header does not name, the header itself, a layer's weights or a loss history, each
    claiming exactly the bytes it holds. Nothing is decompressed past what sound files need
    (a few kilobytes each): what the header does not name is never read, and the others are
    refused by the shape or length their own .npy header claims."""
    name = data.draw(st.sampled_from(sorted(sound_files())), label="file")
    content = sound_files()[name]
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        named = [n for n in archive.namelist() if n.startswith(("header", "layers.", "history."))]
    member = data.draw(st.sampled_from(["unused.npy", *named]), label="member")
    mebibytes = data.draw(st.integers(17, 64), label="MiB")
    prefix = npy_claiming((mebibytes * 2**20,), "|u1")  # claims what it holds: 17M+ bytes
    stream = (bomb(prefix, mebibytes), len(prefix) + mebibytes * 2**20)
    loads_reading_at_most(model_file(rebuilt(content, member, member=stream)), 2**20)


@settings(max_examples=examples(60), **FUZZ)
@given(data=st.data())
def test_a_member_declaring_any_size_loads_or_is_refused(data):
    """Any member's zip entry declaring any size up to 4 GiB."""
    name = data.draw(st.sampled_from(sorted(sound_files())), label="file")
    content = sound_files()[name]
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        member = data.draw(st.sampled_from(archive.namelist()), label="member")
    declared = data.draw(st.integers(0, 2**32 - 1) | st.sampled_from([0, 1, 2**32 - 1]))
    loads_reading_at_most(model_file(rebuilt(content, member, declared=declared)), 2**20)


@settings(max_examples=examples(40), **FUZZ)
@given(data=st.data(), epochs=st.integers(MAX_HISTORY + 1, 2**40))
def test_a_loss_history_claiming_more_epochs_than_allowed_is_refused_unread(data, epochs):
    """A model's loss history whose .npy header claims any length past ``MAX_HISTORY``
    (declared consistently, up to 4 GiB), the file holding a few kilobytes of it."""
    path = model_file(sound_files()["model"])
    header, _ = split_file(sound_files()["model"])
    key = data.draw(st.sampled_from(header["history"]), label="key")
    dtype = data.draw(st.sampled_from(["<f8", "<f4", "|u1"]), label="dtype")
    prefix = npy_claiming((epochs,), dtype)
    declared = min(len(prefix) + epochs * np.dtype(dtype).itemsize, 2**32 - 1)
    stream = (bomb(prefix, 17), declared)  # really holds 17 MiB: reading it would show
    path.write_bytes(rebuilt(path.read_bytes(), f"history.{key}.npy", member=stream))
    with counting_reads() as counted, pytest.raises(ModelFileError, match=str(path)):
        load_saved(path)
    assert counted[0] <= 2**20


@settings(max_examples=examples(100), **FUZZ)
@given(data=st.data())
def test_a_ledger_line_with_numbers_too_large_for_a_float_reads_or_is_refused(data):
    recorded = Path(prepared_files()[0], "runs", "ledger.jsonl")
    line = json.loads(recorded.read_text().splitlines()[0])
    for _ in range(data.draw(st.integers(1, 3), label="changes")):
        path = data.draw(st.sampled_from(list(numeric_places(line)) or [("seed",)]), label="path")
        parent = line
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = data.draw(HUGE_INTS, label="value")
    with tempfile.TemporaryDirectory() as where:
        Path(where, "ledger.jsonl").write_text(
            json.dumps(line) + data.draw(st.sampled_from(["\n", ""]))
        )
        try:
            records = Ledger(where).records()
        except LedgerError as error:
            assert "ledger.jsonl, line 1" in str(error)
            event("refused")
            return
        event("read")
        assert len(records) == 1


@settings(max_examples=examples(100), **FUZZ)
@given(
    n_in=st.one_of(st.integers(1, 64), st.integers(1, 10**9), HUGE_INTS.map(abs)),
    n_out=st.one_of(st.integers(1, 64), st.integers(1, 10**9), HUGE_INTS.map(abs)),
    points=st.one_of(st.integers(2, 10**4), st.integers(2, 10**12), HUGE_INTS.map(abs)),
    inputs=st.integers(1, 10**4),
)
def test_sizes_no_memory_holds_are_refused_at_once(n_in, n_out, points, inputs, monkeypatch):
    """A layer or a uniform sample whose arrays alone (8 bytes a number) are past the
    machine's memory (made 1 GiB here) is a ConfigError, at once; never MemoryError,
    OverflowError or numpy's ValueError, and nothing of that size is allocated."""
    import minifw.core.validation

    memory = 2**30
    monkeypatch.setattr(minifw.core.validation, "machine_memory", lambda: memory, raising=False)
    sin = Target.resolve("sin")
    made = {
        8 * n_in * n_out: lambda: minifw.Dense(n_in, n_out),
        8 * points * inputs: lambda: minifw.FunctionSource(
            sin, n=points, inputs=inputs, sampling="uniform"
        ),
    }
    for least, make in made.items():
        began = time.perf_counter()
        try:
            make()
        except ConfigError as error:
            assert "memory" in str(error), str(error)
            event("refused")
        else:
            assert least <= memory, "built, though its arrays alone exceed the memory"
            event("built")
        assert time.perf_counter() - began < 1  # nothing the size of the claim was allocated


# Gaps found: the model loader, and the other readers of a path (the ledger, CSV files).


def edited(name, change):
    """A sound file's bytes with ``change(header, arrays)`` applied."""
    header, arrays = split_file(sound_files()[name])
    change(header, arrays)
    return model_file(join_file(header, arrays))


@pytest.mark.parametrize("loader", LOADERS)
def test_gap_a_model_file_with_a_huge_layer(loader):
    def huge(header, arrays):
        header["network"]["layers"][0]["n_out"] = 10**12

    path = edited("model", huge)
    with pytest.raises(ModelFileError, match=re.escape(str(path))):
        LOADERS[loader](path)


def test_gap_a_number_too_large_for_a_float_in_a_spec():
    """Found by the fuzzer: an int of 401 digits as Adam's weight_decay raised OverflowError
    (math.isfinite cannot convert it) instead of the loader's ModelFileError."""

    def huge(header, arrays):
        header["optimizer"]["spec"]["weight_decay"] = 10**400

    path = edited("adam", huge)
    with pytest.raises(ModelFileError, match=r"weight_decay must be a finite number >= 0"):
        minifw.load_optimizer(path, minifw.load(path))


@pytest.mark.parametrize("loader", LOADERS)
def test_gap_a_model_file_with_a_stacked_layer(loader):
    path = Path("stacked.npz")
    minifw.save(minifw.Network([minifw.Dense(1, 4, "tanh"), minifw.Dense(4, 1)]), path)
    header, arrays = split_file(path.read_bytes())
    header["network"]["layers"][0]["copies"] = 2
    path.write_bytes(join_file(header, arrays))
    with pytest.raises(ModelFileError, match=re.escape(str(path))):
        LOADERS[loader](path)


def adam_moment_of_shape_3(header, arrays):
    arrays["optimizer.packed.m"] = np.zeros(3)


def adam_moment_of_int8(header, arrays):
    arrays["optimizer.packed.m"] = arrays["optimizer.packed.m"].astype(np.int8)


def adam_count_as_text(header, arrays):
    header["optimizer"]["states"]["packed"]["values"]["t"] = "two"


@pytest.mark.parametrize("spoil", [adam_moment_of_shape_3, adam_moment_of_int8, adam_count_as_text])
def test_gap_a_checkpoint_with_unsound_optimizer_state(spoil):
    path = edited("adam", spoil)
    with pytest.raises(ModelFileError, match=re.escape(str(path))):
        trainer = load_checkpoint(path)
        trainer.fit(trainer.source, 1)  # what would fail, if the file were taken


@pytest.mark.parametrize(
    ("read", "error"),
    [
        (minifw.load, ModelFileError),
        (RunConfig.load, ConfigError),
        (read_csv, DataError),
        (lambda path: Ledger(path).records(), LedgerError),
    ],
    ids=["load", "RunConfig.load", "read_csv", "Ledger.records"],
)
def test_gap_a_path_with_a_nul_byte(read, error):
    with pytest.raises(error, match=r"a(.|\\x00)b"):
        read("a\0b")


@pytest.mark.parametrize("loader", LOADERS)
def test_gap_an_initializer_scale_whose_limit_overflows(loader):
    # Found with 10**308 in a header: scale 1e308 is finite, but the uniform limit
    # sqrt(3 scale / n) drawn as U(-limit, limit) is not; numpy raised OverflowError.
    with pytest.raises(ConfigError, match=r"HeUniform.scale must be <= 5.99231e\+307; got 1e\+308"):
        minifw.HeUniform(scale=1e308)

    def huge(header, arrays):
        header["network"]["layers"][0]["initializer"]["scale"] = 1e308

    path = edited("model", huge)
    with pytest.raises(ModelFileError, match="scale must be <= "):
        LOADERS[loader](path)


def test_gap_a_ledger_line_nested_too_deep():
    Path("runs").mkdir()
    Path("runs/ledger.jsonl").write_text("[" * 100_000 + "\n")
    with pytest.raises(LedgerError, match=r"runs/ledger\.jsonl, line 1"):
        Ledger("runs").records()
