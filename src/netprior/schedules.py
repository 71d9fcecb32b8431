"""Learning-rate schedules: factors ``f(done)`` of the base rate after ``done`` steps, for
:func:`netprior.solve.solve`'s ``lr_schedule``."""

from __future__ import annotations

import math


def cosine_per_stage(lengths: list[int], warmup: int, cosine: bool):
    """lr factor after ``done`` steps of consecutive stages of ``lengths`` steps (DeepInversion's lr_cosine_policy,
    restarted in each stage): (t + 1)/w over a stage's first w = ``warmup`` steps, then ½(1 + cos(π·(t − w)/(T − w)))
    with t, T the step and length of the stage (or 1 when not ``cosine``)."""

    def factor(done: int) -> float:
        t = done
        for length in lengths:
            if t < length:
                break
            t -= length
        w = min(warmup, length - 1)
        if t < w:
            return (t + 1) / w
        return 0.5 * (1 + math.cos(math.pi * (t - w) / (length - w))) if cosine else 1.0

    return factor
