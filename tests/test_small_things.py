"""Small things a newcomer and a code review met (issue 21), each held by a test."""

import math
import re
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

import minifw
from minifw import ConfigError, RunConfig
from minifw.cli import build_parser, main


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("formula", "said"),
    [
        ("exp(-x/3)*sin(2x)", "write 2*x, not 2x"),
        ("3sin(x)", "write 3*sin, not 3sin"),
        ("2.5x + 1", "write 2.5*x, not 2.5x"),
    ],
)
def test_a_number_against_a_name_says_to_write_the_star(formula, said):
    with pytest.raises(ConfigError, match=re.escape(said)):
        minifw.target_from(formula)


def test_scientific_notation_is_not_taken_for_a_missing_star():
    assert minifw.target_from("2e3*x + 1e-2")(minifw.target_from("x").source(2).arrays()[0]).shape


def test_a_missing_configuration_file_says_which_and_what_was_expected(here, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--config", "nope.toml"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "configuration file nope.toml does not exist; expected a TOML run configuration" in err
    assert "Errno" not in err


def test_resuming_a_model_file_points_to_the_checkpoint_flag(here, capsys):
    minifw.save(minifw.presets.blog().network, "model.npz")
    with pytest.raises(SystemExit):
        main(["train", "--resume", "model.npz"])
    assert "on the command line, train with --checkpoint FILE" in capsys.readouterr().err


def test_the_plot_formats_said_by_help_and_by_the_refusal_agree(here, capsys):
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    (out,) = [a for a in train._actions if "--out" in a.option_strings]
    assert ".png, .svg or .pdf" in out.help
    with pytest.raises(SystemExit):
        main(["train", "--epochs", "1", "--out", "graphs.jpg"])
    assert "expected a path ending in .png, .svg, .pdf" in capsys.readouterr().err


def test_a_count_of_one_meets_a_singular_noun(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--figure", "heatmap", "--epochs", "1"])
    err = capsys.readouterr().err
    assert "cannot be drawn for 1 input;" in err and "1 inputs" not in err
    with pytest.raises(ConfigError, match="layer 0 gives 1 output but layer 1 expects 2 inputs"):
        minifw.Network([minifw.Dense(1, 1), minifw.Dense(2, 1)])


def test_a_batch_larger_than_the_data_is_refused_before_any_rate_is_derived(here, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--samples", "3", "--batch-size", "8"])
    assert info.value.code == 2
    assert "batch_size 8 is larger than the 3 training points" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="at most 3"):
        minifw.build(RunConfig(samples=3, batch_size=8))
    assert list(here.iterdir()) == []  # refused before anything was written
    minifw.build(RunConfig(samples=3, batch_size=3))  # the whole data as one batch is fine


def test_the_command_line_guard_checks_each_epoch_as_the_library_does(here, capsys):
    # A diverging run is still caught and diagnosed, one epoch at a time, in one line: not
    # buried under numpy's warnings from the rest of the diverging epoch.
    argv = ["train", "--activation", "tanh", "--output-activation", "identity", "--lr", "5"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main([*argv, "--layers", "8", "--epochs", "50", "--no-plot", "--no-record"]) == 0
    out = capsys.readouterr().out
    assert "Training stopped: training diverged at epoch" in out
    assert "the weights are back to those after the previous epoch" in out


# Issue 15's command-line items -----------------------------------------------------------


def test_a_target_whose_error_overflows_exits_non_zero_with_a_diagnosis(here, capsys):
    assert main(["train", "--target", "x*1e300", "--epochs", "2", "--no-plot"]) == 1
    captured = capsys.readouterr()
    assert "Evaluation MSE: inf" in captured.out
    said = r"the target's values reach [\d.]+e\+300, whose squares overflow"
    assert re.search(said, captured.err)
    (record,) = minifw.Ledger("runs").records()  # the run is recorded all the same
    assert math.isnan(record.evaluation_error)  # the ledger keeps what is not finite as nan


def test_predict_refuses_a_model_whose_predictions_overflow(here, capsys):
    normaliser = minifw.Normaliser((-1e308, 1e308), (0.0, 1.0))  # finite, its scale is not
    layers = [minifw.Dense(1, 2, "sigmoid"), minifw.Dense(2, 1, "sigmoid")]
    minifw.save(minifw.Network(layers, normaliser=normaliser), "m.npz")
    with pytest.raises(SystemExit) as info:
        main(["predict", "m.npz", "--x", "0.5", "2"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert (
        "m.npz predicts a value that is not finite for 2 input rows (the first at x = [0.5])"
        in (err)
    )


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"])
def test_a_signal_stops_train_cleanly_keeping_what_was_asked_for(here, name):
    argv = ["--epochs", "1000000", "--no-plot", "--save", "m.npz", "--checkpoint", "ck.npz"]
    process = subprocess.Popen(
        [sys.executable, "-m", "minifw", "train", *argv, "--checkpoint-every", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not Path("ck.npz").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(getattr(signal, name))
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    epoch = int(re.search(rf"Stopped by {name} at the end of epoch (\d+)", out)[1])
    assert f"Iterations: {epoch} " in out and "Network saved to m.npz" in out
    (record,) = minifw.Ledger("runs").records()
    assert record.status == f"interrupted at epoch {epoch}" and len(record.loss_history) == epoch
    assert minifw.load_checkpoint("ck.npz").epochs_done == epoch  # the checkpoint at the stop
    assert minifw.load("m.npz").n_inputs == 1


def test_a_value_beginning_with_a_minus_says_how_to_give_it(here, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--target", "-x"])
    assert "argument --target: expected one argument; a value that begins with '-' is given " in (
        capsys.readouterr().err
    )
    assert main(["train", "--target=-x", "--epochs", "2", "--no-plot", "--no-record"]) == 0


def test_an_enormous_sweep_is_refused_before_anything_runs(here, capsys):
    with pytest.raises(SystemExit):
        main(["sweep", "--seeds", "1000000000", "--out", "s"])
    assert "the sweep would train 1,000,000,000 runs" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["sweep", "--seeds", "20000", "--epochs", "10", "--out", "s"])
    captured = capsys.readouterr()
    assert re.match(r"Planned: 20000 runs \(1 grid point x 20000 seeds\), about \S+ ", captured.out)
    assert "more than 10,000; check --grid and --seeds, or pass --yes" in captured.err
    assert not Path("s").exists()


@pytest.mark.parametrize("flag", ["--save", "--checkpoint", "--out", "--animate"])
def test_an_output_that_cannot_be_written_is_found_before_training(here, capsys, flag):
    # /sys refuses new files even to root: as a read-only directory or a full disk would.
    name = {"--out": "graphs.png", "--animate": "film.gif"}.get(flag, "model.npz")
    with pytest.raises(SystemExit) as info:
        main(["train", "--epochs", "1000000", flag, f"/sys/{name}"])
    assert info.value.code == 1
    err = capsys.readouterr()
    assert f"/sys/{name}" in err.err and "Iterations" not in err.out  # nothing trained


def test_a_network_no_memory_holds_is_refused_at_once_saying_how_much(here, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--hidden", "1000000000"])
    assert info.value.code == 2
    assert re.search(r"about [\d.]+ GiB", capsys.readouterr().err)
    assert list(here.iterdir()) == []
