"""``netprior translate …``: unpaired image translation with perceptual discriminators (thesis ch. 5,
:mod:`netprior.recipes.translate`).

    netprior translate train --a DIR_A --b DIR_B -o a2b.safetensors [--disc lite0|vgg16-hed|vgg*|patch]
    netprior translate apply a2b.safetensors IMAGE -o out.png [--direction ab|ba]
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import InputError
from .common import Device, Iters, Lr, MaxSide, Output, Report, check_device, output_path
from .groups import options
from .training import TrainingOptions, notes, write_trained

translate_app = typer.Typer(no_args_is_help=True, help="Unpaired image translation A → B with perceptual "
                                                       "discriminators (thesis ch. 5).")


@translate_app.command("train")
@options(run=TrainingOptions)
def train_cmd(
        dir_a: Annotated[Path, typer.Option("--a", help="Folder of domain-A images (the inputs).")],
        dir_b: Annotated[Path, typer.Option("--b", help="Folder of domain-B images (the targets, unpaired).")],
        output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the result (the generators, a "
                                                               ".safetensors file).")] = Path("translate.safetensors"),
        disc: Annotated[str, typer.Option("--disc", help="Discriminator trunk: lite0, vgg16-hed or vgg* (frozen "
                                                         "pretrained features), patch (plain, learned).")] = "lite0",
        gan_loss: Annotated[str, typer.Option("--gan-loss", help="lsgan or nonsaturating.")] = "lsgan",
        raw_taps: Annotated[bool, typer.Option("--raw-taps", help="Feed the frozen taps to the discriminator "
                                                                  "unscaled, as the thesis (default: each divided by "
                                                                  "its std on real images of the domain).")] = False,
        single_scale: Annotated[bool, typer.Option("--single-scale", help="Only the main output of the "
                                                                          "discriminator (no patch outputs).")] = False,
        one_way: Annotated[bool, typer.Option("--one-way", help="Train G_ab and D_b only (identity loss, no cycle "
                                                                "loss).")] = False,
        size: Annotated[int, typer.Option("--size", help="Side in pixels of the images made (a multiple of "
                                                         "16).")] = 64,
        input_skip: Annotated[bool, typer.Option("--input-skip/--no-input-skip", help="The generator's last "
                                                 "convolution also sees its input, so that it can reproduce it "
                                                 "(--no-input-skip: the plain network, blind to the input's "
                                                 "global brightness and contrast).")] = True,
        iters: Iters = 1000,
        pretrain_iters: Annotated[int, typer.Option("--pretrain-iters", help="Pre-training steps (the "
                                                                             "generators as autoencoders).")] = 100,
        batch: Annotated[int, typer.Option("--batch", help="Images per training step (the global batch of one "
                                                           "optimiser step).")] = 8,
        lr: Lr = 2e-4,
        cycle_weight: Annotated[float, typer.Option("--cycle-weight", help="λ_cyc, weight of the cycle "
                                                    "loss.")] = 10.0,
        identity_weight: Annotated[float, typer.Option("--identity-weight", help="λ_id, weight of the identity "
                                                       "loss (eq. 5.7).")] = 5.0,
        report: Report = False, *, run: TrainingOptions):
    """Train a translation A → B (and B → A) from two unpaired folders."""
    from ..data import ImageFolder
    from ..data.unpaired import Unpaired
    from ..recipes.translate import TranslateConfig, save_model, train_translation

    dev = check_device(run.device)
    stem = run.check_outputs(output, dir_a, dir_b, what="generators")
    cfg = TranslateConfig(size=size, disc=disc, gan_loss=gan_loss, tap_scale=not raw_taps,
                          multiscale=not single_scale, cycle=not one_way, g_input_skip=input_skip,
                          cycle_weight=cycle_weight, identity_weight=identity_weight, pretrain_iters=pretrain_iters,
                          batch=batch, iters=iters, lr=lr, seed=run.seed)
    with notes():
        data = Unpaired(ImageFolder(dir_a, size, split="all", seed=run.seed),
                        ImageFolder(dir_b, size, split="all", seed=run.seed + 1), seed=run.seed)
    trained = train_translation(data, cfg, device=dev, workers=run.loader_workers, checkpoint=run.checkpoint,
                                log=stem.with_suffix(".log.jsonl"), progress=not run.quiet,
                                sample_every=run.sample_every)
    r = trained.result
    save_model(trained.generators, cfg, output, training=trained.config)
    write_trained(output, r, trained.config, samples=r.snapshots[-1][1], nrow=4, report=report,
                  title=f"translation A → B, discriminator {disc}, {r.iterations} iterations",
                  extra={"pretrain": trained.pretrain.summary() if trained.pretrain else None},
                  summary=f"{cfg.pretrain_iters} pre-training + {r.iterations} iterations, {r.seconds:.1f} s")


@translate_app.command("apply")
def apply_cmd(model: Annotated[Path, typer.Argument(help="A model file written by `netprior translate train`.")],
              image: Path, output: Output = None,
              direction: Annotated[str, typer.Option("--direction", help="ab (A → B) or ba (B → A, needs a model "
                                                                         "trained with the cycle).")] = "ab",
              max_side: MaxSide = 4096, device: Device = "auto"):
    """Translate one image (one forward pass; any size, cropped to a multiple of 4)."""
    from ..io import load_image, save_image
    from ..recipes.translate import load_model, translate
    from ..report import write_sidecar

    out = output_path(output, image, f"translated-{direction}", [model, image])
    gens, cfg = load_model(model, check_device(device))
    if direction not in gens:
        raise InputError(f"--direction {direction}: this model has {' and '.join(gens)} only")
    g = gens[direction]
    x = load_image(image, max_side=max_side)
    h, w = (s // g.multiple * g.multiple for s in x.shape[-2:])
    if min(h, w) == 0:
        raise InputError(f"{image}: the image is smaller than {g.multiple} px")
    if (h, w) != tuple(x.shape[-2:]):
        typer.echo(f"note: {image.name}: cropped to {w}x{h} (a multiple of {g.multiple})", err=True)
        x = x[..., :h, :w]
    save_image(translate(g, x), out)
    write_sidecar(out, config={"method": "translate-apply", "direction": direction, "model": cfg.__dict__},
                  inputs={"model": model, "image": image})
    typer.echo(f"wrote {out}  ({direction}, {w}x{h})")
    typer.echo(f"wrote {out.with_suffix('.json')}")
