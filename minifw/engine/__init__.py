"""The compiled engine: the training loop of built-in parts, in numba kernels.

The numpy code in ``minifw.core`` is the reference: what the docs teach, what every
component's contract is written against. This package runs the same arithmetic,
operation for operation, as compiled loops over whole blocks of epochs, for networks
made of parts it has kernels for (``support``), and keeps every callback working
(``loop``). ``Trainer(engine="auto" | "numpy" | "compiled")`` chooses; importing
minifw, or this package, does not import numba: only a compiled fit does.
"""
