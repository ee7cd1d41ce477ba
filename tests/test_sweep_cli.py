"""`minifw sweep`: the files it writes, the same table however it runs, its refusals; and the
figures and report of minifw.lab.sweep_report, checked against the numbers they draw."""

import base64
import contextlib
import csv
import io
import math
import re
import sys
import types
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pytest
from helpers import stop_sweeps_at_their_second_group
from matplotlib.colors import to_rgba
from PIL import Image

import minifw.lab.sweeps as sweeping
from minifw import ConfigError, Ledger, RunConfig, SweepResults, SweepRow, sweep
from minifw.cli import main
from minifw.cli.sweep import grid_values
from minifw.lab.plotting.panels import LEARNED, TARGET
from minifw.lab.results import COLUMNS
from minifw.lab.sweep_report import (
    DPI,
    fits_figure,
    loss_spread,
    loss_spread_figure,
    pareto_figure,
    pareto_front,
    point_sources,
    sweep_figures,
    write_report,
)

BASE = RunConfig(epochs=40)
GRID = {"lr": [0.3, 0.9], "activation": ["sigmoid", "tanh"]}
GRID_FLAGS = ["--grid", "lr=0.3,0.9", "--grid", "activation=sigmoid,tanh", "--seeds", "3"]
FILES = ["results.csv", "leaderboard.txt", "fits.png", "loss.png", "pareto.png", "report.html"]
TIMING = {"seconds", "seconds_to_target", "stacked"}  # what depends on how the runs ran


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "base.toml"
    path.write_text("[training]\nepochs = 40\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def swept(config_file, tmp_path_factory):
    """The sweep run once by the command line: its --out directory and what it printed."""
    out = tmp_path_factory.mktemp("swept") / "results"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert minifw_sweep(config_file, out, *GRID_FLAGS, "--no-progress") == 0
    return out, printed.getvalue()


@pytest.fixture(scope="module")
def recorded(swept):
    """The command line's results as its ledger holds them (a resumed library sweep runs none)."""
    return sweep(BASE, GRID, seeds=3, out=swept[0], resume=True)


def minifw_sweep(config_file, out, *flags):
    return main(["sweep", "--config", str(config_file), "--out", str(out), *flags])


def csv_rows(path):
    with path.open(encoding="utf-8") as file:
        return list(csv.DictReader(file))


def without_timing(rows):
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


def fail_if_run(*args):
    pytest.fail("a run ran")


# The command line ---------------------------------------------------------------------------


def test_a_sweep_writes_every_file_and_prints_the_leaderboard(swept, recorded):
    out, printed = swept
    assert all((out / name).is_file() for name in FILES)
    leaderboard = recorded.leaderboard()
    assert len(leaderboard.splitlines()) == 5  # the header and the 4 grid points
    assert f"\n{leaderboard}\n" in printed
    assert (out / "leaderboard.txt").read_text(encoding="utf-8") == leaderboard + "\n"
    for name in FILES:
        assert f" written to {out / name}\n" in printed
    assert len(Ledger(out).records()) == 12


def test_the_table_is_the_library_sweeps(swept, tmp_path):
    rows = csv_rows(swept[0] / "results.csv")
    columns = [c for c in COLUMNS if c != "lr"]  # the grid's lr is the run's: one column
    metrics = ["mae", "rmse", "r2", "max_abs_error"]  # minifw's own, which every row records
    assert len(rows) == 12 and list(rows[0]) == ["lr", "activation", *columns, *metrics]
    library = sweep(BASE, GRID, seeds=3)
    assert [float(row["evaluation_error"]) for row in rows] == [
        row.evaluation_error for row in library
    ]
    assert without_timing(rows) == without_timing(csv_rows(library.to_csv(tmp_path / "lib.csv")))


def test_each_figure_is_the_size_its_figure_says(swept, recorded):
    for name, figure in sweep_figures(recorded, BASE).items():
        width, height = figure.get_size_inches() * DPI
        assert Image.open(swept[0] / f"{name}.png").size == (round(width), round(height))


def test_the_report_is_one_page_holding_the_leaderboard_and_three_images(swept, recorded):
    page = (swept[0] / "report.html").read_text(encoding="utf-8")
    cells = recorded.leaderboard_cells()
    assert cells[0][:3] == ["lr", "activation", "median error"]
    lines = recorded.leaderboard().splitlines()
    assert [" ".join(row).split() for row in cells] == [line.split() for line in lines]
    for row in cells[1:]:
        assert "<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" in page
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 3 == page.count("<img ") == page.count("src=")
    for data, name in zip(images, ["fits", "loss", "pareto"], strict=True):
        png = base64.b64decode(data, validate=True)
        assert Image.open(io.BytesIO(png)).format == "PNG"
        assert png == (swept[0] / f"{name}.png").read_bytes()
    for external in ("http", "<script", "<link", "url(", "href="):
        assert external not in page
    assert "epochs = 40" in page and "<td>activation</td><td>sigmoid; tanh</td>" in page


def test_the_report_draws_its_own_figures_when_given_none(swept, recorded, tmp_path):
    page = write_report(recorded, tmp_path, BASE, GRID, sweep_seed=0).read_text(encoding="utf-8")
    assert page == (swept[0] / "report.html").read_text(encoding="utf-8")


def test_jobs_share_the_work_and_give_the_same_table(config_file, swept, tmp_path, capsys):
    out = tmp_path / "pooled"
    assert minifw_sweep(config_file, out, *GRID_FLAGS, "--jobs", "2") == 0
    assert "12/12" in capsys.readouterr().err  # the progress bar, on by default
    pooled, alone = csv_rows(out / "results.csv"), csv_rows(swept[0] / "results.csv")
    assert {row["stacked"] for row in pooled} == {"3"}  # each group of 6 split between 2 workers
    assert {row["stacked"] for row in alone} == {"6"}
    assert without_timing(pooled) == without_timing(alone)


def test_resume_runs_nothing_new_and_without_it_the_directory_is_refused(
    config_file, swept, monkeypatch, capsys
):
    out = swept[0]
    lines = (out / "ledger.jsonl").read_bytes().count(b"\n")
    monkeypatch.setattr(sweeping, "run_group", fail_if_run)
    assert minifw_sweep(config_file, out, *GRID_FLAGS, "--no-progress", "--resume") == 0
    assert (out / "ledger.jsonl").read_bytes().count(b"\n") == lines == 12
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit:
        minifw_sweep(config_file, out, *GRID_FLAGS, "--no-progress")
    assert exit.value.code == 2
    assert (
        f"minifw: error: {out} holds a sweep already; continue it with resume=True (--resume)"
        in (capsys.readouterr().err)
    )
    assert (out / "ledger.jsonl").read_bytes().count(b"\n") == lines


@pytest.mark.parametrize(
    ("stop", "code", "message"),
    [(KeyboardInterrupt(), 130, "interrupted"), (BrokenProcessPool("gone"), 1, "a worker died")],
)
def test_a_stopped_sweep_says_how_to_resume_and_resuming_finishes_it(
    stop, code, message, config_file, tmp_path, monkeypatch, capsys
):
    calls = stop_sweeps_at_their_second_group(monkeypatch, stop)
    flags = ["--grid", "lr=0.3,0.9", "--seeds", "2", "--chunk", "2", "--no-progress"]
    assert minifw_sweep(config_file, tmp_path, *flags) == code
    err = capsys.readouterr().err
    assert f"minifw: {message}" in err and "continue with the same command and --resume" in err
    assert len(Ledger(tmp_path).records()) == 2 and not (tmp_path / "results.csv").exists()
    assert minifw_sweep(config_file, tmp_path, *flags, "--resume") == 0
    assert calls == [2, 2, 2] and len(csv_rows(tmp_path / "results.csv")) == 4


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ("lr", "argument --grid: expected KEY=V1,V2,... such as lr=0.1,0.3"),
        ("nope=1", "minifw: error: --grid nope: a sweep varies the settings target, domain"),
        ("lr=fast", "minifw: error: --grid lr: expected a number; got 'fast'"),
        ("epochs=2.5", "--grid epochs: expected a whole number; got '2.5'"),
        ("bias=maybe", "--grid bias: expected true or false; got 'maybe'"),
        ("lr=0.3,0.30", "--grid lr: the value 0.3 is given twice"),
        ("lr=0.3,,0.9", "--grid lr: an empty value in '0.3,,0.9'"),
        ("layers=5;8,x", "--grid layers: expected hidden layer sizes such as 8,8; got '8,x'"),
        ("activation=sigmoid,swishy", "unknown activation 'swishy'"),
        ("optimizer=adam:beta1=0.8,beta2=0.9", "separate specs that hold commas with ';'"),
    ],
)
def test_a_bad_grid_exits_2_with_its_reason_and_writes_nothing(
    grid, message, config_file, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(sweeping, "run_group", fail_if_run)
    with pytest.raises(SystemExit) as exit:
        minifw_sweep(config_file, "out", "--grid", grid)
    assert exit.value.code == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # the test's working directory: no out/, nothing


def test_grid_values_take_each_settings_type():
    assert grid_values("lr", "1,0.5") == [1.0, 0.5] and isinstance(grid_values("lr", "1")[0], float)
    assert grid_values("epochs", "10,20") == [10, 20]
    assert grid_values("bias", "true,False") == [True, False]
    assert grid_values("layers", "5;8,8") == [[5], [8, 8]]
    assert grid_values("domain", "0,3;-1,6.5") == [[0, 3], [-1, 6.5]]
    assert grid_values("activation", "sigmoid,leaky_relu:alpha=0.1") == [
        "sigmoid",
        "leaky_relu:alpha=0.1",
    ]
    assert grid_values("optimizer", "adam:beta1=0.8,beta2=0.99;sgd") == [
        "adam:beta1=0.8,beta2=0.99",
        "sgd",
    ]
    assert grid_values("optimizer.nesterov", "true,false") == [True, False]  # as a spec reads it
    runs = sweeping.plan(
        RunConfig(optimizer="sgd:momentum=0.5"),
        {"layers": grid_values("layers", "5;8,8"), "optimizer.nesterov": [True, False]},
    )
    assert [(r.config.layers, r.config.optimizer) for r in runs[1:3]] == [
        ((5,), "sgd:momentum=0.5"),  # resolved: nesterov=False is sgd's default
        ((8, 8), "sgd:momentum=0.5,nesterov=True"),
    ]


def test_scheduler_and_jobs_together_are_refused_by_argparse(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["sweep", "--jobs", "2", "--scheduler", "tcp://localhost:8786"])
    assert exit.value.code == 2
    assert "argument --scheduler: not allowed with argument --jobs" in capsys.readouterr().err


def test_scheduler_without_distributed_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # an import of it raises ImportError
    with pytest.raises(SystemExit) as exit:
        main(["sweep", "--scheduler", "tcp://localhost:8786", "--out", "out"])
    assert exit.value.code == 2
    assert 'not installed: pip install "dask[distributed]"' in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_scheduler_runs_on_the_clusters_executor(config_file, tmp_path, monkeypatch):
    clients = []

    class Client:
        def __init__(self, address):
            self.address, self.pool, self.closed = address, ThreadPoolExecutor(2), False
            clients.append(self)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.pool.shutdown()
            self.closed = True

        def get_executor(self):
            return self.pool

        def nthreads(self):
            return {"tcp://a:1": 2, "tcp://b:1": 2}

    monkeypatch.setitem(sys.modules, "distributed", types.SimpleNamespace(Client=Client))
    out = tmp_path / "cluster"
    flags = ["--grid", "lr=0.3,0.9", "--seeds", "2", "--scheduler", "tcp://h:8786"]
    assert minifw_sweep(config_file, out, *flags, "--no-progress") == 0
    (client,) = clients
    assert client.address == "tcp://h:8786" and client.closed
    rows = csv_rows(out / "results.csv")
    assert {row["stacked"] for row in rows} == {"1"}  # 4 runs among 4 threads
    library = sweep(BASE, {"lr": [0.3, 0.9]}, seeds=2)
    assert [float(row["evaluation_error"]) for row in rows] == [
        row.evaluation_error for row in library
    ]


# The figures and the report, on hand-made results -------------------------------------------


def row(index, point, error, seconds, *, stacked=1, reason=None, history=(1.0,), prediction=()):
    return SweepRow(
        index=index, key=f"run{index}", point=point, repeat=index, seed=index,
        final_loss=history[-1] if history else math.nan, evaluation_error=error, seconds=seconds,
        epochs_to_target=None, seconds_to_target=None,
        diverged=reason is not None and reason.startswith("diverged"), reason=reason,
        stacked=stacked, loss_history=history, prediction=prediction,
    )  # fmt: skip


def dominated(errors, seconds):
    """Brute force: run i is beaten by some j on both counts, strictly on one."""
    return np.array([
        any(e <= errors[i] and s <= seconds[i] and (e < errors[i] or s < seconds[i])
            for e, s in zip(errors, seconds, strict=True))
        for i in range(len(errors))
    ])  # fmt: skip


def test_the_pareto_front_is_exactly_the_runs_no_other_beats_on_both(tmp_path):
    a, b = {"lr": 0.1}, {"lr": 0.9}
    rows = [
        row(0, a, 0.10, 1.0),  # front
        row(1, a, 0.05, 2.0),  # front
        row(2, a, 0.05, 3.0),  # beaten by 1: as good, sooner
        row(3, a, 0.20, 0.5),  # front
        row(4, a, 0.20, 1.5),  # beaten by 0
        row(5, b, 0.01, 4.0),  # front
        row(6, b, 0.10, 1.0),  # tied with 0: front too
        row(7, b, 0.30, 2.0, stacked=4),  # 0.5 s per run: beaten by 3
        row(8, b, 0.001, 0.1, reason="diverged: the loss became inf at epoch 3"),  # left out
        row(9, b, math.nan, math.nan, reason="failed: RuntimeError: <script>"),  # left out
    ]
    results = SweepResults(rows, ["lr"])
    good = rows[:8]
    errors = [r.evaluation_error for r in good]
    seconds = [r.seconds / r.stacked for r in good]
    front = pareto_front(errors, seconds)
    assert list(np.flatnonzero(front)) == [0, 1, 3, 5, 6]
    assert np.array_equal(front, ~dominated(errors, seconds))

    axes = pareto_figure(results).axes[0]
    (line,) = [line for line in axes.get_lines() if line.get_label() == "Pareto front"]
    assert list(zip(line.get_xdata(), line.get_ydata(), strict=True)) == [
        (0.5, 0.2), (1.0, 0.1), (1.0, 0.1), (2.0, 0.05), (4.0, 0.01)
    ]  # fmt: skip
    assert sum(len(c.get_offsets()) for c in axes.collections) == 8
    assert axes.get_yscale() == "log"
    assert (
        axes.get_title()
        == "Evaluation error against time: 10 runs, 2 diverged or failed (left out)"
    )

    page = write_report(results, tmp_path, RunConfig(), {"lr": [0.1, 0.9]}, images={})
    text = page.read_text(encoding="utf-8")
    assert "<script>" not in text and "RuntimeError: &lt;script&gt;" in text
    assert "diverged: the loss became inf at epoch 3" in text and "<p>2 of 10 runs:</p>" in text


def test_the_pareto_front_agrees_with_brute_force_on_ties():
    rng = np.random.default_rng(5)
    for _ in range(20):
        errors, seconds = rng.integers(0, 6, 40) / 10, rng.integers(1, 6, 40) / 10
        assert np.array_equal(pareto_front(errors, seconds), ~dominated(errors, seconds))


def test_the_loss_band_is_the_quartiles_of_the_histories_that_went_well():
    rng = np.random.default_rng(1)
    histories = rng.uniform(0.01, 1.0, size=(9, 30))
    points = [{"lr": 0.1}] * 5 + [{"lr": 0.9}] * 4
    rows = [
        row(i, p, 0.1, 1.0, history=tuple(h))
        for i, (p, h) in enumerate(zip(points, histories, strict=True))
    ]
    wild = histories[8].copy()
    wild[10:] = np.inf
    rows[8] = row(8, points[8], math.nan, 1.0, history=tuple(wild), reason="diverged: inf")
    axes = loss_spread_figure(SweepResults(rows, ["lr"])).axes[0]
    assert axes.get_yscale() == "log"
    lines = axes.get_lines()
    assert [line.get_label() for line in lines] == [
        "lr=0.1 (5 runs)",
        "lr=0.9 (3 of 4 runs; 1 diverged or failed, left out)",
    ]
    for line, band, kept in zip(
        lines, axes.collections, [histories[:5], histories[5:8]], strict=True
    ):
        q25, median, q75 = np.percentile(kept, [25, 50, 75], axis=0)
        assert np.array_equal(line.get_ydata(), median)
        assert np.array_equal(line.get_xdata(), np.arange(1, 31))
        assert to_rgba(band.get_facecolor()[0], 1) == to_rgba(line.get_color(), 1)
        x, y = band.get_paths()[0].vertices.T
        for epoch in range(1, 31):  # the band's edges at each epoch: the quartiles
            assert y[x == epoch].min() == q25[epoch - 1] and y[x == epoch].max() == q75[epoch - 1]
    assert loss_spread(rows[8:]) is None


# The fits, on real sweeps ---------------------------------------------------------------------


def test_fits_draw_a_line_per_seed_and_the_target_in_a_panel_per_point(recorded):
    source = point_sources(BASE)(recorded.rows[0])
    x, y = source.evaluation_arrays()
    figure = fits_figure(recorded, source)
    assert len(figure.axes) == 4
    for axes, (values, rows) in zip(figure.axes, recorded.points().items(), strict=True):
        lines = axes.get_lines()
        assert [line.get_color() for line in lines] == [LEARNED] * 3 + [TARGET]
        for line, run in zip(lines[:-1], rows, strict=True):
            assert np.array_equal(line.get_xdata(), x[:, 0])
            assert np.array_equal(line.get_ydata(), np.array(run.prediction)[:, 0])
        assert np.array_equal(lines[-1].get_ydata(), y[:, 0])
        median = np.percentile([r.evaluation_error for r in rows], 50)
        flat = sum(r.flat for r in rows)  # a point whose runs learned nothing says so
        said = f", {flat}/{len(rows)} flat" if flat else ""
        assert (
            axes.get_title()
            == f"lr={values[0]:g}, activation={values[1]}\nmedian error {median:.4g}{said}"
        )


def test_fits_follow_a_grid_that_varies_the_data():
    config = RunConfig(epochs=5)
    results = sweep(config, {"samples": [8, 16]}, seeds=2)
    figure = fits_figure(results, point_sources(config))
    assert [len(axes.get_lines()[-1].get_xdata()) for axes in figure.axes] == [8, 16]
    one = point_sources(config)(results.rows[0])  # the 8-point source for every row: refused
    with pytest.raises(ConfigError, match="'samples=16,repeat=0' holds 16 predictions, but its"):
        fits_figure(results, one)


def test_fits_of_two_inputs_are_the_median_seeds_heat_maps():
    config = RunConfig(target="ripple", samples=8, epochs=5)
    results = sweep(config, {"lr": [0.01, 0.3]}, seeds=3)
    figure = fits_figure(results, point_sources(config))
    panels, colorbar = figure.axes[:2], figure.axes[2:]
    assert len(colorbar) == 1  # one colour scale for every panel
    for axes, rows in zip(panels, results.points().values(), strict=True):
        median = sorted(rows, key=lambda r: r.evaluation_error)[1]
        (mesh,) = [c for c in axes.collections if type(c).__name__ == "TriMesh"]
        assert np.array_equal(mesh.get_array(), np.array(median.prediction)[:, 0])
        assert f"the median seed (repeat {median.repeat})" in axes.get_title()


PLUGIN_METRIC = '''
import attrs
import numpy as np
from minifw.core.losses import difference
from minifw.core.metrics import Metric, per_network

@attrs.frozen
class WithinTenth(Metric):
    """m = the fraction of predictions within 0.1 of their target."""

    greater_is_better = True

    def __call__(self, pred, target):
        return per_network(np.mean(np.abs(difference(pred, target)) < 0.1, axis=(-2, -1)))
'''


def test_rank_by_a_metric_of_your_own_records_it_for_every_run(tmp_path, capsys):
    (tmp_path / "within.py").write_text(PLUGIN_METRIC, encoding="utf-8")
    flags = ["--plugin", str(tmp_path / "within.py"), "--rank-by", "within_tenth"]
    flags += ["--grid", "lr=0.3,3", "--seeds", "2", "--epochs", "30", "--no-progress"]
    assert main(["sweep", "--out", str(tmp_path / "out"), *flags]) == 0
    rows = csv_rows(tmp_path / "out" / "results.csv")
    assert list(rows[0])[-5:] == ["mae", "rmse", "r2", "max_abs_error", "within_tenth"]
    leaderboard = (tmp_path / "out" / "leaderboard.txt").read_text(encoding="utf-8")
    header, *lines = leaderboard.splitlines()
    assert header.split()[:3] == ["lr", "median", "within_tenth"]
    medians = [float(line.split()[1]) for line in lines]
    assert medians == sorted(medians, reverse=True)  # higher is better
    assert "by the median within tenth over the seeds" in (
        (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    )
    with pytest.raises(SystemExit):
        main(["sweep", "--out", str(tmp_path / "bad"), "--rank-by", "within"])
    err = capsys.readouterr().err
    # Every metric registered so far is named (other test files register theirs), and the
    # plugin's, whose name is close, is suggested.
    assert "--rank-by within: expected evaluation_error, final_loss, " in err
    assert ", r2, " in err and "did you mean 'within_tenth'?" in err
    assert not (tmp_path / "bad").exists()
