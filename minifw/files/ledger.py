"""A ledger of training runs: one JSON object per line in ``runs/ledger.jsonl``.

Each line records one run: its id and UTC time, the configuration it was
given, its seed, the numpy and BLAS it ran on, and what came out (final loss,
evaluation error, seconds, the loss of every epoch, the saved model's path).
``Ledger.append`` adds a line, ``Ledger.records`` reads them all back,
``Ledger.find`` picks one by id or unique prefix; ``table`` and ``compare``
turn records into text for the terminal.

Several processes may append to one ledger at once (a sweep in four
terminals): every line is written whole, under a lock, or not at all. Strict
JSON has no NaN, so a non-finite loss, error or time is written as ``null``
and read back as ``nan``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import math
import os
import reprlib
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from ..core.errors import LedgerError
from ..core.validation import Kinds, entry, is_a, is_finite, path_problem

try:
    from fcntl import LOCK_EX, LOCK_SH, LOCK_UN, flock
except ImportError:  # Windows: no flock; O_APPEND alone still puts each write at the end there
    flock = None  # type: ignore[assignment]

FILE_NAME = "ledger.jsonl"
MISSING = "—"  # shown for a setting a run's configuration does not have


# Readers: one per field, shared by ``records`` (a line from the file) and ``append``
# (the caller's values, written out and read back), so both check exactly the same things.
# Each says what JSON value the field takes (checked by ``validation.entry``, which names
# the line and the field) and how it becomes the record's value.
@attrs.frozen
class _Read:
    kinds: Kinds
    expected: str
    test: Callable[[Any], bool] | None = None
    convert: Callable[[Any], Any] = lambda value: value


def _is_number(value: Any) -> bool:
    """A JSON number a float holds, or null: how a non-finite number is written (strict JSON
    has no NaN, nor inf; an int too large for a float, 1e400 as digits, is refused)."""
    return value is None or (is_a(value, int | float) and is_finite(value))


def _float(value: int | float | None) -> float:
    return math.nan if value is None else float(value)


_NULL = type(None)
_TEXT = _Read(str, "text")
_OPTIONAL_TEXT = _Read((str, _NULL), "text or null")
_MAPPING = _Read(dict, "a JSON object")
_OPTIONAL_MAPPING = _Read((dict, _NULL), "a JSON object or null")
_NUMBER = _Read((int, float, _NULL), "a number or null", _is_number, _float)
_NUMBERS = _Read(
    list,
    "a list of numbers (or nulls)",
    lambda values: all(map(_is_number, values)),
    lambda values: tuple(map(_float, values)),
)
_NUMBERS_BY_NAME = _Read(
    (dict, _NULL),
    "a JSON object of numbers (or nulls), or null",
    lambda table: table is None or all(map(_is_number, table.values())),
    lambda table: None if table is None else {str(k): _float(v) for k, v in table.items()},
)


def _json_safe_numbers(value: Any) -> Any:
    """{name: number} with each non-finite number as None; anything else as it is (and then
    refused by the reader)."""
    if isinstance(value, Mapping):
        return {key: _json_number(number) for key, number in value.items()}
    return value


def _field(read: _Read, **options: Any) -> Any:
    """A RunRecord field with the reader that checks and converts its JSON value."""
    return attrs.field(metadata={"read": read}, **options)


@attrs.frozen
class RunRecord:
    """One line of the ledger: one training run, what it was asked and what came out.

    ``time`` is ISO 8601 in UTC. ``config`` is the configuration as the caller
    gave it, after a JSON round trip (tuples come back as lists). The float
    fields are ``nan`` where the run produced no finite value.
    """

    id: str = _field(_TEXT)
    time: str = _field(_TEXT)
    config: Mapping[str, Any] = _field(_MAPPING)
    seed: int | None = _field(_Read((int, _NULL), "a whole number or null"))
    numpy: str = _field(_TEXT)
    blas: str = _field(_TEXT)
    final_loss: float = _field(_NUMBER)
    evaluation_error: float = _field(_NUMBER)
    seconds: float = _field(_NUMBER)
    loss_history: tuple[float, ...] = _field(_NUMBERS)
    model_path: str | None = _field(_OPTIONAL_TEXT)
    # A run of a sweep: its place in the sweep (see minifw.sweeps); None for a run on its own.
    sweep: Mapping[str, Any] | None = _field(_OPTIONAL_MAPPING, default=None)
    # The settings that differ from the blog's, as the stats line's second line shows them.
    summary: str | None = _field(_OPTIONAL_TEXT, default=None)
    # A run resumed from a checkpoint: the id of the run that wrote the checkpoint.
    resumed_from: str | None = _field(_OPTIONAL_TEXT, default=None)
    # How a run ended early ("interrupted at epoch 120", "diverged at epoch 9"); None if not.
    status: str | None = _field(_OPTIONAL_TEXT, default=None)
    # The run's metrics (--metrics) at the evaluation points, by name; None if it had none.
    metrics: Mapping[str, float] | None = _field(_NUMBERS_BY_NAME, default=None)
    # With target_eval: when the evaluation MSE first reached it ({"target", "epoch",
    # "seconds", "work", "work_unit"}, see EvaluationTarget.reached); None without one.
    eval_target: Mapping[str, Any] | None = _field(_OPTIONAL_MAPPING, default=None)

    @classmethod
    def from_json(cls, data: Any, where: str) -> RunRecord:
        """The record in a parsed JSON line; a LedgerError naming ``where`` if it is not one.

        Keys the record does not know are ignored, so a ledger written by a
        later minifw with more fields still reads.
        """
        if not isinstance(data, dict):
            raise LedgerError(f"{where}: expected a JSON object, got {reprlib.repr(data)}")
        values = {}
        for field in attrs.fields(cls):
            if field.name not in data and field.default is not attrs.NOTHING:
                continue  # added later: older ledgers lack it
            read: _Read = field.metadata["read"]
            value = entry(
                data,
                field.name,
                read.kinds,
                where=where,
                error=LedgerError,
                expected=read.expected,
                test=read.test,
            )
            values[field.name] = read.convert(value)
        return cls(**values)


# What a caller of ``append`` gives; the ledger adds the id, the time, numpy and BLAS.
_GIVEN = ("config", "seed", "final_loss", "evaluation_error", "seconds", "loss_history")
_OPTIONAL = (
    "id", "model_path", "sweep", "summary", "resumed_from", "status", "metrics", "eval_target"
)  # fmt: skip


def new_id() -> str:
    """A new run id: the UTC time first, so that ids sort by time (to the second), and 32
    random bits from the OS, which keep ids apart across processes without touching numpy's
    generators."""
    return f"{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}-{os.urandom(4).hex()}"


@functools.cache
def blas_name() -> str:
    """The BLAS numpy was built with, as "name version" (e.g. "scipy-openblas 0.3.31"), or
    "unknown". Read from numpy's build configuration once: no BLAS call is made."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return " ".join(str(blas[key]) for key in ("name", "version") if blas.get(key))
    except Exception:  # any numpy whose build record has another shape: say so, don't fail a run
        return "unknown"


def _json_number(value: Any) -> Any:
    """A caller's number as JSON writes it: non-finite -> None; anything else unchanged (the
    reader then refuses it, naming the field)."""
    if is_a(value, Real):
        if isinstance(value, Integral) and not is_finite(value):
            return int(value)  # too large for a float: the reader refuses it, naming the field
        return float(value) if math.isfinite(value) else None
    return value


@contextlib.contextmanager
def _locked(fd: int, *, exclusive: bool) -> Iterator[None]:
    """Hold ``flock`` on ``fd``: exclusive to write, shared to read."""
    if flock is None:
        yield
        return
    flock(fd, LOCK_EX if exclusive else LOCK_SH)
    try:
        yield
    finally:
        flock(fd, LOCK_UN)


def _read_at(fd: int, offset: int, size: int) -> bytes:
    """``size`` bytes of ``fd`` from ``offset`` (os.pread is not on Windows). Moving the file
    position is harmless: with O_APPEND every write goes to the end anyway."""
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, size)


def _last_line_start(fd: int, size: int) -> int:
    """The offset just after the last newline in the first ``size`` bytes of ``fd`` (0 if none)."""
    end = size
    while end > 0:
        start = max(0, end - 65536)
        newline = _read_at(fd, start, end - start).rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        end = start
    return 0


@attrs.define
class Ledger:
    """The runs recorded in ``directory/ledger.jsonl``, one JSON line each.

    ``Ledger("runs").append({"config": config.to_dict(), "seed": 0, ...})``
    records a run; ``print(table(Ledger("runs").records()))`` lists them.
    """

    directory: Path = attrs.field(default=Path("runs"), converter=Path)

    @directory.validator
    def _openable(self, attribute: attrs.Attribute[Path], value: Path) -> None:
        # Refused here, so that neither append nor records meets open()'s bare ValueError.
        if problem := path_problem(value):
            raise LedgerError(f"cannot use the ledger in {value}: {problem}")

    @property
    def path(self) -> Path:
        """The ledger file."""
        return self.directory / FILE_NAME

    def append(self, record: Mapping[str, Any]) -> RunRecord:
        """Record one run and return it as ``records()`` will read it back.

        ``record`` holds ``config`` (a JSON-safe dict), ``seed``, ``final_loss``,
        ``evaluation_error``, ``seconds``, ``loss_history`` (a float per epoch) and,
        optionally, ``id`` (a run id chosen beforehand, as ``new_id`` makes them),
        ``model_path``, ``sweep`` (a JSON-safe dict), ``summary``, ``resumed_from``,
        ``metrics`` ({name: number}) and ``eval_target`` (when the evaluation error
        reached the run's target_eval, ``EvaluationTarget.reached``).
        The ledger adds a new id if none is given, the UTC time, numpy's version and
        its BLAS. A bad record raises
        LedgerError and writes nothing; so does a failed write, which leaves the file
        as it was.
        """
        record = dict(record)
        unknown = sorted(set(record) - set(_GIVEN) - set(_OPTIONAL))
        missing = [key for key in _GIVEN if key not in record]
        if unknown or missing:
            problems = [f"unknown keys {unknown}"] * bool(unknown)
            problems += [f"missing keys {missing}"] * bool(missing)
            raise LedgerError(f"cannot record a run in {self.path}: {'; '.join(problems)}")
        try:  # checked on its own, so that the message can say it is the configuration
            json.dumps(record["config"], allow_nan=False)
        except (TypeError, ValueError) as error:
            raise LedgerError(
                f"cannot record a run in {self.path}: config is not JSON-safe ({error})"
            ) from None
        now = dt.datetime.now(dt.UTC)
        model_path, history = record.get("model_path"), record["loss_history"]
        if isinstance(model_path, os.PathLike):
            model_path = os.fspath(model_path)
        if isinstance(history, np.ndarray):
            history = history.tolist()
        data = {
            "id": record.get("id") or new_id(),
            "time": now.isoformat(timespec="seconds"),
            "config": record["config"],
            "seed": record["seed"],
            "numpy": np.__version__,
            "blas": blas_name(),
            "final_loss": _json_number(record["final_loss"]),
            "evaluation_error": _json_number(record["evaluation_error"]),
            "seconds": _json_number(record["seconds"]),
            "loss_history": [_json_number(x) for x in history] if _is_list(history) else history,
            "model_path": model_path,
            "sweep": record.get("sweep"),
            "summary": record.get("summary"),
            "resumed_from": record.get("resumed_from"),
            "status": record.get("status"),
            "metrics": _json_safe_numbers(record.get("metrics")),
            "eval_target": record.get("eval_target"),
        }
        # repr for anything else JSON cannot write: the reader below then refuses it by name.
        text = json.dumps(data, allow_nan=False, separators=(",", ":"), default=repr)
        # Read back what will be written: the caller gets exactly what records() will give.
        run = RunRecord.from_json(json.loads(text), f"cannot record a run in {self.path}")
        self._write_line(text.encode("ascii") + b"\n")
        return run

    def _write_line(self, line: bytes) -> None:
        """Append ``line`` whole, or not at all, even with other processes appending.

        O_APPEND makes the kernel move to the end and write as one step, so two
        writers never write over each other. It does not promise that a large
        write lands in one piece (not on every file system, nor NFS) or that it
        is not cut short; the exclusive flock does: while one process holds it
        no cooperating writer writes, and readers (who take it shared) never see
        half a line. The line goes in one os.write, so under the lock the file
        holds it whole or, if the write fails or falls short, is cut back to its
        old size. fsync makes a recorded run survive a power cut.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        # O_BINARY (Windows only) keeps "\n" from being written as "\r\n".
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
        fd = os.open(self.path, flags, 0o644)
        try:
            with _locked(fd, exclusive=True):
                size, prefix = self._mend_last_line(fd)
                data = prefix + line
                try:
                    written = os.write(fd, data)
                    if written != len(data):
                        raise LedgerError(
                            f"{self.path}: only {written} of {len(data)} bytes were "
                            "written (is the disk full?); the run was not recorded"
                        )
                    os.fsync(fd)
                except BaseException:
                    os.ftruncate(fd, size)
                    raise
        finally:
            os.close(fd)

    def _mend_last_line(self, fd: int) -> tuple[int, bytes]:
        """Under the exclusive lock: the file's size, and what must go before a new line.

        A last line without its newline is either the start of a line whose
        writer died mid-write, or a line that lost its newline (say, in an
        editor). Only the first is cut: a cut-off record is never valid JSON (a
        record is an object, and a prefix of one never closes it), nobody holds
        the lock so nobody is still writing it, and no caller was told it was
        recorded. Any line that is whole JSON is kept, even one that is not a
        sound record (a hand-edited ``"seed": "0"``): it gets its newline, so it
        cannot glue itself to the next record, and a one-line warning names it;
        ``records()`` then refuses it as it does any damaged line, until it is
        fixed. So no record is ever deleted.
        """
        size = os.fstat(fd).st_size
        if size == 0 or _read_at(fd, size - 1, 1) == b"\n":
            return size, b""
        start = _last_line_start(fd, size)
        where = f"{self.path}, last line"
        line = _read_at(fd, start, size - start)
        try:
            _parse(line, where)
        except LedgerError as error:
            if _cut_short(line):
                _warn(f"{error}; removing this unfinished line (a write that was cut short)")
                os.ftruncate(fd, start)
                return start, b""
            _warn(f"{error}; kept as written and ended with a newline: fix or delete that line")
        return size, b"\n"

    def records(self) -> list[RunRecord]:
        """Every run in the ledger, oldest first; an empty list if there is no ledger yet.

        A line that is not a record raises LedgerError naming the file and line.
        Blank lines are skipped. One exception: a last line without its newline
        that is not JSON at all is what a writer killed mid-write leaves; it was
        never recorded, so it is skipped with a one-line warning on stderr (the
        next append removes it). A last line that is whole JSON is read like any
        other line, newline or not.
        """
        try:
            with open(self.path, "rb") as file, _locked(file.fileno(), exclusive=False):
                content = file.read()
        except FileNotFoundError:
            return []
        lines = content.split(b"\n")
        tail = lines.pop()  # after the last newline: b"" unless the last line is unfinished
        runs = [
            _parse(line, f"{self.path}, line {number}")
            for number, line in enumerate(lines, 1)
            if line.strip()
        ]
        if tail.strip():
            try:
                runs.append(_parse(tail, f"{self.path}, line {len(lines) + 1}"))
            except LedgerError as error:
                if not _cut_short(tail):
                    raise
                _warn(f"{error}; skipped as unfinished (no newline)")
        return runs

    def find(self, id_or_prefix: str) -> RunRecord:
        """The one run whose id is ``id_or_prefix`` or starts with it.

        Raises LedgerError if none does, or if several do (listing them).
        """
        runs = self.records()
        exact = [run for run in runs if run.id == id_or_prefix]
        matches = exact or [run for run in runs if id_or_prefix and run.id.startswith(id_or_prefix)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise LedgerError(f"no run {id_or_prefix!r} in {self.path} ({len(runs)} runs recorded)")
        shown = "\n  ".join(run.id for run in matches[:10])
        more = f"\n  ... and {len(matches) - 10} more" if len(matches) > 10 else ""
        raise LedgerError(
            f"{id_or_prefix!r} matches {len(matches)} runs in {self.path}; give more of the id:"
            f"\n  {shown}{more}"
        )


def _is_list(value: Any) -> bool:
    return isinstance(value, list | tuple)


def _cut_short(line: bytes) -> bool:
    """Whether ``line`` is not JSON at all, as a write cut short leaves it (a prefix of a
    record's object never closes it). JSON nested too deep to read may be whole: not cut."""
    try:
        json.loads(line)
    except ValueError:
        return True
    except RecursionError:
        return False
    return False


def _warn(message: str) -> None:
    """One line on stderr. Not ``warnings.warn``, whose report adds the category, the
    file and line of the call and that line's source, none of which helps the reader."""
    print(f"minifw: warning: {message}", file=sys.stderr)


def _parse(line: bytes, where: str) -> RunRecord:
    """The record on one line of the ledger; a LedgerError naming ``where`` if it is not one."""
    try:
        data = json.loads(line)
    except ValueError as error:  # bad JSON, or bytes that are not UTF-8
        raise LedgerError(f"{where}: not valid JSON ({error})") from None
    except RecursionError:  # json recurses once per level: "[[[[..." deeper than Python's limit
        raise LedgerError(f"{where}: not a run record (JSON nested too deep to read)") from None
    return RunRecord.from_json(data, where)


# The columns of ``table`` that come from the configuration, by key.
_SETTINGS = ("target", "layers", "activation", "optimizer", "lr", "epochs")


def _flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one level with dotted keys: {"training": {"lr": 1}} -> {"training.lr": 1}.

    An empty dict stays a value, so {"a": {}} and {} still differ.
    """
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping) and value:
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _setting(flat: Mapping[str, Any], name: str) -> Any:
    """The first value whose key is ``name`` or ends with ``.name`` (any table), or MISSING."""
    return next((v for k, v in flat.items() if k == name or k.endswith(f".{name}")), MISSING)


def _show(value: Any) -> str:
    """A configuration value as text: strings bare, lists of sizes as the --layers flag writes
    them (8,8), anything else as JSON (true, null, {...})."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return ",".join(map(str, value))
    return json.dumps(value)


def _align(rows: Sequence[Sequence[str] | None], right: Sequence[bool]) -> str:
    """Rows of cells as lines of padded columns; ``right[i]`` right-aligns column i (numbers).
    A None row is a blank line."""
    cells = [row for row in rows if row is not None]
    widths = [max(len(row[i]) for row in cells) for i in range(len(right))]
    lines = []
    for row in rows:
        if row is None:
            lines.append("")
            continue
        padded = (
            cell.rjust(width) if flush else cell.ljust(width)
            for cell, width, flush in zip(row, widths, right, strict=True)
        )
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def table(records: Sequence[RunRecord]) -> str:
    """The runs as a text table, a row each: id, time, the main settings, the results.

    Settings come from each run's configuration, found by key in any table
    ("lr" finds "training.lr"); one it lacks shows as "—". ``epochs`` shows
    "trained/asked" when a run stopped early.
    """
    header = ["id", "time (UTC)", *_SETTINGS, "final loss", "eval error", "seconds", "run"]
    rows = [header]
    for run in records:
        flat = _flatten(run.config)
        settings = {name: _setting(flat, name) for name in _SETTINGS}
        shown = {
            name: value if value is MISSING else _show(value) for name, value in settings.items()
        }
        trained = len(run.loss_history)
        if settings["epochs"] != trained and settings["epochs"] is not MISSING:
            shown["epochs"] = f"{trained}/{shown['epochs']}"
        rows.append(
            [
                run.id,
                run.time[:19].replace("T", " "),
                *shown.values(),
                f"{run.final_loss:.4g}",
                f"{run.evaluation_error:.4g}",
                f"{run.seconds:.2f}",
                _run_text(run),
            ]
        )
    numeric = {"lr", "epochs", "final loss", "eval error", "seconds"}
    return _align(rows, [name in numeric for name in header])


def _run_text(run: RunRecord) -> str:
    """What the run was beside the blog (its summary), and where it resumed from."""
    text = "the blog's" if run.summary == "" else (run.summary or MISSING)
    notes = [f"resumed from {run.resumed_from}"] * bool(run.resumed_from)
    notes += [run.status] * bool(run.status)
    return text + (f" ({'; '.join(notes)})" if notes else "")


def compare(a: RunRecord, b: RunRecord) -> str:
    """How two runs differ: each configuration setting that differs (dotted key, A's, B's),
    then both runs' results side by side, and the seed, numpy or BLAS if they differ."""
    flat_a, flat_b = _flatten(a.config), _flatten(b.config)
    keys = list(dict.fromkeys([*flat_a, *flat_b]))  # A's order, then settings only B has
    differ = [key for key in keys if flat_a.get(key, MISSING) != flat_b.get(key, MISSING)]
    rows: list[list[str] | None] = [["", f"A {a.id}", f"B {b.id}"]]
    rows += [[key, _show_setting(flat_a, key), _show_setting(flat_b, key)] for key in differ]
    if not differ:
        rows.append(["(same configuration)", "", ""])
    rows.append(None)
    rows += [
        ["final loss", f"{a.final_loss:.6g}", f"{b.final_loss:.6g}"],
        ["evaluation error", f"{a.evaluation_error:.6g}", f"{b.evaluation_error:.6g}"],
        ["seconds", f"{a.seconds:.3f}", f"{b.seconds:.3f}"],
        ["epochs trained", str(len(a.loss_history)), str(len(b.loss_history))],
    ]
    # Same settings on another numpy or BLAS need not give the same numbers bit for bit.
    for name in ("seed", "numpy", "blas"):
        if getattr(a, name) != getattr(b, name):
            rows.append([name, str(getattr(a, name)), str(getattr(b, name))])
    return _align(rows, [False, False, False])


def _show_setting(flat: Mapping[str, Any], key: str) -> str:
    return _show(flat[key]) if key in flat else MISSING
