"""Every script in examples/ runs, with a short --epochs, and prints and writes what it says."""

import ast
import contextlib
import csv
import importlib.util
import io
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EPOCHS = 50
NUMBER = r"[\d.]+(?:e-?\d+)?"


# The examples that run `minifw` in a process of their own, as a reader's shell would: they
# run in one too, so that what that process prints is caught.
OWN_PROCESS = {"custom_activation.py", "custom_target.py"}


def run_example(name, tmp_path, *args):
    """Run examples/``name`` in ``tmp_path`` with ``--epochs 50 --out tmp_path/out``; its stdout.

    Its ``main`` is called here with those arguments, as ``python examples/NAME`` calls it,
    without the second of start-up a new Python would take; the scripts that start a process
    of their own run in one (OWN_PROCESS)."""
    argv = ["--epochs", str(EPOCHS), "--out", str(tmp_path / "out"), *args]
    if name in OWN_PROCESS:
        done = subprocess.run(
            [sys.executable, str(EXAMPLES / name), *argv],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env=os.environ | {"MPLBACKEND": "Agg"},
        )
        assert done.returncode == 0, done.stderr
        return done.stdout
    matplotlib.use("Agg")
    spec = importlib.util.spec_from_file_location(f"example_{Path(name).stem}", EXAMPLES / name)
    script = importlib.util.module_from_spec(spec)
    printed = io.StringIO()
    with contextlib.chdir(tmp_path), contextlib.redirect_stdout(printed):
        spec.loader.exec_module(script)
        script.main(argv)
    return printed.getvalue()


def png_size(path):
    """(width, height) from a PNG's header, after checking its signature."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_blog(tmp_path, activation):
    lines = run_example("blog.py", tmp_path, "--activation", activation).splitlines()
    lr = {"sigmoid": "0.9", "tanh": "0.01"}[activation]
    stats = (
        rf"\[ 2 5 1 \] Activation: {activation} Iterations: {EPOCHS} Learning rate: {lr} "
        rf"Final loss: ({NUMBER}) Time: {NUMBER}"
    )
    assert re.fullmatch(stats, lines[0]), lines[0]
    # Beside the blog's own run, the second line names what differs: tanh and its rate.
    changed = {"sigmoid": [], "tanh": ["Changed from the blog: activation=tanh lr=0.01"]}
    assert lines[1 : 1 + len(changed[activation])] == changed[activation]
    error = float(
        re.fullmatch(rf"Evaluation MSE: ({NUMBER})", lines[1 + len(changed[activation])])[1]
    )
    assert 0 < error < 2
    assert png_size(tmp_path / "out" / "blog.png") == (1200, 900)


def test_compare_activations(tmp_path):
    out = run_example("compare_activations.py", tmp_path, "--seeds", "2")
    assert f"Medians over seeds 0..1, {EPOCHS} epochs each" in out
    row = re.compile(rf"^(\w+) +({NUMBER}) +({NUMBER}) +({NUMBER})  \(.*\)$", re.MULTILINE)
    printed = row.findall(out)
    assert [r[0] for r in printed] == ["sigmoid", "tanh", "relu"]
    with open(tmp_path / "out" / "activations.csv", newline="") as file:
        written = list(csv.reader(file))
    assert written[0] == ["activation", "median_final_loss", "median_eval_mse", "median_seconds"]
    assert [r[0] for r in written[1:]] == ["sigmoid", "tanh", "relu"]
    for shown, saved in zip(printed, written[1:], strict=True):
        loss, error, seconds = map(float, saved[1:])
        assert loss > 0 and error > 0 and seconds > 0
        assert float(shown[2]) == pytest.approx(error, rel=1e-3)  # the table shows the CSV's


def test_blog_by_hand(tmp_path):
    out = run_example("blog_by_hand.py", tmp_path, "--seed", "2")
    before, after = map(float, re.search(rf"loss went from ({NUMBER}) to ({NUMBER})", out).groups())
    assert after < before  # one step downhill lowers that batch's loss
    assert re.search(rf"By hand: {EPOCHS} epochs, final loss {NUMBER}, evaluation MSE", out)
    assert "Same losses as presets.blog('sigmoid', seed=2): True" in out
    assert png_size(tmp_path / "out" / "blog_by_hand.png") == (1200, 900)


def test_xor(tmp_path):
    out = run_example("xor.py", tmp_path, "--epochs", "1000")
    rows = re.findall(rf"^ ([01])  ([01])     ([01])     ({NUMBER})$", out, re.MULTILINE)
    assert [(a, b, t) for a, b, t, _ in rows] == [
        ("0", "0", "0"),
        ("0", "1", "1"),
        ("1", "0", "1"),
        ("1", "1", "0"),
    ]
    assert all(abs(float(got) - int(t)) < 0.2 for _, _, t, got in rows)
    assert "after 1000 epochs; XOR learned: True" in out


def test_custom_activation_is_used_by_name_from_the_command_line(tmp_path):
    out = run_example("custom_activation.py", tmp_path, "--epochs", "300")
    assert "$ minifw train --plugin" in out and "--activation wave" in out
    assert re.search(r"^\[ 2 8 1 \] Activation: wave/identity Iterations: 300 ", out, re.MULTILINE)
    assert float(re.search(rf"Evaluation MSE: ({NUMBER})", out)[1]) < 0.01
    assert png_size(tmp_path / "out" / "wave.png") == (1200, 900)


def test_custom_target_is_used_by_name_from_the_command_line(tmp_path):
    out = run_example("custom_target.py", tmp_path)
    assert "--target peaks" in out
    stats = rf"^\[ 3 16 16 1 \] Activation: tanh/identity Iterations: {EPOCHS} "
    assert re.search(stats, out, re.MULTILINE)
    assert "at 225 points" in out  # a 15 x 15 grid
    error = float(re.search(rf"Evaluation MSE: ({NUMBER})", out)[1])
    variance = float(re.search(rf"variance over the grid is ({NUMBER})", out)[1])
    assert error < variance / 2  # learned something of the surface in 50 epochs


def test_sine_better_beats_the_blog_within_its_budget_and_lbfgs_beats_both(tmp_path):
    flags = ["--seeds", "2", "--epochs", "1000", "--iterations", "200"]
    out = run_example("sine_better.py", tmp_path, *flags)
    spent = rf"\((\d+) updates, {NUMBER} s\)"
    blog = re.search(rf"blog \(2-5-1 sigmoid, SGD\)  ({NUMBER})  {spent}", out)
    better = re.search(rf"better \(layers=\(8, 8\).*\)  ({NUMBER})  {spent}", out)
    assert blog[2] == better[2] == str(1000 * 8)  # the same number of updates
    assert float(better[1]) < float(blog[1]) / 10
    lbfgs = re.search(
        rf"L-BFGS \(.*optimizer=lbfgs, target_eval=2e-05\)  ({NUMBER})  \((\d+) loss "
        rf"evaluations, {NUMBER} s\); evaluation MSE <= 2e-05 after ({NUMBER} s|not reached)",
        out,
    )
    assert float(lbfgs[1]) < float(better[1])
    assert "1000 epochs (L-BFGS: 200 iterations at most)" in out


def test_seed_sets_prints_each_point_per_seed_set_and_pooled(tmp_path):
    out = run_example(
        "seed_sets.py", tmp_path, "no-bias", "--seeds", "2", "--sweep-seeds", "0", "1"
    )
    assert "## no-bias: more units without the bias (2 seeds per set)" in out
    rows = re.findall(
        r"^layers=(\d+) +(0|1|pooled) +[\d.e-]+ .* (\d)/(\d) +0/\d$", out, re.MULTILINE
    )
    assert [(layers, seed_set) for layers, seed_set, *_ in rows] == [
        (layers, seed_set) for layers in ("5", "10", "20") for seed_set in ("0", "1", "pooled")
    ]
    assert all(total == ("4" if seed_set == "pooled" else "2") for _, seed_set, _, total in rows)
    with open(tmp_path / "out" / "seed_sets.csv", newline="") as file:
        written = list(csv.reader(file))
    assert {row[0] for row in written} == {"no-bias"}
    # Three checks of 4, 3 and 3 points, each point's rows for seed sets 0 and 1 and pooled.
    assert len(written) == (4 + 3 + 3) * 3


RUN_TESTS = {
    "blog.py",
    "compare_activations.py",
    "blog_by_hand.py",
    "gallery.py",  # run by tests/test_gallery.py
    "docs_figures.py",  # run by tests/test_docs_figures.py
    "xor.py",
    "custom_activation.py",
    "custom_target.py",
    "sine_better.py",
    "seed_sets.py",
}


def test_every_example_is_run_here():
    assert {path.name for path in EXAMPLES.glob("*.py")} == RUN_TESTS


@pytest.mark.parametrize("name", sorted(RUN_TESTS))
def test_example_says_what_it_teaches_and_how_to_run_it(name):
    docstring = ast.get_docstring(ast.parse((EXAMPLES / name).read_text(encoding="utf-8")))
    assert docstring and "What it teaches" in docstring
    assert f"python examples/{name}" in docstring
