"""The ``minifw`` command line."""

import re
import struct
import subprocess
import sys

import pytest

from minifw.cli import build_parser, main

STATS = re.compile(
    r"^\[ (\d+) (\d+) 1 \] Activation: (\w+) Iterations: (\d+) Learning rate: ([\d.e-]+) "
    r"Final loss: ([\d.e-]+) Time: ([\d.e-]+)$"
)


def png_size(path):
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_train_with_no_flags_is_the_blog(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train"]) == 0
    lines = capsys.readouterr().out.splitlines()
    inputs, hidden, activation, epochs, lr, loss, seconds = STATS.match(lines[0]).groups()
    assert (inputs, hidden, activation, epochs, lr) == ("2", "5", "sigmoid", "3000", "0.9")
    assert 0 < float(loss) < 0.05 and float(seconds) > 0
    error = float(
        re.match(r"Evaluation MSE: ([\d.e-]+) \(in sin's units, at 32 points", lines[1])[1]
    )
    assert 0 < error < 0.2
    assert png_size(tmp_path / "minifw-blog.png") == (1200, 900)


def test_knobs_reach_the_network(tmp_path, capsys):
    plot = tmp_path / "tanh.svg"
    args = ["train", "--activation", "TANH", "--epochs", "20", "--batch-size", "8"]
    args += ["--hidden", "7", "--lr", "0.02", "--no-bias", "--seed", "3", "--plot", str(plot)]
    assert main(args) == 0
    inputs, hidden, activation, epochs, lr, _, _ = STATS.match(
        capsys.readouterr().out.splitlines()[0]
    ).groups()
    assert (inputs, hidden, activation, epochs, lr) == ("1", "7", "tanh", "20", "0.02")
    assert plot.read_text().lstrip().startswith("<?xml")


def test_seed_sets_the_result(tmp_path, capsys):
    def final_loss(seed):
        main(["train", "--epochs", "30", "--no-plot", "--seed", str(seed)])
        return STATS.match(capsys.readouterr().out.splitlines()[0])[6]

    assert final_loss(1) == final_loss(1) != final_loss(2)


def test_no_plot_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    main(["train", "--epochs", "5", "--no-plot"])
    assert list(tmp_path.iterdir()) == []
    assert "Graphs written" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--lr", "0"], "argument --lr: must be > 0, got 0"),
        (["--lr", "-0.5"], "must be > 0"),
        (["--lr", "nan"], "expected a finite number"),
        (["--epochs", "-1"], "argument --epochs: must be >= 0, got -1"),
        (["--epochs", "2.5"], "expected int, got '2.5'"),
        (["--batch-size", "0"], "argument --batch-size: must be >= 1"),
        (["--hidden", "0"], "argument --hidden: must be >= 1"),
        (["--activation", "swish"], "unknown activation 'swish'; choose from sigmoid, tanh, relu"),
        (["--plot", "a.png", "--no-plot"], "not allowed with argument"),
    ],
)
def test_bad_flags_are_refused_with_a_reason(flags, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["train", *flags])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_help_explains_every_flag():
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    flags = {opt for action in train._actions for opt in action.option_strings}
    assert flags >= {"--activation", "--epochs", "--batch-size", "--hidden", "--lr"}
    assert flags >= {"--no-bias", "--seed", "--plot", "--no-plot"}
    for action in train._actions:
        assert action.help and len(action.help) > 10, action.option_strings


def test_python_dash_m_and_import_without_matplotlib():
    done = subprocess.run(
        [sys.executable, "-m", "minifw", "train", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "--batch-size" in done.stdout and done.stderr == ""
    code = (
        "import sys, minifw\n"
        "run = minifw.presets.blog()\n"
        "run.fit(2)\n"
        "assert 'matplotlib' not in sys.modules, 'import minifw pulled in matplotlib'\n"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
