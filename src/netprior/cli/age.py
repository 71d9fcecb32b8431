"""``netprior age …``: Adversarial Generator-Encoder networks (thesis ch. 4, :mod:`netprior.recipes.age`).

    netprior age train [--data DIR] -o age.safetensors [--colorize]      (loop 2; writes samples, report, log)
    netprior age sample age.safetensors -o samples.png [-n 64]
    netprior age reconstruct age.safetensors IMAGE... -o rec.png          (rows of [x, g(e(x))] pairs)
    netprior age interpolate age.safetensors A B -o path.png [--steps 8]
    netprior age colorize colour.safetensors GREY -o colourings.png [-n 8] [--colours-from IMAGE]
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import InputError
from .common import (Count, Device, Iters, Lr, MaxSide, Output, Report, Seed, check_device,
                     output_path)
from .groups import options
from .training import CollectionOptions, FidImages, TrainingOptions, notes, write_trained

age_app = typer.Typer(no_args_is_help=True, help="Adversarial Generator-Encoder networks (thesis ch. 4): train, "
                                                 "sample, reconstruct, interpolate, colourise.")

Model = Annotated[Path, typer.Argument(help="An AGE model file written by `netprior age train`.")]


def _model(path: Path, device: str, mode: str):
    from ..recipes.age import load_model

    e, g, cfg = load_model(path, check_device(device))
    if cfg.mode != mode:
        raise InputError(f"{path}: this is a {cfg.mode} AGE model; this command needs an AGE model of mode {mode} (train it with "
                         f"`netprior age train{' --colorize' if mode == 'colorize' else ''}`)")
    return e, g, cfg


def _load_fitted(path: Path, cfg, max_side: int):
    from ..io import load_image
    from ..inputs import fit_image

    x, note = fit_image(load_image(path, "L" if cfg.channels == 1 else "RGB", max_side=max_side),
                        (cfg.size, cfg.size))
    if note:
        typer.echo(f"note: {path.name}: {note}", err=True)
    return x


def _write(image, out: Path, *, config: dict, inputs: dict, metrics: dict | None = None, what: str) -> None:
    from ..io import save_image
    from ..report import write_sidecar

    save_image(image, out)
    write_sidecar(out, config=config, metrics=metrics or {}, inputs=inputs)
    typer.echo(f"wrote {out}  ({what})")
    typer.echo(f"wrote {out.with_suffix('.json')}")


@age_app.command("train")
@options(collection=CollectionOptions, run=TrainingOptions)
def train_cmd(
        output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the result (the model: encoder "
                                                               "and generator, a .safetensors file).")] =
        Path("age.safetensors"),
        colorize: Annotated[bool, typer.Option("--colorize", help="Train the conditional AGE for colourisation "
                                                                  "(Lab space: condition on L, generate ab).")] = False,
        size: Annotated[int, typer.Option("--size", help="Side in pixels of the images made (a power of two "
                                                          ">= 16).")] = 64,
        nz: Annotated[Optional[int], typer.Option("--nz", help="Latent dimension (default 64; 3 with "
                                                               "--colorize).")] = None,
        width: Annotated[int, typer.Option("--width", help="Network width: base channels of the encoder and the "
                                                           "generator.")] = 32,
        iters: Iters = 2000,
        batch: Annotated[int, typer.Option("--batch", help="Images per training step (the global batch of one "
                                                           "optimiser step).")] = 64,
        lr: Lr = 2e-4,
        latent_weight: Annotated[float, typer.Option("--latent-weight", help="λ, weight of the latent "
                                                     "reconstruction loss L_Z in the generator's loss (the "
                                                     "thesis tries 500, 1000, 2000; 250 with a warm-up at a "
                                                     "short budget).")] = 1000.0,
        pixel_weight: Annotated[float, typer.Option("--pixel-weight", help="μ, weight of the pixel L1 "
                                                    "reconstruction loss L_X in the encoder's loss.")] = 10.0,
        g_steps: Annotated[int, typer.Option("--g-steps", help="G steps per iteration.")] = 2,
        warmup: Annotated[int, typer.Option("--warmup", help="Iterations of autoencoder warm-up before the game "
                                            "(0: the thesis; about a third of a short CPU budget).")] = 0,
        generator_pixel_weight: Annotated[float, typer.Option("--generator-pixel-weight", help="μ_G, weight of "
                                                              "L_X in the generator's loss too (0: the thesis; 10 "
                                                              "with a warm-up at a short budget).")] = 0.0,
        real_weight: Annotated[float, typer.Option("--real-weight", help="w, weight of the real codes' "
                                                   "divergence in the encoder's loss (1: the thesis; 4 with a "
                                                   "warm-up, where 1 lets the encoder collapse the real codes)."
                                                   )] = 1.0,
        upsample: Annotated[str, typer.Option("--upsample", help="The generator's up-sampling: transposed "
                                              "(DCGAN's 4×4 transposed convolutions, the thesis) or nearest (×2 "
                                              "nearest + 3×3 convolution; no checkerboard speckle at a short "
                                              "budget).")] = "transposed",
        encoder_antialias: Annotated[bool, typer.Option("--encoder-antialias", help="Low-pass ([1, 2, 1]²) the "
                                                        "input of each of the encoder's strided convolutions, so "
                                                        "that the generator cannot hide its code in a fine stripe "
                                                        "grid (off: the thesis).")] = False,
        fid_images: FidImages = 0, report: Report = False, *, collection: CollectionOptions,
        run: TrainingOptions):
    """Train an AGE (encoder + generator, 2 generator updates per encoder update) on a folder of images."""
    from ..data import ImageFolder
    from ..evaluation import GeneratorFID
    from ..recipes.age import AGEConfig, sample, save_model, train_age

    dev = check_device(run.device)
    root = collection.root
    stem = run.check_outputs(output, root)
    mode = "colorize" if colorize else "unconditional"
    cfg = AGEConfig(mode=mode, size=size, nz=nz or (3 if colorize else 64), width=width, batch=batch, iters=iters,
                    lr=lr, g_steps=g_steps, latent_weight=latent_weight, pixel_weight=pixel_weight, seed=run.seed,
                    warmup=warmup, generator_pixel_weight=generator_pixel_weight, real_weight=real_weight,
                    upsample=upsample, encoder_antialias=encoder_antialias)
    kw = dict(size=size, split="train", heldout=collection.heldout, resize=collection.resize, seed=run.seed)
    with notes():
        train_set = ImageFolder(root, crop="random", flip=True, **kw)
    if train_set.channels != cfg.channels:
        raise InputError("AGE trains on colour images here")
    evaluate = None
    if fid_images and mode == "unconditional":
        with notes():
            held = ImageFolder(root, crop="center", flip=False, **{**kw, "split": "heldout"})
        evaluate = GeneratorFID((held[i] for i in range(len(held))),
                                lambda models, n: sample(models["G"], n, seed=run.seed + 1), fid_images, device=dev)
    trained = train_age(train_set, cfg, device=dev, workers=run.loader_workers, checkpoint=run.checkpoint,
                        log=stem.with_suffix(".log.jsonl"), progress=not run.quiet, sample_every=run.sample_every,
                        evaluate=evaluate, eval_every=0)
    r = trained.result
    save_model(trained.encoder, trained.generator, cfg, output, training=trained.config)
    metrics = {k.removeprefix("eval/"): v[-1] for k, v in r.history.items() if k.startswith("eval/")}
    fid = f", FID {metrics['fid']:.1f}" if "fid" in metrics else ""
    write_trained(output, r, trained.config, samples=r.snapshots[-1][1], report=report, metrics=metrics,
                  title=f"AGE ({mode}) {size}², M = {cfg.nz}, {r.iterations} iterations, batch {batch}",
                  summary=f"{r.iterations} iterations, {r.seconds:.1f} s, {r.images_per_second:.1f} images/s{fid}")


@age_app.command("sample")
def sample_cmd(model: Model, output: Output = None, count: Count = 64, seed: Seed = 0, device: Device = "auto"):
    """Samples g(z), z uniform on the latent sphere, as one grid."""
    from ..recipes.age import sample
    from ..report import image_grid

    if count < 1:
        raise InputError(f"--count must be >= 1, got {count}")
    out = output_path(output, model, "samples", [model])
    _, g, cfg = _model(model, device, "unconditional")
    _write(image_grid(sample(g, count, seed=seed)), out, config={"method": "age-sample", "count": count,
                                                                  "seed": seed, "model": cfg.__dict__},
           inputs={"model": model}, what=f"{count} samples")


@age_app.command("reconstruct")
def reconstruct_cmd(model: Model, images: Annotated[list[Path], typer.Argument(help="Images to encode and "
                                                                                   "decode.")],
                    output: Output = None, max_side: MaxSide = 4096, device: Device = "auto"):
    """Reconstructions g(e(x)): a grid of [image, reconstruction] pairs and the mean L1 error in the sidecar."""
    import torch

    from ..recipes.age import reconstruct
    from ..report import image_grid

    out = output_path(output, images[0], "age-reconstruction", [model, *images])
    e, g, cfg = _model(model, device, "unconditional")
    x = torch.cat([_load_fitted(p, cfg, max_side) for p in images])
    rec = reconstruct(e, g, x)
    pairs = torch.stack([x, rec], 1).flatten(0, 1)
    err = [float((a - b).abs().mean()) for a, b in zip(x, rec)]
    _write(image_grid(pairs, nrow=min(8, len(pairs))), out,
           config={"method": "age-reconstruct", "model": cfg.__dict__},
           inputs={"model": model, **{f"image_{i}": p for i, p in enumerate(images)}},
           metrics={"l1": sum(err) / len(err), "l1_per_image": err},
           what=f"{len(images)} reconstructions, mean L1 {sum(err) / len(err):.4f}")


@age_app.command("interpolate")
def interpolate_cmd(model: Model, image_a: Path, image_b: Path, output: Output = None,
                    steps: Annotated[int, typer.Option("--steps", help="Images along the path, ends included.")] = 8,
                    max_side: MaxSide = 4096, device: Device = "auto"):
    """g along the great circle between e(A) and e(B) on the latent sphere (a row: A, the path, B)."""
    import torch

    from ..recipes.age import encode, interpolate
    from ..report import image_grid

    if steps < 2:
        raise InputError(f"--steps must be >= 2, got {steps}")
    out = output_path(output, image_a, "age-interpolation", [model, image_a, image_b])
    e, g, cfg = _model(model, device, "unconditional")
    x = torch.cat([_load_fitted(p, cfg, max_side) for p in (image_a, image_b)])
    za, zb = encode(e, x)
    path = interpolate(g, za, zb, steps)
    _write(image_grid(torch.cat([x[:1], path, x[1:]]), nrow=steps + 2), out,
           config={"method": "age-interpolate", "steps": steps, "model": cfg.__dict__},
           inputs={"model": model, "image_a": image_a, "image_b": image_b},
           metrics={"angle_degrees": float(torch.rad2deg(torch.arccos((za * zb).sum().clamp(-1, 1))))},
           what=f"{steps} images from e(A) to e(B)")


@age_app.command("colorize")
def colorize_cmd(model: Model, image: Annotated[Path, typer.Argument(help="Grey image (a colour one is reduced to "
                                                                          "its lightness L*).")],
                 output: Output = None, count: Count = 8,
                 colours_from: Annotated[Optional[Path], typer.Option("--colours-from", help="Colour transfer: "
                                                                      "encode this colour image and decode its code "
                                                                      "with IMAGE's lightness.")] = None,
                 seed: Seed = 0, max_side: MaxSide = 4096, device: Device = "auto"):
    """Several plausible colourings of one grey image (one per latent code), or a colour transfer with
    --colours-from; every output keeps the input's lightness L*."""
    import torch

    from ..io import load_image
    from ..recipes.age import codes_for, colorize, encode_colours, grey, model_scale
    from ..report import image_grid

    if count < 1:
        raise InputError(f"--count must be >= 1, got {count}")
    out = output_path(output, image, "age-colorized", [model, image, colours_from])
    e, g, cfg = _model(model, device, "colorize")
    rgb = load_image(image, max_side=max_side)
    if float((rgb - rgb.mean(1, keepdim=True)).abs().max()) > 1.5 / 255:
        typer.echo(f"note: {image.name} is a colour image; only its lightness L* is used", err=True)
    if colours_from is not None:
        source = model_scale(load_image(colours_from, max_side=max_side), cfg.size)
        codes = encode_colours(e, source)
        what, inputs = "colour transfer", {"colours_from": colours_from}
    else:
        codes = codes_for(count, cfg.nz, seed)
        what, inputs = f"{count} colourings", {}
    result = colorize(g, rgb, codes, size=cfg.size)
    row = torch.cat([grey(rgb), result])
    _write(image_grid(row, nrow=len(row)), out,
           config={"method": "age-colorize", "seed": seed, "codes": codes.tolist(), "model": cfg.__dict__},
           inputs={"model": model, "image": image, **inputs}, what=what)
