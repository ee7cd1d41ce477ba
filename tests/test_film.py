"""TrainingFilm: snapshots at evenly spaced epochs of a fit, written as an animated GIF (or MP4)."""

import itertools
import os
from pathlib import Path

import helpers
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

import minifw
from minifw import ConfigError, EarlyStopping, LambdaCallback, presets
from minifw.lab.plotting import Scene, Snapshot, TrainingFilm, frame_epochs, write_film
from minifw.lab.plotting import film as film_module

WIDTH, HEIGHT = 832, 640  # 10.4 x 8 inches at the default 80 dpi


ripple = helpers.ripple_run


def gif_frames(path):
    """Every frame of the GIF at ``path`` as an (height, width, 3) int array."""
    with Image.open(path) as image:
        frames = []
        for i in range(image.n_frames):
            image.seek(i)
            frames.append(np.asarray(image.convert("RGB")).astype(int))
    return frames


def changed(a, b):
    """The fraction of pixels that differ between two frames."""
    return float(np.any(a != b, axis=-1).mean())


def nbytes(snapshot):
    arrays = [snapshot.prediction, snapshot.at_evaluation, *snapshot.hidden, *snapshot.dead]
    return sum(a.nbytes for a in arrays)


@pytest.fixture
def drawn_figures(monkeypatch):
    """Every figure render_frames draws its frames on, in order (a spy on film.draw)."""
    figures = []
    draw = film_module.draw

    def spy(*args, **kwargs):
        figure = draw(*args, **kwargs)
        figures.append(figure)
        return figure

    monkeypatch.setattr(film_module, "draw", spy)
    return figures


@pytest.fixture(scope="module")
def blog_film(tmp_path_factory):
    """The blog's sigmoid run filmed in 12 frames over 300 epochs."""
    folder = tmp_path_factory.mktemp("film")
    film = TrainingFilm(folder / "blog.gif", frames=12)
    run = presets.blog("sigmoid", seed=0, callbacks=[film])
    run.fit(300)
    return film, run


# --- the film of a run ------------------------------------------------------------------------


def test_the_gif_has_one_frame_per_snapshot_at_832_by_640(blog_film):
    film, _ = blog_film
    assert film.path.exists()
    assert os.listdir(film.path.parent) == ["blog.gif"]  # no temporary file left beside it
    with Image.open(film.path) as image:
        assert image.format == "GIF"
        assert image.n_frames == 12
        assert image.size == (WIDTH, HEIGHT)
        assert image.info["duration"] == 100  # fps 10
        assert image.info["loop"] == 0


def test_snapshots_are_taken_at_the_frame_epochs_from_0_to_the_end(blog_film):
    film, run = blog_film
    epochs = [s.epoch for s in film.snapshots]
    assert epochs == frame_epochs(0, 300, 12)
    assert epochs[0] == 0
    assert epochs[-1] == 300 == run.trainer.epochs_done


def test_snapshot_losses_are_the_run_histories_and_the_last_shows_the_trained_network(blog_film):
    film, run = blog_film
    losses = run.trainer.run_history["loss"]
    assert film.snapshots[0].loss is None  # before any epoch: no loss yet
    for snapshot in film.snapshots[1:]:
        assert snapshot.loss == losses[snapshot.epoch - 1]
    assert film.snapshots[-1].loss == losses[-1]
    scene = Scene.of(run.source)
    last = film.snapshots[-1]
    np.testing.assert_array_equal(last.prediction, run.network.predict(scene.x))
    np.testing.assert_array_equal(last.hidden[0], run.network.layer_outputs(scene.x)[0])
    assert not np.array_equal(film.snapshots[0].prediction, last.prediction)


def test_frames_change_as_training_progresses(blog_film):
    film, _ = blog_film
    frames = gif_frames(film.path)
    # the loss curve grows, the learned curve, units and error move: a good part of the frame
    assert changed(frames[0], frames[-1]) > 0.01
    for i, (a, b) in enumerate(itertools.pairwise(frames)):
        assert changed(a, b) > 0, f"frames {i} and {i + 1} are identical"


@pytest.mark.parametrize("epochs", [30, 600])
def test_memory_is_bounded_by_the_frames_not_the_epochs(epochs, blog_film, tmp_path):
    reference, _ = blog_film
    film = TrainingFilm(tmp_path / "film.gif", frames=12)
    presets.blog("sigmoid", seed=0, callbacks=[film]).fit(epochs)
    assert len(film.snapshots) == 12
    assert [s.epoch for s in film.snapshots] == frame_epochs(0, epochs, 12)
    first = reference.snapshots[0]  # of a 300-epoch film
    for snapshot in film.snapshots:
        assert snapshot.prediction.shape == first.prediction.shape
        assert [h.shape for h in snapshot.hidden] == [h.shape for h in first.hidden]
        assert nbytes(snapshot) == nbytes(first)
    with Image.open(film.path) as image:
        assert image.n_frames == 12


def test_fewer_epochs_than_frames_give_one_frame_per_epoch(tmp_path):
    film = TrainingFilm(tmp_path / "film.gif", frames=12)
    presets.blog("sigmoid", seed=0, callbacks=[film]).fit(4)
    assert [s.epoch for s in film.snapshots] == [0, 1, 2, 3, 4]
    with Image.open(film.path) as image:
        assert image.n_frames == 5


# --- frame_epochs -----------------------------------------------------------------------------


@given(
    start=st.integers(0, 10**6),
    epochs=st.integers(0, 10**5),
    frames=st.integers(2, 500),
    spacing=st.sampled_from(["linear", "log"]),
)
def test_frame_epochs_are_distinct_sorted_and_include_both_ends(start, epochs, frames, spacing):
    chosen = frame_epochs(start, epochs, frames, spacing)
    assert chosen == sorted(set(chosen))  # distinct and sorted
    assert all(isinstance(e, int) for e in chosen)
    assert chosen[0] == start
    assert chosen[-1] == start + epochs
    if epochs + 1 >= frames:
        assert len(chosen) == frames
    else:
        assert chosen == list(range(start, start + epochs + 1))  # one per epoch


@given(epochs=st.integers(1, 10**5), frames=st.integers(3, 200))
def test_linear_frame_epochs_are_evenly_spaced(epochs, frames):
    gaps = np.diff(frame_epochs(0, epochs, frames))
    if epochs + 1 >= frames:  # evenly spaced, up to rounding
        assert gaps.max() - gaps.min() <= 1
    else:
        assert set(gaps) == {1}


def test_log_spacing_puts_more_frames_early():
    linear, log = frame_epochs(0, 3000, 60), frame_epochs(0, 3000, 60, "log")
    assert len(log) == len(linear) == 60
    early = [e for e in log if e <= 300]
    assert len(early) > 2 * len([e for e in linear if e <= 300])


# --- how a film ends and where it starts --------------------------------------------------------


def _stop_after_41(trainer, epoch, logs):
    trainer.stop_training = epoch == 40


@pytest.mark.parametrize(
    "stopper",
    [
        pytest.param(lambda: LambdaCallback(on_epoch_end=_stop_after_41), id="lambda"),
        pytest.param(
            lambda: EarlyStopping(monitor="loss", patience=2, min_delta=1.0), id="early-stopping"
        ),
    ],
)
def test_an_early_stop_ends_the_film_at_the_stopping_epoch(stopper, tmp_path):
    film = TrainingFilm(tmp_path / "film.gif", frames=12)
    run = presets.blog("sigmoid", seed=0, callbacks=[film, stopper()])
    run.fit(300)
    stopped = run.trainer.epochs_done
    assert 0 < stopped < 300
    epochs = [s.epoch for s in film.snapshots]
    assert epochs[-1] == stopped
    assert epochs[:-1] == [e for e in frame_epochs(0, 300, 12) if e < stopped]
    assert film.snapshots[-1].loss == run.trainer.run_history["loss"][-1]
    with Image.open(film.path) as image:
        assert image.n_frames == len(epochs)


def test_a_second_fit_films_from_where_the_run_stands(tmp_path):
    film = TrainingFilm(tmp_path / "film.gif", frames=4)
    run = presets.blog("sigmoid", seed=0, callbacks=[film])
    run.fit(50)
    assert [s.epoch for s in film.snapshots] == frame_epochs(0, 50, 4)
    run.fit(40)
    epochs = [s.epoch for s in film.snapshots]
    assert epochs == frame_epochs(50, 40, 4)
    assert epochs[0] == 50 and epochs[-1] == 90 == run.trainer.epochs_done
    losses = run.trainer.run_history["loss"]
    assert film.snapshots[0].loss == losses[49]  # the run's loss so far, not None
    with Image.open(film.path) as image:
        assert image.n_frames == 4


def test_a_resumed_checkpoint_films_from_its_epochs_done(tmp_path):
    run = presets.blog("sigmoid", seed=0)
    run.fit(30)
    minifw.save_checkpoint(run.trainer, tmp_path / "run.ckpt")
    film = TrainingFilm(tmp_path / "film.gif", frames=3)
    trainer = minifw.load_checkpoint(tmp_path / "run.ckpt", run.source, callbacks=[film])
    assert trainer.epochs_done == 30
    trainer.fit(trainer.source, 20)
    assert [s.epoch for s in film.snapshots] == frame_epochs(30, 20, 3) == [30, 40, 50]


# --- two inputs -------------------------------------------------------------------------------


def test_a_two_input_film_shows_heat_maps_and_keeps_no_hidden_units(tmp_path, drawn_figures):
    film = TrainingFilm(tmp_path / "ripple.gif", frames=5)
    run = ripple(callbacks=[film])
    run.fit(20)
    assert [s.epoch for s in film.snapshots] == frame_epochs(0, 20, 5)
    for snapshot in film.snapshots:
        assert snapshot.hidden == [] and snapshot.dead == []
        assert snapshot.prediction.shape == (80 * 80, 1)
    (figure,) = drawn_figures
    titled = [a.get_title() for a in figure.axes if a.images]
    assert titled == ["Target", "Prediction", "Error"]
    with Image.open(film.path) as image:
        assert image.n_frames == 5
        assert image.size == (WIDTH, HEIGHT)
    frames = gif_frames(film.path)
    assert changed(frames[0], frames[-1]) > 0.01


# --- the frame title ----------------------------------------------------------------------------


def test_each_frame_title_shows_its_epoch_and_loss(blog_film, drawn_figures):
    film, run = blog_film
    scene = Scene.of(run.source)
    snapshots = film.snapshots[:1] + film.snapshots[-2:]
    frames = film_module.render_frames(scene, run.trainer.run_history, snapshots, dpi=20)
    titles = []
    for frame in frames:
        assert frame.shape == (160, 208, 3)  # 8 x 10.4 inches at 20 dpi
        (figure,) = drawn_figures
        titles.append(figure.get_suptitle())
    assert titles[0] == "epoch 0"
    for snapshot, title in zip(snapshots[1:], titles[1:], strict=True):
        assert title.startswith(f"epoch {snapshot.epoch},")
        assert f"{snapshot.loss:.4g}" in title
    assert snapshots[-1].loss == run.trainer.run_history["loss"][-1]


# --- refused before training ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "options"),
    [
        ("film.avi", {}),
        ("film", {}),
        ("film.gif", {"frames": 1}),
        ("film.gif", {"frames": 2.5}),
        ("film.gif", {"fps": 0}),
        ("film.gif", {"fps": 1000}),
        ("film.gif", {"dpi": 5}),
        ("film.gif", {"dpi": 10_000}),
        ("film.gif", {"spacing": "cubic"}),
    ],
)
def test_bad_settings_are_refused_when_the_film_is_made(path, options):
    with pytest.raises(ConfigError):
        TrainingFilm(path, **options)


def test_an_mp4_without_ffmpeg_is_refused_when_the_film_is_made(monkeypatch):
    monkeypatch.setattr(film_module, "find_ffmpeg", lambda: None)
    with pytest.raises(ConfigError, match="ffmpeg"):
        TrainingFilm("film.mp4")
    TrainingFilm("film.gif")  # a GIF needs nothing more


def test_a_bad_domain_is_refused_before_any_epoch(tmp_path):
    film = TrainingFilm(tmp_path / "film.gif", domain=(5.0, 1.0))
    run = presets.blog("sigmoid", seed=0, callbacks=[film])
    with pytest.raises(ConfigError, match="domain"):
        run.fit(10)
    assert run.trainer.epochs_done == 0
    assert not (tmp_path / "film.gif").exists()


def test_write_film_needs_a_snapshot(blog_film, tmp_path):
    _, run = blog_film
    with pytest.raises(ConfigError, match="snapshot"):
        write_film(tmp_path / "film.gif", Scene.of(run.source), {"loss": []}, [])
    assert not (tmp_path / "film.gif").exists()


# --- writing ----------------------------------------------------------------------------------


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    folder = tmp_path / "out"
    folder.mkdir()
    path = folder / "film.gif"
    path.write_bytes(b"the old film")

    def fail(tmp, frames, fps):  # half a file written, then the disk fills up
        Path(tmp).write_bytes(b"GIF89a half")
        raise OSError("disk full")

    monkeypatch.setattr(film_module, "_write_gif", fail)
    run = presets.blog("sigmoid", seed=0, callbacks=[TrainingFilm(path, frames=3)])
    with pytest.raises(OSError, match="disk full"):
        run.fit(5)
    assert path.read_bytes() == b"the old film"
    assert os.listdir(folder) == ["film.gif"]


def test_a_successful_write_replaces_the_old_file(tmp_path):
    path = tmp_path / "film.gif"
    path.write_bytes(b"the old film")
    presets.blog("sigmoid", seed=0, callbacks=[TrainingFilm(path, frames=2, dpi=20)]).fit(3)
    with Image.open(path) as image:
        assert image.n_frames == 2
        assert image.size == (208, 160)
    assert os.listdir(tmp_path) == ["film.gif"]


def test_an_mp4_is_written_when_ffmpeg_is_found(tmp_path):
    if film_module.find_ffmpeg() is None:
        pytest.skip("no ffmpeg")
    path = tmp_path / "film.mp4"
    film = TrainingFilm(path, frames=3, dpi=40)
    presets.blog("sigmoid", seed=0, callbacks=[film]).fit(6)
    data = path.read_bytes()
    assert len(data) > 0
    assert data[4:8] == b"ftyp"  # an ISO base media file begins with its ftyp box
    assert os.listdir(tmp_path) == ["film.mp4"]


def test_snapshot_take_skips_units_when_asked(blog_film):
    _, run = blog_film
    scene = Scene.of(run.source)
    full = Snapshot.take(run.network, scene, epoch=3, loss=0.5)
    bare = Snapshot.take(run.network, scene, units=False)
    assert len(full.hidden) == len(full.dead) == 1
    assert bare.hidden == [] and bare.dead == []
    np.testing.assert_array_equal(full.prediction, bare.prediction)
    assert (full.epoch, full.loss) == (3, 0.5)
