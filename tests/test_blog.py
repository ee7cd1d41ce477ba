"""The blog preset reproduces the restored blog loop (seed/RECONSTRUCTION.md)."""

import numpy as np
import pytest

import minifw
from minifw.run.presets import SETTINGS, blog, blog_loop, mse_lr, setting


def blog_weights(run):
    """The preset's weights in the blog's layout: Wh (2, 5) with the bias unit in row 0, Wz."""
    hidden, output = run.network.layers
    return np.vstack([hidden.bias, hidden.weights]), output.weights.copy()


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_preset_matches_restored_loop_after_3000_epochs(activation):
    run = blog(activation, seed=3)
    wh, wz = blog_weights(run)
    result = run.fit(3000)
    wh_plain, wz_plain, loss_plain = blog_loop(activation, wh, wz, epochs=3000)
    wh_trained, wz_trained = blog_weights(run)
    # The weights moved a long way from where they started, and both runs agree on where.
    assert np.abs(wh_trained - wh).max() > 0.1
    np.testing.assert_allclose(wh_trained, wh_plain, rtol=0, atol=1e-9)
    np.testing.assert_allclose(wz_trained, wz_plain, rtol=0, atol=1e-9)
    np.testing.assert_allclose(result.loss, loss_plain, rtol=1e-9, atol=1e-12)
    assert result.epochs == 3000


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_preset_setup_is_the_blogs(activation):
    run = blog(activation)
    hidden, output = run.network.layers
    assert (hidden.n_in, hidden.n_out, output.n_in, output.n_out) == (1, 5, 5, 1)
    assert hidden.bias is not None and output.bias is None
    assert hidden.activation == output.activation == SETTINGS[activation].activation
    # Initial weights within the blog's limits sqrt(2 / fan_in), the fan-in counting the bias unit.
    wh, wz = blog_weights(run)
    assert np.abs(wh).max() <= np.sqrt(2 / 2) and np.abs(wz).max() <= np.sqrt(2 / 5)
    assert run.trainer.batch_size == 4 and run.trainer.shuffle is False
    assert run.trainer.optimizer.lr == pytest.approx(SETTINGS[activation].blog_lr * 2)
    x, y = run.source.arrays()
    np.testing.assert_array_equal(x[:, 0], np.linspace(0, 6.28, 32))
    np.testing.assert_array_equal(y, np.sin(x))
    # Targets go from sin's [-1, 1] onto the blog's range for the activation, flipped for tanh.
    low, high = SETTINGS[activation].output_range
    normalised = run.network.normaliser.forward(np.array([[-1.0], [1.0]]))
    np.testing.assert_allclose(normalised[:, 0], [low, high])


def test_blog_initial_weights_follow_the_seed():
    first, again, other = blog(seed=5), blog(seed=5), blog(seed=6)
    for a, b in zip(blog_weights(first), blog_weights(again), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(blog_weights(first)[0], blog_weights(other)[0])


def test_mse_lr_is_the_blogs_step():
    # One MSE step with lr = L*B/2 moves the output weights exactly as the blog's summed update.
    run = blog("sigmoid", seed=1)
    wh, wz = blog_weights(run)
    run.fit(1)
    _, wz_plain, _ = blog_loop("sigmoid", wh, wz, epochs=1)
    np.testing.assert_allclose(run.network.layers[1].weights, wz_plain, rtol=0, atol=1e-15)
    assert mse_lr(0.45, 4) == pytest.approx(0.9)
    assert mse_lr(0.45, 8, n_outputs=2) == pytest.approx(3.6)


def test_knobs_change_the_network():
    run = blog("tanh", hidden=8, batch_size=8, bias=False, lr=0.02)
    hidden, output = run.network.layers
    assert (hidden.n_out, output.n_in) == (8, 8)
    assert hidden.bias is None
    assert run.trainer.batch_size == 8 and run.trainer.optimizer.lr == 0.02
    assert run.stats_line(run.fit(2)).startswith("[ 1 8 1 ] Activation: tanh Iterations: 2 ")


def test_default_lr_follows_batch_size():
    assert blog("sigmoid", batch_size=8).trainer.optimizer.lr == pytest.approx(0.45 * 8 / 2)


def test_stats_line_and_evaluation_error():
    run = blog("sigmoid", seed=0)
    result = run.fit(300)
    line = run.stats_line(result)
    assert line.startswith("[ 2 5 1 ] Activation: sigmoid Iterations: 300 Learning rate: 0.9 ")
    assert f"Final loss: {result.final_loss} Time: {result.seconds}" in line
    x, y = run.source.evaluation_arrays()
    expected = np.mean((run.network.predict(x) - np.sin(x)) ** 2)
    assert run.evaluation_mse() == pytest.approx(expected, rel=1e-12)
    # Training helps: the error after training is well below that of the untrained network.
    assert run.evaluation_mse() < np.mean((blog("sigmoid", seed=0).network.predict(x) - y) ** 2)


def test_unknown_blog_activation_lists_valid_ones():
    with pytest.raises(minifw.ConfigError, match="sigmoid, tanh, relu"):
        setting("swish")
    with pytest.raises(minifw.ConfigError, match="expected one of"):
        blog("softmax")
