"""One run, declared once: what trains is what is printed, recorded, resumed and swept.

Each test here reproduces a case a new user ran into (issue 14) and checks it is fixed;
the last ones prove the single declaration and the shape of the house.
"""

import ast
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import minifw
from minifw import ConfigError, RunConfig
from minifw.cli import main
from minifw.files.ledger import Ledger
from minifw.lab.sweeps import sweep
from minifw.run.resolve import resolve, summary

PACKAGE = Path(minifw.__file__).parent

GELU = '''
import attrs
import numpy as np
from minifw import Activation


@attrs.frozen
class Gelu(Activation):
    """y = x sigmoid(1.702 x), GELU's sigmoid form."""

    output_range = (-0.17, float("inf"))

    def forward(self, x):
        return x / (1 + np.exp(-1.702 * x))

    def derivative(self, x, y):
        s = 1 / (1 + np.exp(-1.702 * x))
        return s + 1.702 * x * s * (1 - s)
'''


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def out_of(capsys, argv):
    assert main(argv) == 0
    return capsys.readouterr().out


# What a new user ran into ----------------------------------------------------------------


def test_a_resume_refuses_settings_that_would_change_the_run_and_reports_its_totals(here, capsys):
    first = out_of(capsys, ["train", "--checkpoint", "ck.npz", "--epochs", "60", "--no-plot"])
    first_id = re.search(r"Run recorded as (\S+)", first)[1]
    changed = ["--activation", "tanh", "--lr", "0.3", "--hidden", "8"]
    with pytest.raises(SystemExit) as info:
        main(["train", "--resume", "ck.npz", "--epochs", "90", *changed, "--no-plot"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--activation tanh (the checkpoint's: sigmoid)" in err
    assert "--layers 8 (the checkpoint's: 5)" in err and "--lr 0.3 (the checkpoint's: 0.9)" in err
    assert "A resume takes only --epochs and the outputs" in err
    assert len(Ledger("runs").records()) == 1  # nothing trained, nothing recorded
    # What a resume may change, it takes; the run reports its totals, not this process's.
    out = out_of(capsys, ["train", "--resume", "ck.npz", "--epochs", "90", "--no-plot"])
    assert f"Resuming ck.npz (run {first_id}) after 60 epochs: 30 more, to 90" in out
    stats = re.search(r"Iterations: (\d+) Learning rate: (\S+) .* Time: (\S+)", out)
    assert stats[1] == "90" and stats[2] == "0.9"
    first_time = float(re.search(r"Time: (\S+)", first)[1])
    assert float(stats[3]) > first_time  # the checkpoint's time and this one's, together
    first_record, resumed = Ledger("runs").records()
    assert resumed.resumed_from == first_id and first_record.resumed_from is None
    assert resumed.config["network"]["activation"] == "sigmoid"  # what trained, not what was typed
    assert len(resumed.loss_history) == 90


def test_the_same_resume_settings_as_the_checkpoints_are_taken(here, capsys):
    out_of(capsys, ["train", "--checkpoint", "ck.npz", "--epochs", "20", "--no-plot"])
    # The rate written another way, and the blog's own activation: the same run.
    argv = ["train", "--resume", "ck.npz", "--epochs", "30", "--optimizer", "sgd:lr=0.9"]
    out = out_of(capsys, [*argv, "--activation", "sigmoid", "--no-plot", "--no-record"])
    assert "Iterations: 30 " in out


def test_a_plugin_activation_says_why_its_learning_rate_is_sgds_default(here, capsys):
    Path("gelu.py").write_text(GELU)
    out = out_of(capsys, ["train", "--plugin", "gelu.py", "--activation", "gelu",
                          "--epochs", "3", "--no-plot"])  # fmt: skip
    lines = out.splitlines()
    assert lines[0] == "lr 0.01: sgd's default, since gelu has no blog step; pass --lr to choose"
    assert "Learning rate: 0.01 " in lines[1]
    assert lines[2] == ("Changed from the blog: activation=gelu lr=0.01 epochs=3 plugins=gelu.py")


def test_a_sweep_shows_each_points_learning_rate_as_resolved(here):
    Path("gelu.py").write_text(GELU)
    base = RunConfig(epochs=5, plugins=("gelu.py",))
    results = sweep(base, {"activation": ["sigmoid", "gelu"]}, seeds=1)
    assert [row.lr for row in results] == [0.9, 0.01]  # two changes, and the table says so
    header, *rows = [line.split() for line in results.leaderboard().splitlines()]
    assert header[:3] == ["activation", "lr", "median"]
    assert sorted((row[0], row[1]) for row in rows) == [("gelu", "0.01"), ("sigmoid", "0.9")]


def test_component_parameters_stay_on_the_stats_line(here, capsys):
    out = out_of(capsys, ["train", "--activation", "leaky_relu:alpha=0.2", "--epochs", "2",
                          "--no-plot", "--no-record"])  # fmt: skip
    assert "Activation: leaky_relu:alpha=0.2 Iterations" in out
    assert "Changed from the blog: activation=leaky_relu:alpha=0.2 lr=0.01" in out


def test_a_formula_target_says_its_domain_and_the_ledger_keeps_it(here, capsys):
    out = out_of(capsys, ["train", "--target", "exp(-x/3)*sin(2*x)", "--epochs", "2", "--no-plot"])
    assert out.startswith(
        "domain [-1, 1]: the target's own (the blog's sin has [0, 6.28]); "
        "pass --domain LOW HIGH to choose\n"
    )
    assert "Changed from the blog: target=exp(-x/3)*sin(2*x) domain=-1,1 epochs=2" in out
    (record,) = Ledger("runs").records()
    assert record.config["data"]["domain"] == [-1.0, 1.0]
    table = out_of(capsys, ["runs"])
    assert "target=exp(-x/3)*sin(2*x) domain=-1,1 epochs=2" in table


def test_the_learning_rate_given_twice_is_refused(here, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--lr", "0.1", "--optimizer", "sgd:lr=0.5", "--no-plot"])
    assert info.value.code == 2
    assert "the learning rate is given twice: lr 0.1 and optimizer sgd:lr=0.5 with lr 0.5" in (
        capsys.readouterr().err
    )
    with pytest.raises(ConfigError, match="given twice"):
        minifw.presets.experiment(lr=0.1, optimizer=minifw.Adam(lr=0.5))
    assert not Path("runs").exists()


def test_a_sweep_counts_runs_that_learned_nothing_apart(here, capsys):
    # lr 20 on the blog's network sends most seeds to a constant: "flat", not "went well".
    argv = ["sweep", "--epochs", "300", "--grid", "lr=0.9,20", "--seeds", "3", "--no-progress"]
    out = out_of(capsys, [*argv, "--out", "s"])
    rows = [r for r in minifw.Ledger("s").records()]
    flat = [r for r in rows if r.sweep["flat"]]
    assert flat and all(r.sweep["point"] == {"lr": 20.0} for r in flat)
    assert all(not r.sweep["diverged"] and r.sweep["reason"] is None for r in flat)
    assert f"Of 6 runs: {6 - len(flat)} learned, {len(flat)} flat" in out
    report = Path("s/report.html").read_text()
    assert "went well" not in report and "learned nothing" in report
    assert report.count("<td>flat</td>") == len(flat)


def test_a_learned_run_is_never_flat(here):
    results = sweep(RunConfig(epochs=300), {}, seeds=2)
    assert [row.outcome for row in results] == ["learned", "learned"]
    assert results.verdict() == "All 2 runs learned (none flat, diverged or failed)."


def test_sweep_takes_trains_flags_for_its_base_run_and_a_plugin(here, capsys):
    Path("gelu.py").write_text(GELU)
    argv = ["sweep", "--target", "cos", "--hidden", "3", "--epochs", "4", "--plugin", "gelu.py"]
    out_of(capsys, [*argv, "--grid", "activation=gelu,tanh", "--out", "s", "--no-progress"])
    records = minifw.Ledger("s").records()
    assert {r.config["network"]["activation"] for r in records} == {"gelu", "tanh"}
    assert {r.config["data"]["target"] for r in records} == {"cos"}
    assert {tuple(r.config["network"]["layers"]) for r in records} == {(3,)}


def test_an_unknown_component_in_a_grid_says_how_to_load_ones_own(here, capsys):
    with pytest.raises(SystemExit):
        main(["sweep", "--grid", "activation=selu", "--out", "s"])
    err = capsys.readouterr().err
    assert "unknown activation 'selu' (a component of your own is named once its file is " in err
    assert "loaded: --plugin FILE)" in err and "did you mean 'elu'" in err
    with pytest.raises(SystemExit):
        main(["sweep", "--grid", "activaton=tanh", "--out", "s"])
    assert "not 'activaton'; did you mean 'activation'?" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"minifw {minifw.__version__}\n"


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["train", "--activaton", "tanh"], "--activaton: did you mean --activation"),
        (["train", "--epoch", "10"], "--epoch: did you mean --epochs"),
        (["sweep", "--seed", "3"], "--seed: did you mean --seeds"),  # sweeps draw the seeds
        (["predict", "m.npz", "--x", "1", "--outt", "a.csv"], "--outt: did you mean --out"),
    ],
)
def test_a_mistyped_flag_is_refused_with_the_flags_it_resembles(argv, said, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"minifw {argv[0]}: error: unrecognized arguments" in err and said in err


class Terminal(io.StringIO):
    """A stderr that says it is a terminal, as tqdm asks before it draws a bar."""

    def isatty(self):
        return True


def test_train_shows_a_progress_bar_on_a_terminal_only(here):
    def run(*flags, terminal):
        stderr = Terminal() if terminal else io.StringIO()
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            assert main(["train", "--epochs", "300", "--no-plot", "--no-record", *flags]) == 0
        return stderr.getvalue()

    assert "300/300" in run(terminal=True)
    assert run(terminal=False) == ""
    assert run("--no-progress", terminal=True) == ""


def test_figure_with_no_plot_is_refused(here, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--figure", "loss", "--no-plot"])
    assert info.value.code == 2
    assert "--figure choose a figure, and --no-plot draws none" in capsys.readouterr().err


def test_the_default_plot_file_is_named_after_the_figure(here, capsys):
    out = out_of(capsys, ["train", "--epochs", "2", "--figure", "loss", "--no-record"])
    assert "Graphs written to minifw-loss.png" in out and Path("minifw-loss.png").is_file()


def test_every_subcommand_writes_its_output_to_out(here, capsys):
    out_of(capsys, ["train", "--epochs", "2", "--save", "m.npz", "--out", "fig.png"])
    out_of(capsys, ["train", "--epochs", "2", "--no-plot"])
    assert Path("fig.png").is_file()
    out_of(capsys, ["predict", "m.npz", "--x", "1", "--out", "p.csv"])
    out_of(capsys, ["plot", "m.npz", "--out", "plot.png"])
    a, b = (r.id for r in Ledger("runs").records())
    out_of(capsys, ["runs", "compare", a, b, "--out", "curves.png"])
    out_of(capsys, ["sweep", "--epochs", "2", "--out", "s", "--no-progress"])
    for written in ["p.csv", "plot.png", "curves.png", "s/results.csv"]:
        assert Path(written).is_file(), written


def test_negative_numbers_in_scientific_notation_are_numbers(here, capsys):
    out_of(capsys, ["train", "--epochs", "2", "--save", "m.npz", "--no-plot", "--no-record"])
    out = out_of(capsys, ["predict", "m.npz", "--x", "1e3", "-1e3", "-.5"])
    assert [line.split(",")[0] for line in out.splitlines()[1:]] == ["1000.0", "-1000.0", "-0.5"]


def test_dry_run_prints_the_resolved_run_and_trains_nothing(here, capsys):
    out = out_of(capsys, ["train", "--activation", "tanh", "--batch-size", "8", "--dry-run"])
    notes, _, toml = out.partition("# The run as it would train")
    assert notes == (
        "lr 0.02: the blog's step for tanh, L = 0.005, as an MSE rate "
        "(L x batch size 8 / 2); pass --lr to choose\n"
    )
    assert "lr = 0.02\n" in toml and "domain = [0.0, 6.28]" in toml
    assert list(here.iterdir()) == []  # no ledger, no figure
    Path("run.toml").write_text(toml.partition("\n\n")[2])
    assert (
        resolve(RunConfig.load("run.toml")).config
        == resolve(RunConfig(activation="tanh", batch_size=8)).config
    )


# One declaration, and the house around it ------------------------------------------------


def test_a_new_setting_appears_everywhere_with_one_edit(tmp_path):
    """Copy the package, add one field to RunConfig, and find it as a flag, a TOML key, a grid
    key, in the ledger and on the stats line: nothing else was edited."""
    copy = tmp_path / "minifw"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    config = copy / "run" / "config.py"
    text = config.read_text()
    anchor = "    batch_size: int = setting("
    assert text.count(anchor) == 1
    added = '    warmup: int = setting(0, "training", "count", "epochs of warm-up", low=0)\n'
    config.write_text(text.replace(anchor, added + anchor))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}

    def minifw_cli(*argv):
        done = subprocess.run(
            [sys.executable, "-c", "import sys, minifw.cli; sys.exit(minifw.cli.main())", *argv],
            capture_output=True, text=True, cwd=tmp_path, env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "--warmup WARMUP" in minifw_cli("train", "--help")
    out = minifw_cli("train", "--warmup", "7", "--epochs", "2", "--no-plot",
                     "--save-config", "run.toml")  # fmt: skip
    assert "Changed from the blog: epochs=2 warmup=7" in out
    assert "warmup = 7" in (tmp_path / "run.toml").read_text()
    (record,) = [json.loads(line) for line in (tmp_path / "runs" / "ledger.jsonl").open()]
    assert record["config"]["training"]["warmup"] == 7 and "warmup=7" in record["summary"]
    minifw_cli("sweep", "--epochs", "2", "--grid", "warmup=1,2", "--out", "s", "--no-progress")
    assert (tmp_path / "s" / "results.csv").read_text().startswith("warmup,")
    assert "--warmup" in minifw_cli("sweep", "--help")


def test_the_summary_is_the_changes_from_the_blog_in_declaration_order():
    config = resolve(RunConfig(target="cos", layers=(8, 8), lr=0.5, shuffle=True)).config
    assert summary(config) == "target=cos layers=8,8 lr=0.5 shuffle=true"
    assert summary(resolve(RunConfig()).config) == ""


def imports_of(path):
    """The minifw modules a file imports, inside functions too, as dotted names."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            parent = base[: len(base) - node.level + 1]
            found.add(".".join([*parent, *(node.module or "").split(".")]).rstrip("."))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            found |= {n for n in names if n and n.startswith("minifw")}
    return module.removesuffix(".__init__"), found


def layer_of(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "api"


def test_dependencies_point_inwards_and_only_the_command_line_imports_itself():
    # cli -> lab -> run -> files -> core; a module may import its own layer or one inside it.
    # testing (the check kit) reads core and files, and nothing outside it imports it.
    order = ["core", "files", "testing", "run", "lab", "cli"]
    for path in PACKAGE.rglob("*.py"):
        module, imported = imports_of(path)
        mine = layer_of(module)
        if mine not in order:
            continue  # the package's own lazy table, __main__ and lazy.py
        for target in imported:
            theirs = layer_of(target)
            if theirs in order:
                assert order.index(theirs) <= order.index(mine), f"{module} imports {target}"
                assert theirs != "testing" or mine == "testing", f"{module} imports {target}"


def test_there_is_no_import_cycle():
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        module, imported = imports_of(path)
        graph[module] = {t for t in imported if t != module}
    known = set(graph)

    def resolve_name(name):  # "minifw.core.callbacks.Callback" -> its module
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name

    graph = {m: {resolve_name(t) for t in ts} - {"", "minifw", m} for m, ts in graph.items()}
    state = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in graph.get(node, ()):
            assert state.get(nxt) != "open", " -> ".join([*path, nxt])
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node, [node])


def test_the_readme_documents_the_ledger_and_how_to_turn_it_off():
    readme = (PACKAGE.parent / "README.md").read_text()
    assert "runs/ledger.jsonl" in readme and "--no-record" in readme


def test_the_cli_reference_lists_every_train_flag():
    from minifw.cli.flags import flags_of
    from minifw.cli.reference import reference_text
    from minifw.run.config import SETTINGS

    # The page is made from the parser, which the declaration makes.
    page = (PACKAGE.parent / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    assert page == reference_text()
    train = page.split("\n## minifw train\n")[1].split("\n## ")[0]
    for name, declared in SETTINGS.items():
        assert f"| `{flags_of(name, declared)[0]}" in train, name
