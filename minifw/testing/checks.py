"""One check per component family; each raises AssertionError naming what failed and on what.

Every check takes a component as you would use it and tests what its family's
contract promises (the base class's docstring lists it): numbers against central
differences, ranges, dtypes, shapes and stacks, inputs left alone, determinism,
and the round trips through a spec, a repr, a model file and a checkpoint. Where
the property depends on an input, hypothesis searches for a failing one and
shrinks it to the smallest it can find; ``max_examples`` says how many inputs to
try (the defaults keep each check well under a second for minifw's own).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from ..core.activations import Activation
from ..core.callbacks import Callback, Logs, Training
from ..core.contract import checked_range
from ..core.data import DataSource, FunctionSource, Normaliser
from ..core.errors import ConfigError, DataError
from ..core.initializers import Initializer
from ..core.layers import Dense, Layer, Parameter
from ..core.losses import Loss
from ..core.metrics import Metric
from ..core.network import Network
from ..core.optimizers import SGD, Optimizer
from ..core.schedules import Schedule
from ..core.serialize import arguments, rebuilt
from ..core.targets import Target
from ..core.trainer import Trainer
from ..core.validation import check_count, is_a
from ..files.saving import savable
from . import strategies
from .roundtrip import (
    fresh,
    network_problem,
    repr_problem,
    resume_problem,
    spec_problem,
    training_run,
)
from .search import fail_if, falsify, outside_slopes, show, slope_bracket_problem

Array = np.ndarray

# Inputs for the range scan: fine steps where activations bend, then out to a million.
_OUT = np.geomspace(50.0, 1e6, 200)
RANGE_GRID = np.unique(np.concatenate([np.linspace(-50.0, 50.0, 100_001), _OUT, -_OUT]))


def _common(check: str, component: Any, family: type, examples: int) -> str:
    """The name a check's messages start with, after refusing a component of another family."""
    if not isinstance(component, family):
        raise ConfigError(f"{check} takes a {family.__name__}; got {component!r:.80}")
    check_count(f"{check}: max_examples", examples, low=1)
    return f"{check}({component!r})"


def _round_trips(who: str, component: Any) -> None:
    fail_if(f"{who}: spec", spec_problem(component))
    fail_if(f"{who}: repr", repr_problem(component))


def _array_problem(what: str, value: Any, shape: tuple[int, ...], dtype: np.dtype) -> str | None:
    """Whether ``value`` is a finite array of ``shape`` and ``dtype``; what is wrong if not."""
    # numpy gives a scalar for a 0-d array, which serves as one.
    if not isinstance(value, np.ndarray | np.generic):
        return f"{what} is a {type(value).__name__}, not a numpy array"
    if value.shape != shape:
        return f"{what} has shape {value.shape}; expected {shape}"
    if value.dtype != dtype:
        return f"{what} is {value.dtype} for {dtype} input; it must keep the dtype"
    if not np.isfinite(value).all():
        return f"{what} holds non-finite values: {show(value)}"
    return None


def _small_network(inputs: int, outputs: int) -> Network:
    """A network of ``inputs``-3-``outputs`` to put data through: tanh, then identity."""
    return Network([Dense(inputs, 3, "tanh"), Dense(3, outputs)], seed=0)


def _first(*problems: Callable[[], str | None]) -> str | None:
    """The first problem found, trying each in turn (later ones may assume earlier ones)."""
    for problem in problems:
        message = problem()
        if message is not None:
            return message
    return None


# Activations ---------------------------------------------------------------------------


def check_activation(activation: Activation, *, max_examples: int = 25) -> None:
    """Check ``activation`` against the Activation contract; AssertionError if it breaks it.

    - forward and derivative keep the shape (0-d to 3-D, a stack of networks' arrays too)
      and the dtype (float32 and float64) and give finite values for inputs in [-20, 20];
    - neither changes its inputs (forward none up to ±1e6), and derivative returns no
      view of x or y;
    - forward gives the same values for the same x, and a stack's slices what each alone gives;
    - derivative lies between forward's slopes on either side of each point (the
      derivative at a smooth point, any subgradient at a kink), to the dtype's precision;
    - the outputs stay inside output_range (to a few rounding steps of their dtype) and
      come within 1e-3 of each finite end;
    - its spec and repr build it again, and a network of it saves, loads and
      ``load_weights`` into an identical network.
    """
    who = _common("check_activation", activation, Activation, max_examples)
    arrays = strategies.float_arrays(None, low=-20.0, high=20.0, min_dims=0, max_dims=3)
    falsify(
        f"{who}: forward and derivative",
        arrays,
        lambda x: _activation_problem(activation, x),
        max_examples,
    )
    falsify(
        f"{who}: derivative",
        strategies.float_arrays(None, low=-10.0, high=10.0),
        lambda x: _derivative_problem(activation, x),
        max_examples,
    )
    fail_if(f"{who}: output_range", _range_problem(activation))
    _round_trips(who, activation)
    x = np.linspace(-3.0, 3.0, 7).reshape(-1, 1)
    fail_if(
        f"{who}: saving",
        network_problem(lambda: Network([Dense(1, 3, fresh(activation)), Dense(3, 1)], seed=0), x),
    )


def _activation_problem(activation: Activation, x: Array) -> str | None:
    kept = x.copy()
    y = activation.forward(x)
    if message := _array_problem("forward(x)", y, x.shape, x.dtype):
        return message
    if not np.array_equal(x, kept):
        return "forward changed its input x"
    given = y.copy()
    d = activation.derivative(x, y)
    if message := _array_problem("derivative(x, y)", d, x.shape, x.dtype):
        return message
    if not (np.array_equal(x, kept) and np.array_equal(y, given)):
        return "derivative changed its input x or y"
    if d is not x and d is not y and (np.shares_memory(d, x) or np.shares_memory(d, y)):
        return "derivative returns a view of x or y (Dense multiplies it in place); return a copy"
    if not np.array_equal(activation.forward(x), given):
        return "forward gives other values for the same x the second time"
    if x.ndim == 3 and not all(
        np.array_equal(activation.forward(x[i]), given[i]) for i in range(len(x))
    ):
        return "forward of a stack (a leading axis of networks) differs from each network's alone"
    return None


def _derivative_problem(activation: Activation, x: Array) -> str | None:
    y = activation.forward(x)
    d = activation.derivative(x, y)
    bad, left, right = outside_slopes(activation.forward, x, d, y)
    if not bad.any():
        return None
    i = tuple(np.argwhere(bad)[0])
    return (
        f"derivative is {float(d[i])!r} at x = {float(x[i])!r} ({x.dtype}), but forward's "
        f"slope there is {left[i]:.9g} on the left and {right[i]:.9g} on the right"
    )


def _range_problem(activation: Activation) -> str | None:
    """The outputs on RANGE_GRID, in both dtypes, against output_range: inside it, and near
    each finite end (a normaliser maps targets onto the ends)."""
    try:
        low, high = checked_range(activation.output_range, "output_range")
    except ConfigError as error:
        return str(error)
    for dtype in (np.float64, np.float32):
        x = RANGE_GRID.astype(dtype)
        y = activation.forward(x).astype(np.float64)
        if not np.array_equal(x, RANGE_GRID.astype(dtype)):
            return f"forward changed its input x (in {np.dtype(dtype)}, for x up to ±1e6)"
        # A bound a few of the dtype's rounding steps away is reached: float32(1.2) > 1.2.
        slack = (
            4
            * float(np.finfo(dtype).eps)
            * max([1.0] + [abs(v) for v in (low, high) if math.isfinite(v)])
        )
        outside = np.isnan(y) | (y < low - slack) | (y > high + slack)
        if outside.any():
            i = int(np.argmax(np.where(np.isnan(y), np.inf, np.maximum(low - y, y - high))))
            return (
                f"forward({float(x[i])!r}) = {float(y[i])!r} in {np.dtype(dtype)}, outside "
                f"output_range ({low}, {high}): a normaliser would put targets where the "
                "outputs are not"
            )
    scale = 1e-3 * max([1.0] + [abs(v) for v in (low, high) if math.isfinite(v)])
    y = activation.forward(RANGE_GRID)
    for end, reached, at in (
        (low, y.min(), RANGE_GRID[y.argmin()]),
        (high, y.max(), RANGE_GRID[y.argmax()]),
    ):
        if math.isfinite(end) and abs(reached - end) > scale:
            return (
                f"output_range says {end!r}, but the outputs come no nearer than {reached!r} "
                f"(at x = {at!r}): targets mapped onto {end!r} would be out of reach"
            )
    return None


# Losses --------------------------------------------------------------------------------


def check_loss(loss: Loss, *, max_examples: int = 25) -> None:
    """Check ``loss`` against the Loss contract; AssertionError if it breaks it.

    For predictions and targets in its ``domain`` (else [-10, 10]):

    - value is one finite number and gradient a finite array of pred's shape and dtype,
      for float32 and float64; value_and_gradient gives the two; inputs are left alone;
    - gradient lies between value's slopes on either side of each entry;
    - for a stack, pred (networks, samples, outputs) against (samples, outputs) targets,
      value gives one number per network and gradient each network's own;
    - targets of another shape ((n,) against (n, 1) predictions) raise DataError;
    - its spec and repr build it again, and a run with it resumes from a checkpoint exactly.
    """
    who = _common("check_loss", loss, Loss, max_examples)
    low, high = strategies.within(checked_range(loss.domain, "domain"))
    margin = 0.01 * (high - low) if all(map(math.isfinite, loss.domain)) else 0.0

    def pairs(stacked: bool) -> Any:
        return strategies.dtypes().flatmap(
            lambda t: strategies.prediction_target_pairs(
                t, low=low, high=high, margin=margin, stacked=stacked
            )
        )

    falsify(
        f"{who}: value and gradient", pairs(False), lambda p: _loss_problem(loss, *p), max_examples
    )
    falsify(
        f"{who}: gradient", pairs(False), lambda p: _loss_gradient_problem(loss, *p), max_examples
    )
    falsify(f"{who}: stacks", pairs(True), lambda p: _loss_stack_problem(loss, *p), max_examples)
    fail_if(f"{who}: shapes", _mismatch_problem(loss, 0.5 * (low + high)))
    _round_trips(who, loss)
    fail_if(f"{who}: checkpoint", resume_problem(lambda: training_run(loss=fresh(loss))))


def _tolerance(dtype: np.dtype) -> float:
    return 64 * float(np.finfo(dtype).eps)


def _loss_problem(loss: Loss, pred: Array, target: Array) -> str | None:
    kept = pred.copy(), target.copy()
    value, gradient = loss.value(pred, target), loss.gradient(pred, target)
    if np.ndim(value) != 0 or not math.isfinite(float(value)):
        return f"value is {value!r}; expected one finite number"
    if message := _array_problem("gradient", gradient, pred.shape, pred.dtype):
        return message
    if not (np.array_equal(pred, kept[0]) and np.array_equal(target, kept[1])):
        return "it changed pred or target"
    both = loss.value_and_gradient(pred, target)
    rtol = _tolerance(pred.dtype)
    if not (
        np.isclose(float(both[0]), float(value), rtol=rtol, atol=0)
        and np.allclose(both[1], gradient, rtol=rtol, atol=rtol * np.abs(gradient).max())
    ):
        return f"value_and_gradient gives {both}, but value and gradient give {(value, gradient)}"
    if float(loss.value(pred, target)) != float(value):
        return "value gives another number for the same arrays the second time"
    return None


def _loss_gradient_problem(loss: Loss, pred: Array, target: Array) -> str | None:
    gradient = loss.gradient(pred, target)
    found = slope_bracket_problem(lambda p: float(loss.value(p, target)), pred, gradient)
    if found is None:
        return None
    index, g, left, right = found
    return (
        f"gradient[{', '.join(map(str, index))}] is {g!r} ({pred.dtype}), but value's slope "
        f"in that entry is {left:.9g} on the left and {right:.9g} on the right"
    )


def _loss_stack_problem(loss: Loss, pred: Array, target: Array) -> str | None:
    values, gradients = loss.value(pred, target), loss.gradient(pred, target)
    networks = pred.shape[0]
    if np.shape(values) != (networks,):
        return (
            f"value of a stack of {networks} networks' predictions has shape "
            f"{np.shape(values)}; expected ({networks},), one loss per network"
        )
    if np.shape(gradients) != pred.shape:
        return f"gradient of a stack has shape {np.shape(gradients)}; expected {pred.shape}"
    rtol = _tolerance(pred.dtype)
    for i in range(networks):
        alone, slope = loss.value(pred[i], target), loss.gradient(pred[i], target)
        if not np.isclose(float(values[i]), float(alone), rtol=rtol, atol=rtol * abs(float(alone))):
            return f"network {i} of a stack has loss {values[i]!r}, alone {alone!r}"
        if not np.allclose(gradients[i], slope, rtol=rtol, atol=rtol * np.abs(slope).max()):
            return f"network {i} of a stack has another gradient than alone"
    return None


def _mismatch_problem(loss: Loss, middle: float) -> str | None:
    pred, target = np.full((3, 1), middle), np.full(3, middle)
    for call in (loss.value, loss.gradient, loss.value_and_gradient):
        try:
            call(pred, target)
        except DataError:
            continue
        except Exception as error:
            kind = type(error).__name__
            return f"{call.__name__} of (3, 1) against (3,) raised {kind}, not DataError"
        return (
            f"{call.__name__} accepts predictions of shape (3, 1) against targets of shape "
            "(3,), which broadcast to (3, 3); refuse them with a DataError "
            "(minifw.core.losses.difference does)"
        )
    return None


# Metrics -------------------------------------------------------------------------------


def check_metric(metric: Metric, *, max_examples: int = 25) -> None:
    """Check ``metric`` against the Metric contract; AssertionError if it breaks it.

    For predictions and targets in [-10, 10], float32 and float64:

    - it gives one finite number, leaves its inputs alone and gives the same number again;
    - predicting the targets exactly scores at least as well as any prediction (lowest
      for an error, highest for a score with ``greater_is_better``);
    - for a stack, pred (networks, samples, outputs) against (samples, outputs) targets,
      one number per network, each network's own;
    - targets of another shape ((n,) against (n, 1) predictions) raise DataError;
    - its spec and repr build it again, and a Trainer logs it under its key every epoch.
    """
    who = _common("check_metric", metric, Metric, max_examples)

    def pairs(stacked: bool) -> Any:
        return strategies.dtypes().flatmap(
            lambda t: strategies.prediction_target_pairs(t, stacked=stacked)
        )

    falsify(f"{who}: values", pairs(False), lambda p: _metric_problem(metric, *p), max_examples)
    falsify(
        f"{who}: stacks", pairs(True), lambda p: _metric_stack_problem(metric, *p), max_examples
    )
    fail_if(f"{who}: shapes", _metric_mismatch_problem(metric))
    _round_trips(who, metric)
    fail_if(f"{who}: logged", _metric_logged_problem(metric))


def _metric_problem(metric: Metric, pred: Array, target: Array) -> str | None:
    kept = pred.copy(), target.copy()
    value = metric(pred, target)
    if np.ndim(value) != 0 or not math.isfinite(float(value)):
        return f"it gives {value!r}; expected one finite number"
    if not (np.array_equal(pred, kept[0]) and np.array_equal(target, kept[1])):
        return "it changed pred or target"
    if float(metric(pred, target)) != float(value):
        return "it gives another number for the same arrays the second time"
    perfect = float(metric(target.copy(), target))
    worse = float(value) > perfect if metric.greater_is_better else float(value) < perfect
    if worse and not math.isclose(float(value), perfect, rel_tol=_tolerance(pred.dtype)):
        best = "highest" if metric.greater_is_better else "lowest"
        return (
            f"predicting the targets exactly scores {perfect!r}, but these predictions score "
            f"{float(value)!r}; an exact prediction must score the {best} (greater_is_better is "
            f"{metric.greater_is_better})"
        )
    return None


def _metric_stack_problem(metric: Metric, pred: Array, target: Array) -> str | None:
    values = metric(pred, target)
    networks = pred.shape[0]
    if np.shape(values) != (networks,):
        return (
            f"a stack of {networks} networks' predictions scores shape {np.shape(values)}; "
            f"expected ({networks},), one number per network"
        )
    rtol = _tolerance(pred.dtype)
    for i in range(networks):
        alone = float(metric(pred[i], target))
        if not math.isclose(float(values[i]), alone, rel_tol=rtol, abs_tol=rtol * abs(alone)):
            return f"network {i} of a stack scores {values[i]!r}, alone {alone!r}"
    return None


def _metric_mismatch_problem(metric: Metric) -> str | None:
    try:
        metric(np.zeros((3, 1)), np.zeros(3))
    except DataError:
        return None
    except Exception as error:
        return (
            f"predictions (3, 1) against targets (3,) raised {type(error).__name__}, not DataError"
        )
    return (
        "it accepts predictions of shape (3, 1) against targets of shape (3,), which broadcast "
        "to (3, 3); refuse them with a DataError (minifw.core.losses.difference does)"
    )


def _metric_logged_problem(metric: Metric) -> str | None:
    x = np.linspace(-1.0, 1.0, 8).reshape(-1, 1)
    trainer = Trainer(_small_network(1, 1), "mse", SGD(0.1), batch_size=4, metrics=[fresh(metric)])
    result = trainer.fit(x, x**2, epochs=2, validation_data=(x[::2], x[::2] ** 2))
    for key in (metric.key, f"val_{metric.key}"):
        if len(result.history.get(key, [])) != 2:
            return f"a Trainer given it logs {sorted(result.history)}, without {key!r} every epoch"
    return None


# Optimizers ----------------------------------------------------------------------------

SMALL_LR = 0.01  # the checks' rate: small enough for a quadratic with curvatures up to 4


def check_optimizer(optimizer: Optimizer, *, max_examples: int = 25) -> None:
    """Check ``optimizer`` against the Optimizer contract; AssertionError if it breaks it.

    On f(θ) = ½ Σ aᵢθᵢ² (curvatures 0.5 to 4), each of copies rebuilt with a small lr:

    - three steps each lower f, in float32 and float64, and leave the gradient alone;
    - the first step moves θ twice as far for twice the lr;
    - on a stack (θ of shape (networks, n), lr an (networks, 1) array) each row moves
      as that network would alone with its own rate (unless it clips gradients, whose
      norm spans the stack: sweeps never stack such an optimizer);
    - the state it keeps is numbers and arrays of θ's shape and dtype, and another
      optimizer given that state (``import_state``) steps exactly as it does;
    - its spec and repr build it again, and a run with it resumes from a checkpoint exactly.
    """
    who = _common("check_optimizer", optimizer, Optimizer, max_examples)
    quadratics = strategies.dtypes().flatmap(strategies.quadratics)
    if getattr(optimizer, "whole_data", False):  # L-BFGS: minimize on the whole data, no step
        falsify(
            f"{who}: minimising a quadratic",
            quadratics,
            lambda q: _whole_data_problem(optimizer, *q),
            max_examples,
        )
        _round_trips(who, optimizer)
        return
    falsify(
        f"{who}: a step on a quadratic",
        quadratics,
        lambda q: _descent_problem(optimizer, *q),
        max_examples,
    )
    falsify(
        f"{who}: lr", strategies.quadratics(), lambda q: _lr_problem(optimizer, *q), max_examples
    )
    # Gradient clipping's norm spans a whole stack, so sweeps never stack a clipping optimizer.
    if getattr(optimizer, "clip_norm", None) is None:
        rates = st.lists(strategies.learning_rates(1e-4, SMALL_LR), min_size=2, max_size=3)
        falsify(
            f"{who}: stacks",
            st.tuples(strategies.quadratics(), rates),
            lambda s: _optimizer_stack_problem(optimizer, *s[0], s[1]),
            max_examples,
        )
    falsify(f"{who}: state", quadratics, lambda q: _state_problem(optimizer, *q), max_examples)
    _round_trips(who, optimizer)
    fail_if(f"{who}: checkpoint", resume_problem(lambda: training_run(optimizer=fresh(optimizer))))


def _whole_data_problem(optimizer: Optimizer, curvature: Array, start: Array) -> str | None:
    """Why a whole-data optimizer does not bring f(θ) = ½ Σ aθ² down by half in 10 iterations,
    or None. Its iterations, as ``Trainer.fit`` sees them, must each lower f."""
    theta0 = start.astype(np.float64).ravel()
    a = curvature.astype(np.float64).ravel()
    if not np.any(theta0):
        return None  # already at the minimum: nothing to lower

    def objective(theta: Array) -> tuple[float, Array]:
        return float(0.5 * np.sum(a * theta**2)), a * theta

    seen: list[float] = []
    fresh(optimizer).minimize(objective, theta0.copy(), 10, lambda t, f, e: seen.append(f) or False)  # type: ignore[attr-defined]
    start = objective(theta0)[0]
    if not seen or not seen[-1] <= 0.5 * start:
        return f"f went from {start:g} to {seen[-1] if seen else start:g} in {len(seen)} iterations"
    if any(b > a_ for a_, b in zip([start, *seen], seen, strict=False)):
        return f"an iteration raised f: {[start, *seen]}"
    return None


def _steps(optimizer: Optimizer, curvature: Array, parameter: Parameter, count: int) -> None:
    """``count`` steps of ``optimizer`` on f(θ) = ½ Σ aθ², the gradient aθ set before each."""
    for _ in range(count):
        np.multiply(curvature, parameter.value, out=parameter.grad)
        optimizer.step([parameter])


def _quadratic(curvature: Array, theta: Array) -> float:
    theta = theta.astype(np.float64)
    return 0.5 * float(np.sum(curvature * theta * theta))


def _descent_problem(optimizer: Optimizer, curvature: Array, start: Array) -> str | None:
    mover = rebuilt(optimizer, lr=SMALL_LR)
    parameter = Parameter("θ", start.copy())
    for step in range(3):
        parameter.grad[...] = curvature * parameter.value
        grad, before = parameter.grad.copy(), _quadratic(curvature, parameter.value)
        mover.step([parameter])
        if not np.array_equal(parameter.grad, grad):
            return "step changed the gradient it was given"
        if parameter.value.dtype != start.dtype or not np.isfinite(parameter.value).all():
            return f"step {step + 1} made θ {show(parameter.value)}"
        after = _quadratic(curvature, parameter.value)
        if not after < before:
            return f"step {step + 1} (lr {SMALL_LR}) took f from {before!r} to {after!r}, not lower"
    return None


def _lr_problem(optimizer: Optimizer, curvature: Array, start: Array) -> str | None:
    moves = []
    for lr in (SMALL_LR / 2, SMALL_LR):
        parameter = Parameter("θ", start.copy())
        _steps(rebuilt(optimizer, lr=lr), curvature, parameter, 1)
        moves.append(parameter.value - start)
    atol = 16 * np.finfo(np.float64).eps * float(np.abs(start).max())
    if not np.allclose(moves[1], 2 * moves[0], rtol=1e-6, atol=atol):
        return (
            f"its first step moves θ by {show(moves[0])} at lr {SMALL_LR / 2} and by "
            f"{show(moves[1])} at lr {SMALL_LR}: not twice as far for twice the rate"
        )
    return None


def _optimizer_stack_problem(
    optimizer: Optimizer, curvature: Array, start: Array, rates: list[float]
) -> str | None:
    stacked = Parameter("θ", np.tile(start, (len(rates), 1)))
    lr = np.array(rates, dtype=np.float64).reshape(-1, 1)
    _steps(rebuilt(optimizer, lr=lr), curvature, stacked, 3)
    for i, rate in enumerate(rates):
        alone = Parameter("θ", start.copy())
        _steps(rebuilt(optimizer, lr=rate), curvature, alone, 3)
        if not np.allclose(stacked.value[i], alone.value, rtol=1e-12, atol=1e-300):
            return (
                f"row {i} of a stack ends at {show(stacked.value[i])}, the network alone at "
                f"{show(alone.value)} (lr {rate!r}): the rows of a stack must move apart"
            )
    return None


def _state_problem(optimizer: Optimizer, curvature: Array, start: Array) -> str | None:
    mover = rebuilt(optimizer, lr=SMALL_LR)
    parameter = Parameter("θ", start.copy())
    _steps(mover, curvature, parameter, 2)
    state = mover.export_state({"θ": parameter})
    for key, value in state["states"].get("θ", {}).items():
        if isinstance(value, np.ndarray):
            if value.shape != start.shape or value.dtype != start.dtype:
                return (
                    f"its state {key!r} is {value.dtype} of shape {value.shape}; a checkpoint "
                    f"holds arrays of the parameter's dtype and shape, {start.dtype} {start.shape}"
                )
        elif not is_a(value, (int, float)):
            return f"its state {key!r} is {value!r}; a checkpoint holds numbers and arrays only"
    follower = rebuilt(optimizer, lr=SMALL_LR)
    copied = Parameter("θ", parameter.value.copy())
    follower.import_state(state, {"θ": copied})
    _steps(mover, curvature, parameter, 2)
    _steps(follower, curvature, copied, 2)
    if not np.array_equal(parameter.value, copied.value):
        return (
            "another optimizer given its state (export_state, import_state) steps to "
            f"{show(copied.value)}, it to {show(parameter.value)}: keep all it learns in state"
        )
    return None


# Initializers --------------------------------------------------------------------------


def check_initializer(initializer: Initializer, *, max_examples: int = 25) -> None:
    """Check ``initializer`` against the Initializer contract; AssertionError if it breaks it.

    - it returns a new finite float64 array of the shape asked for ((n,) and (fan_in, fan_out));
    - the same seed gives the same draws, different seeds different ones (when it
      promises a variance above 0), and numpy's global random state is left alone;
    - formula(shape) is text, and variance(shape), when it is given, is that of the
      draws (within 6 %, over 12,000 of them);
    - its spec and repr build it again, and a network of it saves and loads.
    """
    who = _common("check_initializer", initializer, Initializer, max_examples)
    cases = st.tuples(strategies.weight_shapes(), strategies.seeds())
    falsify(f"{who}: draws", cases, lambda c: _draw_problem(initializer, *c), max_examples)
    fail_if(f"{who}: variance", _variance_problem(initializer))
    _round_trips(who, initializer)

    def network() -> Network:
        layers = [Dense(2, 3, "tanh", initializer=fresh(initializer)), Dense(3, 1)]
        return Network(layers, seed=0)

    fail_if(f"{who}: saving", network_problem(network, np.linspace(-1, 1, 6).reshape(3, 2)))


def _global_state() -> tuple[Any, ...]:
    kind, keys, position, *rest = np.random.get_state()
    return (kind, keys.tobytes(), position, *rest)


def _draw_problem(initializer: Initializer, shape: tuple[int, ...], seed: int) -> str | None:
    before = _global_state()
    drawn = initializer(shape, np.random.default_rng(seed))
    if _global_state() != before:
        return "it drew from numpy's global random state; draw every number from rng"
    if message := _array_problem(f"initializer({shape}, rng)", drawn, shape, np.dtype(np.float64)):
        return message
    if not np.array_equal(initializer(shape, np.random.default_rng(seed)), drawn):
        return (
            f"two generators of seed {seed} gave different draws: it does not draw from rng alone"
        )
    variance = initializer.variance(shape)
    other = initializer(shape, np.random.default_rng(seed + 1))
    if variance is not None and variance > 0 and drawn.size >= 4 and np.array_equal(other, drawn):
        return f"seeds {seed} and {seed + 1} give the same draws: it does not draw from rng"
    if not isinstance(initializer.formula(shape), str):
        return f"formula({shape}) is {initializer.formula(shape)!r}, not text"
    return None


def _variance_problem(initializer: Initializer) -> str | None:
    for shape, draws in (((20, 30), 20), ((16,), 750)):
        promised = initializer.variance(shape)
        if promised is None:
            continue
        rng = np.random.default_rng(0)
        values = np.concatenate([initializer(shape, rng).ravel() for _ in range(draws)])
        measured = float(np.var(values))
        if abs(measured - promised) > 0.06 * promised + 1e-12:
            return (
                f"variance({shape}) promises {promised:.6g}, but {values.size:,} draws have "
                f"variance {measured:.6g}"
            )
    return None


# Schedules -----------------------------------------------------------------------------


def check_schedule(schedule: Schedule, *, max_examples: int = 25) -> None:
    """Check ``schedule`` against the Schedule contract; AssertionError if it breaks it.

    - schedule(lr, t) is one finite number >= 0, the same whenever it is asked;
    - for lr an (N, 1) array (a stack's rates) it gives each row what that rate gives alone;
    - its spec and repr build it again, and an optimizer with it resumes from a checkpoint
      exactly.
    """
    who = _common("check_schedule", schedule, Schedule, max_examples)
    cases = st.tuples(strategies.learning_rates(), strategies.update_counts())
    falsify(f"{who}: rates", cases, lambda c: _rate_problem(schedule, *c), max_examples)
    rates = st.lists(strategies.learning_rates(), min_size=2, max_size=3)
    stacks = st.tuples(rates, strategies.update_counts())
    falsify(f"{who}: stacks", stacks, lambda c: _schedule_stack_problem(schedule, *c), max_examples)
    _round_trips(who, schedule)
    fail_if(
        f"{who}: checkpoint",
        resume_problem(lambda: training_run(optimizer=SGD(lr=0.05, schedule=fresh(schedule)))),
    )


def _rate_problem(schedule: Schedule, lr: float, t: int) -> str | None:
    rate = schedule(lr, t)
    if np.ndim(rate) != 0 or not math.isfinite(float(rate)) or float(rate) < 0:
        return f"schedule({lr!r}, {t}) is {rate!r}; expected one finite number >= 0"
    schedule(lr, t + 1)
    if schedule(lr, t) != rate:
        return f"schedule({lr!r}, {t}) gives another rate when asked again"
    return None


def _schedule_stack_problem(schedule: Schedule, rates: list[float], t: int) -> str | None:
    column = np.array(rates).reshape(-1, 1)
    together = np.asarray(schedule(column, t))
    alone = np.array([[schedule(r, t)] for r in rates], dtype=np.float64)
    if together.shape not in ((len(rates), 1),) or not np.allclose(together, alone, rtol=1e-12):
        return (
            f"for the rates {rates} of a stack at t = {t} it gives {show(together)}; "
            f"each rate alone gives {show(alone)}"
        )
    return None


# Targets -------------------------------------------------------------------------------


def check_target(target: Target, *, max_examples: int = 25) -> None:
    """Check ``target`` against the Target contract; AssertionError if it breaks it.

    - for x of shape (samples, inputs) in its domain, y is a finite float array of
      shape (samples, outputs), each row's value that of its x alone, the same every
      time, and x is left alone;
    - its value_range, if given, holds every value on a fine grid of the domain and
      comes within 1e-3 of both ends;
    - normalised onto (-1, 1) from its value_range (or its values' extremes) and back,
      y is y again, and inside (-1, 1) on the way;
    - its spec and repr build it again, and a model saved with a source of it loads the
      same data.
    """
    who = _common("check_target", target, Target, max_examples)
    inputs = strategies.target_inputs(target)
    falsify(f"{who}: values", inputs, lambda x: _target_problem(target, x), max_examples)
    fail_if(f"{who}: value_range", _value_range_problem(target))
    falsify(
        f"{who}: normalisation", inputs, lambda x: _normalisation_problem(target, x), max_examples
    )
    _round_trips(who, target)
    source = FunctionSource(fresh(target), target.domain, 5, inputs=target.inputs)
    x, y = source.arrays()

    def network() -> Network:
        return _small_network(x.shape[1], y.shape[1])

    fail_if(f"{who}: saving", network_problem(network, x, source=source))


def _target_problem(target: Target, x: Array) -> str | None:
    kept = x.copy()
    y = target(x)
    if not isinstance(y, np.ndarray) or y.ndim != 2 or y.shape[0] != x.shape[0]:
        return (
            f"target(x) has shape {np.shape(y)} for x of shape {x.shape}; expected "
            f"({x.shape[0]}, outputs)"
        )
    if y.dtype.kind != "f" or not np.isfinite(y).all():
        return f"target(x) is {show(y)}; expected finite floats"
    if not np.array_equal(x, kept):
        return "target(x) changed x"
    if not np.array_equal(target(x), y):
        return "target(x) gives other values for the same x the second time"
    for i in range(x.shape[0]):
        if not np.allclose(target(x[i : i + 1]), y[i : i + 1], rtol=1e-12, atol=0):
            return f"row {i} of target(x) depends on the other rows of x"
    return None


def _domain_grid(target: Target) -> Array:
    """Points covering the target's domain: a fine grid for one or two inputs, else random."""
    low, high = (float(v) for v in target.domain)
    inputs = int(target.inputs)
    if inputs == 1:
        return np.linspace(low, high, 20_001).reshape(-1, 1)
    if inputs == 2:
        axis = np.linspace(low, high, 201)
        return np.stack([a.ravel() for a in np.meshgrid(axis, axis)], axis=1)
    return np.random.default_rng(0).uniform(low, high, size=(20_000, inputs))


def _value_range_problem(target: Target) -> str | None:
    if target.value_range is None:
        return None
    low, high = target.value_range
    x = _domain_grid(target)
    y = target(x)
    width = high - low
    slack = 1e-12 * width
    for end, reached, at, beyond in (
        (low, y.min(), x[np.unravel_index(y.argmin(), y.shape)[0]], y.min() < low - slack),
        (high, y.max(), x[np.unravel_index(y.argmax(), y.shape)[0]], y.max() > high + slack),
    ):
        if beyond:
            return (
                f"value_range is ({low}, {high}), but target({show(at)}) = {reached!r}: the "
                "normaliser would map such targets beyond the output activation's range"
            )
        if abs(reached - end) > 1e-3 * width:
            return (
                f"value_range says {end!r}, but the values on its domain come no nearer "
                f"than {reached!r}: the network would be trained on part of its range only"
            )
    return None


def _normalisation_problem(target: Target, x: Array) -> str | None:
    y = target(x)
    source = target.value_range or (float(y.min()) - 1.0, float(y.max()) + 1.0)
    normaliser = Normaliser(source, (-1.0, 1.0))
    scaled = normaliser.forward(y)
    if np.any(np.abs(scaled) > 1 + 1e-12):
        return f"normalised onto (-1, 1) from {source}, y = {show(y)} becomes {show(scaled)}"
    back = normaliser.inverse(scaled)
    scale = 1e-12 * max(1.0, float(np.max(np.abs(source))))
    if not np.allclose(back, y, rtol=1e-12, atol=scale):
        return f"normalised and back, y = {show(y)} becomes {show(back)}"
    return None


# Layers --------------------------------------------------------------------------------


def check_layer(layer: Layer, *, max_examples: int = 15) -> None:
    """Check ``layer`` against the Layer contract; AssertionError if it breaks it.

    On copies of it, each in a network of its own (which draws and packs its parameters):

    - initialize draws the same parameters for the same seed, leaving numpy's global
      random state alone;
    - forward keeps the dtype, gives (samples, n_out) and leaves x alone; backward gives
      (samples, n_in), overwrites parameter gradients (twice is once), and with
      ``input_grad=False`` returns None and sets the same gradients;
    - every parameter gradient, and dL/dx, lies between the loss's slopes on either side,
      the loss L = Σ c·y for random c, the parameters nudged in the network's packed
      vector (so a layer that keeps its own copy of a weight is caught);
    - forward of a stack, x of shape (networks, samples, n_in), gives each network's
      values alone;
    - a ``Dense`` layer's repr builds it again, and a network of it saves and loads.
    """
    who = _common("check_layer", layer, Layer, max_examples)
    if getattr(layer, "copies", None) is not None:
        raise ConfigError(f"{who}: check a single layer (copies=None); a stack is built from it")
    cases = st.tuples(st.integers(1, 4), strategies.seeds(), strategies.dtypes())
    falsify(
        f"{who}: forward and backward", cases, lambda c: _layer_problem(layer, *c), max_examples
    )
    cases = st.tuples(st.integers(1, 3), strategies.seeds())
    falsify(f"{who}: gradients", cases, lambda c: _layer_gradient_problem(layer, *c), max_examples)
    cases = st.tuples(st.integers(2, 3), st.integers(1, 3), strategies.seeds())
    falsify(f"{who}: stacks", cases, lambda c: _layer_stack_problem(layer, *c), max_examples)
    if type(layer) is Dense:
        parts = (layer.activation, layer.initializer, layer.bias_initializer)
        classes = (Dense, *map(type, parts))
        fail_if(f"{who}: repr", repr_problem(layer, classes, same=arguments))
        x = np.linspace(-1, 1, 3 * layer.n_in).reshape(3, layer.n_in)
        fail_if(
            f"{who}: saving", network_problem(lambda: Network([copy.deepcopy(layer)], seed=0), x)
        )


def _built(layer: Layer, seed: int, dtype: Any = np.float64) -> tuple[Network, Layer]:
    network = Network([copy.deepcopy(layer)], seed=seed, dtype=dtype)
    return network, network.layers[0]


def _layer_problem(layer: Layer, samples: int, seed: int, dtype: np.dtype) -> str | None:
    before = _global_state()
    network, built = _built(layer, seed, dtype)
    if _global_state() != before:
        return "initialize drew from numpy's global random state; draw every number from rng"
    if not np.array_equal(_built(layer, seed, dtype)[0].packed.value, network.packed.value):
        return f"initialize draws other parameters for the same seed {seed}"
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, size=(samples, built.n_in)).astype(dtype)
    kept = x.copy()
    y = built.forward(x)
    if message := _array_problem("forward(x)", y, (samples, built.n_out), np.dtype(dtype)):
        return message
    c = rng.normal(size=y.shape).astype(dtype)
    dx = built.backward(c)
    if message := _array_problem("backward(grad)", dx, x.shape, np.dtype(dtype)):
        return message
    grads = network.packed.grad.copy()
    built.backward(c)
    if not np.array_equal(network.packed.grad, grads):
        return "backward adds to the parameters' gradients; it must overwrite them"
    network.packed.grad[...] = np.nan  # so that a gradient left unwritten shows
    if built.backward(c, input_grad=False) is not None:
        return "backward(grad, input_grad=False) must return None"
    if not np.array_equal(network.packed.grad, grads):
        return "backward with input_grad=False leaves other (or no) parameter gradients"
    if not np.array_equal(x, kept):
        return "forward or backward changed x"
    return None


def _layer_gradient_problem(layer: Layer, samples: int, seed: int) -> str | None:
    network, built = _built(layer, seed)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, size=(samples, built.n_in))
    c = rng.normal(size=(samples, built.n_out))
    built.forward(x)
    dx = built.backward(c)
    grads = network.packed.grad.copy()
    packed = network.packed.value

    def loss_at(values: Array) -> float:
        kept = packed.copy()
        packed[...] = values
        try:
            return float(np.sum(c * built.forward(x)))
        finally:
            packed[...] = kept

    for name, found in (
        ("a parameter", slope_bracket_problem(loss_at, packed.copy(), grads)),
        ("dL/dx", slope_bracket_problem(lambda v: float(np.sum(c * built.forward(v))), x, dx)),
    ):
        if found is not None:
            index, g, left, right = found
            return (
                f"{name}'s gradient, entry {index}, is {g!r}; the loss's slope there is "
                f"{left:.9g} on the left and {right:.9g} on the right"
            )
    return None


def _layer_stack_problem(layer: Layer, networks: int, samples: int, seed: int) -> str | None:
    _, built = _built(layer, seed)
    x = np.random.default_rng(seed).uniform(-2, 2, size=(networks, samples, built.n_in))
    together = built.forward(x)
    if np.shape(together) != (networks, samples, built.n_out):
        return f"forward of x of shape {x.shape} has shape {np.shape(together)}"
    for i in range(networks):
        if not np.allclose(together[i], built.forward(x[i]), rtol=1e-12, atol=1e-300):
            return f"forward of a stack gives network {i} other values than alone"
    return None


# Callbacks -----------------------------------------------------------------------------

HOOKS = ("on_train_begin", "on_epoch_begin", "on_batch_end", "on_epoch_end", "on_train_end")


class _Spy(Callback):
    """Records the logs each batch and epoch hook is given, as they were then."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Logs]] = []

    def on_batch_end(self, trainer: Training, batch: int, logs: Logs) -> None:
        self.seen.append(("on_batch_end", dict(logs)))

    def on_epoch_end(self, trainer: Training, epoch: int, logs: Logs) -> None:
        self.seen.append(("on_epoch_end", dict(logs)))


def check_callback(callback: Callback, *, max_examples: int = 6) -> None:
    """Check ``callback`` against the Callback contract; AssertionError if it breaks it.

    In short fits (1 to 3 epochs, batches of 1 to 8, shuffled or not) of a small network,
    each with a fresh copy of it:

    - every hook it listens to runs without error, with the arguments the trainer gives;
    - it leaves the logs as it found them (the callbacks after it read the same dict);
    - two fits with copies of it end with the same weights and history;
    - ``listens_to`` answers True or False for every hook.
    """
    who = _common("check_callback", callback, Callback, max_examples)
    for hook in HOOKS:
        answer = callback.listens_to(hook)
        fail_if(
            f"{who}: listens_to",
            None if isinstance(answer, bool) else f"listens_to({hook!r}) is {answer!r}",
        )
    cases = st.tuples(st.integers(1, 3), st.integers(1, 8), st.booleans())
    falsify(f"{who}: in a fit", cases, lambda c: _callback_problem(callback, *c), max_examples)


def _callback_problem(
    callback: Callback, epochs: int, batch_size: int, shuffle: bool
) -> str | None:
    ends = []
    for _ in range(2):
        before, after = _Spy(), _Spy()
        trainer = training_run(
            callbacks=[before, copy.deepcopy(callback), after],
            batch_size=batch_size,
            shuffle=shuffle,
        )
        assert trainer.source is not None
        trainer.fit(trainer.source, epochs)
        if before.seen != after.seen[: len(before.seen)]:
            changed = next(a for a, b in zip(before.seen, after.seen, strict=False) if a != b)
            return f"it changed the logs it was given at {changed[0]}: {changed[1]}"
        ends.append((trainer.network.packed.value.copy(), trainer.run_history))
    if not np.array_equal(ends[0][0], ends[1][0]) or ends[0][1] != ends[1][1]:
        return "two fits with copies of it end with other weights or losses"
    return None


# Data sources --------------------------------------------------------------------------


def check_data_source(source: DataSource, *, max_examples: int = 6) -> None:
    """Check ``source`` against the DataSource contract; AssertionError if it breaks it.

    - arrays() is two finite float arrays, 2-D, one row per sample, the same at every
      call; evaluation_arrays() likewise, and validation_arrays() None or likewise,
      with the columns of arrays();
    - a network trains on it (batches of 1 to 8, shuffled or not) to a finite loss,
      and its arrays are the same afterwards;
    - a source minifw can write (a FunctionSource of a registered target, an ArraySource)
      loads from a model file with the same data.
    """
    who = _common("check_data_source", source, DataSource, max_examples)
    fail_if(f"{who}: arrays", _source_arrays_problem(source))
    cases = st.tuples(st.integers(1, 8), st.booleans())
    falsify(f"{who}: training", cases, lambda c: _source_training_problem(source, *c), max_examples)
    if savable(source):
        x, y = source.arrays()

        def network() -> Network:
            return _small_network(x.shape[1], y.shape[1])

        fail_if(f"{who}: saving", network_problem(network, x[:4], source=source))


def _pair_problem(what: str, pair: Any, columns: tuple[int, int] | None) -> str | None:
    if not (isinstance(pair, tuple) and len(pair) == 2):
        return f"{what} is {pair!r:.80}; expected a tuple (x, y)"
    x, y = pair
    for name, array in (("x", x), ("y", y)):
        if not isinstance(array, np.ndarray) or array.ndim != 2 or array.dtype.kind != "f":
            return f"{what}'s {name} must be a 2-D float array; got {array!r:.80}"
        if not np.isfinite(array).all():
            return f"{what}'s {name} holds non-finite values"
    if len(x) != len(y) or len(x) == 0:
        return f"{what} has {len(x)} inputs and {len(y)} targets; expected as many, at least one"
    if columns is not None and (x.shape[1], y.shape[1]) != columns:
        return f"{what} has {x.shape[1]} input and {y.shape[1]} output columns; arrays() {columns}"
    return None


def _source_arrays_problem(source: DataSource) -> str | None:
    training = source.arrays()
    if message := _pair_problem("arrays()", training, None):
        return message
    columns = (training[0].shape[1], training[1].shape[1])
    if not all(np.array_equal(a, b) for a, b in zip(source.arrays(), training, strict=True)):
        return "arrays() gives other data the second time"
    validation = source.validation_arrays()
    return _first(
        lambda: _pair_problem("evaluation_arrays()", source.evaluation_arrays(), columns),
        lambda: (
            None
            if validation is None
            else _pair_problem("validation_arrays()", validation, columns)
        ),
    )


def _source_training_problem(source: DataSource, batch_size: int, shuffle: bool) -> str | None:
    x, y = (a.copy() for a in source.arrays())
    network = _small_network(x.shape[1], y.shape[1])
    result = Trainer(network, "mse", "adam:lr=0.01", batch_size=batch_size, shuffle=shuffle).fit(
        source, 2
    )
    if not all(math.isfinite(v) for v in result.loss):
        return f"training on it gives the losses {result.loss}"
    if not all(np.array_equal(a, b) for a, b in zip(source.arrays(), (x, y), strict=True)):
        return "its arrays changed while a network trained on them"
    return None


# Any component -------------------------------------------------------------------------

CHECKS: tuple[tuple[type, Callable[..., None]], ...] = (
    (Activation, check_activation),
    (Initializer, check_initializer),
    (Loss, check_loss),
    (Metric, check_metric),
    (Optimizer, check_optimizer),
    (Schedule, check_schedule),
    (Target, check_target),
    (Layer, check_layer),
    (Callback, check_callback),
    (DataSource, check_data_source),
)


def check_component(component: Any, **options: Any) -> None:
    """The check of ``component``'s family (``check_activation`` for an Activation, ...),
    with ``options`` (``max_examples``); ConfigError for anything that is not a component."""
    for family, check in CHECKS:
        if isinstance(component, family):
            check(component, **options)
            return
    families = ", ".join(family.__name__ for family, _ in CHECKS)
    raise ConfigError(f"check_component takes a component ({families}); got {component!r:.80}")
