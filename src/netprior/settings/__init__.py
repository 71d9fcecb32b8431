"""Each method's settings: a frozen :class:`~netprior.config.Config` dataclass that validates itself, the names
it validates against, and the method's named presets, each with a ``source`` saying where its numbers come from.

One module per method, importable without the method's networks or backbones (the CLI builds its options and
``netprior presets`` lists them from here); the recipe in :mod:`netprior.recipes` turns settings into parts.
"""
