"""The framework itself: what the blog needs and its kin.

Layers, activations, initializers, losses, optimizers and schedules; the network,
the trainer and its callbacks; data sources and targets; the registry of names.
Nothing here imports ``run``, ``files``, ``lab`` or ``cli``: this folder can be
read, and used, on its own.
"""
