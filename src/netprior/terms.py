"""The terms of an :class:`~netprior.objective.Objective`: one equation each (from :mod:`netprior.losses`), named
by the recipe that chooses them.  Terms that read a frozen network take an :class:`~netprior.objective.Encoder`."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor, nn

from . import losses
from .errors import InputError
from .objective import Encoder, Features, Term

# ------------------------------------------------------------------------------------------------ data terms


class DataTerm(Term):
    """||A(x) − y||²/n (eqs. 7.2–7.6): the mean squared error through the operator A; ``per_sample`` gives one mean
    per sample (B,)."""

    def __init__(self, operator: nn.Module, y: Tensor, *, per_sample: bool = False):
        super().__init__()
        self.op, self.per_sample = operator, per_sample
        object.__setattr__(self, "y", y)

    def forward(self, x, cache):
        ax = self.op(x)
        if self.per_sample:
            if ax.shape != self.y.shape:
                raise InputError(f"the generator's degraded output {tuple(ax.shape[1:])} does not match the "
                                 f"observation {tuple(self.y.shape[1:])}")
            return (ax - self.y).pow(2).flatten(1).mean(1)
        return torch.mean((ax - self.y) ** 2)

    def describe(self):
        return {"term": "DataTerm", **self.op.describe()}


class Sure(Term):
    """Stein's unbiased risk estimate of the error to the clean image (:mod:`netprior.sure`) for a
    :class:`~netprior.parametrize.DeepPrior` whose network maps y to x, over the uncensored values of y (those
    strictly inside (0, 1); :mod:`netprior.sure`); the divergence probe is drawn from ``rng``.
    Logs the fit ||x − y||²/n and the divergence per value beside it."""

    def __init__(self, prior: nn.Module, y: Tensor, sigma: float, eps: float = 1e-3):
        from .sure import uncensored

        super().__init__()
        object.__setattr__(self, "prior", prior)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "uncensored", uncensored(y))  # fixed by y: built once, not every step
        self.sigma, self.eps = float(sigma), float(eps)
        self.rng: torch.Generator | None = None

    def forward(self, x, cache):
        from .sure import mc_divergence, sure

        u = self.uncensored
        div = mc_divergence(self.prior.net, self.prior.last_input, x, self.eps, generator=self.rng, mask=u)
        return sure(self.y, x, self.sigma, div, u), {"fit": torch.mean((x - self.y) ** 2),
                                                     "divergence": div / self.y.numel()}

    def describe(self):
        return {"term": "Sure", "sigma255": round(self.sigma * 255, 3), "eps": self.eps}


# ------------------------------------------------------------------------------------------- feature terms

DISTANCES: dict[str, Callable[..., Tensor]] = {"mse": losses.feature_mse, "l1": losses.perceptual_l1,
                                               "relative": losses.relative_feature_error_sq}


class FeatureMatch(Term):
    """d(Φ(x), Φ(x0)) over the target layers with ``distance`` mse (Σ w_l ||·||²/N_l), l1 or relative
    (Σ ||·||²/||Φ_l(x0)||²); ``targets`` is {layer: features} or a function returning it (e.g. the contents of
    the current batch); ``per_sample`` compares sample i with target i (B,)."""

    def __init__(self, encoder: Encoder, targets: Features | Callable[[], Features], *, distance: str = "mse",
                 weights: Mapping[str, float] | None = None, per_sample: bool = False):
        super().__init__()
        if distance not in DISTANCES:
            raise InputError(f"feature distance must be one of {', '.join(DISTANCES)}")
        self.encoder, self.distance, self.layer_weights, self.per_sample = encoder, distance, weights, per_sample
        object.__setattr__(self, "_targets", targets)
        encoder.request(list(targets() if callable(targets) else targets))

    def forward(self, x, cache):
        feats = self.encoder(x, cache)[0]
        targets = self._targets() if callable(self._targets) else self._targets
        feats = {k: feats[k] for k in targets}
        dist = DISTANCES[self.distance]
        if not self.per_sample:
            return dist(feats, targets, self.layer_weights)
        return torch.stack([dist({k: v[i:i + 1] for k, v in feats.items()},
                                 {k: v[i:i + 1] for k, v in targets.items()}, self.layer_weights)
                            for i in range(next(iter(feats.values())).shape[0])])

    def describe(self):
        return {"term": "FeatureMatch", "distance": self.distance, **self.encoder.describe()}


class GramMatch(Term):
    """Texture loss L_T (Gatys et al. 2015, eq. 2.5): the descriptor's weighted distance to the exemplar's
    statistics ``targets`` — Gram matrices, or what the descriptor's ``statistic`` matches
    (:meth:`netprior.texture_descriptor.Descriptor.texture_loss`).  The step number the objective evaluates at
    (``active``) is kept for the statistics that change from step to step (the sliced Wasserstein directions)."""

    def __init__(self, encoder: Encoder, descriptor, targets: Features):
        super().__init__()
        self.encoder = encoder
        object.__setattr__(self, "descriptor", descriptor)
        object.__setattr__(self, "targets", targets)
        self.step: int | None = None
        encoder.request(descriptor.texture_layers)

    def active(self, step):
        self.step = step
        return True

    def forward(self, x, cache):
        return self.descriptor.texture_loss(x, self.targets, feats=self.encoder(x, cache)[0], step=self.step)

    def describe(self):
        return {"term": "GramMatch", **self.encoder.describe()}


class DistMatch(Term):
    """Feature distribution matching R_dm (IMAGINE eq. 5, :func:`netprior.losses.distribution_matching`)."""

    def __init__(self, encoder: Encoder, targets: Features):
        super().__init__()
        self.encoder = encoder
        object.__setattr__(self, "targets", targets)
        encoder.request(sorted(targets))

    def forward(self, x, cache):
        return losses.distribution_matching(self.encoder(x, cache)[0], self.targets)

    def describe(self):
        return {"term": "DistMatch", **self.encoder.describe()}


class BNStats(Term):
    """DeepInversion's batch-norm statistics prior (:func:`netprior.losses.bn_statistics_prior`) of the encoder's
    forward pass, the first BN layer's term weighted by ``first_weight`` (its code's first_bn_multiplier, 10)."""

    def __init__(self, encoder: Encoder, first_weight: float = 1.0):
        super().__init__()
        self.encoder, self.first_weight = encoder, float(first_weight)
        encoder.capture_bn = True

    def forward(self, x, cache):
        return losses.bn_statistics_prior(self.encoder(x, cache)[1], first_weight=self.first_weight)

    def describe(self):
        return {"term": "BNStats", "first_weight": self.first_weight}


class ClassTarget(Term):
    """Cross-entropy of the encoder's logits towards class ``cls`` (IMAGINE's CE(f(x̂), y*))."""

    def __init__(self, encoder: Encoder, cls: int):
        super().__init__()
        self.encoder, self.cls = encoder, int(cls)
        encoder.request(["logits"])

    def forward(self, x, cache):
        return losses.class_cross_entropy(self.encoder(x, cache)[0]["logits"], self.cls)

    def describe(self):
        return {"term": "ClassTarget", "class": self.cls}


class GradCamPosition(Term):
    """IMAGINE's location control (eq. 10): ||Grad-CAM(x̂, y*) − a0||₂ with a0 a blob (1, H, W)."""

    def __init__(self, backbone, cls: int, layer: str, blob: Tensor):
        super().__init__()
        object.__setattr__(self, "backbone", backbone)
        object.__setattr__(self, "blob", blob)
        self.cls, self.layer = int(cls), layer

    def forward(self, x, cache):
        from .attribution import gradcam

        cam = gradcam(self.backbone, x, self.cls, self.layer, create_graph=True)
        return (cam - self.blob).flatten(1).norm(dim=1).mean()

    def describe(self):
        return {"term": "GradCamPosition", "layer": self.layer}


# --------------------------------------------------------------------------------------------- image priors


class TV(Term):
    """Total variation of ``transform(x)``: ``form="power"`` is Mahendran & Vedaldi's R_V^β
    (:func:`netprior.losses.total_variation`, on x / ``scale``), ``form="norm"`` DeepInversion's sum of the L2 norms
    of the four neighbour differences (:func:`netprior.losses.total_variation_norm`)."""

    def __init__(self, form: str = "power", *, beta: float = 2.0, scale: float | None = None,
                 transform: Callable[[Tensor], Tensor] | None = None):
        super().__init__()
        if form not in ("power", "norm"):
            raise ValueError(f"TV form must be 'power' or 'norm', got {form!r}")
        self.form, self.beta, self.scale, self.transform = form, float(beta), scale, transform

    def forward(self, x, cache):
        if self.transform is not None:
            x = self.transform(x)
        if self.form == "norm":
            return losses.total_variation_norm(x)
        return losses.total_variation(x / self.scale if self.scale else x, beta=self.beta)

    def describe(self):
        return {"term": "TV", "form": self.form, "beta": self.beta, "scale": self.scale}


class ImageNorm(Term):
    """||transform(x)||₂ per sample, batch mean (DeepInversion's β·||x̂|| on the normalised image)."""

    def __init__(self, transform: Callable[[Tensor], Tensor] | None = None):
        super().__init__()
        self.transform = transform

    def forward(self, x, cache):
        return losses.l2_norm(self.transform(x) if self.transform is not None else x)


class PixelRange(Term):
    """Mahendran & Vedaldi's α-norm bound: mean over pixels of (||x(u) − μ||₂ / B₊)^α (RGB vector norm)."""

    def __init__(self, center: Tensor, bound: float, alpha: float):
        super().__init__()
        object.__setattr__(self, "center", center.view(1, -1, 1, 1))
        self.bound, self.alpha = float(bound), float(alpha)

    def forward(self, x, cache):
        return losses.alpha_norm(torch.linalg.vector_norm(x - self.center, dim=1) / self.bound, self.alpha)

    def describe(self):
        return {"term": "PixelRange", "bound": self.bound, "alpha": self.alpha}


class Diversity(Term):
    """The Julesz diversity term (:func:`netprior.losses.julesz_diversity`) of a batch of samples."""

    def forward(self, x, cache):
        return losses.julesz_diversity(x)


class ColourMatch(Term):
    """Colour-distribution term: for each sample, SW₂² between the distribution of its pixel colours and that of
    ``reference`` (1, 3, H, W) (:func:`netprior.losses.sliced_wasserstein` along ``directions`` fixed random
    directions in RGB), divided by the reference's total colour variance; batch mean.  A histogram loss (Risser et
    al. 2017) on the pixels: it penalises colours and grey levels the exemplar does not have, such as the black and
    white blotches the Julesz diversity term buys its pixel distance with (thesis Fig. 3.7)."""

    def __init__(self, reference: Tensor, directions: int = 16, seed: int = 0):
        super().__init__()
        pixels = reference.detach()[0].flatten(1).T  # (M, 3)
        self.register_buffer("pixels", pixels.clone())
        self.register_buffer("directions", losses.random_directions(directions, 3, seed).to(pixels))
        self.scale = 1.0 / max(float(pixels.var(0).sum()), 1e-12)

    def forward(self, x, cache):
        return self.scale * losses.sliced_wasserstein(x.flatten(2).transpose(1, 2), self.pixels, self.directions).mean()

    def describe(self):
        return {"term": "ColourMatch", "directions": len(self.directions)}


class Anchor(Term):
    """Σ over the ``keep`` region of |x_q − x̂| per sample, batch mean (IMAGINE eq. 13, first part)."""

    def __init__(self, image: Tensor, keep: Tensor):
        super().__init__()
        object.__setattr__(self, "image", image)
        object.__setattr__(self, "keep", keep)

    def forward(self, x, cache):
        return (self.keep * (self.image - x)).abs().flatten(1).sum(dim=1).mean()


class ParamPenalty(Term):
    """A penalty on the parametrization's own variables, per sample: :meth:`latent_prior` −log P_z(z) of a latent
    code (½||z||² for N(0, I)), :meth:`offset_l1` ||δ||₁ of a dense offset (Pividori's sparsity)."""

    def __init__(self, penalty: Callable[[], Tensor], what: str):
        super().__init__()
        self.penalty, self.what = penalty, what

    @classmethod
    def latent_prior(cls, param: nn.Module) -> "ParamPenalty":
        return cls(param.penalty, "-log P(z)")

    @classmethod
    def offset_l1(cls, param: nn.Module) -> "ParamPenalty":
        return cls(param.sparsity, "||delta||_1")

    def forward(self, x, cache):
        return self.penalty()

    def describe(self):
        return {"term": "ParamPenalty", "of": self.what}


# ----------------------------------------------------------------------------------------------- adversarial


class Critic(Term):
    """Adversarial patch term R_pc = −E_p d(p) (IMAGINE eqs. 6–8), active after ``start`` steps.  A term with its
    own update: every evaluation first trains the critic d ``steps`` times on (``real``, x̂.detach()) with the
    WGAN-GP loss E d(fake) − E d(real) + w_gp·GP (Adam, betas (0.5, 0.999)), GP's mixing drawn from ``rng``; logs
    the Wasserstein estimate and the penalty.  The critic and its optimiser state are part of the objective's
    state, so checkpoints resume them."""

    def __init__(self, critic: nn.Module, real: Tensor, *, lr: float, gp_weight: float = 10.0, steps: int = 1,
                 start: int = 0):
        super().__init__()
        self.critic = critic
        self.opt = torch.optim.Adam(critic.parameters(), lr=lr, betas=(0.5, 0.999))
        object.__setattr__(self, "real", real.detach().clone())
        self.lr, self.gp_weight, self.steps, self.start = lr, gp_weight, steps, start
        self.rng: torch.Generator | None = None

    def active(self, step):
        return step is None or step > self.start

    def get_extra_state(self) -> dict:
        return {"critic_opt": self.opt.state_dict()}

    def set_extra_state(self, state: dict) -> None:
        self.opt.load_state_dict(state["critic_opt"])

    def forward(self, x, cache):
        if torch.is_grad_enabled():
            fake = x.detach()
            for _ in range(self.steps):
                self.opt.zero_grad(set_to_none=True)
                gap = self.critic.score(self.real).mean() - self.critic.score(fake).mean()
                gp = losses.gradient_penalty(self.critic.score, self.real, fake, generator=self.rng)
                (-gap + self.gp_weight * gp).backward()
                self.opt.step()
            extra = {"wasserstein": gap.detach(), "gp": gp.detach()}
        else:
            extra = {}
        return -self.critic.score(x).mean(), extra

    def describe(self):
        return {"term": "Critic", "parameters": sum(p.numel() for p in self.critic.parameters()),
                "receptive_field": getattr(self.critic, "receptive_field", None), "lr": self.lr,
                "gp_weight": self.gp_weight, "steps": self.steps, "start": self.start}
