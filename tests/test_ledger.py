"""The run ledger: what a record holds, concurrent appends, damaged files, table and compare."""

import errno
import json
import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import minifw.files.ledger as ledger_module
from minifw import Ledger, LedgerError, RunConfig, RunRecord, presets
from minifw.files.ledger import blas_name, compare, table


def given(**changes):
    """What a caller passes to ``append``: a small run, with ``changes``."""
    record = {
        "config": {"training": {"lr": 0.9, "epochs": 3}, "network": {"activation": "sigmoid"}},
        "seed": 0,
        "final_loss": 0.25,
        "evaluation_error": 0.5,
        "seconds": 1.5,
        "loss_history": [1.0, 0.5, 0.25],
        "model_path": None,
    }
    return record | changes


@pytest.fixture
def ledger(tmp_path):
    return Ledger(tmp_path / "runs")


def test_append_records_the_run_and_reads_back_the_same(ledger):
    run = ledger.append(given(model_path=Path("models/a.npz"), config={"layers": (8, 8)}))
    assert ledger.path == ledger.directory / "ledger.jsonl"
    assert ledger.records() == [run]
    assert run.config == {"layers": [8, 8]}  # JSON's own form, as records() gives it
    assert (run.seed, run.final_loss, run.evaluation_error, run.seconds) == (0, 0.25, 0.5, 1.5)
    assert run.loss_history == (1.0, 0.5, 0.25)
    assert run.model_path == "models/a.npz"
    assert run.numpy == np.__version__
    assert run.blas == blas_name() and run.blas


def test_id_and_time_are_utc_and_the_id_sorts_by_time(ledger):
    import datetime as dt

    first, second = ledger.append(given()), ledger.append(given())
    when = dt.datetime.fromisoformat(first.time)
    assert when.utcoffset() == dt.timedelta(0)
    assert first.id.startswith(f"{when:%Y%m%d-%H%M%S}-")
    assert len(first.id) == len("20250101-000000-0123abcd")
    assert first.id != second.id
    assert first.id[:15] <= second.id[:15]


def test_model_path_may_be_left_out(ledger):
    record = given()
    del record["model_path"]
    assert ledger.append(record).model_path is None


def test_each_run_is_one_line_of_strict_json_and_non_finite_numbers_are_null(ledger):
    nan = float("nan")
    run = ledger.append(given(final_loss=nan, loss_history=[1.0, np.float32(np.inf), nan]))
    assert math.isnan(run.final_loss)
    assert math.isnan(run.loss_history[1])  # null stands for any non-finite number
    lines = ledger.path.read_text().splitlines()
    assert len(lines) == 1

    def refuse(token):
        raise AssertionError(f"not strict JSON: {token}")

    data = json.loads(lines[0], parse_constant=refuse)
    assert data["final_loss"] is None and data["loss_history"] == [1.0, None, None]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"eval_error": 1.0}, "unknown keys ['eval_error']"),
        ({"config": {"f": object()}}, "config is not JSON-safe"),
        ({"config": {"lr": float("nan")}}, "config is not JSON-safe"),
        ({"config": [1, 2]}, "config must be a JSON object"),
        ({"seed": "0"}, "seed must be a whole number or null"),
        ({"final_loss": "0.1"}, "final_loss must be a number or null"),
        ({"loss_history": 0.1}, "loss_history must be a list of numbers"),
        ({"loss_history": [0.1, "x"]}, "loss_history must be a list of numbers"),
        ({"evaluation_error": object()}, "evaluation_error must be a number or null"),
        ({"model_path": 3}, "model_path must be text"),
    ],
)
def test_a_bad_record_is_refused_and_nothing_is_written(ledger, changes, message):
    with pytest.raises(LedgerError, match=f"cannot record a run in {ledger.path}") as caught:
        ledger.append(given(**changes))
    assert message in str(caught.value)
    assert not ledger.path.exists()


def test_missing_keys_are_named(ledger):
    record = given()
    del record["seconds"], record["seed"]
    with pytest.raises(LedgerError, match=r"missing keys \['seed', 'seconds'\]"):
        ledger.append(record)


def test_a_numpy_loss_history_is_accepted(ledger):
    run = ledger.append(given(loss_history=np.array([0.5, 0.25], dtype=np.float32)))
    assert run.loss_history == (0.5, 0.25)


def test_no_ledger_yet_reads_as_no_runs(ledger):
    assert ledger.records() == []
    assert not ledger.directory.exists()  # reading creates nothing


WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from minifw import Ledger
    directory, worker, go = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    ledger = Ledger(directory)
    while not go.exists():  # start together, so that the appends overlap
        time.sleep(0.001)
    for i in range(50):
        ledger.append({
            "config": {"worker": worker, "i": i, "padding": "x" * 3000},
            "seed": worker, "final_loss": 0.1, "evaluation_error": 0.2, "seconds": 0.3,
            "loss_history": [0.5 + k / 7 for k in range(100)],
        })
    """
)


def test_concurrent_appends_from_four_processes_never_corrupt_the_ledger(ledger, tmp_path):
    go = tmp_path / "go"
    root = str(Path(__file__).resolve().parents[1])
    env = os.environ | {"PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(ledger.directory), str(w), str(go)], env=env
        )
        for w in range(4)
    ]
    go.touch()
    assert [worker.wait(timeout=60) for worker in workers] == [0, 0, 0, 0]

    lines = ledger.path.read_bytes().split(b"\n")
    assert lines.pop() == b""  # ends with a newline
    assert len(lines) == 200
    assert all(len(line) > 3000 for line in lines)  # a few KB each, so writes could interleave
    runs = ledger.records()
    assert len({run.id for run in runs}) == 200
    for w in range(4):  # each worker's runs are all there, in the order it wrote them
        mine = [run.config["i"] for run in runs if run.config["worker"] == w]
        assert mine == list(range(50))


def write_lines(ledger, *lines, end="\n"):
    ledger.directory.mkdir(parents=True, exist_ok=True)
    ledger.path.write_text("\n".join(lines) + end)


@pytest.fixture
def good_line(tmp_path):
    other = Ledger(tmp_path / "other")
    other.append(given())
    return other.path.read_text().strip()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ('{"id": "x", "time": ', "not valid JSON"),
        ("[1, 2, 3]", "expected a JSON object"),
        ('{"id": "x"}', "time is missing; expected text"),
        ("\xff", "not valid JSON"),
    ],
)
def test_a_corrupt_line_names_the_file_and_line(ledger, good_line, bad, message):
    write_lines(ledger, good_line, bad, good_line)
    with pytest.raises(LedgerError, match=f"{ledger.path}, line 2: {message}"):
        ledger.records()


def test_a_field_of_the_wrong_type_is_named(ledger, good_line):
    data = json.loads(good_line) | {"loss_history": "1,2"}
    write_lines(ledger, good_line, good_line, json.dumps(data))
    with pytest.raises(LedgerError, match=r"line 3: loss_history must be a list of numbers"):
        ledger.records()


@pytest.mark.parametrize("key", ["final_loss", "loss_history"])
def test_a_number_too_large_for_a_float_in_a_line_is_named(ledger, good_line, key):
    huge = 10**400  # JSON has no inf, but any number of digits
    data = json.loads(good_line) | {key: [huge] if key == "loss_history" else huge}
    write_lines(ledger, good_line, json.dumps(data))
    with pytest.raises(LedgerError, match=f"line 2: {key} must be"):
        ledger.records()


def test_a_number_too_large_for_a_float_is_refused_and_nothing_is_written(ledger):
    with pytest.raises(
        LedgerError,
        match=r"final_loss must be a number or null; got a whole number of about 401 digits, "
        r"too large for a float \(~1\.8e308\)",
    ):
        ledger.append(given(final_loss=10**400))
    assert not ledger.path.exists()


def test_blank_lines_and_unknown_keys_are_ignored(ledger, good_line):
    newer = json.dumps(json.loads(good_line) | {"gpu": "none"})
    write_lines(ledger, good_line, "", "  ", newer)
    assert len(ledger.records()) == 2


def one_warning(capsys):
    """The one line minifw wrote to stderr (and nothing else there)."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("minifw: warning: "), err
    return err


@pytest.mark.parametrize("cut", [40, 100_000])  # a long one is searched back in chunks
def test_an_unfinished_last_line_is_skipped_with_a_warning_then_cut_by_the_next_append(
    ledger, good_line, cut, capsys
):
    long_line = good_line[:-1] + ', "padding": "' + "x" * cut + '"}'
    write_lines(ledger, good_line, long_line[:cut], end="")  # a writer killed mid-line
    assert len(ledger.records()) == 1
    assert re.search(r"line 2: not valid JSON.*skipped as unfinished", one_warning(capsys))
    new = ledger.append(given())
    assert "removing this unfinished line" in one_warning(capsys)
    assert [run.id for run in ledger.records()][1:] == [new.id]
    assert capsys.readouterr().err == ""
    assert ledger.path.read_text().count("\n") == 2


def test_a_whole_last_record_without_its_newline_is_kept(ledger, good_line, capsys):
    write_lines(ledger, good_line, good_line, end="")  # say, saved by an editor
    assert len(ledger.records()) == 2
    ledger.append(given())
    assert len(ledger.records()) == 3
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "change", [{"seed": "0"}, {"final_loss": "low"}, {"id": None}], ids=["seed", "loss", "id"]
)
def test_a_whole_json_last_line_that_is_not_a_record_is_kept_and_reported(
    ledger, good_line, change, capsys
):
    # Hand-edited, newline lost: whole JSON, so no write was cut short. It is never deleted.
    edited = json.dumps(json.loads(good_line) | change)
    write_lines(ledger, good_line, edited, end="")
    new = ledger.append(given())
    warning = one_warning(capsys)
    assert f"{ledger.path}, last line: {next(iter(change))}" in warning
    assert "kept as written and ended with a newline" in warning
    lines = ledger.path.read_text().split("\n")
    assert lines[:2] == [good_line, edited] and lines[3] == ""
    assert json.loads(lines[2])["id"] == new.id
    with pytest.raises(LedgerError, match=f"{ledger.path}, line 2: {next(iter(change))}"):
        ledger.records()  # refused as any damaged line is, until it is fixed


def test_a_whole_json_last_line_that_is_not_a_record_is_refused_by_records(ledger, good_line):
    write_lines(ledger, good_line, json.dumps(json.loads(good_line) | {"seed": "0"}), end="")
    with pytest.raises(LedgerError, match=f"{ledger.path}, line 2: seed must be"):
        ledger.records()


def test_a_short_write_is_undone_and_reported(ledger, monkeypatch):
    ledger.append(given())
    before = ledger.path.read_bytes()
    real_write = os.write
    monkeypatch.setattr(ledger_module.os, "write", lambda fd, data: real_write(fd, data[:100]))
    with pytest.raises(LedgerError, match=r"only 100 of \d+ bytes were written"):
        ledger.append(given())
    assert ledger.path.read_bytes() == before


def test_a_failed_write_leaves_the_file_as_it_was(ledger, monkeypatch):
    ledger.append(given())
    before = ledger.path.read_bytes()
    real_write = os.write

    def disk_full(fd, data):
        real_write(fd, data[:9])  # part of the line reached the file before the error
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ledger_module.os, "write", disk_full)
    with pytest.raises(OSError, match="No space left"):
        ledger.append(given())
    assert ledger.path.read_bytes() == before


def test_blas_name_falls_back_to_unknown(monkeypatch):
    def broken(mode):
        raise RuntimeError("no build record")

    monkeypatch.setattr(ledger_module.np, "show_config", broken)
    assert blas_name.__wrapped__() == "unknown"


def test_find_by_id_or_unique_prefix(ledger, good_line):
    ids = ["20250101-120000-aaaa0000", "20250101-120000-aaab0000", "20250101-120001-bbbb0000"]
    write_lines(ledger, *(json.dumps(json.loads(good_line) | {"id": i}) for i in ids))
    assert ledger.find(ids[1]).id == ids[1]
    assert ledger.find("20250101-120001").id == ids[2]
    assert ledger.find("20250101-120000-aaaa").id == ids[0]
    with pytest.raises(LedgerError, match="'20250101-120000' matches 2 runs") as caught:
        ledger.find("20250101-120000")
    assert ids[0] in str(caught.value) and ids[1] in str(caught.value)
    assert ids[2] not in str(caught.value)
    with pytest.raises(LedgerError, match=r"no run 'nope' in .*ledger.jsonl \(3 runs recorded\)"):
        ledger.find("nope")
    with pytest.raises(LedgerError, match="no run ''"):
        ledger.find("")


def test_find_lists_at_most_ten_candidates(ledger):
    for _ in range(12):
        ledger.append(given())
    with pytest.raises(LedgerError, match=r"and 2 more$"):
        ledger.find("2")


def test_table_takes_settings_from_any_table_of_the_configuration(ledger):
    config = RunConfig(layers=(8, 8), activation="tanh", lr=0.01, epochs=3).to_dict()
    full = ledger.append(given(config=config, loss_history=[1.0, 0.5, 0.25]))
    early = ledger.append(given(config=config, loss_history=[1.0]))
    bare = ledger.append(given(config={"optimizer": "adam"}, final_loss=float("nan")))
    lines = table([full, early, bare]).splitlines()
    assert lines[0].split() == [
        "id", "time", "(UTC)", "target", "layers", "activation", "optimizer", "lr",
        "epochs", "final", "loss", "eval", "error", "seconds", "run",
    ]  # fmt: skip
    settings, results = ["sin", "8,8", "tanh", "sgd", "0.01", "3"], ["0.25", "0.5", "1.50"]
    assert lines[1].split()[3:] == [*settings, *results, "—"]  # no summary was given
    assert lines[2].split()[8] == "1/3"  # stopped after 1 of 3 epochs
    assert lines[3].split()[3:] == ["—", "—", "—", "adam", "—", "—", "nan", "0.5", "1.50", "—"]
    assert len({len(line) for line in lines[1:]}) == 1  # columns line up


def test_table_of_no_runs_is_its_header():
    assert table([]).split()[:2] == ["id", "time"]
    assert "\n" not in table([])


def test_compare_lists_differing_settings_by_dotted_key_and_the_results(ledger):
    a = ledger.append(given(config={"training": {"lr": 0.9, "epochs": 3}, "target": "sin"}))
    b = ledger.append(
        given(
            config={"training": {"lr": 0.1, "epochs": 3}, "layers": [8, 8]},
            final_loss=0.125,
            seed=7,
        )
    )
    lines = compare(a, b).splitlines()
    assert lines[0].split() == ["A", a.id, "B", b.id]
    assert [line.split() for line in lines[1:4]] == [
        ["training.lr", "0.9", "0.1"],
        ["target", "sin", "—"],
        ["layers", "—", "8,8"],
    ]
    assert lines[4] == ""
    rows = {line.rsplit(maxsplit=2)[0].strip(): line.split()[-2:] for line in lines[5:]}
    assert rows == {
        "final loss": ["0.25", "0.125"],
        "evaluation error": ["0.5", "0.5"],
        "seconds": ["1.500", "1.500"],
        "epochs trained": ["3", "3"],
        "seed": ["0", "7"],
    }


def test_compare_says_when_the_configurations_are_the_same(ledger):
    a, b = ledger.append(given()), ledger.append(given())
    text = compare(a, b)
    assert "(same configuration)" in text
    assert "training.lr" not in text
    assert "seed" not in text


def test_compare_shows_a_different_numpy(ledger):
    a = ledger.append(given())
    b = RunRecord.from_json(json.loads(ledger.path.read_text()) | {"numpy": "1.0.0"}, "here")
    assert compare(a, b).splitlines()[-1].split() == ["numpy", np.__version__, "1.0.0"]


def test_a_real_run_recorded_as_minifw_train_would(ledger):
    config = RunConfig(epochs=5)
    run = presets.build(config)
    result = run.fit(config.epochs)
    record = ledger.append(
        {
            "config": config.to_dict(),
            "seed": config.seed,
            "final_loss": result.final_loss,
            "evaluation_error": run.evaluation_mse(),
            "seconds": result.seconds,
            "loss_history": result.loss,
        }
    )
    assert record.loss_history == tuple(result.loss)
    assert RunConfig.from_dict(record.config) == config  # the run can be configured again
    assert table(ledger.records()).splitlines()[1].split()[3:6] == ["sin", "5", "sigmoid"]


def test_loss_figure_draws_a_labelled_line_per_run():
    from matplotlib.figure import Figure

    from minifw.lab.plotting import loss_figure

    curves = {"run-a": [1.0, 0.5, 0.25], "run-b": np.array([2.0, 1.0])}
    figure = loss_figure(curves, title="a against b")
    assert isinstance(figure, Figure)
    (axes,) = figure.axes
    assert [line.get_label() for line in axes.lines] == ["run-a", "run-b"]
    assert [text.get_text() for text in axes.get_legend().get_texts()] == ["run-a", "run-b"]
    np.testing.assert_array_equal(axes.lines[1].get_xdata(), [1, 2])  # epochs count from 1
    np.testing.assert_array_equal(axes.lines[1].get_ydata(), [2.0, 1.0])
    assert axes.get_yscale() == "log"
    assert axes.get_title() == "a against b"


def test_loss_curves_stay_linear_when_a_loss_is_not_positive():
    from minifw.lab.plotting import loss_figure

    axes = loss_figure({"a": [1.0, 0.0, float("nan")]}).axes[0]
    assert axes.get_yscale() == "linear"
    assert loss_figure({}).axes[0].get_legend() is None
