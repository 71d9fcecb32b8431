"""Loss terms and image priors for network inversion.

Feature arguments are ``{layer: tensor}`` mappings as returned by ``Backbone.forward``; the layers
compared are the keys of the *target* mapping, each weighted by ``weights[layer]`` (default 1).
Batches broadcast: a target of batch size 1 is compared with every sample of ``x̂``. Every term
returns a scalar tensor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from netprior.backbones.base import BNInput

Features = Mapping[str, Tensor]
Reduction = Literal["mean", "sum"]


def _layers(feats: Features, targets: Features, weights: Mapping[str, float] | None) -> list[tuple[str, float]]:
    """(layer, weight) pairs for the target layers; every one must be present in ``feats``."""
    missing = [layer for layer in targets if layer not in feats]
    if missing:
        raise ValueError(f"features lack target layer(s): {', '.join(missing)}")
    if not targets:
        raise ValueError("no target layer given")
    weights = weights or {}
    return [(layer, float(weights.get(layer, 1.0))) for layer in targets]


def _reduce(values: Tensor, reduction: Reduction) -> Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")


def feature_mse(feats: Features, targets: Features, weights: Mapping[str, float] | None = None) -> Tensor:
    """Content / feature reconstruction loss (Mahendran & Vedaldi 2015; Gatys et al. 2016).

    L = Σ_l w_l · (1/N_l) ||Φ_l(x̂) − Φ_l(x0)||²₂, with N_l the number of elements of Φ_l(x̂).
    """
    return sum(w * (feats[l] - targets[l]).pow(2).mean() for l, w in _layers(feats, targets, weights))


def relative_feature_error_sq(feats: Features, targets: Features,
                              weights: Mapping[str, float] | None = None) -> Tensor:
    """Squared relative feature error of Mahendran & Vedaldi's pre-images:
    L = Σ_l w_l · ||Φ_l(x̂) − Φ_l(x0)||² / ||Φ_l(x0)||² (1 at x̂ = 0; its square root is the reported error)."""
    return sum(w * (feats[l] - targets[l]).pow(2).sum() / targets[l].pow(2).sum().clamp_min(1e-12)
               for l, w in _layers(feats, targets, weights))


def gram_matrix(f: Tensor) -> Tensor:
    """Normalised Gram matrix of feature maps (B,C,H,W): G = F Fᵀ / (C·H·W), F = f reshaped (B,C,HW)."""
    b, c, h, w = f.shape
    flat = f.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def softmax_smoothing(f: Tensor, temperature: float = 1.0) -> Tensor:
    """Activation smoothing of Wang et al. (CVPR 2021, "Rethinking and Improving the Robustness of Image Style
    Transfer", SWAG): σ(F) = softmax(F/T) over all C·H·W entries of each sample's feature map, applied before
    the Gram matrix.

    Returned as N·softmax(F/T) = exp(F/T) / mean(exp(F/T)) (N = C·H·W): the paper's transform times a constant
    for a given layer size, so that the Gram matrices of images of different sizes stay comparable (a plain
    softmax scales them by 1/N²).  Computed stably with logsumexp.
    """
    z = f.flatten(1) / temperature
    out = (z - torch.logsumexp(z, dim=1, keepdim=True)).exp() * z.shape[1]
    return out.view_as(f)


def gram_loss(feats: Features, target_grams: Features, weights: Mapping[str, float] | None = None) -> Tensor:
    """Texture loss of Gatys et al. (2015, "Texture synthesis using CNNs") on normalised Gram matrices.

    L = Σ_l w_l · ¼ ||G_l(x̂) − A_l||²_F (mean over the batch), A_l = ``gram_matrix`` of the
    texture's features. With G = F Fᵀ/(N_l M_l) this equals Gatys' E_l = Σ(G−A)²/(4 N_l² M_l²).
    """
    total = 0.0
    for layer, w in _layers(feats, target_grams, weights):
        diff = gram_matrix(feats[layer]) - target_grams[layer]
        total = total + w * 0.25 * diff.pow(2).sum(dim=(-2, -1)).mean()
    return total


def channel_stats(f: Tensor, eps: float = 1e-8) -> tuple[Tensor, Tensor]:
    """Per-sample, per-channel spatial mean μ and standard deviation σ = sqrt(Var + eps), each (B,C)."""
    flat = f.flatten(2)
    mu = flat.mean(dim=2)
    var = flat.var(dim=2, unbiased=False)
    return mu, torch.sqrt(var + eps)


def distribution_matching(
    feats: Features, targets: Features, weights: Mapping[str, float] | None = None, eps: float = 1e-8
) -> Tensor:
    """Feature distribution matching, IMAGINE (Wang et al. 2021) eq. 5.

    R_dm = Σ_l w_l (||μ_l(x̂) − μ_l(x0)||₂ + ||σ_l(x̂) − σ_l(x0)||₂), μ_l, σ_l the per-channel
    spatial mean and standard deviation of layer l (norms over channels, mean over the batch).
    """
    total = 0.0
    for layer, w in _layers(feats, targets, weights):
        mu, sigma = channel_stats(feats[layer], eps)
        mu0, sigma0 = channel_stats(targets[layer], eps)
        total = total + w * ((mu - mu0).norm(dim=1) + (sigma - sigma0).norm(dim=1)).mean()
    return total


def bn_statistics_prior(captured: Sequence[BNInput], first_weight: float = 1.0) -> Tensor:
    """BatchNorm-statistics prior of DeepInversion (Yin et al. 2020, R_feature; IMAGINE eq. 3).

    R_feat = Σ_l ||μ_l(x) − E[μ_l]||₂ + ||σ²_l(x) − E[σ²_l]||₂, where μ_l, σ²_l are the batch
    mean and (biased) variance over (N,H,W) of the input of BN layer l and E[·] its running
    statistics. ``captured`` comes from ``Backbone.capture_bn_inputs()``; the first layer's term is multiplied
    by ``first_weight`` (DeepInversion's code: first_bn_multiplier = 10). (IMAGINE writes the norms squared; this
    is DeepInversion's form.)
    """
    if not captured:
        raise ValueError("no BatchNorm input captured: run the backbone inside capture_bn_inputs()")
    total = 0.0
    for i, item in enumerate(captured):
        x = item.input.transpose(0, 1).flatten(1)
        mean = x.mean(dim=1)
        var = x.var(dim=1, unbiased=False)
        term = (mean - item.bn.running_mean).norm() + (var - item.bn.running_var).norm()
        total = total + (first_weight * term if i == 0 else term)
    return total


def total_variation(x: Tensor, beta: float = 2.0, eps: float = 1e-8, reduction: Reduction = "mean") -> Tensor:
    """Total variation prior R_V^β of Mahendran & Vedaldi (2015) for images (B,C,H,W).

    R = Σ_{b,c,i,j} ((x_{i,j+1} − x_{ij})² + (x_{i+1,j} − x_{ij})² + eps)^{β/2}, over i < H−1,
    j < W−1; ``reduction="mean"`` divides by the number of terms. ``eps`` keeps the gradient
    finite for β < 2 on flat regions.
    """
    corner = x[..., :-1, :-1]
    dx = x[..., :-1, 1:] - corner
    dy = x[..., 1:, :-1] - corner
    return _reduce((dx.pow(2) + dy.pow(2) + eps).pow(beta / 2), reduction)


def total_variation_norm(x: Tensor) -> Tensor:
    """DeepInversion's total variation (Yin et al. 2020, code; IMAGINE's R_img): per sample the sum over the four
    neighbour directions (→, ↓, ↘, ↗) of the L2 norm of the difference image, batch mean."""
    diffs = (x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :],
             x[..., 1:, 1:] - x[..., :-1, :-1], x[..., 1:, :-1] - x[..., :-1, 1:])
    return sum(d.flatten(1).norm(dim=1) for d in diffs).mean()


def l2_norm(x: Tensor) -> Tensor:
    """||x||₂ per sample, batch mean (DeepInversion's image-norm prior)."""
    return x.flatten(1).norm(dim=1).mean()


def alpha_norm(x: Tensor, alpha: float = 6.0, reduction: Reduction = "mean") -> Tensor:
    """α-norm prior ||x||_α^α = Σ |x|^α (Mahendran & Vedaldi 2015); "mean" divides by numel.

    Apply it to a centred image (e.g. x − 0.5) to penalise values far from mid-grey.
    """
    return _reduce(x.abs().pow(alpha), reduction)


def perceptual_l1(feats: Features, targets: Features, weights: Mapping[str, float] | None = None) -> Tensor:
    """Perceptual L1 distance over taps: L = Σ_l w_l · (1/N_l) ||Φ_l(x̂) − Φ_l(x0)||₁."""
    return sum(w * (feats[l] - targets[l]).abs().mean() for l, w in _layers(feats, targets, weights))


def masked_feature_l1(
    feats: Features,
    targets: Features,
    masks: Tensor | Features,
    weights: Mapping[str, float] | None = None,
    eps: float = 1e-8,
) -> Tensor:
    """Masked semantic reconstruction loss of Semantic Pyramid (Shocher et al. 2020, eq. 3).

    L = Σ_l w_l · (1/N_l) ||(C*_l(x0) − C*_l(x̂)) · m_l||₁, where C*_l is the 2×2 max-pooled
    feature map of layer l, the pooled maps of x0 and x̂ being normalised together by their joint
    mean absolute value s_l (per sample; invariant to a common scaling), and m_l the mask
    max-pooled to the pooled map's size (a window passes if any of its pixels passes).
    ``masks`` is one (B|1,1,h,w) mask (1 = compare) for all layers or ``{layer: mask}``.
    """
    total = 0.0
    for layer, w in _layers(feats, targets, weights):
        f, f0 = feats[layer], targets[layer]
        if f.dim() != 4:
            raise ValueError(f"masked_feature_l1 needs spatial maps; layer {layer!r} has shape {tuple(f.shape)}")
        a = F.max_pool2d(f, 2, ceil_mode=True)
        a0 = F.max_pool2d(f0, 2, ceil_mode=True).expand_as(a)
        scale = (a.abs().mean(dim=(1, 2, 3)) + a0.abs().mean(dim=(1, 2, 3))) / 2 + eps
        m = masks[layer] if isinstance(masks, Mapping) else masks
        m = F.adaptive_max_pool2d(m.to(a.dtype), a.shape[-2:])
        diff = (a - a0).abs() / scale.view(-1, 1, 1, 1)
        total = total + w * (diff * m).mean()
    return total


def class_cross_entropy(logits: Tensor, target: int | Tensor) -> Tensor:
    """Cross-entropy towards class ``target`` (int or (B,) tensor): L = −log softmax(logits)_y, batch mean."""
    if isinstance(target, int):
        target = torch.full((logits.shape[0],), target, dtype=torch.long, device=logits.device)
    return F.cross_entropy(logits, target)


def gradient_penalty(
    critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, *, generator: torch.Generator | None = None
) -> Tensor:
    """WGAN-GP gradient penalty (Gulrajani et al. 2017, eq. 3), as used for IMAGINE's patch critic.

    GP = E_x̃ (||∇_x̃ D(x̃)||₂ − 1)², x̃ = ε·real + (1 − ε)·fake, ε ~ U(0, 1) per sample (batch mean). For a
    critic whose output is a map of patch scores, D(x̃) is the sum of the map (``grad_outputs`` of ones, as in
    SinGAN's critic). The graph is kept (``create_graph``) so the penalty trains the critic. ``real`` and ``fake``
    must have the same shape (a batch-1 ``real`` broadcasts); ``fake`` should be detached by the caller.
    """
    if real.shape[1:] != fake.shape[1:]:
        raise ValueError(f"real {tuple(real.shape)} and fake {tuple(fake.shape)} must have the same image shape")
    eps = torch.rand((fake.shape[0],) + (1,) * (fake.dim() - 1), generator=generator, device=fake.device)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    scores = critic(mixed)
    (grad,) = torch.autograd.grad(scores, mixed, grad_outputs=torch.ones_like(scores), create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


def julesz_diversity(samples: Tensor, eps: float = 1e-8) -> Tensor:
    """Diversity term of the Julesz generator objective (Ulyanov et al. 2017; thesis ch. 3, eqs. 3.8–3.10).

    D = −(1/N) Σ_i ln ρ_i,  ρ_i = min_{j≠i} ||x_i − x_j||₂ (Euclidean distance between whole samples), the
    Kozachenko–Leonenko nearest-neighbour estimate of the negative entropy −H(q) up to the factor D = 3WH and a
    constant (eq. 3.9). The learning objective is E(g) = (1/N) Σ_i L(g(z_i))/T + λ·D (eq. 3.10). The nearest
    neighbour j*_i is found without gradient and ρ_i recomputed from the pair, which gives exactly the gradient of
    eq. 3.11 in O(N·D) memory. ``eps`` is added under the square root so identical samples give a finite value
    and gradient. Needs N ≥ 2.
    """
    n = samples.shape[0]
    if n < 2:
        raise ValueError(f"the diversity term needs a batch of at least 2 samples, got {n}")
    flat = samples.reshape(n, -1)
    with torch.no_grad():
        dist = torch.cdist(flat, flat)
        dist.fill_diagonal_(float("inf"))
        nearest = dist.argmin(dim=1)
    rho = torch.sqrt((flat - flat[nearest]).pow(2).sum(dim=1) + eps)
    return -rho.log().mean()


def sliced_wasserstein(x: Tensor, y: Tensor, directions: Tensor) -> Tensor:
    """Squared sliced Wasserstein-2 distance between the empirical distributions of the rows of ``x`` (B, N, D)
    and of ``y`` (M, D) (Rabin et al. 2011): SW₂² = mean_θ W₂²(θᵀx, θᵀy) over the unit ``directions`` θ (K, D),
    each 1-D W₂² computed from the sorted projections at n = min(N, M) matched quantiles ((i + ½)/n).  One value per
    element of the batch, (B,); differentiable in ``x`` (through the sort)."""
    a = (x @ directions.T).sort(dim=-2).values  # (B, N, K)
    b = (y @ directions.T).sort(dim=-2).values  # (M, K)
    n = min(a.shape[-2], b.shape[-2])
    q = (torch.arange(n, dtype=torch.float64, device=x.device) + 0.5) / n

    def at(v: Tensor) -> Tensor:
        return v[..., (q * v.shape[-2]).long().clamp(max=v.shape[-2] - 1), :]

    return (at(a) - at(b)).pow(2).mean(dim=(-2, -1))


def random_directions(count: int, dim: int, seed: int = 0) -> Tensor:
    """``count`` unit vectors in R^``dim`` (count, dim), normalised N(0, I) draws from ``seed``: the fixed directions
    of a :func:`sliced_wasserstein` distance."""
    theta = torch.randn(count, dim, generator=torch.Generator().manual_seed(seed))
    return theta / theta.norm(dim=1, keepdim=True)


def gan_discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Discriminator loss of the original GAN (Goodfellow et al. 2014, eq. 1; DCGAN, Radford et al. 2016):
    −E log σ(D(x)) − E log(1 − σ(D(G(z)))) = E softplus(−D(x)) + E softplus(D(G(z))), on logits."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def gan_generator_loss(fake_logits: Tensor) -> Tensor:
    """Non-saturating generator loss (Goodfellow et al. 2014, §3): −E log σ(D(G(z))) = E softplus(−D(G(z)))."""
    return F.softplus(-fake_logits).mean()


def r1_penalty(critic: Callable[[Tensor], Tensor], real: Tensor) -> Tensor:
    """R1 gradient penalty (Mescheder et al. 2018, eq. 9): E_x ||∇_x D(x)||² on real images (sum of the batch's
    scores differentiated, then the per-sample squared norm averaged); the graph is kept so it trains D."""
    real = real.detach().float().requires_grad_(True)
    scores = critic(real)
    (grad,) = torch.autograd.grad(scores.sum(), real, create_graph=True)
    return grad.flatten(1).pow(2).sum(dim=1).mean()
