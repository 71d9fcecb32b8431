"""Generators as split stage chains: every adapter reproduces its source network, G2∘G1 = G at every layer,
checkpoints in the PGGAN-zoo and pytorch-pretrained-biggan formats load (and mismatches are reported), and the
attention modules behave as specified."""

import json
import sys
import types

import pytest
import torch
from torch import nn

from netprior.attention import CBAM, SelfAttention, make_attention
from netprior.errors import InputError, WeightsNotFoundError
from netprior.generators import LatentPrior, SequentialGenerator, get_generator
from netprior.generators.biggan import build_biggan, random_biggan
from netprior.generators.dcgan_faces import build_dcgan_faces, dcgan_main, weights_path
from netprior.generators.pggan import build_pggan, random_pggan

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small tensors: see conftest.py


@pytest.fixture(scope="module")
def dcgan():
    return get_generator("dcgan-faces")


def assert_split_consistent(g, z):
    with torch.no_grad():
        x = g(z)
        assert x.shape[-2:] == torch.Size(g.image_size)
        for layer in g.split_layers:
            h = g.g1(z, layer)
            assert torch.allclose(g.g2(h, layer, g.condition(z)), x, atol=1e-5), layer
    return x


def test_dcgan_faces_matches_the_package_network_and_splits(dcgan):
    ref = dcgan_main()
    ref.load_state_dict({k.removeprefix("main."): v for k, v in
                         torch.load(weights_path(), map_location="cpu")["netG_state_dict"].items()})
    ref.eval()
    z = dcgan.prior.sample(2, torch.Generator().manual_seed(0))
    x = assert_split_consistent(dcgan, z)
    with torch.no_grad():
        expected = (ref(z[..., None, None]) + 1) / 2  # tanh range mapped to [0, 1]
    assert torch.equal(x, expected)
    assert 0 <= float(x.min()) and float(x.max()) <= 1
    assert dcgan.layer_shape("dense") == (512, 4, 4) and dcgan.layer_shape("block2") == (128, 16, 16)
    assert not any(p.requires_grad for p in dcgan.parameters()) and not dcgan.train().training


def test_unknown_generator_or_layer_lists_the_valid_ones(dcgan):
    with pytest.raises(InputError, match="dcgan-faces, pggan, biggan"):
        get_generator("stylegan")
    with pytest.raises(InputError, match="needs its weights"):
        get_generator("pggan")
    with pytest.raises(InputError, match="valid layers: dense, block1, block2, block3"):
        dcgan.g1(torch.zeros(1, 100), "conv5")
    with pytest.raises(WeightsNotFoundError):
        build_dcgan_faces("/nonexistent/weights.tar")


def test_pggan_zoo_checkpoint_loads_with_its_pickled_config(tmp_path):
    g, state = random_pggan(dim_latent=16, depths=(16, 8, 8), seed=1)
    # The zoo pickles its own config class; it is not importable here and must not be needed.
    names = ("models", "models.utils", "models.utils.config")
    for name in names:
        sys.modules[name] = types.ModuleType(name)
    cfg_cls = type("BaseConfig", (), {"__module__": "models.utils.config"})
    sys.modules["models.utils.config"].BaseConfig = cfg_cls
    cfg = cfg_cls()
    cfg.depthScale0 = 16
    torch.save({"config": cfg, "netG": state, "avgG": state, "netD": {}}, tmp_path / "zoo.pt")
    for name in names:
        del sys.modules[name]
    old = {k.replace(".module.", "."): v for k, v in state.items()}  # older zoo key style
    torch.save(old, tmp_path / "old.pt")
    z = g.prior.sample(2, torch.Generator().manual_seed(0))
    with torch.no_grad():
        x = g(z)
    for name in ("zoo.pt", "old.pt"):
        loaded = build_pggan(tmp_path / name)
        assert loaded.stage_names == ["dense", "conv4", "conv8a", "conv8b", "conv16a", "conv16b", "output"]
        assert torch.equal(assert_split_consistent(loaded, z), x)


def test_pggan_key_mismatch_is_reported(tmp_path):
    _, state = random_pggan(depths=(16, 8))
    state["extra.weight"] = torch.zeros(1)
    del state["toRGBLayers.0.module.bias"]
    torch.save({"netG": state}, tmp_path / "bad.pt")
    with pytest.raises(InputError, match=r"missing keys: toRGBLayers\.0\.module\.bias; unexpected keys: extra"):
        build_pggan(tmp_path / "bad.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not a readable"):
        build_pggan(tmp_path / "junk.pt")


def test_biggan_files_load_and_expose_the_attention_map(tmp_path):
    g, state = random_biggan(class_index=2, truncation=0.5)
    torch.save(state, tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text(json.dumps(g.config.__dict__))
    loaded = build_biggan(tmp_path, class_index=2, truncation=0.5)
    z = loaded.prior.sample(2, torch.Generator().manual_seed(0))
    assert z.abs().max() <= 1.0  # truncated at 2 and scaled by the truncation 0.5
    x = assert_split_consistent(loaded, z)
    with torch.no_grad():
        assert torch.equal(x, g(z))
        att = loaded.attention_map(loaded.g1(z), "dense", loaded.condition(z))
    assert att.query_hw == (16, 16) and att.key_hw == (8, 8)
    assert att.weights.shape == (2, 256, 64)
    assert torch.allclose(att.weights.sum(-1), torch.ones(2, 256))
    loaded.set_class(3)
    with torch.no_grad():
        assert not torch.allclose(loaded(z), x)  # the class enters the condition of every block
    with pytest.raises(InputError, match="truncation"):
        loaded.set_truncation(1.5)
    (tmp_path / "config.json").unlink()
    with pytest.raises(InputError, match="config.json"):
        build_biggan(tmp_path / "pytorch_model.bin")


def test_sequential_adapter_and_generators_without_attention():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 3 * 4 * 4), nn.Unflatten(1, (3, 4, 4)),
                        nn.Tanh())
    g = SequentialGenerator(net, LatentPrior("uniform", 6), image_size=(4, 4))
    z = g.prior.sample(3)
    assert z.abs().max() <= 1 and g.prior.penalty(z).abs().max() == 0
    assert g.prior.penalty(torch.full((1, 6), 2.0)).item() == pytest.approx(6.0)
    x = assert_split_consistent(g, z)
    assert torch.allclose(x, (net(z) + 1) / 2)
    assert g.split_layers == ["0", "1", "2", "3"] and g.dense == "0"
    with pytest.raises(InputError, match="no self-attention"):
        g.attention_map(g.g1(z), "0")


def test_gaussian_prior_penalty_and_truncation():
    p = LatentPrior("gaussian", 4, truncation=1.0, scale=2.0)
    z = p.sample(500, torch.Generator().manual_seed(0))
    assert z.abs().max() <= 2.0 and z.std() > 0.8
    assert p.penalty(torch.full((1, 4), 2.0)).item() == pytest.approx(2.0)  # ½ Σ (z/scale)²
    with pytest.raises(InputError):
        LatentPrior("laplace")


def test_self_attention_starts_as_identity_and_scores_differ():
    torch.manual_seed(0)
    x = torch.randn(2, 16, 5, 5)
    dot, scaled = SelfAttention(16, "dot"), SelfAttention(16, "scaled-dot")
    scaled.load_state_dict(dot.state_dict())
    assert torch.equal(dot(x), x)  # γ = 0 at initialisation
    scaled(x)
    a, b = dot.last_attention, scaled.last_attention
    assert a.shape == (2, 25, 25) and torch.allclose(a.sum(-1), torch.ones(2, 25))
    assert (a.max(-1).values >= b.max(-1).values - 1e-6).all()  # dividing scores by √d_k flattens the softmax
    dot.gamma.data.fill_(1.0)
    assert not torch.allclose(dot(x), x)
    with pytest.raises(InputError):
        SelfAttention(16, "additive")


def test_cbam_gates_are_in_the_unit_interval():
    torch.manual_seed(0)
    m = CBAM(32)
    x = torch.rand(1, 32, 6, 6) + 0.1
    y = m(x)
    assert y.shape == x.shape and (y > 0).all() and (y < x).all()
    assert m.channel.mlp[0].out_features == 2  # reduction 16
    assert m.spatial.conv.kernel_size == (7, 7)
    assert make_attention("none", 8) is None and isinstance(make_attention("cbam", 32), CBAM)
