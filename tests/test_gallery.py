"""examples/gallery.py draws every image docs/gallery.md shows, and nothing else, at the sizes
its figures imply; the page quotes the script's own calls; docs/images holds the whole gallery.

The script runs once, with every run cut to a few epochs, into a temporary directory.
"""

import ast
import contextlib
import importlib.util
import io
import re
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import pytest
from helpers import IMAGE
from PIL import Image

from minifw.lab import plotting
from minifw.lab.plotting import frame_epochs

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "gallery.py"
PAGE = ROOT / "docs" / "gallery.md"
IMAGES = ROOT / "docs" / "images"
EPOCHS = 30
FRAMES = 40  # the film the script asks for
FULL_EPOCHS = 3000  # the runs behind the committed images

SPAN = re.compile(r"`([^`\n]+)`")

# (width, height) in pixels: save_figure writes at 100 dpi, and a figure of panels is
# 6.5 x 5 inches a panel, two panels a row; the film draws its frames at 80 dpi.
SINGLE = (650, 500)
SIZES = {
    "blog.png": (1200, 900),  # blog_figure: 12 x 9 inches
    "overview.png": (1300, 1000),  # 2 x 2 panels
    "hidden_relu.png": SINGLE,
    "fit_relu.png": SINGLE,
    "loss.png": SINGLE,
    "loss_validation.png": SINGLE,
    "fit_blog.png": SINGLE,
    "error_blog.png": SINGLE,
    "fit_better.png": SINGLE,
    "error_better.png": SINGLE,
    "heatmap_ripple.png": (1560, 520),  # three maps, set to 15.6 x 5.2 inches by the script
    "film.gif": (832, 640),  # 2 x 2 panels of 5.2 x 4 inches
}
# The figure and film calls whose lines the page quotes.
DRAWERS = set(plotting.__all__) - {"save_figure", "dead_units", "frame_epochs"}


def shown(page):
    """The images ``page`` shows from its images/ directory, by file name."""
    text = page.read_text(encoding="utf-8")
    return [t.removeprefix("images/") for t in IMAGE.findall(text) if t.startswith("images/")]


def squeeze(code):
    """Code without its layout: no whitespace, no trailing commas (as ruff format adds)."""
    return re.sub(r"\s+", "", code).replace(",)", ")").replace(",}", "}").replace(",]", "]")


def load_script():
    spec = importlib.util.spec_from_file_location("gallery", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    out = tmp_path_factory.mktemp("gallery")
    before = {path.name: path.stat().st_mtime_ns for path in IMAGES.iterdir()}
    matplotlib.use("Agg")
    printed = io.StringIO()
    # Run here, as its command line asks, not in a new Python: the same script, without a
    # second start-up. Anything written into the working directory counts as written too.
    with contextlib.chdir(out), contextlib.redirect_stdout(printed):
        load_script().main(["--epochs", str(EPOCHS), "--out", str(out)])
    after = {path.name: path.stat().st_mtime_ns for path in IMAGES.iterdir()}
    return SimpleNamespace(out=out, stdout=printed.getvalue(), before=before, after=after)


def test_the_page_shows_each_image_once_and_knows_its_size():
    images = shown(PAGE)
    assert len(images) == len(set(images))
    assert set(images) == set(SIZES)


def test_script_writes_every_image_the_page_shows_and_nothing_else(gallery):
    written = sorted(str(path.relative_to(gallery.out)) for path in gallery.out.rglob("*"))
    assert written == sorted(shown(PAGE))
    said = re.findall(r"^wrote (.+)$", gallery.stdout, re.MULTILINE)
    assert sorted(Path(path).name for path in said) == written
    assert all(Path(path).parent == gallery.out for path in said)


def test_script_leaves_docs_images_alone_when_told_out(gallery):
    assert gallery.after == gallery.before


def test_images_have_the_sizes_of_their_figures(gallery):
    for name, size in SIZES.items():
        with Image.open(gallery.out / name) as image:
            assert image.format == Path(name).suffix[1:].upper(), name
            assert image.size == size, name


def test_film_has_the_frames_asked_for_and_says_what_it_cost(gallery):
    printed = re.search(
        r"^film: (\d+) frames, written in ([\d.]+) s; the training it shows took ([\d.]+) s$",
        gallery.stdout,
        re.MULTILINE,
    )
    assert printed, gallery.stdout
    frames, film_seconds, training_seconds = int(printed[1]), float(printed[2]), float(printed[3])
    # 40 asked for, but a run of 30 epochs has only 31 moments to show (0 to 30).
    assert frames == len(frame_epochs(0, EPOCHS, FRAMES)) == EPOCHS + 1
    with Image.open(gallery.out / "film.gif") as film:
        assert film.n_frames == frames
        assert film.is_animated and film.info["loop"] == 0
    assert film_seconds > 0 and training_seconds > 0


def test_dead_units_printed_are_the_runs_and_the_figures(gallery):
    printed = re.search(
        r"^dead ReLU units: (\d+) of (\d+) \((\d+) epochs\); the figure's title: '(.+)'$",
        gallery.stdout,
        re.MULTILINE,
    )
    assert printed, gallery.stdout
    dead, units, epochs, title = int(printed[1]), int(printed[2]), int(printed[3]), printed[4]
    assert epochs == EPOCHS
    script = load_script()
    run = script.relu_run()
    run.fit(EPOCHS)
    assert script.dead_count(run) == (dead, units)  # counted, the same run again
    assert title.startswith(f"Hidden layer 1: {units} units")
    assert (f", {dead} dead" in title) == (dead > 0)


def test_the_committed_relu_run_loses_the_units_the_page_says():
    script = load_script()
    run = script.relu_run()
    run.fit(FULL_EPOCHS)
    dead, units = script.dead_count(run)
    assert dead >= 1  # the figure is there to show dead units
    assert f"{dead} of its {units} hidden units are dead" in PAGE.read_text(encoding="utf-8")


def test_page_quotes_every_figure_call_of_the_script_and_no_other():
    tree = ast.parse(source := SCRIPT.read_text(encoding="utf-8"))
    calls = {
        squeeze(ast.get_source_segment(source, node))
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in DRAWERS
    }
    quoted = {
        squeeze(span)
        for span in SPAN.findall(PAGE.read_text(encoding="utf-8"))
        if re.match(rf"({'|'.join(DRAWERS)})\(", span)
    }
    assert len(calls) == len(SIZES)  # one call draws each image
    assert quoted == calls


def test_page_shows_how_to_draw_it_all_again():
    text = PAGE.read_text(encoding="utf-8")
    assert "```bash\npython examples/gallery.py\n```" in text
    assert "(gallery.md)" in (ROOT / "docs" / "index.md").read_text(encoding="utf-8")


def test_docs_images_hold_the_whole_gallery_and_nothing_unshown():
    for name, size in SIZES.items():
        assert (IMAGES / name).is_file(), f"docs/images/{name} is missing: run examples/gallery.py"
        with Image.open(IMAGES / name) as image:
            assert image.size == size, name
            if name.endswith(".gif"):
                assert image.n_frames == FRAMES
    assert (IMAGES / "film.gif").stat().st_size < 3_000_000
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    everywhere = {Path(target).name for page in pages for target in IMAGE.findall(page.read_text())}
    assert {path.name for path in IMAGES.iterdir()} <= everywhere
