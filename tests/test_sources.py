"""Data sources beyond the blog: inputs of any dimension, sampling, noise, splits, CSV."""

import numpy as np
import pytest

from minifw import ArraySource, ConfigError, DataError, FunctionSource
from minifw.core.data import split


def ripple(x):
    return np.sin(x[:, :1] ** 2 + x[:, 1:2] ** 2)


def test_grid_in_two_dimensions_has_n_points_per_axis():
    source = FunctionSource(ripple, (-1, 1), 5, inputs=2)
    x, y = source.arrays()
    assert x.shape == (25, 2) and y.shape == (25, 1)
    assert sorted(set(x[:, 0])) == sorted(set(x[:, 1])) == list(np.linspace(-1, 1, 5))
    assert len({tuple(row) for row in x}) == 25  # every grid point once
    np.testing.assert_array_equal(y, ripple(x))
    x_eval, y_eval = source.evaluation_arrays()
    np.testing.assert_allclose(x_eval, x + source.step / 2)  # shifted on every axis
    np.testing.assert_array_equal(y_eval, ripple(x_eval))


def test_several_outputs():
    source = FunctionSource(lambda x: np.hstack([np.sin(x), np.cos(x)]), (0, 3), 10)
    x, y = source.arrays()
    np.testing.assert_array_equal(y, np.hstack([np.sin(x), np.cos(x)]))


def test_uniform_sampling_is_reproducible_and_inside_the_domain():
    make = lambda seed: FunctionSource(ripple, (-2, 3), 50, inputs=2, sampling="uniform", seed=seed)  # noqa: E731
    x, _ = make(4).arrays()
    assert x.shape == (50, 2) and x.min() >= -2 and x.max() <= 3
    np.testing.assert_array_equal(x, make(4).arrays()[0])
    assert not np.array_equal(x, make(5).arrays()[0])
    x_eval, _ = make(4).evaluation_arrays()
    assert x_eval.shape == (50, 2) and not np.array_equal(x_eval, x)  # fresh points


def test_noise_goes_on_the_training_targets_only():
    clean = FunctionSource(np.sin, (0, 6), 400)
    noisy = FunctionSource(np.sin, (0, 6), 400, noise=0.1, seed=1)
    x, y = noisy.arrays()
    np.testing.assert_array_equal(x, clean.arrays()[0])
    assert np.std(y - np.sin(x)) == pytest.approx(0.1, rel=0.15)
    np.testing.assert_array_equal(noisy.evaluation_arrays()[1], clean.evaluation_arrays()[1])


def test_validation_split_is_random_disjoint_and_complete():
    source = FunctionSource(np.sin, (0, 6), 40, validation=0.25, seed=3)
    (x, y), (x_val, y_val) = source.arrays(), source.validation_arrays()
    assert len(x) == 30 and len(x_val) == 10
    np.testing.assert_array_equal(y, np.sin(x))
    all_x = FunctionSource(np.sin, (0, 6), 40).arrays()[0]
    np.testing.assert_array_equal(np.sort(np.vstack([x, x_val]), axis=0), all_x)
    np.testing.assert_array_equal(y_val, np.sin(x_val))
    # Random, not the tail: the held-out points are spread over the domain.
    assert x_val.min() < 3 < x_val.max()
    assert FunctionSource(np.sin, (0, 6), 40).validation_arrays() is None


def test_turning_noise_on_does_not_change_the_split():
    plain = FunctionSource(np.sin, (0, 6), 40, validation=0.25, seed=3)
    noisy = FunctionSource(np.sin, (0, 6), 40, validation=0.25, noise=0.5, seed=3)
    np.testing.assert_array_equal(plain.validation_arrays()[0], noisy.validation_arrays()[0])


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"validation": 1.0}, "validation must be below 1"),
        ({"validation": -0.1}, "validation must be a finite number >= 0"),
        ({"noise": -1.0}, "noise must be a finite number >= 0"),
        ({"sampling": "sobol"}, "sampling must be one of 'grid', 'uniform'"),
        ({"inputs": 0}, "inputs must be a whole number >= 1"),
    ],
)
def test_bad_options_are_refused(options, field):
    with pytest.raises(ConfigError, match=f"FunctionSource.{field}"):
        FunctionSource(np.sin, (0, 1), 8, **options)


def test_a_split_that_leaves_nothing_is_refused():
    with pytest.raises(DataError, match="leaves no training samples"):
        ArraySource(np.ones((3, 1)), np.ones((3, 1)), validation=0.9)


def test_split_keeps_row_order_and_pairs():
    x = np.arange(10.0).reshape(-1, 1)
    (xt, yt), (xv, yv) = split(x, 2 * x, 0.3, np.random.default_rng(0))
    assert np.all(np.diff(xt[:, 0]) > 0) and np.all(np.diff(xv[:, 0]) > 0)
    np.testing.assert_array_equal(yt, 2 * xt)
    np.testing.assert_array_equal(yv, 2 * xv)


def test_csv_with_header_and_two_targets(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("x0,x1,y0,y1\n1,2,3,4\n5,6,7,8\n\n9,10,11,12\n")
    source = ArraySource.from_csv(path, targets=2)
    x, y = source.arrays()
    np.testing.assert_array_equal(x, [[1, 2], [5, 6], [9, 10]])
    np.testing.assert_array_equal(y, [[3, 4], [7, 8], [11, 12]])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,2\n3\n", "rows of one width"),
        ("1,2\n3,abc\n", "not a number"),
        ("", "rows of one width"),
        ("1\n2\n", "at least 2 column"),
        ("1,nan\n2,3\n", "must be finite"),
    ],
)
def test_bad_csv_files_are_refused_naming_the_file(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message) as info:
        ArraySource.from_csv(path)
    assert "bad.csv" in str(info.value) or message == "must be finite"


def test_missing_csv_file(tmp_path):
    with pytest.raises(DataError, match=r"cannot read CSV file .*nothing\.csv"):
        ArraySource.from_csv(tmp_path / "nothing.csv")
