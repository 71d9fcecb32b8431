"""Weight files other programs wrote — GAN checkpoints (PGGAN, BigGAN, the DCGAN face package), classifier
``.pth`` files, anything a user passes with ``--weights`` — read without running code from the file.

``torch.save`` files are pickles, and unpickling calls whatever global the file names.  :func:`load_weights` reads
them through ``torch.load`` with an unpickler whose ``find_class`` resolves only the names in :data:`ALLOWED` — the
few globals that tensors, parameters and ordered dicts need (tensor storages are resolved by torch itself) — and
:data:`INERT`, classes that known checkpoints pickle for their own configuration (pytorch_GAN_zoo's ``BaseConfig``),
which become attribute bags whose code is never imported.  Any other global is refused *before* anything is called,
with one line that names the file and the global.  There are no module-prefix rules: ``torch.*`` is not trusted as a
whole, since torch has callables that import source code.
"""

from __future__ import annotations

import codecs
import io
import os
import pickle
import types
from collections import OrderedDict
from pathlib import Path

import torch
import torch._utils

from .errors import InputError, WeightsNotFoundError
from .io import check_readable

ALLOWED: dict[tuple[str, str], object] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch", "Size"): torch.Size,
    ("_codecs", "encode"): codecs.encode,  # how protocol-2 pickles store bytes
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    **{("torch", name): getattr(torch, name) for name in (
        "float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool")},
}
INERT = {("models.utils.config", "BaseConfig")}  # pytorch_GAN_zoo's checkpoint["config"]


class _Inert:
    """An object of a class that a checkpoint pickled but that is never imported: it only keeps its attributes."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.__dict__.update(state if isinstance(state, dict) else {"state": state})


class RefusedGlobal(pickle.UnpicklingError):
    """The file names a global outside the allow-list."""


class _AllowListUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in ALLOWED:
            return ALLOWED[(module, name)]
        if (module, name) in INERT:
            return type(name, (_Inert,), {"__module__": f"inert.{module}"})
        raise RefusedGlobal(f"{module}.{name}")


_allow_list_pickle = types.ModuleType("netprior_allow_list_pickle")
_allow_list_pickle.Unpickler = _AllowListUnpickler
_allow_list_pickle.load = lambda f, **kw: _AllowListUnpickler(f, **kw).load()
_allow_list_pickle.loads = lambda b, **kw: _AllowListUnpickler(io.BytesIO(b), **kw).load()
_allow_list_pickle.__name__ = "pickle"


def load_weights(path: str | os.PathLike, what: str):
    """Read a ``torch.save`` file on the CPU through the allow-list unpickler; every failure is one line."""
    path = Path(path)
    check_readable(path, f"{what} weights file", missing=WeightsNotFoundError)
    try:
        return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_allow_list_pickle)
    except RefusedGlobal as exc:
        raise InputError(f"{path}: refused: the file names the global {exc}, which is not on the allow-list of "
                         "what tensor weights need (see SECURITY.md)") from None
    except MemoryError:
        raise InputError(f"{path}: the {what} weights file asks for more memory than there is") from None
    except Exception as exc:  # zip, pickle, storage and EOF errors all mean "not a weights file"
        raise InputError(f"{path}: not a readable PyTorch weights file for {what} "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''})") from None
