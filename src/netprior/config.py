"""One configuration style for every method: frozen dataclasses that validate themselves, and named presets.

A method's settings are a frozen dataclass deriving from :class:`Config`: ``validate()`` (called on construction,
so also by ``dataclasses.replace``) raises :class:`~netprior.errors.InputError` on a bad value, and
:meth:`Config.override` applies the non-None values of command-line options.  Each method registers its presets
with :func:`register` — a name → settings mapping in which every preset's ``source`` says where its numbers come
from — and the CLI offers them with :func:`presets_for` (``--preset``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, fields, replace
from typing import TypeVar

from .errors import InputError

C = TypeVar("C", bound="Config")
_PRESETS: dict[str, dict[str, "Config"]] = {}
#: The :mod:`netprior.settings` module that registers each method's presets (imported on demand).
SETTINGS = {"dip": "dip", "preimage": "preimage", "texture": "texture", "texture-train": "texture", "style": "style",
            "style-train": "style", "imagine": "imagine", "gan": "gan", "dcgan": "dcgan", "avatar": "avatar"}


@dataclass(frozen=True)
class Config:
    """Base of every method's settings; subclasses add fields (with a ``source`` string in presets)."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise InputError when a value is out of range (overridden by the methods)."""

    def override(self: C, **values) -> C:
        """A copy with the given fields replaced (None values are ignored: options the user did not give)."""
        names = {f.name for f in fields(self)}
        unknown = [k for k in values if k not in names]
        if unknown:
            raise TypeError(f"{type(self).__name__} has no setting(s) {', '.join(unknown)}")
        given = {k: v for k, v in values.items() if v is not None}
        return replace(self, **given) if given else self


def register(method: str, presets: dict[str, C]) -> dict[str, C]:
    """Record ``presets`` as the named presets of ``method`` (returned unchanged)."""
    _PRESETS[method] = presets
    return presets


def presets_for(method: str) -> dict[str, Config]:
    """The named presets of ``method`` (importing the method's settings module registers them)."""
    if method in SETTINGS:
        importlib.import_module(f"netprior.settings.{SETTINGS[method]}")
    if method not in _PRESETS:
        raise InputError(f"no presets for method {method!r}; methods with presets: {', '.join(sorted(SETTINGS))}")
    return _PRESETS[method]


def get_preset(method: str, name: str) -> Config:
    """The preset ``name`` of ``method``; an unknown name raises InputError listing the valid ones."""
    presets = presets_for(method)
    if name not in presets:
        raise InputError(f"unknown preset {name!r}; valid presets: {', '.join(presets)}")
    return presets[name]


def methods() -> list[str]:
    """Every method that has presets."""
    return sorted(SETTINGS)
