"""What a run minimises: an :class:`Objective` made of named terms, each weighted.

    L(x, t) = Σ_k w_k · term_k(x)        (terms that are inactive at step t are skipped)

Every term is a small module with one equation (the equations themselves are the pure functions of
:mod:`netprior.losses`); the objective evaluates them in order, sums them, and returns the total with the
*unweighted* value of every term under its name (plus what a term reports beside its value, e.g. the critic's
Wasserstein estimate), which :func:`netprior.solve.solve` logs the same way for every method.  A term named
``"data"`` is what the stopping rules watch.

Terms that read a frozen network share an :class:`Encoder`: it runs the network once per evaluation for every tap
any of its terms asked for (pystiche's multi-layer encoder), optionally on a transformed image (jitter, a masked
region, an operator's output) and capturing batch-norm inputs.

Per-sample terms return one value per sample (B,): their weighted sum is summed over the batch for the optimiser,
so B independent targets are B independent problems, and :meth:`Objective.per_sample` gives each sample's total
(GAN inversion keeps the best of its restarts by it).

Terms: :class:`~netprior.terms.DataTerm` ||A(x) − y||², :class:`Sure`, :class:`FeatureMatch` (mse / l1 / relative),
:class:`GramMatch`, :class:`DistMatch`, :class:`BNStats`, :class:`ClassTarget`, :class:`TV`, :class:`ImageNorm`,
:class:`PixelRange`, :class:`Diversity`, :class:`GradCamPosition`, :class:`Anchor`, :class:`ParamPenalty`,
:class:`Critic` (a term with its own optimiser, updated at every evaluation) — in :mod:`netprior.terms`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor, nn

Features = dict[str, Tensor]


class Encoder(nn.Module):
    """A frozen network ``net(x, layers) -> {layer: features}`` shared by terms: run once per evaluation (results
    cached in the evaluation's ``cache``) on ``transform(x)``, for the union of the taps requested by its terms;
    ``capture_bn`` also records the inputs of its batch-norm layers (``net`` must then be a Backbone).  The network
    is not a submodule: the objective's state (checkpoints) holds no frozen weights."""

    def __init__(self, net: Callable[[Tensor, list[str]], Features], *, transform: nn.Module | None = None,
                 backbone=None):
        super().__init__()
        object.__setattr__(self, "net", net)
        object.__setattr__(self, "backbone", backbone)
        self.transform = transform
        self.layers: list[str] = []
        self.capture_bn = False

    def request(self, layers: Sequence[str]) -> None:
        self.layers += [layer for layer in layers if layer not in self.layers]

    def forward(self, x: Tensor, cache: dict) -> tuple[Features, list | None]:
        key = id(self)
        if key not in cache:
            seen = self.transform(x) if self.transform is not None else x
            if self.capture_bn:
                with self.backbone.capture_bn_inputs() as captured:
                    feats = self.net(seen, list(self.layers))
            else:
                feats, captured = self.net(seen, list(self.layers)), None
            cache[key] = (feats, captured)
        return cache[key]

    def describe(self) -> dict:
        name = getattr(self.backbone, "name", None) or getattr(self.net, "__qualname__", type(self.net).__name__)
        return {"network": name, "layers": list(self.layers),
                "transform": None if self.transform is None else type(self.transform).__name__}


def jittered(x: Tensor, pixels: int, generator: torch.Generator | None = None) -> Tensor:
    """DeepInversion's augmentation: x rolled by a random offset in [−pixels, pixels]² and mirrored left-right with
    probability ½ (drawn from ``generator``); x itself when ``pixels`` is 0."""
    if pixels <= 0:
        return x
    device = generator.device if generator is not None else "cpu"
    dy, dx = (int(v) for v in torch.randint(-pixels, pixels + 1, (2,), generator=generator, device=device))
    x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
    return x.flip(3) if torch.rand((), generator=generator, device=device) < 0.5 else x


class Jitter(nn.Module):
    """An encoder's view: :func:`jittered` with the run's generator ``rng``."""

    def __init__(self, pixels: int):
        super().__init__()
        self.pixels = int(pixels)
        self.rng: torch.Generator | None = None

    def forward(self, x: Tensor) -> Tensor:
        return jittered(x, self.pixels, self.rng)


class FillOutside(nn.Module):
    """An encoder's view: region ⊙ x + (1 − region) ⊙ mean colour (IMAGINE eq. 13's masked image; zero in the
    classifier's normalised space)."""

    def __init__(self, mean: Tensor, region: Tensor):
        super().__init__()
        object.__setattr__(self, "mean", mean.view(1, -1, 1, 1))
        object.__setattr__(self, "region", region)

    def forward(self, x: Tensor) -> Tensor:
        return self.region * x + (1 - self.region) * self.mean


class Term(nn.Module):
    """One equation of the objective: ``forward(x, cache)`` returns its value (a scalar, or (B,) per sample), or
    (value, {name: extra value to log}).  ``active(step)`` says whether it counts at ``step`` (1-based)."""

    def active(self, step: int | None) -> bool:
        return True

    def describe(self) -> dict:
        return {"term": type(self).__name__}


class Objective(nn.Module):
    """Σ_k w_k · term_k(x) over the named ``terms`` ({name: (weight, term)}, evaluated in this order; a zero
    weight drops the term).  Calling it returns (total, {name: unweighted value, …}), the total summed over the
    batch when the terms are per sample."""

    def __init__(self, terms: Mapping[str, tuple[float, Term]]):
        super().__init__()
        kept = {name: (float(w), t) for name, (w, t) in terms.items() if w != 0}
        if not kept:
            raise ValueError("an objective needs at least one term with a non-zero weight")
        self.terms = nn.ModuleDict({name: t for name, (_, t) in kept.items()})
        self.weights = {name: w for name, (w, _) in kept.items()}

    def evaluate(self, x: Tensor, step: int | None = None, only: Sequence[str] | None = None
                 ) -> tuple[Tensor, dict[str, Tensor]]:
        """(Σ w_k·term_k(x) — per sample when the terms are —, {name: value}) over the active terms (or ``only``)."""
        cache: dict = {}
        total: Tensor | None = None
        logged: dict[str, Tensor] = {}
        for name, term in self.terms.items():
            if (only is not None and name not in only) or not term.active(step):
                continue
            value = term(x, cache)
            if isinstance(value, tuple):
                value, extra = value
                logged.update(extra)
            logged[name] = value
            weighted = value if self.weights[name] == 1.0 else self.weights[name] * value
            total = weighted if total is None else total + weighted
        return total, logged

    def forward(self, x: Tensor, step: int | None = None) -> tuple[Tensor, dict[str, float]]:
        total, logged = self.evaluate(x, step)
        return total.sum(), {k: float(v.detach().sum()) for k, v in logged.items()}

    def per_sample(self, x: Tensor, only: Sequence[str] | None = None) -> Tensor:
        """Each sample's weighted total (no gradient) over the terms ``only`` (default: all, at the last step)."""
        with torch.no_grad():
            return self.evaluate(x, None, only)[0]

    def describe(self) -> dict:
        return {"objective": {name: {"weight": self.weights[name], **t.describe()} for name, t in self.terms.items()}}
