import numpy as np
import pytest
import torch
from skimage import data

from helpers import as_input
from netprior.attribution import gradcam, overlay_heatmap


def test_gradcam_of_cat_lies_on_the_cat_and_is_differentiable(lite0):
    x = as_input(data.chelsea()).requires_grad_(True)
    cam = gradcam(lite0, x, 285, "head")
    assert cam.shape == (1, 224, 224)
    assert cam.min().item() == pytest.approx(0.0, abs=1e-6) and cam.max().item() == pytest.approx(1.0, abs=1e-6)
    assert cam.std().item() > 0.1
    # chelsea.png: the cat's face spans about columns 15-190 of the resized image, background to its right
    row, col = divmod(cam[0].argmax().item(), 224)
    assert 30 <= row <= 200 and 40 <= col <= 185
    face, background = cam[0, 30:200, 40:185].mean(), cam[0, :, 200:].mean()
    assert face > 2 * background
    (grad,) = torch.autograd.grad((cam - 0.5).square().mean(), x)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_gradcam_batch_targets_and_errors(lite0):
    x = torch.cat([as_input(data.chelsea(), 128), as_input(data.coffee(), 128)])
    cams = gradcam(lite0, x, torch.tensor([285, 967]), "stage6", create_graph=False)
    assert cams.shape == (2, 128, 128) and not cams.requires_grad
    assert torch.allclose(cams.amax(dim=(1, 2)), torch.ones(2), atol=1e-6)
    single = gradcam(lite0, x[1:], 967, "stage6", create_graph=False)
    assert torch.allclose(single[0], cams[1], atol=1e-5)
    other = gradcam(lite0, x[1:], 285, "stage6", create_graph=False)
    assert not torch.allclose(other[0], cams[1], atol=1e-2)
    with pytest.raises(ValueError, match="spatial"):
        gradcam(lite0, x, 285, "pool")


def test_overlay_heatmap_blends_colormap():
    image = np.full((4, 6, 3), 128, dtype=np.uint8)
    cam = np.zeros((2, 3))
    cam[:, 2] = 1.0
    out = overlay_heatmap(image, cam, alpha=0.5)
    assert out.dtype == np.uint8 and out.shape == (4, 6, 3)
    hot, cold = out[0, 5].astype(int), out[0, 0].astype(int)
    assert hot[0] > hot[2] and cold[2] > cold[0]  # jet: 1 is red, 0 is blue
    assert np.array_equal(overlay_heatmap(image, cam, alpha=0.0), image)
    tensor_image = torch.full((3, 4, 6), 128 / 255)
    assert np.array_equal(overlay_heatmap(tensor_image, torch.from_numpy(cam)[None], alpha=0.5), out)
    with pytest.raises(ValueError, match="RGB"):
        overlay_heatmap(np.zeros((4, 6)), cam)
