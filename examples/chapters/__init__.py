"""One module per documentation chapter that has figures: ``make(out, epochs) -> [paths]``.

``out`` is the directory to write into (docs/images by default), ``epochs``
None for each run's own epochs or a number that cuts every run short (tests).
``python examples/docs_figures.py`` runs them all.
"""
