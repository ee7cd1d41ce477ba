"""Optimizers: how parameters move, given their gradients.

An optimizer sees parameters (value and grad arrays), never layers, and
updates the values in place. The ``Trainer`` hands it a single parameter,
the network's ``packed`` vector of every weight and bias end to end, so an
elementwise rule updates the whole network in one numpy call. To see the
layers' parameters one by one, call ``step(network.parameters())`` yourself.

The base class does what every rule shares: it counts the updates, asks the
schedule for the learning rate, clips the gradients and adds weight decay.
A concrete optimizer only says how one array moves, in ``update``.
"""

from __future__ import annotations

import math
import weakref
from abc import ABC
from collections.abc import Callable, Mapping, Sequence
from numbers import Integral, Real
from typing import Any, ClassVar

import attrs
import numpy as np

from .contract import overrides, refusal
from .errors import ConfigError
from .layers import Parameter
from .registry import Registered, Registry, parameter_names
from .schedules import Schedule
from .validation import at_most, boolean, integer, is_a, number, where

Array = np.ndarray


def _rates(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A finite number > 0, or an array of them: one rate per network of a stack."""
    if not isinstance(value, np.ndarray):
        number(low=0, strict=True)(instance, attribute, value)
    elif value.dtype.kind != "f" or not (np.isfinite(value).all() and (value > 0).all()):
        raise ConfigError(
            f"{where(instance, attribute)} as an array must hold finite numbers > 0, one "
            f"per stacked network; got {value!r}"
        )


def learning_rate(default: float) -> Any:
    """An ``lr`` field, finite and > 0, with a rule's own default: ``lr = learning_rate(0.1)``.

    For a stack of N networks (``minifw.stack``) it may be an (N, 1) array, a
    rate for each network's row of the packed parameters.
    """
    return attrs.field(default=default, validator=_rates)


def _fraction() -> list[Any]:
    """Validators of a decay rate such as Adam's betas: in [0, 1)."""
    return [number(low=0), at_most(1, strict=True)]


def _schedule_or_none(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, Schedule):
        raise ConfigError(
            f"{where(instance, attribute)} must be a Schedule, such as StepDecay(1000), "
            f"or None; got {value!r}"
        )


def _copied(value: Any) -> Any:
    """An array's copy (state arrays change in place as the optimizer steps); else ``value``."""
    return np.array(value, copy=True) if isinstance(value, np.ndarray) else value


class Progress:
    """What an optimizer changes as it steps, in a plain object made once.

    attrs checks every attribute assignment on the optimizer itself through a
    Python-level ``__setattr__`` (about 0.45 µs), a cost the blog's network would
    pay on every batch; writing to this object's slots costs next to nothing.
    """

    __slots__ = ("dtype", "iterations", "lr", "lr_array", "states")

    def __init__(self) -> None:
        self.iterations = 0  # updates done
        self.lr = math.nan  # the learning rate of the latest update
        # The same as a 0-d array, what ``update`` gets: numpy combines an array with a 0-d
        # array about 0.2 µs faster than with a Python float, a quarter of SGD's update.
        self.lr_array = np.array(math.nan)
        # The parameters' float dtype, which lr_array takes: a float64 rate would make
        # numpy compute a float32 network's update in float64.
        self.dtype = np.dtype(np.float64)
        self.states: dict[int, dict[str, Any]] = {}  # each parameter's, by id(parameter)

    def start(self, parameter: Parameter) -> dict[str, Any]:
        """A new, empty state for ``parameter``, forgotten when the parameter is.

        Keyed by id, with a finalizer to drop it, rather than by the parameter
        itself: the dict then holds no reference that would keep every old
        network's parameters and moments alive in an optimizer reused on network
        after network. (A WeakKeyDictionary would do the same at 0.15 µs a look-up,
        as much as a small numpy call.)
        """
        key = id(parameter)
        if parameter.value.dtype != self.dtype:
            self.dtype = parameter.value.dtype
            self.lr_array = self.lr_array.astype(self.dtype)
        state = self.states[key] = {}
        weakref.finalize(parameter, self.states.pop, key, None).atexit = False
        return state


# No repr of attrs's here: a plain subclass would inherit one listing the base's fields, not
# its own parameters; Registered's lists the constructor's. Concrete attrs classes make theirs.
@attrs.define(eq=False, repr=False)
class Optimizer(Registered, ABC):
    """Base of every optimizer: θ ← update(θ, g, state, lr_t), in place, for each parameter.

    ``step`` works out g from dL/dθ and hands each parameter's arrays to ``update``:

    - ``clip_norm`` (None: off) rescales every gradient passed to one ``step`` by
      the same factor, g ← g · min(1, clip_norm / ‖g‖), ‖g‖ their global L2 norm;
    - ``weight_decay`` then adds L2 regularisation to the gradient, g ← g + wd · θ,
      as PyTorch's ``weight_decay`` does (coupled: it goes through momentum and
      Adam's moments, unlike AdamW's decoupled decay);
    - ``schedule`` (None: constant) gives lr_t for update t = 0, 1, 2, ...

    With all three off, ``update`` gets ``p.grad`` itself, and no copy is made;
    otherwise a new array, so ``p.grad`` is never changed. ``update`` must not
    change ``grad`` either. ``state`` is a dict of this optimizer's own for this
    parameter, empty at its first update, for moments and counters. ``lr``
    arrives as a 0-d array of the parameters' dtype (numpy combines that with an array faster
    than a float); it works as a number. A rule that must see all parameters at
    once may override ``step`` instead.

    What a subclass must provide (checked when the class is defined, or built):

    - ``update(value, grad, state, lr)``, or an override of ``step(parameters)``;
    - a constructor that takes ``lr`` (presets, sweeps and stacks set it) and, for a
      plain class, calls ``super().__init__(lr=lr, ...)``, which sets up the count
      and the per-parameter state;
    - its own parameters, if any, kept as attributes of the same names (attrs does
      this for you), and everything it learns while stepping kept in ``state``, as
      numbers or arrays of the parameter's shape and dtype: a checkpoint saves
      ``state`` and nothing else, and resumes exactly from it.

    ``update`` must treat every entry alike (or at least each row of a stacked
    parameter apart) and take ``lr`` as an (N, 1) array for a stack of N networks.
    ``weight_decay``, ``clip_norm`` and ``schedule`` come from the base; a plain class
    may pass fixed values of them to ``super().__init__``, and the spec then holds
    exactly its own constructor's parameters (docs/extending.md has such a class).
    ``minifw.testing.check_optimizer`` tests the rest: a step on a quadratic, lr
    scaling, stacks, and a checkpoint round trip.

    How to subclass (registered as ``"sign_sgd"`` at once)::

        @attrs.define(eq=False)
        class SignSGD(Optimizer):
            '''θ ← θ - lr · sign(g).'''

            def update(self, value, grad, state, lr):
                value -= lr * np.sign(grad)
    """

    registry = Registry["Optimizer"]("optimizer")
    _family: ClassVar[str] = "optimizer"

    lr: float = learning_rate(0.01)
    weight_decay: float = attrs.field(default=0.0, kw_only=True, validator=number(low=0))
    clip_norm: float | None = attrs.field(
        default=None, kw_only=True, validator=attrs.validators.optional(number(low=0, strict=True))
    )
    schedule: Schedule | None = attrs.field(default=None, kw_only=True, validator=_schedule_or_none)
    _progress: Progress = attrs.field(factory=Progress, init=False, repr=False)

    @classmethod
    def _check_class(cls) -> None:
        super()._check_class()
        if not (overrides(cls, Optimizer, "update") or overrides(cls, Optimizer, "step")):
            raise ConfigError(
                refusal(cls, "must define update(value, grad, state, lr), or override step")
            )
        if "lr" not in parameter_names(cls):
            raise ConfigError(
                refusal(
                    cls,
                    "must take lr in its constructor: presets, sweeps and stacks of networks set "
                    "the learning rate of any optimizer (pass it on with super().__init__(lr=lr))",
                )
            )

    def _check_built(self) -> None:
        try:
            self._progress  # noqa: B018 - set by Optimizer.__init__ alone
        except AttributeError:
            raise ConfigError(
                refusal(
                    type(self),
                    "did not call Optimizer.__init__: its __init__ must call "
                    "super().__init__(lr=lr), which sets up its step count and state",
                )
            ) from None
        super()._check_built()

    @property
    def iterations(self) -> int:
        """How many updates (calls of ``step``) this optimizer has made."""
        return self._progress.iterations

    @property
    def progress(self) -> Progress:
        """The optimizer's books: its update count, latest rate and each parameter's state.
        ``step`` keeps them; whatever steps for the optimizer (the compiled engine) must too."""
        return self._progress

    @property
    def current_lr(self) -> float:
        """The learning rate of the latest update, or before any, the one the first will use."""
        progress, schedule = self._progress, self.schedule
        if progress.iterations:
            return progress.lr
        return self.lr if schedule is None else schedule(self.lr, 0)

    def step(self, parameters: Sequence[Parameter]) -> None:
        """Update every ``parameter.value`` in place from its ``grad``: one update."""
        # Runs once per batch: for a network as small as the blog's, each Python operation
        # here shows in the benchmark, hence the locals and the single pass.
        progress, schedule = self._progress, self.schedule
        t = progress.iterations
        progress.iterations = t + 1
        lr = self.lr if schedule is None else schedule(self.lr, t)
        if lr is not progress.lr and (isinstance(lr, np.ndarray) or lr != progress.lr):
            progress.lr, progress.lr_array = lr, np.asarray(lr, dtype=progress.dtype)
        states, update = progress.states, self.update
        adjust = self.clip_norm is not None or self.weight_decay
        scale = 1.0 if self.clip_norm is None else self._clip_scale(parameters)
        for p in parameters:
            state = states.get(id(p))
            if state is None:
                state = progress.start(p)  # may change lr_array's dtype: read it after
            update(
                p.value, self._adjusted(p, scale) if adjust else p.grad, state, progress.lr_array
            )

    def _clip_scale(self, parameters: Sequence[Parameter]) -> float:
        """min(1, clip_norm / ‖g‖), ‖g‖ the L2 norm of all the gradients together."""
        norm = math.sqrt(sum(float(np.vdot(p.grad, p.grad)) for p in parameters))
        return 1.0 if norm <= self.clip_norm else self.clip_norm / norm  # type: ignore[operator]

    def _adjusted(self, p: Parameter, scale: float) -> Array:
        """g · scale + wd · θ, in a new array or ``p.grad`` itself if neither changes it."""
        grad = p.grad
        if scale < 1.0:
            grad = grad * scale
        if self.weight_decay:
            grad = grad + self.weight_decay * p.value
        return grad

    def export_state(self, parameters: Mapping[str, Parameter]) -> dict[str, Any]:
        """What this optimizer has learned while stepping, as plain data, for saving.

        ``{"iterations": updates done, "lr": the latest update's rate (nan before
        any), "states": {name: {key: value}}}`` with a copy of the state of each of
        the named ``parameters`` that this optimizer has stepped (the others are left
        out). Hyperparameters are not included: ``serialize.to_spec`` gives those.
        """
        progress = self._progress
        states = {}
        for name, parameter in parameters.items():
            state = progress.states.get(id(parameter))
            if state is not None:
                states[name] = {key: _copied(value) for key, value in state.items()}
        return {"iterations": progress.iterations, "lr": progress.lr, "states": states}

    def import_state(self, state: Mapping[str, Any], parameters: Mapping[str, Parameter]) -> None:
        """Continue from ``state`` (``export_state``'s form), for ``parameters`` by the same names.

        The update count, the latest rate and each named parameter's state become
        copies of those in ``state``; the next ``step`` is then the one the exporting
        optimizer would have made. States of other parameters are kept. Everything
        is checked first: on a ConfigError nothing has changed.
        """
        iterations, lr, states = (state.get(key) for key in ("iterations", "lr", "states"))
        if not is_a(iterations, Integral) or iterations < 0:
            raise ConfigError(f"optimizer state 'iterations' must be a count; got {iterations!r}")
        if not is_a(lr, Real):
            raise ConfigError(f"optimizer state 'lr' must be a number; got {lr!r}")
        if not isinstance(states, Mapping) or not all(
            isinstance(s, Mapping) for s in states.values()
        ):
            raise ConfigError("optimizer state 'states' must map parameter names to dicts")
        unknown = [name for name in states if name not in parameters]
        if unknown:
            raise ConfigError(
                f"optimizer state for unknown parameter(s) {', '.join(map(repr, unknown))}; "
                f"the parameters given are: {', '.join(map(repr, parameters))}"
            )
        progress = self._progress
        progress.iterations, progress.lr = int(iterations), float(lr)
        progress.lr_array = np.array(progress.lr, dtype=progress.dtype)
        for name, entries in states.items():
            parameter = parameters[name]
            target = progress.states.get(id(parameter))
            if target is None:
                target = progress.start(parameter)
            target.clear()
            target.update({key: _copied(value) for key, value in entries.items()})

    def state_copy(self, parameter: Parameter) -> StateCopy:
        """A copy of this optimizer's progress for ``parameter``, to keep and put back with
        its values: see ``StateCopy``."""
        return StateCopy(self, parameter)

    # Not abstract, so that a subclass which overrides ``step`` instead is complete.
    def update(self, value: Array, grad: Array, state: dict[str, Any], lr: Array) -> None:
        """Move ``value`` in place, given its gradient ``grad``, its ``state`` and the rate."""
        raise NotImplementedError(
            f"{type(self).__name__} must define update(value, grad, state, lr), or override step"
        )


class StateCopy:
    """An optimizer's progress for one parameter, copied by ``keep`` and put back by
    ``restore``: the update count, the latest rate and the parameter's state (SGD's
    velocity, Adam's moments and step count, RMSProp's average).

    ``TerminateOnNaN`` keeps one beside its copy of the last finite weights, so that a
    diverged run goes back to a state whose weights and moments belong together and
    can train on (with a smaller rate) without the non-finite moments undoing it at once.
    ``keep`` copies into the arrays it already holds: at most one copy per state array.
    A rule that keeps state elsewhere than ``update``'s ``state`` is not seen.
    """

    __slots__ = ("_iterations", "_lr", "_optimizer", "_parameter", "_state")

    def __init__(self, optimizer: Optimizer, parameter: Parameter) -> None:
        self._optimizer, self._parameter = optimizer, parameter
        self._state: dict[str, Any] | None = None
        self.keep()

    def keep(self) -> None:
        """Copy the optimizer's progress for the parameter as it is now."""
        progress = self._optimizer._progress
        self._iterations, self._lr = progress.iterations, progress.lr
        state, kept = progress.states.get(id(self._parameter)), self._state
        if state is None or kept is None or kept.keys() != state.keys():  # first step: new keys
            self._state = None if state is None else {k: _copied(v) for k, v in state.items()}
            return
        for key, value in state.items():
            if isinstance(value, np.ndarray) and kept[key].shape == value.shape:
                np.copyto(kept[key], value)
            else:  # a count (Adam's t), or an array that changed shape
                kept[key] = _copied(value)

    def restore(self) -> None:
        """Put the kept progress back: the next step is the one that followed it."""
        progress, parameter = self._optimizer._progress, self._parameter
        progress.iterations, progress.lr = self._iterations, self._lr
        progress.lr_array = np.asarray(self._lr, dtype=progress.dtype)
        state = progress.states.get(id(parameter))
        if self._state is None:  # kept before the first step: the next starts afresh
            if state is not None:
                state.clear()
            return
        if state is None:
            state = progress.start(parameter)
        state.clear()
        state.update({key: _copied(value) for key, value in self._state.items()})


def _nesterov(instance: SGD, attribute: attrs.Attribute[bool], value: Any) -> None:
    boolean(instance, attribute, value)
    if value and not instance.momentum:
        raise ConfigError(
            f"{where(instance, attribute)}=True needs momentum > 0; got momentum "
            f"{instance.momentum!r}"
        )


@attrs.define(eq=False)
class SGD(Optimizer):
    """Stochastic gradient descent: v ← μv + g,  θ ← θ - lr · (g + μv if nesterov else v).

    With ``momentum`` μ = 0 (the default) that is θ ← θ - lr · g. The momentum
    and Nesterov forms are PyTorch's (``torch.optim.SGD`` without dampening),
    with the velocity starting at 0 so its first value is g.
    """

    name = "sgd"

    momentum: float = attrs.field(default=0.0, validator=number(low=0))
    nesterov: bool = attrs.field(default=False, validator=_nesterov)

    def update(self, value: Array, grad: Array, state: dict[str, Any], lr: Array) -> None:
        momentum = self.momentum
        if momentum:
            if not state:
                state["velocity"] = np.zeros_like(value)
            velocity = state["velocity"]
            velocity *= momentum
            velocity += grad
            grad = grad + momentum * velocity if self.nesterov else velocity
        value -= lr * grad


@attrs.define(eq=False)
class RMSProp(Optimizer):
    """s ← ρs + (1 - ρ)g²,  θ ← θ - lr · g / (√s + ε): a step scaled per entry.

    Hinton's lecture 6e rule, with s starting at 0 as in Keras and PyTorch.
    """

    name = "rmsprop"

    lr: float = learning_rate(0.001)
    rho: float = attrs.field(default=0.9, validator=_fraction())
    epsilon: float = attrs.field(default=1e-7, validator=number(low=0, strict=True))

    def update(self, value: Array, grad: Array, state: dict[str, Any], lr: Array) -> None:
        if not state:
            state["square_average"] = np.zeros_like(value)
        s = state["square_average"]
        s *= self.rho
        s += (1.0 - self.rho) * grad * grad
        value -= lr * grad / (np.sqrt(s) + self.epsilon)


@attrs.define(eq=False)
class Adam(Optimizer):
    """m ← β₁m + (1 - β₁)g,  v ← β₂v + (1 - β₂)g²,  θ ← θ - lr · m̂ / (√v̂ + ε).

    Kingma & Ba (2015), Algorithm 1: m̂ = m / (1 - β₁ᵗ) and v̂ = v / (1 - β₂ᵗ)
    undo the pull of the zero start towards 0, t counting this parameter's
    updates from 1.
    """

    name = "adam"

    lr: float = learning_rate(0.001)
    beta1: float = attrs.field(default=0.9, validator=_fraction())
    beta2: float = attrs.field(default=0.999, validator=_fraction())
    epsilon: float = attrs.field(default=1e-8, validator=number(low=0, strict=True))

    def update(self, value: Array, grad: Array, state: dict[str, Any], lr: Array) -> None:
        # t is counted per parameter (as PyTorch does), not taken from the optimizer's
        # count, so a parameter first stepped late still gets its first-step correction.
        if not state:
            state.update(t=0, m=np.zeros_like(value), v=np.zeros_like(value))
        t = state["t"] = state["t"] + 1
        beta1, beta2 = self.beta1, self.beta2
        m, v = state["m"], state["v"]
        m *= beta1
        m += (1.0 - beta1) * grad
        v *= beta2
        v += (1.0 - beta2) * grad * grad
        m_hat = m / (1.0 - beta1**t)
        v_hat = v / (1.0 - beta2**t)
        value -= lr * m_hat / (np.sqrt(v_hat) + self.epsilon)


# Whole-data ---------------------------------------------------------------------------


@attrs.define(eq=False)
class LBFGS(Optimizer):
    """θ ← θ + α p, with p = -H g and α from a line search (the strong Wolfe conditions).

    g is the gradient of the loss over the whole data set; H approximates the
    inverse Hessian from the last ``memory`` steps s = Δθ and gradient changes
    y = Δg (Nocedal and Wright, Numerical Optimization, 2006, Algorithm 7.4), so
    no learning rate is needed: ``lr`` is kept at 1 for the contract's sake and
    not used. Training stops after ``epochs`` iterations, or when the largest
    gradient component falls below ``gtol``, or the relative change of the loss
    below ``ftol``, or after ``max_evals`` evaluations of the loss (each a forward
    and backward pass over the data; a line search may take several), or, with the
    callback ``TimeLimit(seconds)``, after the iteration that crosses that time.

    ``Trainer.fit`` runs it: one iteration is one epoch for the callbacks, whose
    logs hold the loss after it and ``evals``, the evaluations so far. SciPy's
    curvature memory is not exposed, so a checkpoint keeps the weights but a
    resumed run starts its memory afresh: it continues, but not bit for bit.
    Weight decay, clipping and schedules do not apply; giving them is refused.
    """

    # Trainer.fit hands the whole data to ``minimize`` instead of stepping batch by batch.
    whole_data: ClassVar[bool] = True

    lr: float = learning_rate(1.0)
    memory: int = attrs.field(default=10, validator=integer(low=1))
    gtol: float = attrs.field(default=1e-12, validator=number(low=0))
    ftol: float = attrs.field(default=0.0, validator=number(low=0))
    max_evals: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(integer(low=1))
    )

    def __attrs_post_init__(self) -> None:
        if self.weight_decay or self.clip_norm is not None or self.schedule is not None:
            raise ConfigError(
                "lbfgs takes no weight_decay, clip_norm or schedule: its line search sets "
                "each step; add L2 regularisation to the loss instead"
            )

    def update(self, value: Array, grad: Array, state: dict[str, Any], lr: Array) -> None:
        """Not a per-batch rule: ``Trainer.fit`` runs L-BFGS on the whole data instead."""
        raise ConfigError("lbfgs takes whole-data steps through Trainer.fit, not batch updates")

    def minimize(
        self,
        objective: Callable[[Array], tuple[float, Array]],
        start: Array,
        iterations: int,
        after_iteration: Callable[[Array, float, int], bool],
    ) -> None:
        """Run up to ``iterations`` iterations from ``start`` (a float64 vector).
        ``objective(θ)`` gives the loss and its gradient; ``after_iteration(θ, loss,
        evals)`` runs after each and returns True to stop."""
        from scipy.optimize import minimize  # here: only a run that uses it needs SciPy

        evals = 0

        def counted(theta: Array) -> tuple[float, Array]:
            nonlocal evals
            evals += 1
            return objective(theta)

        def callback(intermediate_result: Any) -> None:
            if after_iteration(intermediate_result.x, float(intermediate_result.fun), evals):
                raise StopIteration  # SciPy ends the minimisation there

        if iterations == 0:
            return
        options = {"maxiter": iterations, "maxcor": self.memory, "gtol": self.gtol}
        options |= {"ftol": self.ftol, "maxfun": self.max_evals or 10**9}
        minimize(counted, start, jac=True, method="L-BFGS-B", callback=callback, options=options)
