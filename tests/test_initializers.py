"""Initializers: every VarianceScaling setting's variance and bounds, reproducibility, formulas."""

import math
import re

import attrs
import numpy as np
import pytest
from helpers import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from minifw import (
    BlogUniform,
    ConfigError,
    Constant,
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    Initializer,
    VarianceScaling,
    Zeros,
)
from minifw.core.initializers import TRUNCATED_STDDEV

# (initializer, k): draws lie within ±sqrt(k / fan_in), so Var(W) = limit² / 3 = k / (3 fan_in).
HE_SCHEMES = {
    "paper": (HeUniform(), 6.0),  # Var = 2 / fan_in
    "blog": (HeUniform(scale=HeUniform.BLOG_SCALE), 2.0),  # Var = 2 / (3 fan_in)
}


@pytest.mark.parametrize("scheme", HE_SCHEMES)
@settings(max_examples=examples(40), deadline=None)
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


# Every VarianceScaling class that takes a scale (BlogUniform fixes its own).
SCALED = [
    cls
    for cls in (Initializer.registry.get(name) for name in Initializer.registry.names())
    if issubclass(cls, VarianceScaling) and attrs.fields_dict(cls)["scale"].init
]


@pytest.mark.parametrize("cls", SCALED, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("scale", [0, -1, math.nan, math.inf, "a"])
def test_invalid_scale_raises_config_error_naming_the_field(cls, scale):
    with pytest.raises(ConfigError, match=rf"{cls.__name__}\.scale must be a finite number > 0"):
        cls(scale=scale)


@pytest.mark.parametrize("field", ["mode", "distribution"])
def test_invalid_choice_raises_config_error_naming_the_field(field):
    with pytest.raises(ConfigError, match=field):
        VarianceScaling(**{field: "no_such_choice"})


# --- Every VarianceScaling setting, by its registered name -------------------------------

VARIANCE_SCALING_NAMES = [
    name
    for name in Initializer.registry.names()
    if issubclass(Initializer.registry.get(name), VarianceScaling)
]

# What each named setting is, written out: (scale, mode, distribution) with default arguments.
SETTINGS = {
    "variance_scaling": (1.0, "fan_in", "uniform"),
    "he_uniform": (2.0, "fan_in", "uniform"),
    "he_normal": (2.0, "fan_in", "truncated_normal"),
    "glorot_uniform": (1.0, "fan_avg", "uniform"),
    "glorot_normal": (1.0, "fan_avg", "truncated_normal"),
    "lecun_uniform": (1.0, "fan_in", "uniform"),
    "lecun_normal": (1.0, "fan_in", "truncated_normal"),
    "blog_uniform": (2.0 / 3.0, "fan_in", "uniform"),
}

# Keras's constant: the standard deviation of a standard normal cut at ±2.
KERAS_TRUNCATED_STDDEV = 0.87962566103423978

# 40 x 500 = 20,000 draws, with fan-in, fan-out and their mean all different.
SHAPE = (40, 500)
FAN = {"fan_in": 40, "fan_out": 500, "fan_avg": 270}


def make(name):
    """The initializer registered as ``name``, with its default arguments."""
    return Initializer.registry.get(name)()


def tail(z):
    """P(|Z| > z) for a standard normal Z."""
    return math.erfc(z / math.sqrt(2))


def test_every_setting_is_registered():
    assert set(SETTINGS) <= set(VARIANCE_SCALING_NAMES)
    assert {"constant", "zeros"} <= set(Initializer.registry.names())


@pytest.mark.parametrize("name", SETTINGS)
def test_named_setting_fixes_scale_mode_and_distribution(name):
    initializer = make(name)
    assert (initializer.scale, initializer.mode, initializer.distribution) == pytest.approx(
        SETTINGS[name]
    )


@pytest.mark.parametrize(
    "initializer",
    [make(name) for name in VARIANCE_SCALING_NAMES]
    + [
        VarianceScaling(scale=3.0, mode=mode, distribution=distribution)
        for mode in FAN
        for distribution in ("uniform", "normal", "truncated_normal")
    ],
    ids=repr,
)
def test_draws_have_the_variance_and_bounds_of_their_setting(initializer):
    w = initializer(SHAPE, np.random.default_rng(0))
    assert w.shape == SHAPE and w.dtype == np.float64
    # Worked out from the setting, not from initializer.variance: Var(W) = scale / n.
    variance = initializer.scale / FAN[initializer.mode]
    stddev = math.sqrt(variance)
    # Relative standard errors over 20,000 draws: 0.6 % (uniform) to 1 % (normal) for the
    # variance, half that for the standard deviation, 0.15 % (absolute) for the fraction
    # beyond 2 stddev; a wrong mode is off by 7x or more, a wrong distribution by 1.1 % or more.
    assert w.var() == pytest.approx(variance, rel=0.05)
    assert w.std() == pytest.approx(stddev, rel=0.025)
    assert abs(w.mean()) < 5 * stddev / math.sqrt(w.size)
    beyond_2_sigma = np.mean(np.abs(w) > 2 * stddev)
    if initializer.distribution == "uniform":
        limit = math.sqrt(3 * variance)
        assert np.abs(w).max() <= limit
        assert np.abs(w).max() > 0.99 * limit
    elif initializer.distribution == "truncated_normal":
        limit = 2 * stddev / KERAS_TRUNCATED_STDDEV
        assert np.abs(w).max() <= limit
        assert np.abs(w).max() > 0.99 * limit
        # 2 stddev is 1.76 of the underlying normal's: 3.46 % of the cut normal lies beyond.
        cut = tail(2.0)
        expected = (tail(2 * KERAS_TRUNCATED_STDDEV) - cut) / (1 - cut)
        assert beyond_2_sigma == pytest.approx(expected, abs=0.006)
    else:
        assert beyond_2_sigma == pytest.approx(tail(2.0), abs=0.006)  # 4.55 %


@pytest.mark.parametrize("name", VARIANCE_SCALING_NAMES)
def test_variance_and_limit_are_what_is_drawn(name):
    initializer = make(name)
    n = FAN[initializer.mode]
    assert initializer.variance(SHAPE) == pytest.approx(initializer.scale / n, rel=1e-15)
    expected_limit = {
        "uniform": math.sqrt(3 * initializer.scale / n),
        "truncated_normal": 2 * math.sqrt(initializer.scale / n) / KERAS_TRUNCATED_STDDEV,
        "normal": math.inf,
    }[initializer.distribution]
    assert initializer.limit(SHAPE) == pytest.approx(expected_limit, rel=1e-15)


def test_truncation_constant_is_computed_to_kerass_value():
    assert math.isclose(TRUNCATED_STDDEV, KERAS_TRUNCATED_STDDEV, rel_tol=1e-15)


@pytest.mark.parametrize("name", ["he_normal", "glorot_normal", "lecun_normal"])
@settings(max_examples=examples(30), deadline=None)
@given(fan_in=st.integers(1, 60), fan_out=st.integers(1, 60), seed=st.integers(0, 2**32 - 1))
def test_truncated_draws_never_pass_two_underlying_standard_deviations(name, fan_in, fan_out, seed):
    initializer = make(name)
    w = initializer((fan_in, fan_out), np.random.default_rng(seed))
    n = {"fan_in": fan_in, "fan_avg": (fan_in + fan_out) / 2}[initializer.mode]
    underlying = math.sqrt(initializer.scale / n) / KERAS_TRUNCATED_STDDEV
    assert w.shape == (fan_in, fan_out)
    assert np.all(np.abs(w) <= 2 * underlying)


def test_blog_uniform_is_he_uniform_at_the_blog_scale():
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    np.testing.assert_array_equal(
        BlogUniform()((2, 5), rng_a), HeUniform(scale=HeUniform.BLOG_SCALE)((2, 5), rng_b)
    )
    assert np.all(np.abs(BlogUniform()((2, 10_000), rng_a)) <= 1.0)  # sqrt(2 / 2)


@pytest.mark.parametrize(
    ("cls", "field"),
    [(BlogUniform, "scale"), (HeNormal, "mode"), (GlorotNormal, "distribution")],
)
def test_named_settings_take_no_argument_for_what_they_fix(cls, field):
    with pytest.raises(TypeError):
        cls(**{field: getattr(cls(), field)})


# --- Constant and Zeros ------------------------------------------------------------------


@pytest.mark.parametrize(("initializer", "value"), [(Zeros(), 0.0), (Constant(0.1), 0.1)])
def test_constant_fills_the_shape(initializer, value):
    w = initializer((3, 4), np.random.default_rng(0))
    assert w.shape == (3, 4) and w.dtype == np.float64
    np.testing.assert_array_equal(w, value)
    assert initializer.variance((3, 4)) == 0.0


@pytest.mark.parametrize("value", [math.nan, math.inf, "a", None])
def test_invalid_constant_raises_config_error_naming_the_field(value):
    with pytest.raises(ConfigError, match=r"Constant\.value must be a finite number"):
        Constant(value)


# --- Formulas ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("initializer", "shape", "formula"),
    [
        (HeUniform(), (10, 5), "U(±sqrt(6/fan_in)) = U(±0.7746)"),
        (BlogUniform(), (2, 5), "U(±sqrt(2/fan_in)) = U(±1)"),
        (GlorotUniform(), (10, 30), "U(±sqrt(3/fan_avg)) = U(±0.3873)"),
        (
            HeNormal(),
            (10, 5),
            "N(0, σ²) truncated at ±2σ, σ = sqrt(2/fan_in)/0.8796 = 0.5084",
        ),
        (VarianceScaling(2.0, "fan_out", "normal"), (3, 8), "N(0, 2/fan_out) = N(0, 0.5²)"),
        (Zeros(), (3, 4), "0"),
        (Constant(0.1), (3, 4), "0.1"),
    ],
)
def test_formula_fills_in_the_numbers(initializer, shape, formula):
    assert initializer.formula(shape) == formula


@pytest.mark.parametrize("name", VARIANCE_SCALING_NAMES)
def test_formula_ends_with_the_limit_or_standard_deviation_drawn_with(name):
    initializer = make(name)
    last_number = float(re.findall(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?", initializer.formula(SHAPE))[-1])
    if initializer.distribution == "uniform":
        expected = initializer.limit(SHAPE)
    else:
        expected = initializer.stddev(SHAPE)
    assert last_number == pytest.approx(expected, rel=5e-4)  # printed to 4 significant digits


def test_by_default_an_initializers_formula_is_its_repr_and_its_variance_unknown():
    # The base class's own methods, called on an initializer that overrides them: defining a
    # new subclass here would register it for every test that runs after this one.
    assert Initializer.formula(Constant(0.1), (2, 3)) == "Constant(value=0.1)"
    assert Initializer.variance(Constant(0.1), (2, 3)) is None
