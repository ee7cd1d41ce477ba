"""Small things a newcomer and a code review met (issue 21), each held by a test."""

import re
import warnings

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
