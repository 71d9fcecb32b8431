import math

import pytest
import torch
from torch import nn
from torch.autograd import gradcheck

from netprior.backbones import Backbone, BNInput
from netprior.losses import (
    alpha_norm,
    bn_statistics_prior,
    channel_stats,
    class_cross_entropy,
    distribution_matching,
    feature_mse,
    gram_loss,
    gram_matrix,
    masked_feature_l1,
    perceptual_l1,
    total_variation,
)


def t(values, shape):
    return torch.tensor(values, dtype=torch.float64).reshape(shape)


def test_feature_mse_and_perceptual_l1_by_hand():
    feats = {"a": t([1, 2, 3, 4], (1, 1, 2, 2)), "b": t([0, 0], (1, 2))}
    targets = {"a": t([1, 0, 3, 0], (1, 1, 2, 2)), "b": t([3, -1], (1, 2))}
    # a: squared errors (0,4,0,16) -> mean 5; b: (9,1) -> mean 5
    assert feature_mse(feats, targets).item() == pytest.approx(10.0)
    assert feature_mse(feats, targets, {"a": 0.5, "b": 2.0}).item() == pytest.approx(12.5)
    # a: |errors| (0,2,0,4) -> mean 1.5; b: (3,1) -> mean 2
    assert perceptual_l1(feats, targets).item() == pytest.approx(3.5)
    assert perceptual_l1(feats, {"b": targets["b"]}).item() == pytest.approx(2.0)
    with pytest.raises(ValueError, match="lack target layer"):
        feature_mse({"a": feats["a"]}, targets)


def test_gram_matrix_and_loss_by_hand():
    f = t([1, 2, 3, 4], (1, 2, 1, 2))  # channels (1,2) and (3,4); C*H*W = 4
    g = gram_matrix(f)
    assert torch.allclose(g, t([1.25, 2.75, 2.75, 6.25], (1, 2, 2)))
    zero = {"l": torch.zeros(1, 2, 2, dtype=torch.float64)}
    # 1/4 * (1.25^2 + 2 * 2.75^2 + 6.25^2) = 13.9375
    assert gram_loss({"l": f}, zero).item() == pytest.approx(13.9375)
    assert gram_loss({"l": f}, zero, {"l": 2.0}).item() == pytest.approx(27.875)
    assert gram_loss({"l": f}, {"l": g}).item() == 0.0


def test_distribution_matching_by_hand():
    f = t([1, 3, 2, 2], (1, 2, 1, 2))  # mu = (2, 2), sigma = (1, 0)
    f0 = t([0, 0, 4, 4], (1, 2, 1, 2))  # mu = (0, 4), sigma = (0, 0)
    mu, sigma = channel_stats(f, eps=0.0)
    assert mu.tolist() == [[2.0, 2.0]] and sigma.tolist() == [[1.0, 0.0]]
    value = distribution_matching({"x": f}, {"x": f0}, eps=0.0)
    assert value.item() == pytest.approx(2 * math.sqrt(2) + 1)
    # only the statistics matter: a spatial permutation of f0 gives the same value
    assert distribution_matching({"x": f}, {"x": f0.flip(-1)}, eps=0.0).item() == pytest.approx(value.item())


def test_bn_statistics_prior_by_hand():
    bn = nn.BatchNorm2d(2).double()
    bn.running_mean.copy_(torch.tensor([0.0, 1.0]))
    bn.running_var.copy_(torch.tensor([1.0, 1.0]))
    # batch of 2, 1x1 maps: channel 0 values (1, 3) -> mean 2, var 1; channel 1 (1, 1) -> mean 1, var 0
    x = t([1, 1, 3, 1], (2, 2, 1, 1))
    assert bn_statistics_prior([BNInput("bn", bn, x)]).item() == pytest.approx(2.0 + 1.0)
    # DeepInversion's first_bn_multiplier weighs only the first captured layer
    pair = [BNInput("bn", bn, x), BNInput("bn2", bn, x)]
    assert bn_statistics_prior(pair, first_weight=10.0).item() == pytest.approx(10 * 3.0 + 3.0)
    with pytest.raises(ValueError, match="capture_bn_inputs"):
        bn_statistics_prior([])


def test_bn_statistics_prior_with_captured_inputs():
    torch.manual_seed(0)
    conv, bn = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)
    bn.running_mean.copy_(torch.randn(4))
    bn.running_var.copy_(torch.rand(4) + 0.5)
    steps = [("conv", nn.Sequential(conv, bn)), ("logits", nn.Sequential(nn.Flatten(), nn.Linear(144, 2)))]
    toy = Backbone("toy", "random", steps, mean=(0.5,) * 3, std=(0.5,) * 3, input_size=8, num_classes=2)
    x = torch.rand(2, 3, 8, 8, requires_grad=True)
    with toy.capture_bn_inputs() as captured:
        toy(x, ["conv"])
    assert len(captured) == 1 and captured[0].name == "steps.conv.1"
    pre = conv(toy.normalize(x))
    mean, var = pre.mean((0, 2, 3)), pre.var((0, 2, 3), unbiased=False)
    expected = (mean - bn.running_mean).norm() + (var - bn.running_var).norm()
    prior = bn_statistics_prior(captured)
    assert prior.item() == pytest.approx(expected.item(), rel=1e-5)
    prior.backward()
    assert x.grad.abs().sum() > 0


def test_total_variation_by_hand():
    x = t([0, 1, 2, 4], (1, 1, 2, 2))  # one term: dx = 1, dy = 2
    assert total_variation(x, beta=2.0, eps=0.0).item() == pytest.approx(5.0)
    assert total_variation(x, beta=1.0, eps=0.0).item() == pytest.approx(math.sqrt(5))
    y = t([0, 1, 3, 0, 0, 0, 1, 1, 1], (1, 1, 3, 3))  # terms 1, 5, 1, 1
    assert total_variation(y, eps=0.0, reduction="sum").item() == pytest.approx(8.0)
    assert total_variation(y, eps=0.0).item() == pytest.approx(2.0)
    assert total_variation(torch.ones(1, 3, 5, 5), eps=0.0).item() == 0.0
    flat = torch.zeros(1, 1, 4, 4, requires_grad=True)
    total_variation(flat, beta=1.0).backward()
    assert torch.isfinite(flat.grad).all()
    with pytest.raises(ValueError, match="reduction"):
        total_variation(y, reduction="max")


def test_alpha_norm_by_hand():
    x = t([1, -2], (1, 2))
    assert alpha_norm(x, alpha=3.0, reduction="sum").item() == pytest.approx(9.0)
    assert alpha_norm(x, alpha=3.0).item() == pytest.approx(4.5)
    assert alpha_norm(x, alpha=2.0, reduction="sum").item() == pytest.approx(5.0)


def test_masked_feature_l1_by_hand():
    f0 = torch.zeros(1, 1, 4, 4, dtype=torch.float64)
    f0[0, 0, 0, 0], f0[0, 0, 1, 3], f0[0, 0, 2, 1], f0[0, 0, 3, 3] = 1, 2, 3, 4  # pooled [[1,2],[3,4]]
    f = torch.zeros(1, 1, 4, 4, dtype=torch.float64)
    f[0, 0, 1, 1], f[0, 0, 3, 0] = 1, 3  # pooled [[1,0],[3,0]]
    mask = torch.zeros(1, 1, 4, 4)
    mask[0, 0, 3, 3] = 1  # passes only the bottom-right 2x2 window
    # joint scale s = (mean(1,0,3,0) + mean(1,2,3,4)) / 2 = 1.75; masked |diff| = 4 / s; mean over 4 cells
    expected = (4 / 1.75) / 4
    assert masked_feature_l1({"l": f}, {"l": f0}, mask).item() == pytest.approx(expected)
    assert masked_feature_l1({"l": 10 * f}, {"l": 10 * f0}, mask).item() == pytest.approx(expected)
    full = torch.ones(1, 1, 2, 2)
    assert masked_feature_l1({"l": f}, {"l": f0}, {"l": full}).item() == pytest.approx((6 / 1.75) / 4)
    assert masked_feature_l1({"l": f}, {"l": f0}, torch.zeros(1, 1, 4, 4)).item() == 0.0
    with pytest.raises(ValueError, match="spatial"):
        masked_feature_l1({"l": f.flatten(1)}, {"l": f0.flatten(1)}, mask)


def test_class_cross_entropy():
    logits = torch.zeros(2, 4)
    assert class_cross_entropy(logits, 3).item() == pytest.approx(math.log(4))
    logits = torch.tensor([[0.0, 10.0], [10.0, 0.0]])
    assert class_cross_entropy(logits, torch.tensor([1, 0])).item() < 1e-3
    assert class_cross_entropy(logits, 0).item() == pytest.approx(5.0, abs=1e-3)


def test_gradcheck_in_float64():
    torch.manual_seed(0)
    x = torch.rand(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda v: total_variation(v, beta=2.0), (x,))
    assert gradcheck(lambda v: total_variation(v, beta=1.5, eps=1e-3), (x,))
    f = torch.randn(2, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    target = {"l": gram_matrix(torch.randn(1, 3, 5, 5, dtype=torch.float64))}
    assert gradcheck(lambda v: gram_loss({"l": v}, target), (f,))
    f0 = {"l": torch.randn(1, 3, 6, 6, dtype=torch.float64)}
    assert gradcheck(lambda v: distribution_matching({"l": v}, f0), (f,))
    mask = (torch.rand(1, 1, 4, 4) > 0.5).double()
    f0 = {"l": torch.randn(1, 3, 4, 4, dtype=torch.float64)}
    assert gradcheck(lambda v: masked_feature_l1({"l": v}, f0, mask), (f,))
