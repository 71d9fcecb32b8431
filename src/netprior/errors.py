"""Exceptions that carry a message meant for the user (the CLI prints them without a traceback)."""


class NetpriorError(Exception):
    """Base class of every error caused by the user's input or environment, not by a bug."""


class InputError(NetpriorError):
    """A file, mask, size, layer name or option that cannot be used as given."""


class WeightsNotFoundError(NetpriorError):
    """Pretrained weights are not available offline; the message says which file and where to put it."""


class ResourceError(NetpriorError):
    """A run would need more memory than allowed (e.g. an image above ``--max-side``)."""
