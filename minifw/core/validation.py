"""Checks shared by every component: hyperparameters and arrays.

Hyperparameter checks are attrs validators, so a bad value fails where it is
written and the message names the class and the field. Array checks run once
at the public boundary (``Trainer.fit``, ``Network.predict``), never per batch.
"""

from __future__ import annotations

import itertools
import math
import os
import reprlib
from collections.abc import Callable, Mapping, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from .errors import ConfigError, DataError, MinifwError

Array = np.ndarray
Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]
Kinds = type | tuple[type, ...]


def is_a(value: Any, kinds: Kinds) -> bool:
    """``isinstance(value, kinds)``, except that True and False (numpy's too) are bools only.

    Python makes bool a subclass of int, so ``isinstance(True, int)`` holds: without this a
    flag would pass for a count (``epochs = true`` in a file) and a count for a number. A
    bool is of ``kinds`` only when ``kinds`` lists ``bool`` itself.
    """
    if isinstance(value, bool | np.bool_):
        return bool in (kinds if isinstance(kinds, tuple) else (kinds,))
    return isinstance(value, kinds)


def where(instance: Any, attribute: attrs.Attribute[Any]) -> str:
    """``Class.field`` for messages, by the name the caller writes (Dense's ``bias=``, stored
    as ``use_bias``)."""
    return f"{type(instance).__name__}.{attribute.alias or attribute.name}"


def is_finite(value: Any) -> bool:
    """Whether ``value`` is a real number (not a bool) that a float holds finitely.

    False for inf and NaN, for anything that is not a number, and for an integer
    too large for a float (beyond about 1.8e308, such as a 400-digit ``lr`` in a
    spec, a TOML file or a JSON line), for which ``math.isfinite`` would raise
    OverflowError instead of answering.
    """
    if not is_a(value, Real):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond the largest float
        return False


def shown(value: Any) -> str:
    """``repr(value)`` for a message, but an integer too large for a float as its size.

    Python refuses to write out an int of more than 4300 digits (ValueError), and one of
    hundreds of digits would drown the message; its number of digits says what is wrong.
    """
    if is_a(value, Integral) and not is_finite(value):
        digits = int(abs(int(value)).bit_length() * math.log10(2)) + 1
        sign = "a negative" if value < 0 else "a"
        return f"{sign} whole number of about {digits} digits, too large for a float (~1.8e308)"
    return repr(value)


def number(*, low: float | None = None, strict: bool = False) -> Validator:
    """An attrs validator: a finite real number, at least ``low`` (above it if ``strict``)."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        bound = "" if low is None else f" {'>' if strict else '>='} {low:g}"
        if not is_finite(value) or (low is not None and (value <= low if strict else value < low)):
            raise ConfigError(
                f"{where(instance, attribute)} must be a finite number{bound}; got {shown(value)}"
            )

    return check


def integer(*, low: int) -> Validator:
    """An attrs validator: a whole number of at least ``low``."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        check_count(where(instance, attribute), value, low=low)

    return check


def at_most(high: float, *, strict: bool = False) -> Validator:
    """An attrs validator: at most ``high`` (below it if ``strict``); pair it with ``number``.

    ``number`` checks the type and the lower bound first, so this only compares.
    """

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value >= high if strict else value > high:
            raise ConfigError(
                f"{where(instance, attribute)} must be {'<' if strict else '<='} {high:g}; "
                f"got {value!r}"
            )

    return check


def one_of(*choices: str) -> Validator:
    """An attrs validator: one of the strings ``choices``."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in choices:
            raise ConfigError(
                f"{where(instance, attribute)} must be one of {', '.join(map(repr, choices))}; "
                f"got {value!r}"
            )

    return check


def check_seed(name: str, value: Any) -> None:
    """Raise ConfigError unless ``value`` is a seed numpy takes: None, a whole number >= 0
    or a ``numpy.random.SeedSequence``.

    Checked where the seed is written: numpy would refuse it only when the generator is
    made, in words that name no field.
    """
    if value is None or isinstance(value, np.random.SeedSequence):
        return
    if not is_a(value, Integral) or value < 0:
        raise ConfigError(
            f"{name} must be None, a whole number >= 0 or a numpy.random.SeedSequence; "
            f"got {value!r}"
        )


def random_seed(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """An attrs validator: a seed (see ``check_seed``)."""
    check_seed(where(instance, attribute), value)


def boolean(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """An attrs validator: True or False (numpy's bool too), not a value with a truthiness.

    A flag given "no" or 0 would otherwise be read by its truthiness, silently.
    """
    if not is_a(value, bool):
        raise ConfigError(f"{where(instance, attribute)} must be True or False; got {value!r}")


def instance_of(kind: type, *, optional: bool = False) -> Validator:
    """An attrs validator: an instance of ``kind`` (or None, if ``optional``)."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not (isinstance(value, kind) or (optional and value is None)):
            expected = f"{'None or ' if optional else ''}a {kind.__name__}"
            raise ConfigError(
                f"{where(instance, attribute)} must be {expected}; "
                f"got {value!r} (a {type(value).__name__})"
            )

    return check


def each_instance_of(kind: type) -> Validator:
    """An attrs validator: a list whose every item is an instance of ``kind``; the
    message names the first item that is not, by its index."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        for index, item in enumerate(value):
            if not isinstance(item, kind):
                raise ConfigError(
                    f"{where(instance, attribute)} must hold {kind.__name__} instances; "
                    f"item {index} is {item!r} (a {type(item).__name__})"
                )

    return check


def as_list(name: str) -> Callable[[Any], list[Any]]:
    """An attrs converter: any iterable (not text) as a list; else ConfigError naming ``name``."""

    def convert(value: Any) -> list[Any]:
        if isinstance(value, str | bytes):
            raise ConfigError(f"{name} must be a list; got {value!r}")
        try:
            return list(value)
        except TypeError:
            raise ConfigError(
                f"{name} must be a list; got {value!r} (a {type(value).__name__})"
            ) from None

    return convert


def check_output_path(
    name: str, path: str | Path, *, suffixes: tuple[str, ...] = (), parent_must_exist: bool = True
) -> Path:
    """``path`` as a Path if a file can be written there; else ConfigError naming ``name``.

    Refuses an empty path (which would read as "not given" and save nothing), a directory,
    a suffix not in ``suffixes`` (any, if empty; no suffix always passes) and, if
    ``parent_must_exist``, a missing directory. Meant to run before training, so that no
    training is lost to a path that fails afterwards.
    """
    if not str(path):
        raise ConfigError(f"{name} is an empty path; give a file name, or leave {name} out")
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{name} {path} is a directory; expected a file path")
    if suffixes and path.suffix and path.suffix.lower() not in suffixes:
        raise ConfigError(
            f"{name} {path}: cannot write a {path.suffix} file; expected a path ending in "
            f"{', '.join(suffixes)}"
        )
    if parent_must_exist and not path.parent.is_dir():
        raise ConfigError(
            f"{name} {path}: the directory {path.parent} does not exist; make it "
            "first (checked now, so that no training is lost to it)"
        )
    return path


def check_count(name: str, value: Any, *, low: int = 0) -> int:
    """Return ``value`` as an int if it is a whole number >= ``low``, else raise ConfigError."""
    if not is_a(value, Integral) or value < low:
        raise ConfigError(f"{name} must be a whole number >= {low}; got {shown(value)}")
    return int(value)


# Plain data read from a file --------------------------------------------------------------

# How a message names each kind of plain value (JSON's and TOML's words: null, an object).
_KIND_WORDS: dict[type, str] = {
    str: "text",
    bool: "true or false",
    int: "a whole number",
    Integral: "a whole number",
    float: "a number",
    Real: "a number",
    dict: "a JSON object",
    Mapping: "a table",
    list: "a list",
    type(None): "null",
}
_REQUIRED: Any = object()  # entry's default: the key must be there


def kinds_text(kinds: Kinds) -> str:
    """``kinds`` in a message's words: ``(int, type(None))`` -> "a whole number or null"; a
    number covers the whole numbers, so ``(int, float)`` is "a number"."""
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if float in kinds or Real in kinds:
        kinds = tuple(kind for kind in kinds if kind not in (int, Integral))
    words = (_KIND_WORDS.get(kind, f"a {kind.__name__}") for kind in kinds)
    return " or ".join(dict.fromkeys(words))


def refusal_text(name: str, value: Any, expected: str, where: str = "") -> str:
    """The one wording of a refused value: "{where}: {name} must be {expected}; got {value}".

    ``value`` is shown shortened (a file may hold a list of a million numbers), and a whole
    number too large for a float by its size (``shown``).
    """
    found = shown(value) if is_a(value, Integral) else reprlib.repr(value)
    return f"{where}: " * bool(where) + f"{name} must be {expected}; got {found}"


def checked(
    value: Any,
    kinds: Kinds,
    *,
    name: str,
    where: str = "",
    error: type[MinifwError] = ConfigError,
    expected: str | None = None,
    test: Callable[[Any], bool] | None = None,
) -> Any:
    """``value`` if it is of ``kinds`` (``is_a``: a bool is no number) and passes ``test``;
    else ``error`` (an exception class: ConfigError, ModelFileError, LedgerError) with
    ``refusal_text``'s message: ``where`` (the file, and the record or line in it), ``name``,
    what was expected (``expected``, else the kinds in words) and what was found.
    """
    if not is_a(value, kinds) or (test is not None and not test(value)):
        raise error(refusal_text(name, value, expected or kinds_text(kinds), where))
    return value


def entry(
    table: Any,
    key: str,
    kinds: Kinds,
    *,
    name: str | None = None,
    where: str = "",
    error: type[MinifwError] = ConfigError,
    expected: str | None = None,
    test: Callable[[Any], bool] | None = None,
    default: Any = _REQUIRED,
) -> Any:
    """``table[key]``, from plain data read from a file (a model file's header, a ledger line,
    a TOML table): ``table`` must be a mapping holding ``key`` and its value what ``checked``
    accepts. Else ``error``, naming ``where``, the key (as ``name``, if given: a dotted path
    such as "network.seed"), what was found and what was expected. With a ``default``, a
    missing key gives it instead.

    ``entry(header, "seed", (int, type(None)), where="model.npz")`` refuses
    ``{"seed": True}`` with "model.npz: seed must be a whole number or null; got True".
    """
    name = key if name is None else name
    if not isinstance(table, Mapping) or key not in table:
        if default is not _REQUIRED:
            return default
        wanted = expected or kinds_text(kinds)
        raise error(f"{where}: " * bool(where) + f"{name} is missing; expected {wanted}")
    return checked(
        table[key], kinds, name=name, where=where, error=error, expected=expected, test=test
    )


def real_array(name: str, value: Any) -> Array:
    """``value`` as a numpy array if it holds real numbers (bool, int or float), else DataError.

    Refuses ragged nested lists and masked arrays with masked entries: np.asarray
    would raise a bare ValueError for the first and silently drop the mask of the second.
    """
    if isinstance(value, np.ma.MaskedArray):
        masked = int(np.ma.count_masked(value))
        if masked:
            raise DataError(
                f"{name} is a masked array with {masked} masked (missing) value(s); minifw "
                "does not train on or predict from missing values: fill them "
                f"({name}.filled(...)) or drop those samples first"
            )
        value = value.data
    try:
        array = np.asarray(value)
    except ValueError as error:
        # numpy's message for a ragged list ("inhomogeneous shape") is kept: it says where.
        raise DataError(
            f"{name} must be a rectangular array: every row (nested list) must have the "
            f"same length; got a ragged sequence ({error})"
        ) from None
    if array.dtype.kind not in "biuf":
        raise DataError(
            f"{name} must hold real numbers; got an array of dtype {array.dtype} "
            "(complex, object and string arrays are not accepted)"
        )
    return array


def as_matrix(
    name: str,
    value: Any,
    *,
    columns: int | None = None,
    what: str = "features",
    dtype: np.dtype | type | None = np.float64,
    inputs: Array | None = None,
) -> Array:
    """Return ``value`` as a finite 2-D array of ``dtype`` (float64 unless given), shape
    (samples, ``what``); a copy only where the dtype changes. ``dtype=None`` keeps float32
    and float64 as they are and makes anything else float64.

    Raises DataError naming ``name`` and saying what was expected: a 1-D array
    gets the reshape that fixes it, a NaN gets its row (and that row's x, for the
    ``inputs`` each row was computed from).
    """
    array = real_array(name, value)
    if array.ndim != 2:
        hint = ""
        if array.ndim == 1:
            hint = (
                f"; for {array.shape[0]} samples of one {what[:-1]} use "
                f"{name}.reshape(-1, 1), for one sample use {name}.reshape(1, -1)"
            )
        raise DataError(
            f"{name} must be 2-D with shape (samples, {what}); got shape {array.shape}{hint}"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise DataError(
            f"{name} must have at least one sample and one {what[:-1]}; got shape {array.shape}"
        )
    if columns is not None and array.shape[1] != columns:
        raise DataError(
            f"{name} has {array.shape[1]} {what} per sample; expected {columns} "
            f"(shape (samples, {columns})), got shape {array.shape}"
        )
    if dtype is None:
        dtype = array.dtype if array.dtype in _FLOAT_DTYPES else np.float64
    array = array.astype(dtype, copy=False)
    check_finite(name, array, inputs)
    return array


def check_finite(name: str, array: Array, inputs: Array | None = None) -> None:
    """Raise DataError naming the first NaN or inf in ``array`` (at least 1-D), if any.

    ``inputs``, the x each row of ``array`` was computed from, adds that row's x.
    """
    # A NaN or an inf makes the sum non-finite, so a finite sum proves them absent, and it
    # costs a third of the elementwise test on a large data set; a sum that overflows
    # merely sends a sound array to the exact test below.
    with np.errstate(over="ignore", invalid="ignore"):
        if array.dtype.kind == "f" and np.isfinite(array.sum()):
            return
    bad = ~np.isfinite(array)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        place = f"row {where[0]}, column {where[1]}" if len(where) == 2 else f"index {where}"
        if inputs is not None:
            place += f", where x = {inputs[where[0]].tolist()}"
        raise DataError(
            f"{name} must be finite; found {array[where]} at {place} "
            f"({int(bad.sum())} non-finite value(s) in all)"
        )


_FLOAT_DTYPES = {np.dtype(np.float32), np.dtype(np.float64)}


def float_dtype(value: Any) -> np.dtype:
    """The dtype float32 or float64, named as text, a numpy type or a dtype; else ConfigError.

    Only these spellings: numpy also reads None and aliases such as "f4" as dtypes,
    which would let a typo pass for a choice.
    """
    named = value in ("float32", "float64") if isinstance(value, str) else value is not None
    try:
        dtype = np.dtype(value) if named else None
    except TypeError:
        dtype = None
    if dtype not in _FLOAT_DTYPES or (isinstance(value, str) and value != dtype.name):
        raise ConfigError(f"dtype must be float32 or float64; got {value!r}")
    return dtype


def plural(count: int, noun: str) -> str:
    """``count`` and ``noun``, plural unless the count is 1: "1 input", "2 inputs"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def path_problem(path: str | Path) -> str | None:
    """Why no file can be opened at ``path`` whatever is on disk, or None.

    A NUL byte: open() refuses it with a bare ValueError ("embedded null byte"), not the
    OSError every reader turns into its own error naming the file, so readers ask first.
    """
    if "\0" in str(path):
        return "the path holds a NUL byte (\\x00), which no file name may hold"
    return None


# Memory ------------------------------------------------------------------------------------

# What training keeps, in numbers of the network's floats. Per weight or bias: its value and
# gradient in the layer while the network is built and in the packed vector the Trainer
# steps, the optimizer's state (Adam: two moments), the divergence guard's copy of the last
# finite weights, and an update's temporary arrays (measured: Adam's step makes three).
PARAMETER_COPIES = 8
# Per sample and input or output column: the data, its evaluation points, the trainer's
# shuffled copy and the normalised targets.
DATA_COPIES = 4
# Per sample and unit, for a forward pass over the whole data (validation, evaluation,
# prediction, figures): each layer's pre-activation z, its output f(z) and their gradient.
ACTIVATION_COPIES = 3


def machine_memory() -> int | None:
    """Bytes of physical memory in this machine (the page size times the number of pages,
    from ``os.sysconf``), or None where the operating system does not say (Windows)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def byte_size(count: int) -> str:
    """``count`` bytes in the largest unit below it: "512 B", "3.73 GiB"; past 1024 EiB, as a
    power of two (integers beyond a float's range included)."""
    exponent = (count.bit_length() - 1) // 10 if count > 0 else 0
    if exponent > 6:
        return f"2^{count.bit_length() - 1} bytes"
    unit = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")[exponent]
    return f"{count} B" if exponent == 0 else f"{count / 1024**exponent:.3g} {unit}"


def memory_needed(
    layers: Sequence[int], samples: int = 0, *, copies: int = 1, itemsize: int = 8
) -> int:
    """An estimate of the peak bytes of training a network on a data set, from sizes alone.

    ``layers`` are the network's sizes from inputs to outputs (``(1, 5, 1)`` for the
    blog's; a layer alone is ``(n_in, n_out)``), ``samples`` the number of data points,
    ``copies`` how many networks train as one stack (they share the data) and
    ``itemsize`` the bytes of one float (8 for float64). The weights count
    ``PARAMETER_COPIES`` times, each sample's inputs and outputs ``DATA_COPIES``
    times and each sample's units ``ACTIVATION_COPIES`` times (see their comments):
    for the blog's network on 10 million points, about 2.1 GB, close to what such a
    run is measured to take. Exact Python integers: no size overflows.
    """
    sizes = [int(size) for size in layers]
    weights = sum((a + 1) * b for a, b in itertools.pairwise(sizes))  # with the biases
    units = sum(sizes[1:])
    data = DATA_COPIES * (sizes[0] + sizes[-1]) if sizes else 0
    per_network = PARAMETER_COPIES * weights + ACTIVATION_COPIES * units * samples
    return itemsize * (copies * per_network + data * samples)


def check_memory(needed: int, what: str, advice: str = "") -> None:
    """Raise ConfigError if ``needed`` bytes are more than this machine's memory in all.

    Called before anything of that size is allocated, so that a size no memory holds
    is refused at once, in a message saying how much ``what`` would need and how much
    the machine has, rather than failing with MemoryError (or the machine swapping)
    after long work. ``advice`` (such as "use fewer points") ends the message. Where
    the machine's memory is unknown, nothing is refused.
    """
    available = machine_memory()
    if available is not None and needed > available:
        raise ConfigError(
            f"{what} would need about {byte_size(needed)} of memory (an estimate), but this "
            f"machine has {byte_size(available)} in all" + (f"; {advice}" if advice else "")
        )


def count_text(count: int) -> str:
    """A whole number for a message: with thousands separators, or past 10^18 by its number of
    digits (Python refuses to write out more than 4300, and hundreds drown a message)."""
    if abs(count) < 10**18:
        return f"{count:,}"
    return f"~10^{int(abs(count).bit_length() * math.log10(2))}"
