"""Saving and loading: a trained network, or a whole training run, in one .npz file.

``minifw.save(network, "model.npz")`` and ``minifw.load("model.npz")`` keep what the
network computes: each layer's class and arguments, its weights and biases, and
the normaliser. ``minifw.save_checkpoint(trainer, "run.npz")`` and
``minifw.load_checkpoint("run.npz")`` keep a run, so that it continues exactly as if it
had never stopped; ``Checkpoint`` writes one every so many epochs.

The file is a numpy .npz archive: each array stored by name (``layers.0.weights``,
``normaliser.source``, ``optimizer.packed.m``, ``history.loss``, ...), and one
more, ``header``, the UTF-8 bytes (a uint8 array) of a JSON object::

    {"format": "minifw", "version": 1, "kind": "model" or "checkpoint",
     "network": {"seed": 0, "layers": [{"class": "dense", "n_in": 1, ...}], "normaliser": true},
     "optimizer": null or {"spec": {"name": "adam", ...}, "iterations": 24000, "lr": 0.001,
                           "states": {"packed": {"values": {"t": 24000}, "arrays": ["m", "v"]}}},
     "source": null or {"class": "function_source", ...},          (models, optional)
     "history": ["loss", "val_loss"],                              (models, optional)
     "trainer": {...}}                                          (checkpoints only)

A model may carry the data it was trained on and its loss history, so that
``minifw plot model.npz`` can draw its figures; ``load_saved`` reads them.

A checkpoint written by the ``Checkpoint`` callback to one path again and again keeps its
history out of the .npz, in a journal beside it that each checkpoint only appends to
(``minifw.files.journal``); its header is then version 2 and its ``trainer`` table says
``"journal": {"file": "run.npz.<id>.history", "records": ..., "counts": {...}}``.

Components are written as specs (``serialize.to_spec``) and rebuilt through
the registry. Reading uses numpy's .npy reader with ``allow_pickle=False`` and
``json.loads`` only, so loading a file never runs code from it. Only the arrays the
header names are read, each after the size its zip entry declares is checked against
the shape and dtype in its own .npy header, and that shape against what the header
implies (a layer's weights) or allows (a loss history of at most ``MAX_HISTORY``
epochs, data that fits in memory): a small file claiming gigabytes is refused before
anything is decompressed. Writing goes
to a temporary file beside the target that replaces it in one step: a failed
save leaves the old file as it was. Every problem with a file, from a missing
file to a weight array of the wrong shape, raises one ``ModelFileError`` that
names the file and, for arrays, every problem found; it is raised before
anything outside the loader has changed.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from ..core.callbacks import Callback, Logs
from ..core.data import ArraySource, DataSource, FunctionSource, Normaliser
from ..core.errors import ConfigError, ModelFileError
from ..core.layers import Dense, Parameter
from ..core.losses import Loss
from ..core.metrics import Metric
from ..core.network import Network
from ..core.optimizers import Optimizer
from ..core.serialize import arguments, build, comparable, from_spec, plain, to_spec
from ..core.targets import Target
from ..core.trainer import Trainer
from ..core.validation import (
    Kinds,
    byte_size,
    check_memory,
    count_text,
    entry,
    integer,
    is_a,
    is_finite,
    memory_needed,
    path_problem,
    refusal_text,
)
from .atomic import atomic_path, check_writable
from .journal import HistoryJournal, journal_pattern, read_journal, remove_journals

if TYPE_CHECKING:
    from ..core.registry import Registered

Array = np.ndarray
Shape = tuple[int | None, ...]  # None: any length on that axis

FORMAT = "minifw"
# The newest format this minifw reads. It writes version 1, which every minifw reads,
# except for a checkpoint whose history is in a journal beside it (version 2: an older
# minifw then says the file is too new, rather than that its history is missing).
VERSION = 2
HEADER = "header"
# What a file starts with: a zip archive (.npz), a single .npy array, a pickle (protocol 2+).
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_NPY_MAGIC = b"\x93NUMPY"
_PICKLE_MAGIC = b"\x80"


def named_parameters(network: Network) -> dict[str, Parameter]:
    """The network's parameters by the names a file gives them.

    ``"packed"`` for the packed vector the Trainer steps, and ``"layers.<i>.<name>"``
    (``layers.0.weights``, ``layers.0.bias``) for each layer's own.
    """
    named = {"packed": network.packed}
    for i, layer in enumerate(network.layers):
        named.update({f"layers.{i}.{p.name}": p for p in layer.parameters()})
    return named


# Writing ---------------------------------------------------------------------------


def _network_record(network: Network) -> tuple[dict[str, Any], dict[str, Array]]:
    """The header's "network" table and the arrays it refers to."""
    layers, arrays = [], {}
    for i, layer in enumerate(network.layers):
        # Exactly Dense: a subclass may hold more than Dense's arguments say.
        if type(layer) is not Dense:
            raise ConfigError(
                f"cannot save layer {i}, a {type(layer).__name__}: minifw saves Dense layers only"
            )
        layers.append({"class": "dense", **arguments(layer)})
        arrays.update({f"layers.{i}.{p.name}": p.value for p in layer.parameters()})
    normaliser = network.normaliser
    if normaliser is not None:
        for side in ("source", "target"):
            # (low, high) as one (2, ...) array; broadcast first, in case one is a scalar.
            arrays[f"normaliser.{side}"] = np.stack(np.broadcast_arrays(*getattr(normaliser, side)))
    seed = network.seed if isinstance(network.seed, int) else None  # a SeedSequence is not data
    record = {
        "seed": seed,
        "layers": layers,
        "normaliser": normaliser is not None,
        "dtype": network.dtype.name,
    }
    return record, arrays


def _optimizer_record(
    optimizer: Optimizer, network: Network
) -> tuple[dict[str, Any], dict[str, Array]]:
    """The header's "optimizer" table and the state arrays it refers to."""
    exported = optimizer.export_state(named_parameters(network))
    states, arrays = {}, {}
    for name, entries in exported["states"].items():
        values, array_keys = {}, []
        for key, value in entries.items():
            if isinstance(value, np.ndarray):
                arrays[f"optimizer.{name}.{key}"] = value
                array_keys.append(key)
            else:
                values[key] = plain(value, f"optimizer state {name}.{key}")
        states[name] = {"values": values, "arrays": array_keys}
    lr = exported["lr"]
    record = {
        "spec": to_spec(optimizer),
        "iterations": exported["iterations"],
        "lr": lr if math.isfinite(lr) else None,  # nan before the first step; JSON has none
        "states": states,
    }
    return record, arrays


def _model_tables(
    network: Network, optimizer: Optimizer | None
) -> tuple[dict[str, Any], dict[str, Array]]:
    """The header's "network" and "optimizer" tables (None without one), and their arrays."""
    network_table, arrays = _network_record(network)
    optimizer_table = None
    if optimizer is not None:
        optimizer_table, state_arrays = _optimizer_record(optimizer, network)
        arrays.update(state_arrays)
    return {"network": network_table, "optimizer": optimizer_table}, arrays


def _source_record(source: DataSource | None) -> tuple[dict[str, Any] | None, dict[str, Array]]:
    """The header's "source" table and arrays, or None for a source that cannot be written.

    A ``FunctionSource`` of a registered target is written as its arguments, an
    ``ArraySource`` as its arrays; any other source must be handed to ``resume``.
    """
    if type(source) is FunctionSource and isinstance(source.f, Target):
        try:
            return {"class": "function_source", **arguments(source)}, {}
        except ConfigError:  # a value with no plain form (a SeedSequence seed): not written
            return None, {}
    if type(source) is ArraySource and (source.seed is None or isinstance(source.seed, int)):
        record = {"class": "array_source", "validation": source.validation, "seed": source.seed}
        arrays = {"source.x": source.x, "source.y": source.y}
        if source.validation_data is not None:  # the key only then: older files read as before
            record["validation_data"] = True
            arrays["source.x_val"], arrays["source.y_val"] = source.validation_data
        return record, arrays
    return None, {}


def savable(source: DataSource | None) -> bool:
    """Whether ``source`` can be written into a file (see ``_source_record``)."""
    return _source_record(source)[0] is not None


def _write(
    path: str | Path,
    kind: str,
    tables: dict[str, Any],
    arrays: dict[str, Array],
    version: int = 1,
) -> None:
    """Write the header and ``arrays`` to ``path`` through a temporary file (see module doc)."""
    header = {"format": FORMAT, "version": version, "kind": kind, **tables}
    # Encoded before the file is touched: a value JSON cannot hold fails with nothing written.
    try:
        payload = json.dumps(header, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as error:
        raise ConfigError(f"cannot write {path}: {error}") from None
    for name, array in arrays.items():  # what load would refuse, refused before writing
        if array.dtype.kind not in "biuf":
            raise ConfigError(f"cannot write {path}: array {name!r} holds {array.dtype}")
    entries = {HEADER: np.frombuffer(payload, dtype=np.uint8), **arrays}
    with atomic_path(path) as temporary, temporary.open("wb") as file:
        np.savez(file, **entries)  # a file object, not a name: savez would add ".npz" to a name
        file.flush()
        os.fsync(file.fileno())  # on disk before it replaces the old file


def _history_arrays(history: Mapping[str, Sequence[float]]) -> dict[str, Array]:
    """Each logged key's per-epoch values as a float64 array named ``history.<key>``."""
    return {f"history.{key}": np.array(v, dtype=np.float64) for key, v in history.items()}


def save(
    network: Network,
    path: str | Path,
    *,
    optimizer: Optimizer | None = None,
    source: DataSource | None = None,
    history: Mapping[str, Sequence[float]] | None = None,
) -> None:
    """Write ``network`` (architecture, weights, normaliser) to the .npz file ``path``.

    With ``optimizer``, its hyperparameters and its state for this network's
    parameters are written too (``load_optimizer`` reads them back). With
    ``source`` (a FunctionSource of a named target, or an ArraySource) and
    ``history`` ({"loss": [...], ...}), the data and the loss history go in too,
    for ``load_saved`` and ``minifw plot``; a source that cannot be written is
    a ConfigError. The file is replaced in one step: if anything fails, an
    existing file is left as it was. Raises ConfigError for a network that
    cannot be saved (a layer that is not Dense).
    """
    tables, arrays = _model_tables(network, optimizer)
    if source is not None:
        tables["source"], source_arrays = _source_record(source)
        if tables["source"] is None:
            raise ConfigError(
                f"cannot write {path}: a {type(source).__name__} cannot be saved; a "
                "FunctionSource of a named target or an ArraySource can"
            )
        arrays.update(source_arrays)
    if history is not None:
        tables["history"] = list(history)
        arrays.update(_history_arrays(history))
    _write(path, "model", tables, arrays)


def save_checkpoint(
    trainer: Trainer, path: str | Path, *, run: Mapping[str, Any] | None = None
) -> None:
    """Write all that is needed to continue ``trainer``'s run to ``path``: see
    ``load_checkpoint``.

    The network and optimizer as ``save`` writes them, the loss, the settings
    (batch_size, shuffle, seed), the trainer's generator, shuffled order and run
    history (every epoch's logs, as float64 arrays ``history.<key>``), and the
    latest fit's data source if it can be written (see ``_source_record``). The file
    stands alone; the ``Checkpoint`` callback, which writes again and again, keeps the
    history in a journal beside it instead (see ``minifw.files.journal``). ``run``, plain
    data, describes the run the trainer belongs to (the command line keeps its resolved
    settings, its id and its time so far there); ``load_checkpoint_run`` reads it back.
    """
    _write_checkpoint(trainer, path, None, run)
    remove_journals(Path(os.path.realpath(path)))  # of a Checkpoint's earlier files there


def _write_checkpoint(
    trainer: Trainer,
    path: str | Path,
    journal: HistoryJournal | None,
    run: Mapping[str, Any] | None = None,
) -> None:
    """Write ``trainer``'s checkpoint to ``path``: its history as arrays in the file, or, with
    ``journal`` (already extended to the current history), as a reference to it."""
    tables, arrays = _model_tables(trainer.network, trainer.optimizer)
    # Without a copy of the history when a journal keeps it: a copy costs as much as the
    # history is long, what the journal is there to avoid.
    state = trainer.export_state(history=journal is None)
    source, source_arrays = _source_record(trainer.source)
    arrays.update(source_arrays)
    if state["order"] is not None:
        arrays["trainer.order"] = state["order"]
    seed = trainer.seed if isinstance(trainer.seed, int) else None
    tables["trainer"] = {
        "loss": to_spec(trainer.loss),
        "metrics": [to_spec(metric) for metric in trainer.metrics],
        "batch_size": trainer.batch_size,
        "shuffle": bool(trainer.shuffle),
        "seed": seed,
        "rng": state["rng"],
        "order": state["order"] is not None,
        "history": list(state["history"]) if journal is None else list(journal.keys),
        "source": source,
        "engine": state["engine"],  # the engine that trained the run so far
    }
    if run is not None:
        try:  # plain JSON, as the header is: tuples become lists, and nothing else passes
            tables["run"] = json.loads(json.dumps(dict(run), allow_nan=False))
        except (TypeError, ValueError) as error:
            raise ConfigError(f"the run's description cannot be saved: {error}") from None
    if journal is None:
        arrays.update(_history_arrays(state["history"]))
        _write(path, "checkpoint", tables, arrays)
    else:
        tables["trainer"]["journal"] = journal.table()
        _write(path, "checkpoint", tables, arrays, version=2)


# Reading ---------------------------------------------------------------------------


def _what_it_is(start: bytes) -> str:
    """Why a file that is not a zip archive is not a minifw file, from its first bytes."""
    if not start:
        return "the file is empty"
    if start.startswith(_NPY_MAGIC):
        return "it is a single .npy array, not a minifw .npz file"
    if start.startswith(_PICKLE_MAGIC):
        return "it looks like a Python pickle, which minifw never loads (unpickling can run code)"
    return "it is not a minifw file (not a .npz archive)"


def _fits(shape: tuple[int, ...], pattern: Shape) -> bool:
    """Whether ``shape`` matches ``pattern``, None in the pattern matching any length."""
    if len(shape) != len(pattern):
        return False
    return all(p is None or p == n for n, p in zip(shape, pattern, strict=True))


def _shape_text(pattern: Shape) -> str:
    """``(2, 1)``, or ``(n,)`` for a pattern with None."""
    return str(tuple("n" if p is None else p for p in pattern)).replace("'", "")


# The largest header a file may claim: the JSON of a network's layers, an optimizer and a
# trainer is a few kB; this leaves room for thousands of layers and refuses a bomb.
MAX_HEADER_BYTES = 16 * 2**20
# The most epochs a loss history in a file may claim: a run of ten million epochs of the
# blog's network takes hours; each entry becomes a Python float (32 bytes) when read.
MAX_HISTORY = 10_000_000
# .npy header readers by format version; np.savez writes 1.0, and 2.0 for huge headers.
_NPY_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


class _Archive:
    """The arrays of a minifw file, each read only when it is asked for.

    ``describe(name)`` gives an array's shape and dtype from its .npy header alone,
    after checking the size its zip entry declares against what that shape and dtype
    take: a member cannot claim gigabytes behind a small shape. ``get(name)`` reads the
    array, refusing one larger than this machine's memory. Members nobody asks for are
    never decompressed, so a zip bomb among them costs nothing. Every problem is the
    reader's ModelFileError.
    """

    def __init__(self, path: Path, error: Callable[[str], ModelFileError]) -> None:
        self.error = error
        if problem := path_problem(path):
            raise error(problem)
        try:
            file = path.open("rb")
        except FileNotFoundError:
            raise error("no such file") from None
        except OSError as problem:
            raise error(problem.strerror or str(problem)) from None
        try:
            start = file.read(len(_NPY_MAGIC))
            if start[:4] not in _ZIP_MAGIC:
                raise error(_what_it_is(start))
            # Anything zipfile raises here means a damaged archive: truncation, a bad
            # central directory. One exception type is the contract.
            try:
                self._zip = zipfile.ZipFile(file)
            except Exception as problem:
                raise error(
                    f"the archive is damaged or cut short ({type(problem).__name__}: {problem})"
                ) from None
        except BaseException:
            file.close()
            raise
        self._file = file
        # By array name, as np.savez names members ("layers.0.weights.npy").
        self.members = {info.filename.removesuffix(".npy"): info for info in self._zip.infolist()}
        self._described: dict[str, tuple[tuple[int, ...], np.dtype, int]] = {}
        self._read: dict[str, Array] = {}

    def close(self) -> None:
        """Close the file (the arrays read stay)."""
        self._zip.close()
        self._file.close()

    def describe(self, name: str) -> tuple[tuple[int, ...], np.dtype] | None:
        """The shape and dtype of array ``name`` (None if there is none), read from its .npy
        header only, once the size its zip entry declares is found to be what they take."""
        if name not in self._described:
            info = self.members.get(name)
            if info is None:
                return None
            try:
                with self._zip.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    read_header = _NPY_HEADER_READERS.get(version)
                    if read_header is None:
                        raise ValueError(f".npy format version {version} is not one minifw reads")
                    shape, _, dtype = read_header(member)
                    start = member.tell()
            except Exception as problem:  # zipfile's, zlib's, numpy's: all mean damage
                raise self.error(
                    f"array {name!r} is damaged ({type(problem).__name__}: {problem})"
                ) from None
            if dtype.hasobject:
                raise self.error(
                    f"array {name!r} holds Python objects, which only unpickling could "
                    "load; minifw never unpickles (it can run code)"
                )
            size = start + math.prod(shape) * dtype.itemsize
            if info.file_size != size:
                raise self.error(
                    f"array {name!r} declares {count_text(info.file_size)} bytes, but its "
                    f"shape {shape} of {dtype} takes {count_text(size)}: the file is damaged, "
                    "or made to look smaller than it is"
                )
            self._described[name] = (shape, dtype, size)
        shape, dtype, _ = self._described[name]
        return shape, dtype

    def get(self, name: str) -> Array | None:
        """Array ``name`` (None if there is none), read after ``describe`` checked it."""
        if name in self._read:
            return self._read[name]
        if self.describe(name) is None:
            return None
        try:
            check_memory(self._described[name][2], f"reading array {name!r}")
        except ConfigError as problem:
            raise self.error(str(problem)) from None
        try:
            with self._zip.open(self.members[name]) as member:
                array = np.lib.format.read_array(member, allow_pickle=False)
        except Exception as problem:  # a bad CRC, a cut-off stream
            raise self.error(
                f"array {name!r} is damaged ({type(problem).__name__}: {problem})"
            ) from None
        self._read[name] = array
        return array

    def __getitem__(self, name: str) -> Array:
        array = self.get(name)
        if array is None:  # the reader asks only for arrays it has found present
            raise self.error(f"array {name!r} is missing")
        return array


class _Reader:
    """A whole file read, checked and built: ``network``, ``optimizer`` (or None) and, for a
    checkpoint, ``trainer`` (else None), with ``callbacks`` attached to the trainer.

    Every part is checked whichever part the caller wants, so that any loader
    refuses any unsound file. Every problem is a ModelFileError.
    """

    def __init__(self, path: str | Path, callbacks: Sequence[Callback] = ()) -> None:
        self.path = Path(path)
        self.arrays = _Archive(self.path, self.error)
        try:
            self.header = self._header()
            self.network = self._network()
            self.optimizer = self._optimizer(self.network)
            self.trainer = None
            if self.header["kind"] == "checkpoint":
                self.trainer = self._trainer(callbacks)
        except BaseException:
            self.arrays.close()
            raise

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exception: object) -> None:
        self.arrays.close()

    def error(self, problem: str) -> ModelFileError:
        """The exception for ``problem`` with this file."""
        return ModelFileError(f"cannot load {self.path}: {problem}")

    def _header(self) -> dict[str, Any]:
        described = self.arrays.describe(HEADER)
        if described is None:
            found = ", ".join(list(self.arrays.members)[:5]) or "nothing"
            raise self.error(f"it is not a minifw file: it has no '{HEADER}' (it holds {found})")
        shape, dtype = described
        if dtype != np.uint8 or len(shape) != 1:
            raise self.error(f"its header is not UTF-8 bytes (a {dtype} array of {shape})")
        if shape[0] > MAX_HEADER_BYTES:
            raise self.error(
                f"its header claims {count_text(shape[0])} bytes; a minifw header is at most "
                f"{byte_size(MAX_HEADER_BYTES)}"
            )
        raw = self.arrays[HEADER]

        def refuse(constant: str) -> None:
            raise ValueError(f"{constant} is not JSON")

        try:
            header = json.loads(raw.tobytes().decode("utf-8"), parse_constant=refuse)
        except (UnicodeDecodeError, ValueError, RecursionError) as error:
            raise self.error(f"its header is not valid JSON ({error})") from None
        if not isinstance(header, dict):
            raise self.error("its header is not a JSON object")
        if header.get("format") != FORMAT:
            raise self.error(f"unknown format {header.get('format')!r}; expected {FORMAT!r}")
        version = header.get("version")
        if type(version) is not int or not 1 <= version <= VERSION:
            raise self.error(
                f"format version {version!r} is not one this minifw reads (version {VERSION} "
                "and older); a newer minifw may have written it"
            )
        if header.get("kind") not in ("model", "checkpoint"):
            raise self.error(
                f"unknown kind {header.get('kind')!r}; expected 'model' or 'checkpoint'"
            )
        return header

    def field(self, table: Any, key: str, kinds: Kinds, where: str, **options: Any) -> Any:
        """``table[key]`` of ``kinds`` (``validation.entry``, whose ``options`` it takes);
        ``where`` is its path in the header ("network.seed"), which the message names."""
        return entry(
            table,
            key,
            kinds,
            name=f"header '{where}'",
            where=f"cannot load {self.path}",
            error=ModelFileError,
            **options,
        )

    def built(self, make: Callable[[], Any], where: str) -> Any:
        """``make()``, with a refusal of a value turned into a ModelFileError.

        ConfigError and DataError are ValueErrors; numpy refuses with ValueError and
        TypeError too (``default_rng(-1)``).
        """
        try:
            return make()
        except (ValueError, TypeError) as error:
            raise self.error(f"{where}: {error}") from None

    def component(self, base: type[Registered], spec: Any, where: str) -> Any:
        """The component of family ``base`` that the header's spec ``spec`` describes."""
        return self.built(lambda: from_spec(base, spec), where)

    def checked_arrays(
        self, expected: Mapping[str, Sequence[Shape] | None], *, finite: bool = True
    ) -> None:
        """Check that each named array exists, holds real numbers, finite ones if ``finite``,
        and has one of the shapes ``expected`` lists for it (None: any shape; None in a
        shape: any length on that axis).

        Raises one ModelFileError listing every array that fails.
        """
        problems = []
        for name, shapes in expected.items():
            # Shape and dtype come from the array's own header: a wrong one is never read.
            described = self.arrays.describe(name)
            if described is None:
                problems.append(f"array {name!r} is missing")
                continue
            shape, dtype = described
            if dtype.kind not in "biuf":
                problems.append(f"array {name!r} holds {dtype}, not real numbers")
            elif shapes is not None and not any(_fits(shape, s) for s in shapes):
                wanted = " or ".join(_shape_text(s) for s in shapes)
                problems.append(f"array {name!r} has shape {shape}; expected {wanted}")
            elif finite and not np.isfinite(array := self.arrays[name]).all():
                bad = int(np.count_nonzero(~np.isfinite(array)))
                problems.append(f"array {name!r} has {bad} non-finite value(s)")
        if problems:
            raise self.error("; ".join(problems))

    def _network(self) -> Network:
        """A new network as the file describes it, with the file's weights and normaliser."""
        record = self.field(self.header, "network", dict, "network")
        specs = self.field(record, "layers", list, "network.layers")
        seed = self.field(record, "seed", (int, type(None)), "network.seed")
        has_normaliser = self.field(record, "normaliser", bool, "network.normaliser")
        layers = [self._layer(spec, i) for i, spec in enumerate(specs)]
        # Files written before float32 networks existed have no dtype: they are float64.
        dtype = self.field(record, "dtype", str, "network.dtype", default="float64")
        network = self.built(lambda: Network(layers, seed=seed, dtype=dtype), "network")
        named = {k: p for k, p in named_parameters(network).items() if k != "packed"}
        expected: dict[str, Sequence[Shape] | None] = {
            name: [p.value.shape] for name, p in named.items()
        }
        if has_normaliser:  # (low, high) of one range for every column, or of each column's
            for side in ("source", "target"):
                expected[f"normaliser.{side}"] = [(2,), (2, network.n_outputs)]
        self.checked_arrays(expected)
        for name, parameter in named.items():
            parameter.value[...] = self.arrays[name]
        if has_normaliser:
            source, target = (self.arrays[f"normaliser.{side}"] for side in ("source", "target"))
            network.normaliser = self.built(
                lambda: Normaliser((source[0], source[1]), (target[0], target[1])), "normaliser"
            )
        return network

    def _layer(self, spec: Any, index: int) -> Dense:
        where = f"network.layers[{index}]"
        kind = self.field(spec, "class", str, f"{where}.class")
        if kind != "dense":
            raise self.error(f"{where}: unknown layer class {kind!r}; this minifw reads 'dense'")
        params = {key: value for key, value in spec.items() if key != "class"}
        if params.get("copies") is not None:
            raise self.error(
                f"{where}: a stacked layer (copies={params['copies']!r}); minifw saves and "
                "loads single networks only, never stacks"
            )
        # Building the layer allocates n_in * n_out weights, so a spec asking for more than
        # the file stores (10**12, say) is refused before that (numpy would raise MemoryError,
        # or try). Any other mismatch is listed with every other problem once it is built.
        n_in, n_out = params.get("n_in"), params.get("n_out")
        name = f"layers.{index}.weights"
        stored = self.arrays.describe(name)  # its shape: the array itself is not read yet
        size = 0 if stored is None else math.prod(stored[0])
        if is_a(n_in, int) and is_a(n_out, int) and n_in * n_out > size:
            found = "is missing" if stored is None else f"has shape {stored[0]}"
            raise self.error(
                f"{where} says n_in={n_in}, n_out={n_out}, but array {name!r} {found}; "
                f"expected ({n_in}, {n_out})"
            )
        return self.built(lambda: build(Dense, params, "Dense"), where)

    def _optimizer(self, network: Network) -> Optimizer | None:
        """The file's optimizer with its state bound to ``network``'s parameters; None if none."""
        record = self.field(self.header, "optimizer", (dict, type(None)), "optimizer")
        if record is None:
            return None
        optimizer = self.component(Optimizer, record.get("spec"), "optimizer.spec")
        # Finite, as a float holds them: JSON's whole numbers have no bound.
        iterations = self.field(record, "iterations", int, "optimizer.iterations", test=is_finite)
        lr = self.field(
            record,
            "lr",
            (float, int, type(None)),
            "optimizer.lr",
            test=lambda value: value is None or is_finite(value),
        )
        table = self.field(record, "states", dict, "optimizer.states")
        values, array_keys = {}, {}
        for name, state in table.items():
            where = f"optimizer.states.{name}"
            values[name] = self.field(state, "values", dict, f"{where}.values")
            array_keys[name] = self.field(state, "arrays", list, f"{where}.arrays")
        # Finite, as the weights: non-finite moments (a diverged run's, before the guard put
        # them back with the weights) would make the first step of any resumed run non-finite.
        self.checked_arrays(
            {f"optimizer.{name}.{key}": None for name, keys in array_keys.items() for key in keys}
        )
        self._check_state(network, values, array_keys)
        states = {
            name: {
                **values[name],
                **{key: self.arrays[f"optimizer.{name}.{key}"] for key in array_keys[name]},
            }
            for name in table
        }
        exported = {
            "iterations": iterations,
            "lr": math.nan if lr is None else float(lr),
            "states": states,
        }
        named = named_parameters(network)
        self.built(lambda: optimizer.import_state(exported, named), "optimizer")
        return optimizer

    def _check_state(
        self, network: Network, values: dict[str, Any], array_keys: dict[str, list[Any]]
    ) -> None:
        """Refuse optimizer state that the next step would fail on, listing every problem.

        A rule's state arrays are per-entry companions of its parameter (velocity, moments):
        the parameter's shape and dtype. Its other values are counts or numbers (Adam's t).
        Unknown parameter names are left to ``import_state``, which names them.
        """
        named = named_parameters(network)
        problems = []
        for name, keys in array_keys.items():
            parameter = named.get(name)
            if parameter is None:
                continue
            shape, dtype = parameter.value.shape, parameter.value.dtype
            for key in keys:
                array = self.arrays[f"optimizer.{name}.{key}"]
                if array.shape != shape or array.dtype != dtype:
                    problems.append(
                        f"array 'optimizer.{name}.{key}' is {array.dtype} of shape "
                        f"{array.shape}; expected {dtype} of shape {shape}, as its parameter"
                    )
            for key, value in values[name].items():
                if not is_finite(value):  # a count (Adam's t) or a number, that a float holds
                    where = f"optimizer.states.{name}.values.{key}"
                    problems.append(refusal_text(where, value, "a finite number"))
        if problems:
            raise self.error("; ".join(problems))

    def history(self, table: Any, where: str) -> dict[str, list[float]]:
        """The loss history whose keys ``table["history"]`` lists: {key: per-epoch values}."""
        keys = self.field(table, "history", list, where)
        if not all(isinstance(key, str) for key in keys):
            raise self.error(f"header '{where}' must list logs keys as text; got {keys!r}")
        for key in keys:  # bounded before anything is read: each entry becomes a Python float
            described = self.arrays.describe(f"history.{key}")
            if described is not None and math.prod(described[0]) > MAX_HISTORY:
                raise self.error(
                    f"array 'history.{key}' claims {count_text(math.prod(described[0]))} "
                    f"epochs; a loss history holds at most {count_text(MAX_HISTORY)}"
                )
        # A run trained with stop_on_divergence=False may have nan or inf losses: kept.
        self.checked_arrays({f"history.{key}": [(None,)] for key in keys}, finite=False)
        return {key: self.arrays[f"history.{key}"].tolist() for key in keys}

    def _journal_history(self, record: dict[str, Any]) -> dict[str, list[float]]:
        """The history a Checkpoint callback kept in a journal beside the checkpoint."""
        keys = self.field(record, "history", list, "trainer.history")
        table = self.field(record, "journal", dict, "trainer.journal")
        name = self.field(table, "file", str, "trainer.journal.file")
        records = self.field(table, "records", int, "trainer.journal.records")
        counts = self.field(table, "counts", dict, "trainer.journal.counts")
        target = Path(os.path.realpath(self.path))  # beside the file, not a link to it
        if not journal_pattern(target).fullmatch(name):  # a plain name beside it: no ../
            raise self.error(f"header 'trainer.journal.file' names {name!r}, not its journal")
        if not all(isinstance(key, str) for key in keys) or len(set(keys)) != len(keys):
            raise self.error(f"header 'trainer.history' must list distinct keys; got {keys!r}")
        wrong = {k: n for k, n in counts.items() if not is_a(n, int) or not 0 <= n <= MAX_HISTORY}
        if not 0 <= records <= sum(counts.values()) or wrong or set(counts) != set(keys):
            raise self.error(
                f"header 'trainer.journal' counts {records} values, {counts} per key, for keys "
                f"{keys}; expected a count of at most {count_text(MAX_HISTORY)} for each key"
            )
        try:
            return read_journal(target.parent / name, keys, records, counts)
        except ValueError as error:
            raise self.error(str(error)) from None

    def source(self, record: Any) -> DataSource | None:
        """The data source a "source" table describes (None for none)."""
        if record is None:
            return None
        kind = self.field(record, "class", str, "trainer.source.class")
        params = {key: value for key, value in record.items() if key != "class"}
        if kind == "function_source":
            return self.built(
                lambda: build(FunctionSource, params, "FunctionSource", {"f": Target}),
                "trainer.source",
            )
        if kind == "array_source":
            x, y = (self.arrays.describe(name) for name in ("source.x", "source.y"))
            if x is not None and y is not None and len(x[0]) == len(y[0]) == 2:
                try:  # what training on it would need, refused before it is read
                    check_memory(
                        memory_needed((x[0][1], y[0][1]), x[0][0]),
                        f"training on its data set of {count_text(x[0][0])} samples",
                    )
                except ConfigError as error:
                    raise self.error(str(error)) from None
            # Absent in files written before validation data was saved.
            held_out = self.field(
                params, "validation_data", bool, "trainer.source.validation_data", default=False
            )
            names = ["source.x", "source.y", *(["source.x_val", "source.y_val"] * held_out)]
            self.checked_arrays({name: [(None, None)] for name in names})
            x, y, *validation = (self.arrays[name] for name in names)
            params.update(x=x, y=y, validation_data=tuple(validation) if held_out else None)
            return self.built(lambda: build(ArraySource, params, "ArraySource"), "trainer.source")
        raise self.error(f"trainer.source: unknown source class {kind!r}")

    def _trainer(self, callbacks: Sequence[Callback]) -> Trainer:
        """The checkpoint's trainer, its network, optimizer and progress as they were saved."""
        network, optimizer = self.network, self.optimizer
        if optimizer is None:
            raise self.error("the checkpoint holds no optimizer")
        record = self.field(self.header, "trainer", dict, "trainer")
        loss = self.component(Loss, record.get("loss"), "trainer.loss")
        # Absent in checkpoints written before metrics were.
        specs = self.field(record, "metrics", list, "trainer.metrics", default=[])
        metrics = [
            self.component(Metric, spec, f"trainer.metrics[{i}]") for i, spec in enumerate(specs)
        ]
        settings = {
            "batch_size": self.field(record, "batch_size", int, "trainer.batch_size"),
            "shuffle": self.field(record, "shuffle", bool, "trainer.shuffle"),
            "seed": self.field(record, "seed", (int, type(None)), "trainer.seed"),
        }
        has_order = self.field(record, "order", bool, "trainer.order")
        if has_order:
            self.checked_arrays({"trainer.order": [(None,)]})
        state = {
            "rng": self.field(record, "rng", dict, "trainer.rng"),
            "order": self.arrays["trainer.order"] if has_order else None,
            "history": (
                self._journal_history(record)
                if "journal" in record
                else self.history(record, "trainer.history")
            ),
            "engine": record.get("engine"),
        }
        source = self.source(self.field(record, "source", (dict, type(None)), "trainer.source"))
        trainer = self.built(
            lambda: Trainer(
                network, loss, optimizer, callbacks=list(callbacks), metrics=metrics, **settings
            ),
            "trainer",
        )
        self.built(lambda: trainer.import_state(state), "trainer")
        trainer.source = source
        return trainer


def _check_fits(loaded: Network, network: Network, path: str | Path) -> None:
    """ModelFileError listing every way ``network`` differs from the file's ``loaded`` one:
    the number of layers, each layer's parameter shapes and its activation."""
    problems = []
    if len(loaded.layers) != len(network.layers):
        problems.append(
            f"the file has {len(loaded.layers)} layers, the network {len(network.layers)}"
        )
    for i, (theirs, mine) in enumerate(zip(loaded.layers, network.layers, strict=False)):
        shapes = [[(p.name, p.value.shape) for p in layer.parameters()] for layer in (theirs, mine)]
        if shapes[0] != shapes[1]:
            problems.append(f"layer {i} has parameters {shapes[0]} in the file, {shapes[1]} here")
        activation = getattr(mine, "activation", None)
        # By spec: a plain class's instances are never equal, though they compute the same.
        if activation is not None and comparable(theirs.activation) != comparable(activation):
            problems.append(
                f"layer {i} has activation {theirs.activation!r} in the file, {activation!r} here"
            )
    if problems:
        raise ModelFileError(f"cannot load {path} into this network: {'; '.join(problems)}")


def load(path: str | Path) -> Network:
    """The network saved at ``path`` (by ``network.save``, or in a checkpoint), weights and all.

    Its predictions are bit for bit those of the network that was saved. Raises
    ModelFileError, naming the file and the problem, for anything but a sound
    minifw file; nothing is built from a file that fails any check.
    """
    with _Reader(path) as reader:
        return reader.network


@attrs.frozen(eq=False)
class SavedNetwork:
    """A saved network with what it was trained on: its data ``source`` and loss ``history``.

    Either may be None: a model saved without them (``minifw.save(network, path)``),
    or a checkpoint whose source could not be written.
    """

    network: Network
    source: DataSource | None
    history: dict[str, list[float]] | None


def load_saved(path: str | Path) -> SavedNetwork:
    """The network at ``path`` (a model or a checkpoint) with its data source and loss history,
    as far as the file holds them; ModelFileError for an unsound file, as ``load``."""
    with _Reader(path) as reader:
        if reader.trainer is not None:
            return SavedNetwork(reader.network, reader.trainer.source, reader.trainer.run_history)
        header = reader.header
        source = (
            reader.source(reader.field(header, "source", (dict, type(None)), "source"))
            if "source" in header
            else None
        )
        history = reader.history(header, "history") if "history" in header else None
        return SavedNetwork(reader.network, source, history)


def load_weights(network: Network, path: str | Path) -> None:
    """Put the weights, biases and normaliser saved at ``path`` into ``network``, in place.

    The file's network must match ``network`` layer by layer: the same
    parameters with the same shapes, and the same activations. Otherwise, or if
    the file is unsound, ModelFileError lists every difference and ``network``
    is left as it was.
    """
    loaded = load(path)
    _check_fits(loaded, network, path)
    # Equal parameter shapes in the same order: the packed vectors line up entry for entry.
    np.copyto(network.packed.value, loaded.packed.value)
    network.normaliser = loaded.normaliser


def load_optimizer(path: str | Path, network: Network) -> Optimizer:
    """The optimizer saved with the network at ``path``, its state bound to ``network``.

    ``network`` is the one ``load(path)`` gave (or one with the same layers):
    its parameters take the places of the saved network's, by name. Raises
    ModelFileError if the file holds no optimizer or is unsound.
    """
    with _Reader(path) as reader:
        optimizer = reader.optimizer
        if optimizer is None:
            raise reader.error(
                "it holds no optimizer (save one with minifw.save(network, path, optimizer=...))"
            )
        _check_fits(reader.network, network, path)
        # The state, bound to the file's network as it was read, moves to the same names in
        # ``network``; the file network's entries go when it does.
        optimizer.import_state(
            optimizer.export_state(named_parameters(reader.network)), named_parameters(network)
        )
        return optimizer


def load_checkpoint(
    path: str | Path, source: DataSource | None = None, *, callbacks: Sequence[Callback] = ()
) -> Trainer:
    """The trainer a checkpoint at ``path`` holds, ready to ``fit`` on: its ``source`` is
    ``source`` if given, else the checkpoint's own if it holds one, and ``callbacks`` are
    attached (callbacks are not saved). ``trainer.fit(trainer.source, more)`` then continues
    exactly where the saved run stopped. ModelFileError if the file is not a usable
    checkpoint."""
    return load_checkpoint_run(path, source, callbacks=callbacks)[0]


def load_checkpoint_run(
    path: str | Path, source: DataSource | None = None, *, callbacks: Sequence[Callback] = ()
) -> tuple[Trainer, dict[str, Any] | None]:
    """``load_checkpoint``'s trainer, and the description of its run that ``save_checkpoint``
    was given (None if it was given none)."""
    with _Reader(path, callbacks) as reader:
        if reader.trainer is None:
            raise reader.error(
                f"it is a {reader.header['kind']!r} file, not a checkpoint: it holds no trainer "
                "to resume (on the command line, train with --checkpoint FILE; in Python, "
                "minifw.save_checkpoint(trainer, path))"
            )
        if source is not None:
            reader.trainer.source = source
        run = reader.header.get("run")
        if run is not None and not isinstance(run, dict):
            raise reader.error(f"its 'run' table must be a table; got {run!r:.80}")
        return reader.trainer, run


@attrs.define(eq=False)
class Checkpoint(Callback):
    """Write ``save_checkpoint(trainer, path)`` every ``every`` epochs and when training ends.

    Epochs are counted over the whole run (``trainer.epochs_done``), so a resumed
    run checkpoints at the same epochs as one never interrupted. ``{epoch}`` in
    ``path`` is replaced by that count, to keep one file per checkpoint
    (``"run-{epoch}.npz"``), each standing alone; otherwise each write replaces the
    last, in one step, and the run's loss history is kept beside it, in
    ``path.<id>.history``, to which each checkpoint adds only its new epochs: a
    checkpoint then costs the same however long the run has been going (rewriting the
    whole history each time made checkpoint I/O grow with the square of the epochs).
    Keep the two files together; ``load_checkpoint`` reads both. A path that cannot be
    written is an OSError when training begins (``check_writable``). List this callback
    after callbacks that change the weights when training ends
    (``EarlyStopping(restore_best=True)``), so that it saves their result.
    """

    path: str | Path
    every: int = attrs.field(default=100, validator=integer(low=1))
    # What ``save_checkpoint`` keeps of the run, asked for at each save (its time changes).
    run: Callable[[Trainer], Mapping[str, Any]] | None = attrs.field(default=None, kw_only=True)
    _saved_at: int | None = attrs.field(default=None, init=False, repr=False)
    _journal: HistoryJournal | None = attrs.field(default=None, init=False, repr=False)

    def on_train_begin(self, trainer: Trainer) -> None:
        # A path that cannot be written is an OSError now, not after the first epochs.
        check_writable(str(self.path).replace("{epoch}", str(trainer.epochs_done)))

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: Logs) -> None:
        if trainer.epochs_done % self.every == 0:
            self._save(trainer)

    def on_train_end(self, trainer: Trainer, logs: Logs) -> None:
        if self._saved_at != trainer.epochs_done:  # not twice for the same epoch
            self._save(trainer)

    def _save(self, trainer: Trainer) -> None:
        done = trainer.epochs_done
        path = str(self.path)
        run = None if self.run is None else self.run(trainer)
        if "{epoch}" in path:
            save_checkpoint(trainer, path.replace("{epoch}", str(done)), run=run)
        else:
            target = Path(os.path.realpath(path))
            journal = self._journal
            if (
                journal is None
                or journal.target != target
                or not journal.follows(trainer.run_history)
            ):
                journal = self._journal = HistoryJournal(target)  # the whole history, once
            journal.extend(trainer.run_history)
            _write_checkpoint(trainer, path, journal, run)
            remove_journals(target, keep=journal.name)  # the replaced checkpoint's
        self._saved_at = done
