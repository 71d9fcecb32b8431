"""``netprior avatar …``: textured neural avatars (thesis ch. 6) — synthetic data, training, rendering.

* ``make-synthetic -o DIR`` writes the capsule-body data set (:mod:`netprior.avatar.synthetic`);
* ``train --data DIR -o MODEL.safetensors`` trains a textured avatar (or ``--mode direct``, the baseline) and writes
  the model, its JSON sidecar, a sample grid (ground truth / prediction pairs) and the JSONL log;
* ``render --model M --pose POSE.json --camera CAMERA.json -o OUT.png`` renders a pose (an OpenPose keypoint file,
  3D world or 2D pixel keypoints) from one camera, or from every camera of a ``{name: camera}`` file (a row).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import InputError
from .common import Device, MaxSide, PresetOpt, Quiet, Report, Seed, check_device
from .groups import options
from .training import TrainingOptions, write_trained

avatar_app = typer.Typer(no_args_is_help=True, help="Textured neural avatars: pose → part/UV maps → learned "
                                                    "textures (thesis ch. 6).")


@avatar_app.command("make-synthetic")
def make_synthetic_cmd(
        output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the result (a new folder).")],
        size: Annotated[int, typer.Option("--size", help="Side in pixels of the images made (a multiple of "
                                                         "16).")] = 64,
        train_cameras: Annotated[int, typer.Option("--train-cameras", help="Cameras of the training ring.")] = 16,
        heldout_cameras: Annotated[int, typer.Option("--heldout-cameras", help="Held-out cameras.")] = 4,
        train_frames: Annotated[int, typer.Option("--train-frames", help="Frames of the training motion.")] = 60,
        test_frames: Annotated[int, typer.Option("--test-frames", help="Frames of the held-out motion.")] = 24,
        texture_size: Annotated[int, typer.Option("--texture-size", help="Side in pixels of each part texture "
                                                  "(the true one).")] = 64,
        shading: Annotated[float, typer.Option("--shading", help="Lambertian shading strength in [0, 1] "
                                                                 "(0 = flat albedo).")] = 0.25,
        seed: Seed = 0, report: Report = False, quiet: Quiet = False):
    """Render the synthetic articulated body (10 textured capsules on a BODY_25 skeleton) from a ring of cameras:
    images, masks, OpenPose keypoints, part/UV maps, cameras.json, split.json."""
    from ..avatar.synthetic import SyntheticConfig, make_synthetic

    if size < 16 or size % 16:
        raise InputError(f"--size must be a positive multiple of 16, got {size}")
    if min(train_cameras, train_frames, test_frames) < 1 or heldout_cameras < 0 or texture_size < 2:
        raise InputError("--train-cameras, --train-frames and --test-frames must be >= 1, --heldout-cameras >= 0, "
                         "--texture-size >= 2")
    if not 0.0 <= shading <= 1.0:
        raise InputError(f"--shading must be in [0, 1], got {shading}")
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise InputError(f"{output}: exists and is not an empty folder; choose a new one")
    cfg = SyntheticConfig(size=size, train_cameras=train_cameras, heldout_cameras=heldout_cameras,
                          train_frames=train_frames, test_frames=test_frames, texture_size=texture_size,
                          shading=shading, seed=seed)
    split = make_synthetic(output, cfg, progress=not quiet)
    typer.echo(f"wrote {split['images']} frames ({train_cameras} training + {heldout_cameras} held-out cameras, "
               f"{size}×{size}) to {output}")
    if report:
        import torch

        from ..avatar.dataset import AvatarFolder, unpack
        from ..io import save_image
        from ..report import image_grid

        d = AvatarFolder(output, cameras=split["train_cameras"] + split["heldout_cameras"], frames="test_0000")
        save_image(image_grid(unpack(torch.stack([d[i] for i in range(len(d))]), len(d.bones))["image"]),
                   output / "cameras.png")
        typer.echo(f"wrote {output / 'cameras.png'}")


def _cameras_opt(text: Optional[str]) -> Optional[list[str]]:
    return [c.strip() for c in text.split(",") if c.strip()] if text else None


@avatar_app.command("train")
@options(run=TrainingOptions)
def train_cmd(
        data: Annotated[Path, typer.Option("--data", help="Folder of images (frames, masks, OpenPose keypoints; "
                                                          "see README).")],
        output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the result (a .safetensors "
                                                                    "model).")] =
        Path("avatar.safetensors"),
        mode: Annotated[str, typer.Option("--mode", help="textured (the avatar) or direct (the baseline).")] =
        "textured",
        cameras: Annotated[Optional[str], typer.Option("--cameras", help="Comma-separated camera folders "
                                                       "(default: split.json's train_cameras, else all).")] = None,
        frame_pattern: Annotated[Optional[str], typer.Option("--frame-pattern", help="Glob over frame names "
                                                             "(default: split.json's train_frames, else *).")] = None,
        preset: PresetOpt = "thesis",
        iters: Annotated[Optional[int], typer.Option("--iters", help="Optimisation steps (all stages together: "
                                                     "the textured avatar spends --pretrain-iters of them on "
                                                     "pre-training, Direct trains for all; default: the "
                                                     "preset's).")] = None,
        pretrain_iters: Annotated[Optional[int], typer.Option("--pretrain-iters", help="Pre-training steps (on the "
                                                              "part/UV maps, §6.3.5; part of --iters).")] = None,
        batch: Annotated[Optional[int], typer.Option("--batch", help="Images per training step.")] = None,
        lr: Annotated[Optional[float], typer.Option("--lr", help="Learning rate (Adam, of the network).")] = None,
        texture_lr: Annotated[Optional[float], typer.Option("--texture-lr", help="Learning rate of the textures "
                                                            "(Adam).")] = None,
        width: Annotated[Optional[int], typer.Option("--width", help="Network width (channels of the first conv; "
                                                     "thesis 32).")] = None,
        max_channels: Annotated[Optional[int], typer.Option("--max-channels", help="Channels of the residual "
                                                            "blocks (thesis 256).")] = None,
        res_blocks: Annotated[Optional[int], typer.Option("--res-blocks", help="Residual blocks (half in the "
                                                          "encoder, half in each decoder).")] = None,
        texture_size: Annotated[Optional[int], typer.Option("--texture-size", help="Side in pixels of each part "
                                                            "texture (the learned one).")] = None,
        parts: Annotated[Optional[int], typer.Option("--parts", help="Body parts n (default: split.json's, "
                                                     "else 24 as DensePose).")] = None,
        backbone: Annotated[str, typer.Option("--backbone", help="Pretrained network (of the perceptual loss: "
                                              "lite0, offline, or vgg19 when its weights are cached).")] = "lite0",
        depth: Annotated[float, typer.Option("--depth", help="Depth (m) given to 2D keypoints.")] = 3.0,
        init: Annotated[Optional[Path], typer.Option("--init", help="Starting point of the optimisation (a "
                                                     "textured avatar whose network is copied instead of "
                                                     "pre-training).")] = None,
        report: Report = False, max_side: MaxSide = 1024, *, run: TrainingOptions):
    """Train a textured neural avatar (or the Direct baseline) on frames + masks + OpenPose keypoints.  Unset
    settings come from the preset (`netprior presets avatar`)."""
    import json

    from ..avatar.dataset import AvatarFolder
    from ..config import get_preset
    from ..recipes.avatar import load_avatar, save_avatar, train_avatar
    from ..settings.avatar import MODES

    dev = check_device(run.device)
    if mode not in MODES:
        raise InputError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    if init is not None and mode != "textured":
        raise InputError("--init applies to textured avatars (it replaces their pre-training)")
    if not data.is_dir():
        raise InputError(f"{data}: no such data folder")
    stem = run.check_outputs(output, data)
    if parts is None:
        split = data / "split.json"
        try:
            parts = len(json.loads(split.read_text()).get("parts", [])) if split.is_file() else 24
        except (OSError, json.JSONDecodeError, AttributeError):
            raise InputError(f"{split}: not a readable split file (JSON with a parts list)") from None
        parts = parts or 24
    cfg = get_preset("avatar", preset).override(
        mode=mode, parts=parts, texture_size=texture_size, width=width, max_channels=max_channels,
        res_blocks=res_blocks, batch=batch, pretrain_iters=pretrain_iters, iters=iters, lr=lr, texture_lr=texture_lr,
        backbone=backbone, seed=run.seed)
    if mode == "textured" and init is None and cfg.pretrain_iters >= cfg.iters:
        raise InputError(f"--pretrain-iters ({cfg.pretrain_iters}) must be less than --iters ({cfg.iters}), which "
                         "counts pre-training and training together")
    ds = AvatarFolder(data, cameras=_cameras_opt(cameras), frames=frame_pattern, parts=parts, depth=depth,
                      max_side=max_side)
    init_model = load_avatar(init)[0] if init is not None else None
    trained = train_avatar(ds, cfg, device=dev, checkpoint=run.checkpoint, log=stem.with_suffix(".log.jsonl"),
                           progress=not run.quiet, sample_every=run.sample_every, init=init_model,
                           workers=run.loader_workers)
    r = trained.result
    save_avatar(trained.model, output, config=trained.config["model"], training=trained.config)
    metrics = {"texels_initialised": trained.texels_initialised} if trained.texels_initialised is not None else {}
    write_trained(output, r, trained.config, samples=r.snapshots[-1][1], nrow=4, report=report, metrics=metrics,
                  title=f"{mode} avatar, {cfg.iters} steps in all (pairs: truth, prediction)",
                  summary=f"{mode}, {len(ds)} frames, {r.iterations} iterations, {r.seconds:.1f} s")


@avatar_app.command("render")
def render_cmd(
        model: Annotated[Path, typer.Option("--model", help="Avatar file from `avatar train`.")],
        pose: Annotated[Path, typer.Option("--pose", help="OpenPose keypoint file (3D world or 2D pixels).")],
        camera: Annotated[Path, typer.Option("--camera", help="Camera JSON (one camera, or {name: camera}: one "
                                             "view per camera).")],
        output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Where to write the result "
                                                       "(default: ./<pose>-avatar.png).")] = None,
        device: Device = "auto", report: Report = False):
    """Render a trained avatar in a pose from one or several cameras (the avatar on black, views in a row)."""
    import torch

    from ..avatar.bones import rasterise_bones
    from ..avatar.camera import read_cameras
    from ..avatar.dataset import pose_keypoints, read_openpose
    from ..io import check_output_path, save_image
    from ..recipes.avatar import TexturedAvatar, load_avatar, predict
    from ..report import file_digest, image_grid, write_sidecar

    dev = check_device(device)
    out = check_output_path(output or Path.cwd() / f"{pose.stem}-avatar.png", [model, pose, camera])
    net, cfg = load_avatar(model, dev)
    kind, values = read_openpose(pose)
    cams = read_cameras(camera)
    stacks = []
    for name, cam in cams.items():
        if cam.height % 16 or cam.width % 16:
            raise InputError(f"{camera}: camera {name!r} is {cam.width}×{cam.height}; sides must be multiples of 16")
        kp = pose_keypoints(kind, values, cam, cfg["depth"], str(pose))
        stacks.append(rasterise_bones(kp, [tuple(b) for b in cfg["bones"]], cam.height, cam.width,
                                      radius=cfg["bone_radius"]))
    sizes = {tuple(s.shape) for s in stacks}
    if len(sizes) > 1:
        raise InputError(f"{camera}: the cameras have different image sizes; render them one file at a time")
    images, masks = predict(net, torch.stack(stacks))
    save_image(image_grid(images, nrow=len(images), padding=0 if len(images) == 1 else 2), out)
    inputs = {"model": model, "pose": pose, "camera": camera}
    write_sidecar(out, config={"method": "avatar-render", "model": cfg, "cameras": list(cams),
                               "model_sha256": file_digest(model)}, inputs=inputs,
                  metrics={"foreground_fraction": float(masks.mean())})
    typer.echo(f"wrote {out}  ({cfg['mode']} avatar, {len(images)} view{'s' * (len(images) > 1)})")
    typer.echo(f"wrote {out.with_suffix('.json')}")
    if report:
        rows = [images, torch.stack(stacks).amax(1, keepdim=True).clamp(max=1).expand(-1, 3, -1, -1),
                masks.expand(-1, 3, -1, -1)]
        if isinstance(net, TexturedAvatar):
            with torch.no_grad():
                logits, _ = net.surface(torch.stack(stacks).to(dev))
            palette = torch.cat([torch.rand(net.parts, 3, generator=torch.Generator().manual_seed(0)) * 0.8 + 0.2,
                                 torch.zeros(1, 3)])          # a colour per part, the background black
            rows.append(palette[logits.argmax(1).cpu()].permute(0, 3, 1, 2))
        rp = out.with_suffix(".report.png")
        save_image(image_grid(torch.cat(rows), nrow=len(images)), rp)
        typer.echo(f"wrote {rp}  (rows: render, bone input, foreground, {'part map' if len(rows) > 3 else ''})")
