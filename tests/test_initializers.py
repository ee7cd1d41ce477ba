"""Initializers: He-uniform limits and variance, reproducibility, hyperparameter checks."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minifw import ConfigError, HeUniform, VarianceScaling

# (initializer, k): draws lie within ±sqrt(k / fan_in), so Var(W) = limit² / 3 = k / (3 fan_in).
HE_SCHEMES = {
    "paper": (HeUniform(), 6.0),  # Var = 2 / fan_in
    "blog": (HeUniform(scale=HeUniform.BLOG_SCALE), 2.0),  # Var = 2 / (3 fan_in)
}


@pytest.mark.parametrize("scheme", HE_SCHEMES)
@settings(max_examples=40, deadline=None)
@given(fan_in=st.integers(1, 50), fan_out=st.integers(1, 50), seed=st.integers(0, 2**32 - 1))
def test_he_uniform_draws_within_its_limit(scheme, fan_in, fan_out, seed):
    initializer, k = HE_SCHEMES[scheme]
    w = initializer((fan_in, fan_out), np.random.default_rng(seed))
    assert w.shape == (fan_in, fan_out)
    assert w.dtype == np.float64
    assert np.all(np.abs(w) <= math.sqrt(k / fan_in))


@pytest.mark.parametrize("scheme", HE_SCHEMES)
@pytest.mark.parametrize("fan_in", [1, 3, 50])
def test_he_uniform_variance(scheme, fan_in):
    initializer, k = HE_SCHEMES[scheme]
    fan_out = math.ceil(20_000 / fan_in)
    w = initializer((fan_in, fan_out), np.random.default_rng(fan_in))
    limit, expected = math.sqrt(k / fan_in), k / (3 * fan_in)
    # For n draws of a uniform, the sample variance has relative standard error
    # sqrt((kurtosis - 1) / n) = sqrt(0.8 / n), 0.63 % for n = 20,000: 5 % is about 8 of them,
    # while a wrong scale (2 instead of 2/3, say) would be off by 200 %.
    assert w.var() == pytest.approx(expected, rel=0.05)
    # The draws fill the interval: the extremes come within 1 % of both limits.
    assert w.max() > 0.99 * limit
    assert w.min() < -0.99 * limit


def test_he_uniform_counts_the_fan_in_not_the_fan_out():
    rng = np.random.default_rng(0)
    w = HeUniform()((2, 10_000), rng)
    assert w.var() == pytest.approx(2 / 2, rel=0.05)


@pytest.mark.parametrize(
    "initializer", [HeUniform(), VarianceScaling(mode="fan_avg", distribution="normal")]
)
def test_same_seed_same_draws_different_seed_different_draws(initializer):
    def draw(seed):
        return initializer((4, 5), np.random.default_rng(seed))

    np.testing.assert_array_equal(draw(7), draw(7))
    assert not np.array_equal(draw(7), draw(8))


@pytest.mark.parametrize("cls", [HeUniform, VarianceScaling])
@pytest.mark.parametrize("scale", [0, -1, math.nan, math.inf, "a"])
def test_invalid_scale_raises_config_error_naming_the_field(cls, scale):
    with pytest.raises(ConfigError, match=rf"{cls.__name__}\.scale must be a finite number > 0"):
        cls(scale=scale)


@pytest.mark.parametrize("field", ["mode", "distribution"])
def test_invalid_choice_raises_config_error_naming_the_field(field):
    with pytest.raises(ConfigError, match=field):
        VarianceScaling(**{field: "no_such_choice"})
