"""Run configurations: one object per run, round-tripping through TOML."""

import re

import attrs
import pytest
from helpers import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from minifw import ConfigError, RunConfig
from minifw.cli import build_parser, main

FIELDS = {f.name: f for f in attrs.fields(RunConfig)}
text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)
number = st.floats(allow_nan=False, allow_infinity=False, width=64)
# RunConfig.load refuses a reversed domain or one whose width overflows, so only sound ones
# round-trip.
domains = (
    st.tuples(number, number)
    .map(sorted)
    .filter(lambda d: d[0] < d[1] and abs(d[1] - d[0]) < float("inf"))
    .map(tuple)
)
# Any value each setting takes: RunConfig refuses the others where they are written.
names = text.filter(lambda t: t.strip() and "\0" not in t)
configs = st.builds(
    RunConfig,
    target=names,
    domain=st.none() | domains,
    plot_domain=st.none() | domains,
    animate=st.none() | names,
    frames=st.integers(2, 2**40),
    samples=st.integers(2, 2**40),
    noise=st.floats(min_value=0, allow_nan=False, allow_infinity=False),
    layers=st.lists(st.integers(1, 1000), min_size=1, max_size=5).map(tuple),
    output_activation=st.none() | names,
    lr=st.none() | st.floats(min_value=0, exclude_min=True, allow_infinity=False),
    bias=st.booleans(),
    plugins=st.lists(text, max_size=3).map(tuple),
)


@settings(max_examples=examples(200), deadline=None)
@given(configs)
def test_any_configuration_round_trips_through_toml(tmp_path_factory, config):
    path = tmp_path_factory.mktemp("config") / "run.toml"
    assert RunConfig.load(config.save(path)) == config


def test_every_train_flag_is_a_field():
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    dests = {a.dest for a in train._actions} - {"help", "config", "save_config", "dry_run"}
    assert dests <= set(FIELDS), dests - set(FIELDS)
    assert set(FIELDS) <= dests  # and every field can be set from the command line


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "[training]\nlrr = 0.1\n",
            r"unknown key training.lrr; \[training\] takes batch_size.*; did you mean 'lr'\?$",
        ),
        ("[trainning]\nlr = 0.1\n", r"unknown table \[trainning\].*did you mean 'training'\?$"),
        ("[network]\nlr = 0.1\n", r"unknown key network.lr; .*; lr goes in \[training\]$"),
        ("[network]\nzzz = 1\n", r"unknown key network.zzz; \[network\] takes [\w, ]*$"),
        ('[training]\nlr = "fast"\n', "training.lr must be a number; got 'fast'"),
        ("[training]\nepochs = 1.5\n", "training.epochs must be a whole number; got 1.5"),
        ("[training]\nepochs = true\n", "training.epochs must be a whole number; got True"),
        ("[network]\nbias = 1\n", "network.bias must be true or false; got 1"),
        ("[network]\nlayers = [8, 'x']\n", "network.layers must be whole numbers >= 1"),
        ("[data]\ndomain = [1]\n", r"data.domain must be two numbers \[low, high\]"),
        ("[output]\nplot_domain = [1, 'a']\n", r"output.plot_domain must be two numbers"),
        ("[output]\nframes = 2.5\n", "output.frames must be a whole number"),
        ("training = 3\n", "training must be a table"),
        ("[training\n", "cannot read configuration file"),
    ],
)
def test_bad_files_are_refused_with_the_keys_path(tmp_path, toml, message):
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=message) as info:
        RunConfig.load(path)
    assert str(path) in str(info.value)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"configuration file .*none\.toml does not exist"):
        RunConfig.load(tmp_path / "none.toml")


def final_loss(out):
    return re.search(r"Final loss: (\S+)", out)[1]


def test_save_config_then_config_reproduces_the_run(tmp_path, capsys):
    path = tmp_path / "run.toml"
    flags = ["--activation", "tanh", "--layers", "6,3", "--epochs", "40", "--shuffle"]
    flags += ["--optimizer", "adam:beta1=0.8", "--lr", "0.01", "--seed", "4", "--no-plot"]
    assert main(["train", *flags, "--save-config", str(path)]) == 0
    first = capsys.readouterr().out
    assert f"Configuration written to {path}" in first
    saved = RunConfig.load(path)
    assert saved.layers == (6, 3) and saved.optimizer == "adam:beta1=0.8" and saved.shuffle
    assert main(["train", "--config", str(path)]) == 0
    again = capsys.readouterr().out
    assert final_loss(again) == final_loss(first)
    assert "[ 2 6 3 1 ] Activation: tanh Iterations: 40 " in again


def test_flags_override_the_file(tmp_path, capsys):
    path = RunConfig(epochs=30, activation="tanh", no_plot=True).save(tmp_path / "run.toml")
    assert main(["train", "--config", str(path), "--epochs", "7"]) == 0
    assert "Activation: tanh Iterations: 7 " in capsys.readouterr().out


def test_a_bad_value_in_a_file_stops_before_training(tmp_path, capsys):
    path = RunConfig(optimizer="adam:beta1=2", no_plot=True).save(tmp_path / "run.toml")
    with pytest.raises(SystemExit) as info:
        main(["train", "--config", str(path)])
    assert info.value.code == 2
    assert "Adam.beta1 must be" in capsys.readouterr().err
