"""Checkpoints and model files that cannot execute code: tensors in safetensors, everything else in JSON.

A state file is one safetensors file.  Its tensors are the tensors of a nested state (a dict of dicts, lists,
numbers, strings and tensors: a model's ``state_dict``, an optimizer's ``state_dict``, RNG states, histories); its
header metadata holds

    "netprior.kind"     what the file is ("solver-checkpoint", "generator-model", "training-checkpoint", …)
    "netprior.version"  the format version of that kind
    "netprior.tree"     the nested state as JSON, each tensor replaced by {"$tensor": name}

Reading parses a JSON header and raw tensor bytes (the safetensors library, no pickle), so a crafted file can at
worst be refused.  Files netprior wrote before this format (``torch.save`` pickles) are refused with an
"unsupported … version" message rather than unpickled.

JSON has no tuples, non-string keys or deques; they are written as {"$tuple": […]}, {"$dict": [[k, v], …]} and
{"$deque": […]} and come back as the same types, so an optimizer state (integer keys, ``betas`` tuples) round-trips
exactly.
"""

from __future__ import annotations

import json
import os
from collections import deque
from pathlib import Path
from typing import Any

import torch

from .errors import InputError
from .io import _atomic_write, check_readable

_MARKERS = ("$tensor", "$tuple", "$dict", "$deque")
_PICKLE_MAGIC = (b"PK\x03\x04", b"\x80\x02", b"\x80\x04", b"\x80\x05")  # torch.save zip / legacy pickle
_MAX_HEADER = 64 * 2**20


def _encode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, torch.Tensor):
        name = f"t{len(tensors)}"
        tensors[name] = value.detach().to("cpu", copy=True).contiguous()
        return {"$tensor": name}
    if isinstance(value, dict):
        if all(isinstance(k, str) and k not in _MARKERS for k in value):
            return {k: _encode(v, tensors) for k, v in value.items()}
        return {"$dict": [[_encode(k, tensors), _encode(v, tensors)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v, tensors) for v in value]}
    if isinstance(value, deque):
        return {"$deque": [_encode(v, tensors) for v in value]}
    if isinstance(value, list):
        return [_encode(v, tensors) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item") and getattr(value, "shape", None) == ():  # numpy scalars
        return value.item()
    raise TypeError(f"cannot store a {type(value).__name__} in a state file")


def _decode(value: Any, tensors) -> Any:
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (key, inner), = value.items()
        if key == "$tensor":
            return tensors(inner)
        if key == "$tuple":
            return tuple(_decode(v, tensors) for v in inner)
        if key == "$deque":
            return deque(_decode(v, tensors) for v in inner)
        if key == "$dict":
            return {_decode(k, tensors): _decode(v, tensors) for k, v in inner}
    return {k: _decode(v, tensors) for k, v in value.items()}


def save_state(path: str | os.PathLike, state: Any, *, kind: str, version: int = 1) -> Path:
    """Write ``state`` (nested dicts/lists/tuples of tensors and JSON scalars) as a state file, atomically."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    tree = _encode(state, tensors)
    meta = {"netprior.kind": kind, "netprior.version": str(int(version)), "netprior.tree": json.dumps(tree)}
    return _atomic_write(Path(path), lambda tmp: save_file(tensors, tmp, metadata=meta))


def read_kind(path: str | os.PathLike, what: str = "netprior file") -> tuple[str, int]:
    """The (kind, version) a state file declares, without reading its tensors; refuses anything else."""
    return _header(Path(path), what)[0:2]


def _header(path: Path, what: str) -> tuple[str, int, dict]:
    check_readable(path, what)
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(_PICKLE_MAGIC):
        raise InputError(f"{path}: unsupported {what} version: a pickle (torch.save) file, as netprior < 0.2 "
                         "wrote; pickles can run code and are not read — delete it and run again")
    if len(head) < 8 or int.from_bytes(head, "little") > min(_MAX_HEADER, path.stat().st_size - 8):
        raise InputError(f"{path}: not a {what} (no safetensors header)")
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:  # the Rust reader's errors: bad header, bad offsets, truncation
        raise InputError(f"{path}: not a readable {what} ({str(exc).splitlines()[0][:200]})") from None
    if "netprior.kind" not in meta:
        raise InputError(f"{path}: a safetensors file, but not a {what} written by netprior")
    try:
        version = int(meta.get("netprior.version", ""))
    except ValueError:
        raise InputError(f"{path}: unsupported {what} version {meta.get('netprior.version')!r}") from None
    return meta["netprior.kind"], version, meta


def load_state(path: str | os.PathLike, *, kind: str | tuple[str, ...], version: int = 1,
               what: str = "netprior file") -> Any:
    """Read a state file written by :func:`save_state`, refusing other kinds and versions with one line."""
    path = Path(path)
    kinds = (kind,) if isinstance(kind, str) else tuple(kind)
    found, found_version, meta = _header(path, what)
    if found not in kinds:
        raise InputError(f"{path}: this is a {found} file, a {' or '.join(kinds)} is needed here")
    if found_version != version:
        raise InputError(f"{path}: unsupported {what} version {found_version} (this netprior reads version "
                         f"{version}); delete it or write it again")
    from safetensors import safe_open

    try:
        tree = json.loads(meta.get("netprior.tree", "null"))
        with safe_open(str(path), framework="pt") as f:
            names = set(f.keys())

            def tensor(name):
                if name not in names:
                    raise InputError(f"{path}: damaged {what} (tensor {name!r} is missing)")
                return f.get_tensor(name)

            return _decode(tree, tensor)
    except InputError:
        raise
    except Exception as exc:  # malformed JSON tree, unreadable tensor bytes
        raise InputError(f"{path}: damaged {what} ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") \
            from None
