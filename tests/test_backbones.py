import os

import pytest
import torch
import torch.nn.functional as F
import torchvision.models as tvm
from skimage import data
from torch import nn

from helpers import as_input
from netprior.backbones import Backbone, get_backbone, list_backbones
from netprior.errors import InputError, WeightsNotFoundError


@pytest.fixture(scope="module")
def random_nets():
    cache = {}

    def build(name, **kwargs):
        key = (name, tuple(sorted(kwargs.items())))
        if key not in cache:
            torch.manual_seed(0)
            cache[key] = get_backbone(name, "random", **kwargs)
        return cache[key]

    return build


@pytest.fixture
def hub_dir(tmp_path):
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    yield tmp_path
    torch.hub.set_dir(old)


def test_registry_names():
    assert list_backbones() == ["lite0", "vgg16-hed", "vgg16", "vgg19", "resnet50", "alexnet", "inception_v3"]
    with pytest.raises(ValueError, match="vgg16"):
        get_backbone("vgg17")
    with pytest.raises(ValueError, match="pretrained"):
        get_backbone("lite0", "imagenet")
    with pytest.raises(ValueError, match="max-pooling"):
        get_backbone("lite0", avg_pool=True)


def test_lite0_classifies_imagenet_images(lite0):
    x = torch.cat([as_input(data.chelsea()), as_input(data.coffee())])
    with torch.no_grad():
        logits = lite0.logits(x)
    assert logits.shape == (2, 1000)
    assert logits.argmax(1).tolist() == [285, 967]  # Egyptian cat, espresso
    assert lite0.name == "lite0" and lite0.weights == "pretrained" and lite0.num_classes == 1000


def test_lite0_normalisation_and_checkpoint(lite0):
    assert torch.allclose(lite0.mean, torch.full((3,), 127 / 255))
    assert torch.allclose(lite0.std, torch.full((3,), 128 / 255))
    state = torch.load(lite0.weights_file, map_location="cpu", weights_only=True)
    assert torch.equal(lite0.steps["logits"].weight, state["_fc.weight"])
    assert torch.equal(lite0.steps["block7"]._depthwise_conv.weight, state["_blocks.7._depthwise_conv.weight"])
    rand = get_backbone("lite0", "random")
    assert rand.weights == "random" and rand.weights_file is None
    assert not torch.equal(rand.steps["logits"].weight, state["_fc.weight"])


def test_lite0_taps(lite0):
    x = torch.rand(2, 3, 64, 64)
    names = ["stem", "stage1", "stage2", "stage3", "stage4", "stage5", "stage6", "stage7", "head", "pool", "logits"]
    out = lite0(x, names)
    assert list(out) == names
    shapes = {k: tuple(v.shape[1:]) for k, v in out.items()}
    assert shapes == {
        "stem": (32, 32, 32), "stage1": (16, 32, 32), "stage2": (24, 16, 16), "stage3": (40, 8, 8),
        "stage4": (80, 4, 4), "stage5": (112, 4, 4), "stage6": (192, 2, 2), "stage7": (320, 2, 2),
        "head": (1280, 2, 2), "pool": (1280,), "logits": (1000,),
    }
    blocks = lite0(x, ["block2", "block14", "stage2", "stage6"])
    assert torch.equal(blocks["block2"], blocks["stage2"]) and torch.equal(blocks["block14"], blocks["stage6"])
    assert lite0.layer_names[:3] == ["stem", "block0", "stage1"]
    assert [n for n in lite0.layer_names if n.startswith("block")] == [f"block{i}" for i in range(16)]
    assert torch.allclose(lite0.logits(x), out["logits"])


def test_forward_stops_after_deepest_layer(lite0):
    calls = []
    handle = lite0.steps["head"].register_forward_hook(lambda *args: calls.append(1))
    try:
        lite0(torch.rand(1, 3, 32, 32), ["stage3", "stem"])
        assert calls == []
        lite0(torch.rand(1, 3, 32, 32), ["stem", "head"])
        assert calls == [1]
    finally:
        handle.remove()


def test_frozen_eval_and_gradients_reach_input(lite0):
    assert all(not p.requires_grad for p in lite0.parameters())
    lite0.train()
    assert not lite0.training and not any(m.training for m in lite0.modules())
    before = lite0.steps["stem"].bn.running_mean.clone()
    x = torch.rand(1, 3, 64, 64, requires_grad=True)
    lite0(x, ["stage4"])["stage4"].square().sum().backward()
    assert torch.equal(before, lite0.steps["stem"].bn.running_mean)
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in lite0.parameters())


def test_bad_requests_raise_value_errors(lite0):
    x = torch.rand(1, 3, 32, 32)
    with pytest.raises(ValueError, match="valid layers: stem, block0") as err:
        lite0(x, ["stage9"])
    assert isinstance(err.value, InputError)
    with pytest.raises(ValueError, match="more than once"):
        lite0(x, ["stem", "stage2", "stem"])
    with pytest.raises(ValueError, match="RGB"):
        lite0(torch.rand(1, 1, 32, 32), ["stem"])
    with pytest.raises(ValueError, match="no layer"):
        lite0(x, [])
    assert list(lite0(x, "stem")) == ["stem"]


def test_bn_inputs_are_captured_in_forward_order(lite0):
    x = torch.rand(1, 3, 32, 32)
    with lite0.capture_bn_inputs() as captured:
        lite0.logits(x)
    layers = lite0.bn_layers()
    assert len(layers) == 49 and [c.name for c in captured] == [n for n, _ in layers]
    stem_in = lite0.steps["stem"].conv(lite0.normalize(x))
    assert torch.allclose(captured[0].input, stem_in)
    assert captured[0].bn is layers[0][1]
    lite0.logits(x)
    assert len(captured) == 49  # hooks removed on exit


def test_vgg_taps_and_average_pooling(random_nets):
    vgg16 = random_nets("vgg16", avg_pool=True)
    assert not any(isinstance(m, nn.MaxPool2d) for m in vgg16.modules())
    x = torch.rand(1, 3, 64, 64)
    out = vgg16(x, ["relu1_2", "pool1", "conv5_3", "pool5", "fc6", "relu7", "logits"])
    assert torch.allclose(out["pool1"], F.avg_pool2d(out["relu1_2"], 2))
    assert out["conv5_3"].shape == (1, 512, 4, 4) and out["pool5"].shape == (1, 512, 2, 2)
    assert out["fc6"].shape == (1, 4096) and (out["relu7"] >= 0).all() and out["logits"].shape == (1, 1000)
    assert (out["conv5_3"] < 0).any()  # conv taps are taken before the ReLU
    vgg19 = random_nets("vgg19")
    assert [n for n in vgg19.layer_names if n.startswith("conv5")] == ["conv5_1", "conv5_2", "conv5_3", "conv5_4"]
    out = vgg19(x, ["relu5_4", "pool1"])
    assert torch.allclose(out["pool1"], F.max_pool2d(vgg19(x, ["relu1_2"])["relu1_2"], 2))
    assert out["relu5_4"].shape == (1, 512, 4, 4)
    with pytest.raises(ValueError, match="too small"):
        vgg19(torch.rand(1, 3, 16, 16), ["pool5"])


def test_resnet50_imagine_names(random_nets):
    resnet = random_nets("resnet50")
    imagine = ["conv1_1", "conv2_3", "conv3_4", "conv4_6"]
    out = resnet(torch.rand(1, 3, 64, 64), ["conv1", *imagine, "conv5_3", "pool", "logits"])
    assert torch.equal(out["conv1"], out["conv1_1"])
    assert [tuple(out[n].shape[1:]) for n in imagine] == [(64, 32, 32), (256, 16, 16), (512, 8, 8), (1024, 4, 4)]
    assert out["conv5_3"].shape == (1, 2048, 2, 2) and out["pool"].shape == (1, 2048)
    assert resnet.layer_names[:3] == ["conv1", "conv1_1", "conv2_1"]
    assert len(resnet.bn_layers()) == 53


def test_alexnet_taps_and_too_small(random_nets):
    alexnet = random_nets("alexnet")
    out = alexnet(torch.rand(1, 3, 64, 64), ["conv1", "pool2", "conv5", "pool5", "fc6", "fc8"])
    assert out["conv1"].shape == (1, 64, 15, 15) and (out["conv1"] >= 0).all()
    assert out["pool2"].shape == (1, 192, 3, 3) and out["pool5"].shape == (1, 256, 1, 1)
    assert out["fc6"].shape == (1, 4096) and out["fc8"].shape == (1, 1000)
    with pytest.raises(ValueError, match="too small for layer"):
        alexnet(torch.rand(1, 3, 6, 6), ["conv1"])


def test_inception_v3_taps_and_minimum_size(random_nets):
    inception = random_nets("inception_v3")
    assert torch.allclose(inception.mean, torch.full((3,), 0.5)) and inception.input_size == 299
    out = inception(torch.rand(1, 3, 75, 75), ["Mixed_5b", "Mixed_7a", "Mixed_7c", "logits", "fc"])
    assert out["Mixed_7a"].shape == (1, 1280, 1, 1) and out["Mixed_7c"].shape == (1, 2048, 1, 1)
    assert torch.equal(out["logits"], out["fc"]) and out["logits"].shape == (1, 1000)
    with pytest.raises(ValueError, match="74x74 px is too small"):
        inception(torch.rand(1, 3, 74, 74), ["Mixed_7a"])
    with pytest.raises(ValueError, match="avg_pool"):
        get_backbone("inception_v3", "random", avg_pool=True)


def test_missing_torchvision_weights_are_reported(hub_dir):
    with pytest.raises(WeightsNotFoundError) as err:
        get_backbone("alexnet")
    message = str(err.value)
    assert "alexnet-owt-7be5be79.pth" in message
    assert "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth" in message
    assert os.path.join(str(hub_dir), "checkpoints") in message


def test_torchvision_weights_load_from_hub_cache(hub_dir):
    torch.manual_seed(1)
    reference = tvm.resnet50()
    (hub_dir / "checkpoints").mkdir()
    path = hub_dir / "checkpoints" / "resnet50-0676ba61.pth"
    torch.save(reference.state_dict(), path)
    resnet = get_backbone("resnet50")
    assert resnet.weights == "pretrained" and resnet.weights_file == str(path)
    assert torch.equal(resnet.steps["fc"].weight, reference.fc.weight)
    x = torch.rand(1, 3, 64, 64)
    reference.eval()
    with torch.no_grad():
        expected = reference(resnet.normalize(x))
        assert torch.allclose(resnet.logits(x), expected, atol=1e-5)


def test_backbone_rejects_bad_alias():
    with pytest.raises(ValueError, match="bad alias"):
        Backbone("toy", "random", [("a", nn.Identity())], mean=(0, 0, 0), std=(1, 1, 1),
                 input_size=8, num_classes=1, aliases={"b": "missing"})
