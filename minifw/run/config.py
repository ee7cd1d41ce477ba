"""A run described by one configuration object, kept in a TOML file.

``RunConfig`` holds every setting of ``minifw train``: one field per flag,
grouped in four TOML tables, ``[data]``, ``[network]``, ``[training]`` and
``[output]``. Components are spec strings as on the command line
(``optimizer = "adam:beta1=0.8"``). A file is read with ``tomllib`` and checked
key by key before anything runs: an unknown key or a value of the wrong type
is refused with the key's path. Unset optional settings are left out of the
file (TOML has no null).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import attrs

from ..core.data import checked_domain
from ..core.errors import ConfigError
from ..core.registry import did_you_mean
from ..core.validation import check_seed, path_problem
from ..files.atomic import atomic_path

# What each field may hold in a file: its TOML kinds, checked before the object is built.
_NUMBER = (int, float)


def _field(section: str, default: Any, kinds: tuple[type, ...], *, optional: bool = False) -> Any:
    """A RunConfig field, tagged with its TOML table and the kinds of value it takes."""
    meta = {"section": section, "kinds": kinds, "optional": optional}
    return attrs.field(default=default, metadata=meta)


@attrs.frozen
class RunConfig:
    """Every setting of one training run; the defaults are the blog's.

    ``RunConfig.load(path)`` and ``config.save(path)`` round-trip through TOML;
    ``config.experiment_settings()`` gives ``presets.experiment``'s arguments.
    """

    target: str = _field("data", "sin", (str,))
    domain: tuple[float, float] | None = _field("data", None, (list,), optional=True)
    samples: int = _field("data", 32, (int,))
    sampling: str = _field("data", "grid", (str,))
    noise: float = _field("data", 0.0, _NUMBER)
    validation: float = _field("data", 0.0, _NUMBER)
    layers: tuple[int, ...] = _field("network", (5,), (list,))
    activation: str = _field("network", "sigmoid", (str,))
    output_activation: str | None = _field("network", None, (str,), optional=True)
    init: str | None = _field("network", None, (str,), optional=True)
    bias: bool = _field("network", True, (bool,))
    dtype: str = _field("network", "float64", (str,))
    loss: str = _field("training", "mse", (str,))
    optimizer: str = _field("training", "sgd", (str,))
    lr: float | None = _field("training", None, _NUMBER, optional=True)
    schedule: str | None = _field("training", None, (str,), optional=True)
    epochs: int = _field("training", 3000, (int,))
    batch_size: int = _field("training", 4, (int,))
    shuffle: bool = _field("training", False, (bool,))
    seed: int = _field("training", 0, (int,))
    plot: str = _field("output", "minifw-blog.png", (str,))
    no_plot: bool = _field("output", False, (bool,))
    figure: str = _field("output", "blog", (str,))
    plot_domain: tuple[float, float] | None = _field("output", None, (list,), optional=True)
    animate: str | None = _field("output", None, (str,), optional=True)
    frames: int = _field("output", 60, (int,))
    frame_spacing: str = _field("output", "linear", (str,))
    describe: bool = _field("output", False, (bool,))
    plugins: tuple[str, ...] = _field("output", (), (list,))
    save_model: str | None = _field("output", None, (str,), optional=True)
    checkpoint: str | None = _field("output", None, (str,), optional=True)
    checkpoint_every: int = _field("output", 100, (int,))
    resume: str | None = _field("output", None, (str,), optional=True)
    runs_dir: str = _field("output", "runs", (str,))

    def experiment_settings(self) -> dict[str, Any]:
        """The keyword arguments of ``presets.experiment`` this configuration implies."""
        return {
            "target": self.target,
            "domain": self.domain,
            "samples": self.samples,
            "sampling": self.sampling,
            "noise": self.noise,
            "validation": self.validation,
            "layers": self.layers,
            "activation": self.activation,
            "output_activation": self.output_activation,
            "initializer": self.init,
            "bias": self.bias,
            "dtype": self.dtype,
            "loss": self.loss,
            "optimizer": self.optimizer,
            "lr": self.lr,
            "schedule": self.schedule,
            "batch_size": self.batch_size,
            "shuffle": self.shuffle,
            "seed": self.seed,
        }

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """The TOML tables: {section: {key: value}}, unset optional values left out."""
        tables: dict[str, dict[str, Any]] = {}
        for field in attrs.fields(RunConfig):
            value = getattr(self, field.name)
            if value is not None:
                tables.setdefault(field.metadata["section"], {})[field.name] = value
        return tables

    @classmethod
    def from_dict(cls, tables: dict[str, Any], *, source: str = "configuration") -> RunConfig:
        """A RunConfig from TOML tables, every key and type checked, paths named in errors."""
        fields = {f.name: f for f in attrs.fields(RunConfig)}
        sections = {f.metadata["section"] for f in fields.values()}
        values: dict[str, Any] = {}
        for section, table in tables.items():
            if section not in sections:
                raise ConfigError(
                    f"{source}: unknown table [{section}]; expected {', '.join(sorted(sections))}"
                    + did_you_mean(str(section), sorted(sections))
                )
            if not isinstance(table, dict):
                raise ConfigError(f"{source}: {section} must be a table, got {table!r}")
            for key, value in table.items():
                field = fields.get(key)
                if field is None or field.metadata["section"] != section:
                    known = sorted(n for n, f in fields.items() if f.metadata["section"] == section)
                    hint = (
                        did_you_mean(str(key), known)
                        if field is None
                        else f"; {key} goes in [{field.metadata['section']}]"
                    )
                    raise ConfigError(
                        f"{source}: unknown key {section}.{key}; "
                        f"[{section}] takes {', '.join(known)}{hint}"
                    )
                values[key] = _checked(f"{section}.{key}", value, field, source)
        return cls(**values)

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        """Read a TOML configuration file; any problem is a ConfigError naming the file."""
        path = Path(path)
        if problem := path_problem(path):
            raise ConfigError(f"cannot read configuration file {path}: {problem}")
        try:
            tables = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"cannot read configuration file {path}: {error}") from None
        return cls.from_dict(tables, source=str(path))

    def save(self, path: str | Path) -> Path:
        """Write this configuration as TOML, atomically; it loads back equal."""
        path = Path(path)
        text = to_toml(self.to_dict())
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        return path


def _checked(key: str, value: Any, field: attrs.Attribute[Any], source: str) -> Any:
    kinds = field.metadata["kinds"]
    if isinstance(value, tuple):  # as to_dict gives it: a list in TOML
        value = list(value)
    # bool is an int in Python; a TOML true must not pass for a number, nor 1 for a flag.
    wrong = isinstance(value, bool) and bool not in kinds
    if wrong or not isinstance(value, kinds):
        expected = " or ".join(_KIND_NAMES[k] for k in kinds)
        raise ConfigError(f"{source}: {key} must be {expected}; got {value!r}")
    if field.name in ("domain", "plot_domain"):
        if len(value) != 2 or not all(_is_number(v) for v in value):
            raise ConfigError(f"{source}: {key} must be two numbers [low, high]; got {value!r}")
        # The one domain check, with the file and the key's path as the name it gives.
        return checked_domain(tuple(value), name=f"{source}: {key}")
    if field.name == "seed":
        check_seed(f"{source}: {key}", value)
    if field.name == "layers":
        if not value or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ConfigError(f"{source}: {key} must be a list of whole numbers; got {value!r}")
        return tuple(value)
    if field.name == "plugins":
        if not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{source}: {key} must be a list of file paths; got {value!r}")
        return tuple(value)
    return float(value) if kinds == _NUMBER else value


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBER) and not isinstance(value, bool)


_KIND_NAMES = {str: "text", int: "a whole number", float: "a number", bool: "true or false"}
_KIND_NAMES[list] = "a list"


def to_toml(tables: dict[str, dict[str, Any]]) -> str:
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
