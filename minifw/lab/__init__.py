"""The lab built around the core: sweeps and stacked training, results, figures and films."""
