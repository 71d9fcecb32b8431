"""Each method's settings: a frozen :class:`~netprior.config.Config` dataclass that validates itself, the names
it validates against, and the method's named presets, each with a ``source`` saying where its numbers come from.

One module per method (``netprior presets`` lists them from here); the recipe in :mod:`netprior.recipes` turns
settings into parts.  A settings module imports only the names it validates against, but some of those live
beside the networks that use them (DIP input kinds, attention modules, texture-network learning rates, pyramid
levels, discriminator trunks), so importing those settings still loads torch.
"""
