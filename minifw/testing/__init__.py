"""minifw.testing: a check kit for components, as scikit-learn's ``check_estimator`` is for
estimators, and the hypothesis strategies it draws from.

One line checks a component of your own against its family's contract::

    from minifw.testing import check_activation

    def test_my_activation():
        check_activation(MyActivation())

``check_component`` picks the check by type. Each check raises AssertionError
with the smallest counterexample hypothesis found. ``strategies`` holds the
inputs, for property tests of your own, and ``central_difference`` the
numerical derivative to hold an activation's ``derivative`` against.

hypothesis is needed here (and nowhere else in minifw): ``pip install hypothesis``.
"""

from __future__ import annotations

try:
    import hypothesis  # noqa: F401 - refused here, with the fix, rather than deep inside
except ImportError:  # pragma: no cover - the test environment has it
    raise ImportError(
        "minifw.testing needs hypothesis, the property-based testing library: "
        "pip install hypothesis"
    ) from None

from . import strategies
from .checks import (
    check_activation,
    check_callback,
    check_component,
    check_data_source,
    check_initializer,
    check_layer,
    check_loss,
    check_metric,
    check_optimizer,
    check_schedule,
    check_target,
)
from .search import central_difference

__all__ = [
    "central_difference",
    "check_activation",
    "check_callback",
    "check_component",
    "check_data_source",
    "check_initializer",
    "check_layer",
    "check_loss",
    "check_metric",
    "check_optimizer",
    "check_schedule",
    "check_target",
    "strategies",
]
