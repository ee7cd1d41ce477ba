"""The live lab: ``minifw lab`` serves a page where every setting of a run is a control and
training streams to the page as it happens (``server``, ``session``, ``controls``)."""
