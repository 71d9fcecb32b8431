"""Option groups: a frozen dataclass whose fields are annotated with typer options is spliced into a command's
signature by :func:`options`, and the command receives the parsed values as one instance of it.

    @dataclass(frozen=True)
    class Sampling:
        count: Count = 1
        seed: Seed = 0

    @app.command("sample")
    @options(sampling=Sampling)
    def sample_cmd(model: Path, sampling: Sampling): ...   # netprior sample MODEL -n 4 --seed 3

Commands that share a group therefore share its flags — names, help and defaults — by construction, and
``batch`` (which reads a command's signature) sees the spliced flags like any others.
"""

from __future__ import annotations

import functools
import inspect
import typing
from dataclasses import fields
from typing import Callable


def options(**groups: type) -> Callable[[Callable], Callable]:
    """Decorator: for each ``name=GroupClass``, replace the command's parameter ``name`` by the group's fields (as
    keyword-only options, in field order) and call the command with ``name=GroupClass(**those values)``; a field
    not passed (a caller that leaves flags out, as ``batch`` does with ``--checkpoint``) takes its default."""

    def decorate(fn: Callable) -> Callable:
        sig = inspect.signature(fn, eval_str=True)
        own = [p for p in sig.parameters.values() if p.name not in groups]
        spliced, names = [], {}
        for name, cls in groups.items():
            hints = typing.get_type_hints(cls, include_extras=True)
            names[name] = {f.name: f.default for f in fields(cls)}
            spliced += [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default,
                                          annotation=hints[f.name]) for f in fields(cls)]
        clash = {p.name for p in own} & {p.name for p in spliced}
        if clash:
            raise TypeError(f"{fn.__name__}: option group fields {sorted(clash)} clash with its own parameters")

        @functools.wraps(fn)
        def command(*args, **kw):
            for name, cls in groups.items():
                kw[name] = cls(**{k: kw.pop(k, default) for k, default in names[name].items()})
            return fn(*args, **kw)

        params = own + spliced
        command.__signature__ = sig.replace(parameters=params)
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return decorate
