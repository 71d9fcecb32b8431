"""Textured neural avatars: the z-buffer rasteriser, bone maps, eq. (6.1), training, the data loader, the CLI."""

import json

import pytest
import torch
from helpers import run

from netprior.avatar.body import PARTS, make_textures, motion
from netprior.avatar.bones import rasterise_bones
from netprior.avatar.camera import look_at
from netprior.avatar.dataset import AvatarFolder, write_openpose
from netprior.avatar.rasterise import rasterise
from netprior.avatar.synthetic import SyntheticConfig, make_synthetic, render_frame
from netprior.errors import InputError
from netprior.io import save_image
from netprior.recipes.avatar import AvatarConfig, sample_textures, train_avatar

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TINY = dict(width=4, max_channels=8, res_blocks=2, batch=2, texture_size=8, lr=5e-3)


def quad(x0, y0, x1, y1, z):
    v = torch.tensor([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]], dtype=torch.float32)
    return v, torch.tensor([[0, 1, 2], [0, 2, 3]])


def test_rasteriser_covers_exactly_the_pixel_centres_inside_and_keeps_the_nearest_surface():
    v1, f1 = quad(2, 3, 6, 7, 2.0)        # pixel centres 2.5 … 5.5 × 3.5 … 6.5 inside
    v2, f2 = quad(4, 5, 9, 9, 1.0)        # nearer, overlapping the lower-right corner
    frags = rasterise(torch.cat([v1, v2]), torch.cat([f1, f2 + 4]), 10, 12)
    want = torch.zeros(10, 12, dtype=torch.bool)
    want[3:7, 2:6] = True
    near = torch.zeros(10, 12, dtype=torch.bool)
    near[5:9, 4:9] = True
    assert torch.equal(frags.mask, want | near)
    assert torch.allclose(frags.depth[near], torch.tensor(1.0)) and torch.allclose(frags.depth[want & ~near],
                                                                                   torch.tensor(2.0))
    assert bool((frags.face[near] >= 2).all()) and bool((frags.face[want & ~near] < 2).all())
    assert torch.isinf(frags.depth[~(want | near)]).all()


def test_rasteriser_depth_is_perspective_correct_on_a_tilted_plane():
    cam = look_at((0.0, 0.0, -3.0), (0.0, 0.0, 0.0), size=32, focal=40.0)
    # a plane through the origin tilted by 45° about the vertical axis, larger than the view
    corners = torch.tensor([[-2.0, -2.0, -2.0], [2.0, -2.0, 2.0], [2.0, 2.0, 2.0], [-2.0, 2.0, -2.0]])
    frags = rasterise(cam.project(cam.to_camera(corners)), torch.tensor([[0, 1, 2], [0, 2, 3]]), 32, 32)
    assert bool(frags.mask.all())
    # analytic: the ray through pixel centre (u, v) is d = ((u − c)/f, (v − c)/f, 1) from the camera at z = −3
    # (looking along +z with y up, image right is world −x: world x = −t·dx, world z = t − 3); the plane is x = z,
    # so the depth t solves −t·dx = t − 3
    u = torch.arange(32) + 0.5
    dx = (u - 16.0) / 40.0
    t = 3.0 / (1.0 + dx)
    assert torch.allclose(frags.depth, t[None].expand(32, -1), rtol=1e-4)


def test_bone_maps_interpolate_depth_along_the_bone_and_skip_missing_joints():
    kp = torch.zeros(25, 4)
    kp[1] = torch.tensor([2.5, 4.5, 1.0, 1.0])
    kp[8] = torch.tensor([10.5, 4.5, 3.0, 1.0])
    maps = rasterise_bones(kp, [(1, 8), (1, 2)], 8, 12, radius=0.5)
    assert maps.shape == (2, 8, 12)
    row = maps[0, 4]
    assert torch.allclose(row[2:11], torch.linspace(1.0, 3.0, 9)) and row[:2].eq(0).all() and row[11:].eq(0).all()
    assert maps[0, :4].eq(0).all() and maps[0, 5:].eq(0).all()
    assert maps[1].eq(0).all()             # joint 2 has confidence 0


def test_eq_6_1_with_the_true_texture_and_surface_maps_reproduces_the_rendering():
    tex = make_textures(16, seed=3)
    cam = look_at((1.0, 1.2, 3.4), (0.0, 0.9, 0.0), size=48, focal=70.0)
    f = render_frame(motion(5, 3)[2], cam, tex, shading=0.0)
    n = len(PARTS)
    part = torch.where(f["mask"], f["part"], torch.full_like(f["part"], n))
    p = torch.nn.functional.one_hot(part, n + 1).permute(2, 0, 1)[None].float()
    c = f["uv"][None].repeat(1, n, 1, 1)      # every part's coordinates = the true UV
    image = sample_textures(p, c, tex)[0]
    assert f["mask"].float().mean() > 0.05
    assert torch.allclose(image, f["image"], atol=1e-5)
    # a different texture gives a different image: the test can fail
    assert not torch.allclose(sample_textures(p, c, make_textures(16, seed=4))[0], f["image"], atol=1e-2)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("avatar") / "data"
    make_synthetic(root, SyntheticConfig(size=32, train_cameras=2, heldout_cameras=1, train_frames=2,
                                         test_frames=1, texture_size=16), progress=False)
    return root


def test_synthetic_set_is_written_in_the_openpose_layout(synthetic):
    split = json.loads((synthetic / "split.json").read_text())
    assert split["train_cameras"] == ["cam00", "cam01"] and split["heldout_cameras"] == ["heldout00"]
    d = AvatarFolder(synthetic)
    assert len(d) == 4 and d.has_surface and (d.height, d.width) == (32, 32)
    assert len(d.bones) == 14              # the BODY_25 segments between the 15 modelled joints
    x = d[0]
    assert x.shape == (14 + 7, 32, 32)
    mask = x[17]
    assert 0.05 < float(mask.mean()) < 0.6 and float(x[:14].amax()) > 2.0   # bones carry depths in metres
    assert set(x[18].unique().tolist()) <= set(range(11))                    # parts 0…9, background 10


def test_a_few_steps_reduce_the_losses_and_initialise_the_texture(synthetic):
    data = AvatarFolder(synthetic, cameras=["cam00"])        # 2 frames = every batch, so the loss can only drop
    run_ = train_avatar(data, AvatarConfig(pretrain_iters=16, iters=24, **TINY), device="cpu", progress=False,
                        log_every=4)
    pre, main = run_.pretrain.history["avatar/loss"], run_.result.history["avatar/loss"]
    assert pre[-1] < pre[0] and main[-1] < main[0]
    assert 0 < run_.texels_initialised < 1
    assert float(run_.model.textures.detach().std()) > 0.05         # no longer the flat 0.5 start
    assert run_.result.iterations == 8                     # 24 steps in all, 16 of them pre-training
    direct = train_avatar(data, AvatarConfig(mode="direct", pretrain_iters=4, iters=8, **TINY), device="cpu",
                          progress=False, log_every=4)
    assert direct.result.iterations == 8                  # the same budget as pre-training + training
    assert direct.result.history["avatar/loss"][-1] < direct.result.history["avatar/loss"][0]


def test_checkpoint_resume_continues_exactly(synthetic, tmp_path):
    data = AvatarFolder(synthetic)
    cfg = dict(pretrain_iters=3, **TINY)
    ckpt = tmp_path / "ck.safetensors"
    train_avatar(data, AvatarConfig(iters=5, **cfg), device="cpu", progress=False, checkpoint=ckpt)
    assert ckpt.with_suffix(".pretrain.safetensors").exists()
    resumed = train_avatar(data, AvatarConfig(iters=7, **cfg), device="cpu", progress=False, checkpoint=ckpt)
    assert resumed.pretrain is None and resumed.result.iterations == 4
    whole = train_avatar(data, AvatarConfig(iters=7, **cfg), device="cpu", progress=False)
    for (k, a), b in zip(resumed.model.state_dict().items(), whole.model.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-5), k


def test_real_data_loader_reads_2d_openpose_keypoints_with_a_fixed_depth(tmp_path):
    root = tmp_path / "video"
    kp = torch.zeros(25, 3)
    for j, (x, y) in {1: (16, 8), 8: (16, 20), 2: (12, 9), 3: (10, 14)}.items():
        kp[j] = torch.tensor([x, y, 0.9])
    for i in range(2):
        save_image(torch.rand(3, 32, 32), root / "images" / f"f{i}.png")
        save_image(torch.ones(1, 32, 32), root / "masks" / f"f{i}.png")
        write_openpose(root / "keypoints" / f"f{i}_keypoints.json", joints_3d=None, keypoints_2d=kp[:, :2],
                       confidence=kp[:, 2])
    d = AvatarFolder(root, depth=2.5)
    assert d.cameras == ["."] and len(d) == 2 and not d.has_surface
    assert d.bones == [(1, 8), (1, 2), (2, 3)]
    x = d[1]
    assert float(x[0, 14, 16]) == pytest.approx(2.5) and float(x[0, 14, 5]) == 0.0
    assert float(x[3 + 4].min()) == -1.0                   # no part maps: unknown
    with pytest.raises(InputError, match="parts/ and uv/"):
        train_avatar(d, AvatarConfig(**TINY), device="cpu", progress=False)
    (root / "keypoints" / "f1_keypoints.json").write_text(json.dumps({"people": [{"pose_keypoints_3d": [0.0] * 100}]}))
    with pytest.raises(InputError, match="cameras.json"):     # 3D keypoints without the cameras
        AvatarFolder(root)


def test_cli_bad_inputs_exit_2_with_one_line(monkeypatch, capsys, tmp_path, synthetic):
    (tmp_path / "bad.json").write_text("{nope")
    (tmp_path / "nokp.json").write_text(json.dumps({"people": []}))
    cases = [(["avatar", "train", "--data", tmp_path / "missing"], "no such data folder"),
             (["avatar", "train", "--data", synthetic, "--iters", "5", "--pretrain-iters", "5", "-o",
               tmp_path / "m.safetensors"], "--pretrain-iters"),
             (["avatar", "train", "--data", synthetic, "--mode", "nope", "-o", tmp_path / "m.safetensors"], "--mode"),
             (["avatar", "train", "--data", synthetic, "--preset", "nope", "-o", tmp_path / "m.safetensors"],
              "unknown preset"),
             (["avatar", "train", "--data", synthetic, "-o", synthetic / "m.safetensors"], "inside the data folder"),
             (["avatar", "train", "--data", synthetic, "--cameras", "camXX", "-o", tmp_path / "m.safetensors"],
              "camXX"),
             (["avatar", "make-synthetic", "-o", tmp_path / "s", "--size", "30"], "multiple of 16"),
             (["avatar", "make-synthetic", "-o", synthetic], "not an empty folder"),
             (["avatar", "render", "--model", tmp_path / "bad.json", "--pose", tmp_path / "bad.json", "--camera",
               synthetic / "cameras.json", "-o", tmp_path / "r.png"], "bad.json")]
    for args, words in cases:
        code, _, err = run(monkeypatch, capsys, *args)
        assert code == 2, (args, err)
        assert words in err and len(err.strip().splitlines()) == 1, (args, err)


def test_cli_train_and_render_from_novel_cameras(monkeypatch, capsys, tmp_path, synthetic):
    model = tmp_path / "av.safetensors"
    code, _, err = run(monkeypatch, capsys, "avatar", "train", "--data", synthetic, "-o", model, "--iters", "4",
                         "--pretrain-iters", "2", "--width", "4", "--max-channels", "8", "--res-blocks", "2",
                         "--batch", "2", "--texture-size", "8", "--device", "cpu", "-q", "--seed", "1")
    assert code == 0, err
    side = json.loads(model.with_suffix(".json").read_text())
    assert side["config"]["model"]["bones"] and side["iterations"] == 2
    pose = synthetic / "cam00" / "keypoints" / "test_0000_keypoints.json"
    png = tmp_path / "views.png"
    code, _, err = run(monkeypatch, capsys, "avatar", "render", "--model", model, "--pose", pose, "--camera",
                         synthetic / "novel_cameras.json", "-o", png, "--report", "--device", "cpu")
    assert code == 0, err
    from PIL import Image
    assert Image.open(png).size == (8 * 34 + 2, 36) and png.with_suffix(".report.png").exists()
    code, _, err = run(monkeypatch, capsys, "avatar", "render", "--model", model, "--pose", tmp_path / "views.json",
                       "--camera", synthetic / "cameras.json", "-o", tmp_path / "x.png")
    assert code == 2 and "OpenPose" in err
