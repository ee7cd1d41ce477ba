"""Layers: the pieces a network is stacked from.

A layer owns its arithmetic. ``forward`` computes its output and keeps what
``backward`` will need; ``backward`` takes dL/d(output), writes the gradient
of every parameter (overwriting, never accumulating) and returns dL/d(input).
The arithmetic uses ``@`` and negative axes, so a leading axis (several models
at once) passes through the same code.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from typing import ClassVar

import attrs
import numpy as np

from .activations import Activation, Identity
from .contract import Component, refusal
from .errors import ConfigError, DataError
from .initializers import HeUniform, Initializer, Zeros
from .validation import (
    boolean,
    check_finite,
    check_memory,
    count_text,
    integer,
    is_a,
    memory_needed,
    real_array,
)

Array = np.ndarray


@attrs.define(eq=False)
class Parameter:
    """A trainable array and the gradient of the loss with respect to it.

    Both arrays are held by reference: a layer updates them in place, so an
    optimizer that keeps a ``Parameter`` always sees the current values.
    """

    name: str
    value: Array
    grad: Array = attrs.field()

    @grad.default
    def _zero_grad(self) -> Array:
        return np.zeros_like(self.value)


class Layer(Component, ABC):
    """Base of every layer: y = layer(x) for x of shape (samples, n_in).

    What a subclass must provide: ``n_in`` and ``n_out`` (whole numbers >= 1, set by
    the constructor), ``initialize(rng)`` (every random number from ``rng``),
    ``forward(x)`` (for x of shape (..., samples, n_in), so that a leading axis of
    several models passes through; it caches what backward needs), ``backward(grad,
    *, input_grad=True)`` (overwrites each parameter's grad, never adds to it; returns
    dL/dx, or None when ``input_grad`` is False) and ``parameters()``. A layer reaches
    its arrays through its ``Parameter`` objects only: a ``Network`` replaces them with
    views into one packed vector. ``backward`` without ``input_grad`` is refused when
    the class is defined, a plain layer without ``n_in`` or ``n_out`` when it is
    built. Only ``Dense`` layers are saved to files. ``minifw.testing.check_layer``
    tests the rest: gradients against central differences, stacks and dtypes.

    How to subclass (a layer that scales its input by one trainable number)::

        class Scale(Layer):
            '''y = a x,  dL/da = sum(x * g),  dL/dx = a g.'''

            def __init__(self, n):
                self.n_in = self.n_out = n
                self.a = Parameter("a", np.ones(1))

            def initialize(self, rng):
                self.a.value[...] = 1.0

            def forward(self, x):
                self._x = x
                return self.a.value * x

            def backward(self, grad, *, input_grad=True):
                self.a.grad[...] = np.sum(self._x * grad)
                return self.a.value * grad if input_grad else None

            def parameters(self):
                return [self.a]
    """

    n_in: int
    n_out: int
    _family: ClassVar[str] = "layer"

    @classmethod
    def _check_class(cls) -> None:
        parameters = inspect.signature(cls.backward).parameters
        if "input_grad" not in parameters and not any(
            p.kind == p.VAR_KEYWORD for p in parameters.values()
        ):
            raise ConfigError(
                refusal(
                    cls,
                    "must take backward(grad, *, input_grad=True): the network's first layer is "
                    "asked for no input gradient",
                )
            )

    def _check_built(self) -> None:
        for name in ("n_in", "n_out"):
            value = getattr(self, name, None)
            if not is_a(value, int) or value < 1:
                raise ConfigError(
                    refusal(
                        type(self),
                        f"must set {name}, a whole number >= 1, in __init__; got {value!r}",
                    )
                )

    @abstractmethod
    def initialize(self, rng: np.random.Generator) -> None:
        """Draw fresh parameter values, every random number from ``rng``."""

    @abstractmethod
    def forward(self, x: Array) -> Array:
        """The output for ``x`` of shape (..., samples, n_in); caches what backward needs."""

    @abstractmethod
    def backward(self, grad: Array, *, input_grad: bool = True) -> Array | None:
        """Given dL/d(output), overwrite each parameter's ``grad``; return dL/d(input).

        ``input_grad=False`` (the first layer) skips dL/d(input) and returns None.
        """

    @abstractmethod
    def parameters(self) -> list[Parameter]:
        """The trainable parameters, by reference."""


@attrs.define(eq=False, repr=False)
class Dense(Layer):
    """A fully connected layer: y = f(x W + b).

    ``x`` is (samples, n_in), ``W`` is (n_in, n_out), ``b`` is (n_out,) and ``f``
    the activation. Backpropagation, with g = dL/dy and d = g * f'(z)::

        dL/dW = xᵀ d      dL/db = Σ_samples d      dL/dx = d Wᵀ

    ``bias_unit=True`` treats the bias as the weight of one more input that is
    always 1, as the blog does: W and b come from one (n_in + 1, n_out) draw
    whose first row is b, so the initializer's fan-in counts the bias unit.
    Otherwise b starts from ``bias_initializer`` (zeros by default).

    Weights start at zero until ``initialize(rng)`` draws them; a ``Network``
    does that for each of its layers.

    ``copies=N`` makes a stack of N such layers that train side by side as one
    computation: W is (N, n_in, n_out), b is (N, 1, n_out), x is (samples,
    n_in) shared by all or (N, samples, n_in), and y is (N, samples, n_out).
    The formulas above hold unchanged for each copy, because ``@`` and ``.mT``
    act on the last two axes and the sums run over the samples axis, -2.
    ``minifw.stack`` builds such a network from single ones.
    """

    n_in: int = attrs.field(validator=integer(low=1))
    n_out: int = attrs.field(validator=integer(low=1))
    activation: Activation = attrs.field(
        default=Identity(), converter=lambda spec: Activation.resolve(spec)
    )
    use_bias: bool = attrs.field(default=True, kw_only=True, alias="bias", validator=boolean)
    initializer: Initializer = attrs.field(
        default=HeUniform(), kw_only=True, converter=lambda spec: Initializer.resolve(spec)
    )
    bias_initializer: Initializer = attrs.field(
        default=Zeros(), kw_only=True, converter=lambda spec: Initializer.resolve(spec)
    )
    bias_unit: bool = attrs.field(default=False, kw_only=True, validator=boolean)
    copies: int | None = attrs.field(
        default=None, kw_only=True, validator=attrs.validators.optional(integer(low=1))
    )
    _w: Parameter = attrs.field(init=False, repr=False)
    _b: Parameter | None = attrs.field(init=False, repr=False)
    # [x, z, y] of the last forward. A list filled in place: attrs validates attribute
    # assignment through a Python-level __setattr__, too slow to pay on every batch.
    _cache: list[Array | None] = attrs.field(
        factory=lambda: [None, None, None], init=False, repr=False
    )

    def __repr__(self) -> str:
        # By hand, because the flag is stored as use_bias (``.bias`` is the array) but
        # written ``bias=``: the repr should read back as the call that made the layer.
        args = [repr(self.n_in), repr(self.n_out), repr(self.activation)]
        args += [f"bias={self.use_bias}", f"initializer={self.initializer!r}"]
        if self.bias_initializer != Zeros():
            args.append(f"bias_initializer={self.bias_initializer!r}")
        if self.bias_unit:
            args.append("bias_unit=True")
        if self.copies is not None:
            args.append(f"copies={self.copies}")
        return f"Dense({', '.join(args)})"

    def __attrs_post_init__(self) -> None:
        if self.bias_unit and not self.use_bias:
            raise ConfigError("Dense.bias_unit=True needs bias=True: the bias unit is the bias")
        # Refused before numpy allocates (or fails with MemoryError, or tries for minutes).
        stacked = "" if self.copies is None else f" stacked {count_text(self.copies)} times"
        check_memory(
            memory_needed((self.n_in, self.n_out), copies=self.copies or 1),
            f"training a Dense layer of {count_text(self.n_in)} x {count_text(self.n_out)} "
            f"weights{stacked}",
            "use a smaller layer",
        )
        stack = () if self.copies is None else (self.copies,)
        self._w = Parameter("weights", np.zeros((*stack, self.n_in, self.n_out)))
        # A stack's biases keep their samples axis, (N, 1, n_out), to broadcast over samples.
        bias_shape = (self.n_out,) if self.copies is None else (self.copies, 1, self.n_out)
        self._b = Parameter("bias", np.zeros(bias_shape)) if self.use_bias else None

    # The arrays themselves, for reading and assigning; assignment copies into the
    # existing array so that parameters() and any optimizer state stay attached.
    @property
    def weights(self) -> Array:
        """W, shape (n_in, n_out)."""
        return self._w.value

    @weights.setter
    def weights(self, value: Array) -> None:
        self._assign(self._w, value)

    @property
    def bias(self) -> Array | None:
        """b, shape (n_out,), or None for a layer made with ``bias=False``."""
        return None if self._b is None else self._b.value

    @bias.setter
    def bias(self, value: Array) -> None:
        self._assign(self._b, value)

    @property
    def pre_activation(self) -> Array | None:
        """z = x W + b from the last forward (before the activation), or None before any."""
        return self._cache[1]

    def remember(self, x: Array, z: Array, y: Array) -> None:
        """Hold x, z and y = f(z) as the last forward's, which ``backward`` and
        ``pre_activation`` read: for the compiled engine, whose kernels run the forward."""
        self._cache[:] = (x, z, y)

    def _assign(self, parameter: Parameter | None, value: Array) -> None:
        if parameter is None:
            raise ConfigError("this Dense layer has no bias (bias=False); it cannot be assigned")
        name = f"Dense.{parameter.name}"
        array = real_array(name, value).astype(parameter.value.dtype)
        if array.shape != parameter.value.shape:
            raise DataError(
                f"{name} must have shape {parameter.value.shape}; got shape {array.shape}"
            )
        check_finite(name, array)
        parameter.value[...] = array

    def initialize(self, rng: np.random.Generator) -> None:
        # A stack draws its copies one after another from ``rng``.
        weights = [self._w.value] if self.copies is None else list(self._w.value)
        biases = [None] * len(weights) if self._b is None else self._b.value.reshape(-1, self.n_out)
        for w, b in zip(weights, biases, strict=True):
            if self.bias_unit:
                drawn = self.initializer((self.n_in + 1, self.n_out), rng)
                w[...], b[...] = drawn[1:], drawn[0]  # type: ignore[index]
                continue
            w[...] = self.initializer((self.n_in, self.n_out), rng)
            if b is not None:
                b[...] = self.bias_initializer((self.n_out,), rng)

    def forward(self, x: Array) -> Array:
        z = x @ self._w.value
        if self._b is not None:
            z += self._b.value
        y = self.activation.forward(z)
        self._cache[:] = (x, z, y)
        return y

    def backward(self, grad: Array, *, input_grad: bool = True) -> Array | None:
        x, z, y = self._cache
        if x is None:
            raise RuntimeError(
                "Dense.backward called before forward: there is nothing to differentiate"
            )
        delta = self.activation.derivative(z, y)
        if delta is z or delta is y:  # the activation handed back an array the cache holds
            delta = grad * delta
        else:  # its own new array: multiplied in place, one array fewer per layer and batch
            delta *= grad
        np.matmul(x.mT, delta, out=self._w.grad)
        if self._b is not None:
            np.add.reduce(delta, axis=-2, out=self._b.grad, keepdims=self.copies is not None)
        return delta @ self._w.value.mT if input_grad else None

    def parameters(self) -> list[Parameter]:
        return [self._w] if self._b is None else [self._w, self._b]
