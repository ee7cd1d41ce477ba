"""The ``minifw`` command line."""

import os
import re
import struct
import subprocess
import sys

import numpy as np
import pytest

import minifw
from minifw.cli import build_parser, main

STATS_ITERATIONS = re.compile(r"Iterations: (\d+) ")
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
        re.match(r"Evaluation MSE: ([\d.e-]+) \(in the target's units, at 32 points", lines[1])[1]
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


def test_no_plot_writes_no_graphs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    main(["train", "--epochs", "5", "--no-plot"])
    assert [p.name for p in tmp_path.iterdir()] == ["runs"]  # only the ledger
    assert "Graphs written" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--lr", "0"], "argument --lr: must be a finite number > 0; got 0"),
        (["--lr", "-0.5"], "must be a finite number > 0; got -0.5"),
        (["--lr", "nan"], "must be a finite number > 0; got nan"),
        (["--epochs", "-1"], "argument --epochs: must be a whole number >= 0; got -1"),
        (["--epochs", "2.5"], "expected a whole number; got '2.5'"),
        (["--batch-size", "0"], "argument --batch-size: must be a whole number >= 1"),
        (["--hidden", "0"], "argument --layers/--hidden: must be whole numbers >= 1"),
        (
            ["--activation", "mish"],
            # Other test files may have registered activations of their own by now.
            re.compile(
                r"unknown activation 'mish' \(a component of your own is named once its file is "
                r"loaded: --plugin FILE\); expected one of: (\w+, )*elu, (\w+, )*identity, "
            ),
        ),
        (["--optimizer", "sgd:nesterov=maybe"], "SGD.nesterov must be True or False"),
        (["--target", "nope"], "target 'nope' is neither a registered target (abs, "),
        (["--layers", "8,0"], "must be whole numbers >= 1 (units per hidden layer); got (8, 0)"),
        (["--layers", "8,x"], "expected hidden layer sizes such as 8,8; got '8,x'"),
        (["--hidden", "3", "--layers", "4"], "--layers/--hidden is given twice"),
        (["--domain", "2", "1"], "domain must be two finite numbers (low, high) with low < high"),
        (["--validation", "1"], "--validation: must be a finite number >= 0 and < 1; got 1.0"),
        (["--plugin", "missing.py"], "cannot load plugin missing.py"),
        (["--plot", "a.png", "--no-plot"], "--out choose a figure, and --no-plot draws none"),
        (["--metrics", "mae,r3"], "unknown metric 'r3' (a component of your own is named once"),
        (["--metrics", "mae,,r2"], "--metrics: must be a list of names such as ['mae', 'r2']"),
    ],
)
def test_bad_flags_are_refused_with_a_reason(flags, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["train", *flags])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message.search(err) if isinstance(message, re.Pattern) else message in err, err
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


def test_components_by_name_with_parameters(tmp_path, capsys):
    args = ["train", "--target", "gauss", "--layers", "6,4", "--activation", "tanh"]
    args += ["--output-activation", "identity", "--init", "variance_scaling:scale=1,mode=fan_avg"]
    args += ["--optimizer", "sgd:lr=0.05", "--epochs", "200", "--batch-size", "8", "--shuffle"]
    assert main([*args, "--no-plot"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # gauss lives on [-3, 3], not the blog's domain: the run says so before it trains.
    assert lines[0].startswith("domain [-3, 3]: the target's own")
    assert lines[1].startswith("[ 2 6 4 1 ] Activation: tanh/identity Iterations: 200 ")
    assert "Learning rate: 0.05 " in lines[1]
    assert lines[2].startswith("Changed from the blog: target=gauss domain=-3,3 layers=6,4")
    assert "init=variance_scaling:mode=fan_avg" in lines[2] and " lr=0.05 " in lines[2]
    # The gauss bump is learned: much better than predicting its mean everywhere.
    x = np.linspace(-3, 3, 32)
    assert float(re.match(r"Evaluation MSE: ([\d.e-]+)", lines[3])[1]) < np.var(np.exp(-(x**2))) / 4


def test_two_input_target_draws_heat_maps_by_default(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--target", "ripple", "--samples", "6", "--epochs", "3"]) == 0
    out = capsys.readouterr().out
    assert "\n[ 3 5 1 ] Activation: sigmoid Iterations: 3 " in out
    # The blog's figure is for one input; for two, the overview (loss and three heat maps),
    # said in one line, and the file is named after it.
    assert "figure overview: the blog's three graphs are drawn for one input" in out
    assert "at 36 points" in out and "Graphs written to minifw-overview.png" in out
    assert png_size(tmp_path / "minifw-overview.png") == (1300, 1000)


def test_list_names_every_component_with_its_formula(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for heading in ["activations:", "initializers:", "losses:", "optimizers:", "targets:"]:
        assert heading in out
    assert re.search(r"^  sigmoid +y = 1 / \(1 \+ e\^\(-x\)\)", out, re.MULTILINE)
    assert re.search(r"^  ripple +z = sinc\(r\)", out, re.MULTILINE)


def test_plugin_components_are_selectable_by_name(tmp_path, capsys):
    plugin = tmp_path / "cube.py"
    plugin.write_text(
        "import attrs, math\n"
        "from typing import ClassVar\n"
        "from minifw import Activation\n\n"
        "@attrs.frozen\n"
        "class PluginCube(Activation):\n"
        "    '''y = x³.'''\n"
        "    output_range: ClassVar[tuple[float, float]] = (-math.inf, math.inf)\n"
        "    def forward(self, x):\n"
        "        return x**3\n"
        "    def derivative(self, x, y):\n"
        "        return 3 * x**2\n"
    )
    assert main(["list", "--plugin", str(plugin)]) == 0
    assert "plugin_cube" in capsys.readouterr().out
    args = ["train", "--plugin", str(plugin), "--activation", "tanh"]
    args += ["--output-activation", "plugin_cube", "--epochs", "2", "--no-plot"]
    assert main(args) == 0
    assert "Activation: tanh/plugin_cube" in capsys.readouterr().out


def test_plot_path_directories_are_made_and_unwritable_paths_reported(tmp_path, capsys):
    plot = tmp_path / "results" / "deep" / "blog.png"
    assert main(["train", "--epochs", "2", "--plot", str(plot)]) == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--epochs", "2", "--plot", str(blocker / "blog.png")])
    assert exit_info.value.code == 1
    assert "minifw: error:" in capsys.readouterr().err
    assert blocker.read_text() == "not a directory"


def test_schedule_validation_and_describe(capsys):
    args = ["train", "--epochs", "20", "--no-plot", "--validation", "0.25", "--describe"]
    args += ["--optimizer", "adam", "--lr", "0.01", "--schedule", "step:step_size=40,gamma=0.5"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Dense 1→5" in out and "incl. bias unit" in out  # the describe() table
    assert "measured on the 24 samples given" in " ".join(out.split())  # the training inputs
    assert "Learning rate: 0.01 " in out
    assert re.search(r"^Final validation loss: [\d.e-]+ \(normalised", out, re.MULTILINE)
    with pytest.raises(SystemExit):
        main(["train", "--schedule", "warmup", "--no-plot"])
    assert "unknown schedule 'warmup' (a component of your own" in capsys.readouterr().err


def test_schedule_reaches_the_optimizer():
    from minifw import presets

    run = presets.experiment(optimizer="sgd", lr=0.4, schedule="step:step_size=8,gamma=0.5")
    run.fit(2)  # 16 updates: the rate halved after 8 and again after 16
    assert run.trainer.optimizer.current_lr == pytest.approx(0.2)
    assert run.trainer.optimizer.iterations == 16


def test_a_diverging_run_stops_with_a_diagnosis(capsys):
    args = ["train", "--activation", "tanh", "--output-activation", "identity"]
    args += ["--hidden", "8", "--lr", "5", "--no-plot"]
    with np.errstate(all="ignore"):
        assert main(args) == 0
    out = capsys.readouterr().out
    assert re.search(r"^Training stopped: training diverged at epoch \d+", out, re.M)
    assert "suggestion: lower the learning rate (now 5)" in out
    assert int(STATS_ITERATIONS.search(out)[1]) < 3000  # it stopped early


def test_save_predict_and_the_ledger(tmp_path, capsys):
    assert main(["train", "--epochs", "300", "--no-plot", "--save", "model.npz"]) == 0
    out = capsys.readouterr().out
    assert "Network saved to model.npz" in out
    first = re.search(r"Run recorded as (\S+) in runs/ledger.jsonl", out)[1]
    assert main(["predict", "model.npz", "--x", "0.5", "1.5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "x0,y0"
    from minifw import load

    expected = load("model.npz").predict([[0.5], [1.5]])[:, 0]
    assert [float(line.split(",")[1]) for line in lines[1:]] == list(expected)
    (tmp_path / "points.csv").write_text("x\n0.25\n3.0\n")
    assert main(["predict", "model.npz", "--input", "points.csv", "--output", "out.csv"]) == 0
    assert (tmp_path / "out.csv").read_text().splitlines()[0] == "x0,y0"
    assert main(["train", "--epochs", "20", "--no-plot", "--activation", "tanh"]) == 0
    second = re.search(r"Run recorded as (\S+)", capsys.readouterr().out)[1]
    assert main(["runs"]) == 0
    listing = capsys.readouterr().out
    assert first in listing and second in listing
    assert main(["runs", "compare", first[:20], second, "--plot", "cmp.png"]) == 0
    diff = capsys.readouterr().out
    assert "activation" in diff and "sigmoid" in diff and "tanh" in diff
    assert (tmp_path / "cmp.png").read_bytes()[:4] == b"\x89PNG"


def test_checkpoint_then_resume_equals_one_run(tmp_path, capsys):
    assert main(["train", "--epochs", "200", "--no-plot", "--shuffle"]) == 0
    whole = re.search(r"Final loss: (\S+)", capsys.readouterr().out)[1]
    flags = ["--no-plot", "--shuffle", "--checkpoint", "ck.npz", "--checkpoint-every", "50"]
    assert main(["train", "--epochs", "100", *flags]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", "ck.npz", "--epochs", "200", "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "after 100 epochs: 100 more, to 200" in out
    assert re.search(r"Final loss: (\S+)", out)[1] == whole


def test_predict_refuses_a_corrupt_model(tmp_path, capsys):
    (tmp_path / "bad.npz").write_bytes(b"not a model")
    with pytest.raises(SystemExit) as info:
        main(["predict", "bad.npz", "--x", "1"])
    assert info.value.code == 2 and "bad.npz" in capsys.readouterr().err


def test_figure_plot_domain_film_and_save_then_plot(tmp_path, monkeypatch, capsys):
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    args = ["train", "--epochs", "80", "--figure", "overview", "--plot-domain", "-2", "9"]
    args += ["--plot", "ov.png", "--animate", "film.gif", "--frames", "8", "--save", "m.npz"]
    assert main(args) == 0
    out = capsys.readouterr().out
    film = re.search(r"Film of (\d+) frames written to film.gif in ([\d.]+) s \(training took", out)
    assert film and film[1] == "8"
    with Image.open("film.gif") as gif:
        assert gif.n_frames == 8
    assert png_size(tmp_path / "ov.png") == (1300, 1000)

    # The saved model carries its data and loss history, so it can be drawn again later.
    assert main(["plot", "m.npz", "--domain", "-3", "10"]) == 0
    assert "Figure written to m-overview.png" in capsys.readouterr().out
    assert png_size(tmp_path / "m-overview.png") == (1300, 1000)
    assert main(["plot", "m.npz", "--figure", "loss", "--out", "loss.svg"]) == 0
    assert (tmp_path / "loss.svg").read_text().lstrip().startswith("<?xml")


def test_plot_redraws_the_saved_network_exactly(tmp_path, monkeypatch):
    """The figure `minifw plot` draws holds the saved network's predictions, bit for bit."""
    from minifw import load_saved
    from minifw.lab.plotting import make_figure

    monkeypatch.chdir(tmp_path)
    assert main(["train", "--epochs", "40", "--no-plot", "--save", "m.npz"]) == 0
    saved = load_saved("m.npz")
    assert saved.history is not None and len(saved.history["loss"]) == 40
    figure = make_figure("fit", saved.network, saved.source)
    learned = next(line for line in figure.axes[0].lines if line.get_label() == "learned")
    x = learned.get_xdata().reshape(-1, 1)
    np.testing.assert_array_equal(learned.get_ydata(), saved.network.predict(x)[:, 0])


def test_plot_of_a_file_without_data_asks_for_a_target(tmp_path, monkeypatch, capsys):
    from minifw import presets

    monkeypatch.chdir(tmp_path)
    run = presets.blog("sigmoid")
    run.fit(20)
    minifw.save(run.network, "bare.npz")  # weights only: no data source, no history
    with pytest.raises(SystemExit) as exit_:
        main(["plot", "bare.npz"])
    assert exit_.value.code == 2
    assert "holds no data to compare with" in capsys.readouterr().err
    assert main(["plot", "bare.npz", "--target", "sin", "--figure", "fit"]) == 0
    assert png_size(tmp_path / "bare-fit.png") == (650, 500)
    with pytest.raises(SystemExit):
        main(["plot", "bare.npz", "--target", "sin", "--figure", "loss"])
    assert "holds no loss history" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--figure", "heatmap"], "the heatmap figure cannot be drawn for 1 input;"),
        (["--target", "ripple", "--figure", "fit"], "choose overview, loss, heatmap"),
        (["--animate", "film.avi"], "a film is written as .gif or .mp4; got 'film.avi'"),
        (["--plot-domain", "3", "1"], "low < high"),
        (["--frames", "1"], "--frames: must be a whole number >= 2"),
    ],
)
def test_figures_that_cannot_be_drawn_are_refused_before_training(
    tmp_path, monkeypatch, capsys, flags, message
):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--epochs", "5", *flags])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing trained, recorded or written


@pytest.mark.parametrize("flag", ["--save", "--checkpoint"])
def test_an_output_file_in_a_missing_directory_is_refused_before_training(
    tmp_path, monkeypatch, capsys, flag
):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--epochs", "5", "--no-plot", flag, "no/such/dir/run.npz"])
    assert exit_.value.code == 2
    assert f"{flag} no/such/dir/run.npz: the directory no/such/dir does not exist" in (
        capsys.readouterr().err
    )
    assert list(tmp_path.iterdir()) == []  # nothing trained or recorded


def test_output_into_a_closed_pipe_ends_quietly():
    # `minifw list | head -1`: the reader has gone. Like cat, stop without a traceback.
    read_end, write_end = os.pipe()
    os.close(read_end)  # closed before the first write: no race with a reader
    try:
        done = subprocess.run(
            [sys.executable, "-m", "minifw", "list"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.stderr == b"" and done.returncode == 1


def test_metrics_are_printed_for_each_set_of_data_and_recorded(tmp_path, capsys):
    flags = ["--metrics", "mean_absolute_error,r2", "--validation", "0.25", "--save", "m.npz"]
    assert main(["train", "--epochs", "40", "--no-plot", *flags]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = lines.index(next(line for line in lines if line.startswith("Metrics")))
    # Named by their registered names, in the order given; one row per set of data.
    assert lines[at].split()[-2:] == ["mae", "r2"]
    rows = {line[:30].strip(): line[30:].split() for line in lines[at + 1 : at + 4]}
    assert list(rows) == [
        "training data, last epoch",
        "validation data, last epoch",
        "evaluation points",
    ]
    # The evaluation points' numbers are the saved network's, in the target's own units.
    network = minifw.load("m.npz")
    x, y = minifw.presets.blog().source.evaluation_arrays()
    pred = network.predict(x)
    assert rows["evaluation points"][0] == f"{np.mean(np.abs(pred - y)):.4g}"
    (record,) = minifw.Ledger("runs").records()
    assert record.metrics["mae"] == pytest.approx(np.mean(np.abs(pred - y)), rel=1e-12)
    assert list(record.metrics) == ["mae", "r2"]


def test_a_resumed_run_reports_the_metrics_its_command_line_asks_for(tmp_path, capsys):
    flags = ["--no-plot", "--no-record", "--checkpoint", "ck.npz"]
    assert main(["train", "--epochs", "20", "--metrics", "rmse", *flags]) == 0
    assert "rmse" in capsys.readouterr().out
    assert (
        main(["train", "--resume", "ck.npz", "--epochs", "30", "--metrics", "r2", *flags[:2]]) == 0
    )
    out = capsys.readouterr().out
    assert re.search(r"^Metrics \(in the target's units\) +r2$", out, re.MULTILINE)
    assert "rmse" not in out
