"""A run's settings, each declared once: ``RunConfig``.

Every field of ``RunConfig`` is a ``Setting``: its name, type, default,
bounds, help text and group (``data``, ``network``, ``training``, ``output``)
are written in one place, here. Everything else is derived from that one
declaration: the flags of ``minifw train`` and the base-run flags of ``minifw
sweep`` (``minifw.cli.flags``), the TOML file (one table per group), the keys a
sweep's grid may vary and how their values are read (``parse_text``), the
ledger record and the stats line (``minifw.run.resolve``), and the
command-line reference in the docs. Adding a setting is one new field below.

Components are spec strings as on the command line (``optimizer =
"adam:beta1=0.8"``); a component object given in Python is kept as its spec
when it has one. A value is checked where it is written: in ``RunConfig(...)``,
in a TOML file (with the key's path in the message) and on the command line.
Unset optional settings are None, and left out of the file (TOML has no null);
``minifw.run.resolve`` fills them in before anything trains.
"""

from __future__ import annotations

import json
import math
import shlex
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from ..core.data import checked_domain
from ..core.errors import ConfigError
from ..core.registry import Registered, did_you_mean
from ..core.serialize import spec_text
from ..core.validation import check_seed, checked, is_a, path_problem
from ..engine.support import ENGINES
from ..files.atomic import atomic_path

GROUPS = ("data", "network", "training", "output")
# The figures a run can draw (minifw.lab.plotting draws them); named here so that a run's
# settings can be checked, and the command line built, without importing matplotlib.
FIGURE_KINDS = ("blog", "overview", "loss", "hidden", "fit", "error", "heatmap")

# What each kind of setting holds, as the TOML types that may stand for it.
_TOML_KINDS: dict[str, tuple[type, ...]] = {
    "text": (str,),
    "path": (str,),
    "choice": (str,),
    "component": (str,),
    "count": (int,),
    "number": (int, float),
    "flag": (bool,),
    "interval": (list,),
    "sizes": (list,),
    "paths": (list,),
    "names": (list,),
}
_KIND_NAMES = {
    "text": "text",
    "path": "a file path",
    "choice": "one of the choices",
    "component": "a component spec such as 'adam:beta1=0.8'",
    "count": "a whole number",
    "number": "a number",
    "flag": "true or false",
    "interval": "two numbers [low, high]",
    "sizes": "a list of whole numbers such as [8, 8]",
    "paths": "a list of file paths",
    "names": "a list of names such as ['mae', 'r2']",
}


@attrs.frozen
class Setting:
    """The declaration of one setting of a run: everything but its name and default.

    ``kind`` says what it holds (see ``_TOML_KINDS``); ``low`` (``strict``: above
    it, not at it) and ``high`` bound a number; ``choices`` a choice;
    ``family`` names a component's registry ("activation", "target", ...).
    ``flags`` are its command-line spellings, the first the main one (default:
    ``--name-with-dashes``; a flag setting that defaults to True is turned off
    by ``--no-name``). ``resumable`` settings may change when a run resumes
    from a checkpoint; the others belong to the run and may not.
    """

    group: str
    kind: str
    help: str
    low: float | None = None
    strict: bool = False
    high: float | None = None
    choices: tuple[str, ...] = ()
    family: str | None = None
    flags: tuple[str, ...] = ()
    metavar: str | None = None
    optional: bool = False
    resumable: bool = False


def setting(default: Any, group: str, kind: str, help: str, **declared: Any) -> Any:
    """A RunConfig field declared by a ``Setting``; its value is checked on construction."""
    declared.setdefault("optional", default is None)
    declared.setdefault("resumable", group == "output")
    meta = Setting(group, kind, help, **declared)
    return attrs.field(
        default=default,
        converter=_CONVERTERS.get(kind, _same),
        validator=_validate,
        metadata={"setting": meta},
    )


def _same(value: Any) -> Any:
    return value


def _component(value: Any) -> Any:
    """A component object as its spec text where it has one (so that it can be written to a
    file and shown), else the object itself."""
    if isinstance(value, Registered):
        return spec_text(value) or value
    return value


def _sequence(value: Any) -> Any:
    """A list (from TOML or JSON) as the tuple a setting holds; anything else left for the check."""
    return tuple(value) if isinstance(value, list | tuple) else value


_CONVERTERS = {
    "component": _component,
    "sizes": _sequence,
    "paths": _sequence,
    "names": _sequence,
    "interval": _sequence,
}


def _validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    check_value(attribute.name, value, attribute.metadata["setting"])


def check_value(name: str, value: Any, declared: Setting, *, where: str = "") -> Any:
    """``value`` if it is what setting ``name`` takes, else a ConfigError naming ``where``
    (a file and key path, or a flag) or the setting, what was wrong and what was expected."""
    label = where or name
    kind = declared.kind
    if value is None:
        if declared.optional:
            return value
        raise ConfigError(f"{label} must be set: expected {_KIND_NAMES[kind]}")
    if kind == "component" and not isinstance(value, str):
        return value  # a component object without a spec: built as it is
    if kind in ("text", "path", "choice", "component"):
        if not isinstance(value, str) or (kind != "text" and not value.strip()):
            raise ConfigError(f"{label} must be {_KIND_NAMES[kind]}; got {value!r}")
        if kind == "choice" and value not in declared.choices:
            raise ConfigError(
                f"{label} must be one of {', '.join(declared.choices)}; got {value!r}"
                + did_you_mean(value, declared.choices)
            )
        if kind == "path" and (problem := path_problem(value)):
            raise ConfigError(f"{label}: {problem}")
        return value
    if kind == "flag":
        if not isinstance(value, bool):
            raise ConfigError(f"{label} must be true or false; got {value!r}")
        return value
    if kind in ("count", "number"):
        _check_number(name, label, value, declared)
        return value
    if kind == "interval":
        if (
            not isinstance(value, tuple)
            or len(value) != 2
            or not all(is_a(v, (int, float)) for v in value)
        ):
            raise ConfigError(f"{label} must be two numbers [low, high]; got {value!r}")
        return checked_domain(value, name=label)
    if kind == "sizes":
        if not isinstance(value, tuple) or not value:
            raise ConfigError(f"{label} must be a list of hidden layer sizes, e.g. (8, 8)")
        for size in value:
            if not is_a(size, int) or size < 1:
                raise ConfigError(
                    f"{label} must be whole numbers >= 1 (units per hidden layer); got {value!r}"
                )
        return value
    if kind == "paths":
        if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{label} must be a list of file paths; got {value!r}")
        return value
    if kind == "names":
        if not isinstance(value, tuple) or not all(isinstance(v, str) and v.strip() for v in value):
            raise ConfigError(f"{label} must be {_KIND_NAMES[kind]}; got {value!r}")
        return value
    raise ConfigError(f"setting {name} is declared with an unknown kind {kind!r}")


def _check_number(name: str, label: str, value: Any, declared: Setting) -> None:
    """A count or number within the declared bounds; one message says what was expected."""
    low, high = declared.low, declared.high
    expected = "a whole number" if declared.kind == "count" else "a finite number"
    if low is not None:
        expected += f" {'>' if declared.strict else '>='} {low:g}"
    if high is not None:
        expected += f" and < {high:g}"
    kinds = int if declared.kind == "count" else (int, float)
    if declared.kind == "count" and name == "seed" and is_a(value, (int, float)):
        check_seed(label, value)
    try:
        ok = (
            is_a(value, kinds)
            and math.isfinite(float(value))
            and (low is None or value > low or (value == low and not declared.strict))
            and (high is None or value < high)
        )
    except OverflowError:  # an int with hundreds of digits: no float holds it
        ok = False
        value = f"{str(value)[:20]}... ({len(str(value))} digits)"
    if not ok:
        raise ConfigError(f"{label} must be {expected}; got {value!r}")


@attrs.frozen
class RunConfig:
    """Every setting of one training run, each declared once; the defaults are the blog's.

    ``RunConfig.load(path)`` and ``config.save(path)`` round-trip through TOML;
    ``minifw.run.resolve(config)`` fills in the defaults that depend on other
    settings (the learning rate, the domain, ...) and ``minifw.run.build``
    makes the network, trainer and data it describes.
    """

    target: Any = setting(
        "sin",
        "data",
        "component",
        "function to learn: a name from `minifw list`, or a formula in x such as "
        "'exp(-x/3)*sin(2*x)'",
        family="target",
    )
    domain: tuple[float, float] | None = setting(
        None,
        "data",
        "interval",
        "input interval, per axis (default: the target's own, [0, 6.28] for sin)",
        metavar=("LOW", "HIGH"),
    )
    samples: int = setting(32, "data", "count", "training points per input axis", low=2)
    sampling: str = setting(
        "grid",
        "data",
        "choice",
        "evenly spaced points, or uniform random ones",
        choices=("grid", "uniform"),
    )
    noise: float = setting(
        0.0, "data", "number", "standard deviation of Gaussian noise on the targets", low=0
    )
    validation: float = setting(
        0.0,
        "data",
        "number",
        "fraction of the points held out at random to report val_loss",
        low=0,
        high=1,
    )
    layers: tuple[int, ...] = setting(
        (5,),
        "network",
        "sizes",
        "hidden layer sizes, e.g. 8,8 for a 1-8-8-1 network (--hidden 8: one layer of 8)",
        flags=("--layers", "--hidden"),
        metavar="N[,N...]",
    )
    activation: Any = setting(
        "sigmoid",
        "network",
        "component",
        "hidden (and output) activation; sigmoid, tanh and relu bring the blog's "
        "normalisation range and step",
        family="activation",
    )
    output_activation: Any = setting(
        None,
        "network",
        "component",
        "output layer's activation (default: the hidden one), e.g. identity",
        family="activation",
    )
    init: Any = setting(
        None,
        "network",
        "component",
        "weight initializer (default: blog_uniform, the blog's ±sqrt(2 / fan_in))",
        family="initializer",
    )
    bias: bool = setting(True, "network", "flag", "a bias unit in the hidden layers")
    dtype: str = setting(
        "float64",
        "network",
        "choice",
        "precision of weights, data and every computation in training",
        choices=("float64", "float32"),
    )
    loss: Any = setting("mse", "training", "component", "loss to minimise", family="loss")
    optimizer: Any = setting(
        "sgd", "training", "component", "update rule, e.g. adam:beta1=0.8", family="optimizer"
    )
    lr: float | None = setting(
        None,
        "training",
        "number",
        "learning rate (default: with sgd on mse and a blog activation, the blog's step L as "
        "an MSE rate, L x batch size / 2: 0.9 for sigmoid at batch 4; otherwise the "
        "optimizer's own default)",
        low=0,
        strict=True,
    )
    schedule: Any = setting(
        None,
        "training",
        "component",
        "learning-rate schedule over the updates, e.g. cosine:decay_steps=24000 "
        "(default: constant)",
        family="schedule",
    )
    epochs: int = setting(
        3000,
        "training",
        "count",
        "passes over the training points (with --resume: in all, counting the checkpoint's)",
        low=0,
        resumable=True,
    )
    batch_size: int = setting(4, "training", "count", "samples per weight update", low=1)
    shuffle: bool = setting(False, "training", "flag", "reshuffle the samples every epoch")
    seed: int = setting(
        0, "training", "count", "seed of every random choice: weights, shuffling, sampling", low=0
    )
    engine: str = setting(
        "auto",
        "training",
        "choice",
        "who runs the training loop: auto, the compiled kernels when every part has one "
        "and numpy otherwise (saying why once); numpy, the reference; compiled (minifw.engine, "
        "numba), refusing parts without a kernel",
        choices=ENGINES,
        resumable=True,  # the same numbers either way: a run may resume on the other engine
    )
    target_eval: float | None = setting(
        None,
        "training",
        "number",
        "also record when the evaluation MSE first reaches this: the epoch, the seconds and "
        "the work (updates, or loss evaluations for lbfgs); it costs a forward pass over the "
        "evaluation points at each epoch's end until then",
        low=0,
        metavar="MSE",
        resumable=True,  # a measurement, not part of the run: a resumed run may change it
    )
    plot: str | None = setting(
        None,
        "output",
        "path",
        "where to write the --figure, .png, .svg or .pdf (default: minifw-FIGURE.png)",
        flags=("--out", "--plot"),
        metavar="PATH",
    )
    no_plot: bool = setting(False, "output", "flag", "draw no graphs")
    figure: str = setting(
        "blog",
        "output",
        "choice",
        "which figure to draw: the blog's three graphs, an overview of loss, hidden units, "
        "fit and error, or one of them alone; heatmap is for two inputs, and for two inputs "
        "blog means overview",
        choices=FIGURE_KINDS,
    )
    plot_domain: tuple[float, float] | None = setting(
        None,
        "output",
        "interval",
        "draw the curves over this interval; past the training domain is shaded as "
        "extrapolation, its error reported apart (default: the data's own span)",
        metavar=("LOW", "HIGH"),
    )
    animate: str | None = setting(
        None,
        "output",
        "path",
        "write a film of training, .gif (or .mp4 with ffmpeg)",
        metavar="FILM",
    )
    frames: int = setting(60, "output", "count", "frames in the --animate film", low=2)
    frame_spacing: str = setting(
        "linear",
        "output",
        "choice",
        "space the film's frames evenly over the epochs, or evenly in log(epoch)",
        choices=("linear", "log"),
    )
    describe: bool = setting(
        False,
        "output",
        "flag",
        "before training, print each layer's shape, initializer and expected variances",
    )
    progress: bool = setting(True, "output", "flag", "a progress bar on a terminal while training")
    plugins: tuple[str, ...] = setting(
        (),
        "output",
        "paths",
        "a Python file to import first, so the components it defines can be named "
        "(repeat for more)",
        flags=("--plugin",),
        metavar="FILE",
        resumable=False,
    )
    save_model: str | None = setting(
        None,
        "output",
        "path",
        "save the trained network to FILE (.npz), with its data and loss history",
        flags=("--save",),
        metavar="FILE",
    )
    checkpoint: str | None = setting(
        None,
        "output",
        "path",
        "write a checkpoint to FILE every --checkpoint-every epochs and at the end",
        metavar="FILE",
    )
    checkpoint_every: int = setting(
        100, "output", "count", "epochs between checkpoints", low=1, metavar="N"
    )
    resume: str | None = setting(
        None,
        "output",
        "path",
        "continue the run a checkpoint holds, up to --epochs in all; settings that belong "
        "to the run may not differ from the checkpoint's",
        metavar="FILE",
    )
    runs_dir: str = setting(
        "runs", "output", "path", "where the ledger of runs is kept", metavar="DIR"
    )
    record: bool = setting(
        True, "output", "flag", "add a record of the run to RUNS_DIR/ledger.jsonl"
    )
    metrics: tuple[str, ...] = setting(
        (),
        "output",
        "names",
        "metrics to report, in the target's own units, each epoch and at the end, e.g. mae,r2 "
        "(`minifw list` names them: mae, rmse, r2, max_abs_error and your own)",
        metavar="NAME[,NAME...]",
        family="metric",
    )

    def as_trained(self, engine: str | None) -> RunConfig:
        """This run as it trained: ``engine`` the engine that ran its epochs (``Trainer.
        trained_on``; "auto" chose compiled or numpy), for the records of what ran; itself
        if nothing trained (None)."""
        return self if engine is None else attrs.evolve(self, engine=engine)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """The TOML tables: {group: {key: value}}, unset optional values left out."""
        tables: dict[str, dict[str, Any]] = {}
        for name, declared in SETTINGS.items():
            value = getattr(self, name)
            if value is not None:
                if declared.kind == "component" and not isinstance(value, str):
                    raise ConfigError(
                        f"{name}: {value!r} has no spec text, so it cannot be written down; "
                        "register its class (subclass the family's base) to name it"
                    )
                tables.setdefault(declared.group, {})[name] = value
        return tables

    @classmethod
    def from_dict(cls, tables: Mapping[str, Any], *, source: str = "configuration") -> RunConfig:
        """A RunConfig from TOML tables, every key and type checked, paths named in errors."""
        values: dict[str, Any] = {}
        for group, table in tables.items():
            if group not in GROUPS:
                raise ConfigError(
                    f"{source}: unknown table [{group}]; expected {', '.join(GROUPS)}"
                    + did_you_mean(str(group), GROUPS)
                )
            if not isinstance(table, Mapping):
                raise ConfigError(f"{source}: {group} must be a table, got {table!r}")
            for key, value in table.items():
                declared = SETTINGS.get(key)
                if declared is None or declared.group != group:
                    known = sorted(n for n, s in SETTINGS.items() if s.group == group)
                    hint = (
                        did_you_mean(str(key), known)
                        if declared is None
                        else f"; {key} goes in [{declared.group}]"
                    )
                    raise ConfigError(
                        f"{source}: unknown key {group}.{key}; "
                        f"[{group}] takes {', '.join(known)}{hint}"
                    )
                values[key] = _from_toml(key, value, declared, f"{source}: {group}.{key}")
        return cls(**values)

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        """Read a TOML configuration file; any problem is a ConfigError naming the file."""
        path = Path(path)
        what = "a TOML run configuration, as `minifw train --save-config FILE` writes"
        if problem := path_problem(path):
            raise ConfigError(f"cannot read configuration file {path}: {problem}")
        if not path.exists():
            raise ConfigError(f"configuration file {path} does not exist; expected {what}")
        try:
            tables = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(
                f"cannot read configuration file {path}: {error}; expected {what}"
            ) from None
        return cls.from_dict(tables, source=str(path))

    def save(self, path: str | Path) -> Path:
        """Write this configuration as TOML, atomically; it loads back equal."""
        path = Path(path)
        text = to_toml(self.to_dict())
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        return path


# The declaration, by name: every setting of a run, in the order of RunConfig's fields.
SETTINGS: dict[str, Setting] = {f.name: f.metadata["setting"] for f in attrs.fields(RunConfig)}


def _from_toml(name: str, value: Any, declared: Setting, where: str) -> Any:
    """A TOML value as setting ``name`` holds it; ConfigError at ``where`` if it cannot be."""
    kinds = _TOML_KINDS[declared.kind]
    if isinstance(value, tuple):  # as to_dict gives it: a list in TOML
        value = list(value)
    # A TOML true must not pass for a number, nor 1 for a flag (is_a: a bool is no int).
    checked(value, kinds, name=where, expected=_KIND_NAMES[declared.kind])
    if declared.kind == "number":
        check_value(name, value, declared, where=where)
        return float(value)
    return check_value(
        name, tuple(value) if isinstance(value, list) else value, declared, where=where
    )


def parse_text(name: str, text: str, *, where: str = "") -> Any:
    """The value of setting ``name`` written as text (a flag's argument, a --grid value).

    Numbers as numbers, flags as true or false, sizes as ``8,8``, an interval
    as ``low,high``; the rest is text. ConfigError, naming ``where`` or the
    setting, if the text is not a value the setting takes.
    """
    declared = SETTINGS[name]
    label = where or name
    text = text.strip()
    kind = declared.kind
    try:
        if kind == "count":
            value: Any = int(text)
        elif kind == "number":
            value = float(text)
        elif kind == "flag":
            if text.lower() not in ("true", "false"):
                raise ValueError
            value = text.lower() == "true"
        elif kind == "sizes":
            value = tuple(int(part) for part in text.split(","))
        elif kind == "interval":
            value = tuple(float(part) for part in text.split(","))
        elif kind == "paths":
            value = (text,)
        elif kind == "names":
            value = tuple(part.strip() for part in text.split(",")) if text else ()
        else:
            value = text
    except ValueError:
        written = {"sizes": "hidden layer sizes such as 8,8", "interval": "two numbers low,high"}
        expected = written.get(kind, _KIND_NAMES[kind])
        raise ConfigError(f"{label}: expected {expected}; got {text!r}") from None
    return check_value(name, value, declared, where=label)


def flags_of(name: str, declared: Setting) -> tuple[str, ...]:
    """The command-line spellings of setting ``name``, the main one first: the declared ones,
    else ``--name-with-dashes`` (``--no-name`` for a flag that defaults to True)."""
    if declared.flags:
        return declared.flags
    dashed = name.replace("_", "-")
    on_by_default = declared.kind == "flag" and getattr(RunConfig(), name)
    return (f"--no-{dashed}",) if on_by_default else (f"--{dashed}",)


def command_line(config: RunConfig, program: str = "minifw train") -> str:
    """The shell command that trains ``config``: ``program`` and a flag for each setting that
    differs from its default, quoted for a POSIX shell, in declaration order."""
    default = RunConfig()
    words = program.split()
    for name, declared in SETTINGS.items():
        value = getattr(config, name)
        if value == getattr(default, name):
            continue
        flag = flags_of(name, declared)[0]
        if declared.kind == "flag":
            words.append(flag)  # a flag's spelling turns it away from its default
        elif declared.kind == "interval":
            words += [flag, *(_number_text(v) for v in value)]
        elif declared.kind == "paths":
            for path in value:
                words += [flag, path]
        elif isinstance(value, tuple):
            words += [flag, ",".join(map(_number_text, value))]
        elif value is not None:
            words += [flag, _number_text(value)]
    return shlex.join(words)


def _number_text(value: Any) -> str:
    """A value as a flag's argument; a float by repr, which reads back exactly."""
    return repr(value) if isinstance(value, float) else str(value)


def to_toml(tables: Mapping[str, Mapping[str, Any]]) -> str:
    """TOML text for tables of strings, numbers, booleans and flat lists of them."""
    lines: list[str] = []
    for section, table in tables.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in table.items())
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)  # repr round-trips floats exactly; TOML reads 1e-05 and 0.1 alike
    if isinstance(value, str):
        # JSON escapes the control characters below U+0020 as TOML wants; DEL it leaves raw,
        # and ensure_ascii=False keeps other characters raw (escaped ones would be surrogates).
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigError(f"cannot write {value!r} to TOML")
