"""``netprior pyramid …``: Semantic Pyramid (Shocher et al. 2020) — train the generator on a folder, then generate
from one level of a reference's features, re-paint a region, compose an object into a background, re-label.

Every application writes the samples as one PNG grid (``-o``), its JSON sidecar and, with ``--report``, a figure
``<output>.report.png`` with the reference(s) in front of the samples.  References of any size and kind (photos,
greyscale photos, line drawings, paintings) are resized and centre-cropped to the generator's resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from ..errors import InputError
from .common import (
    Count,
    Device,
    MaxSide,
    Output,
    Quiet,
    Report,
    Seed,
    check_device,
    output_path,
)
from .groups import options
from .training import CollectionOptions, TrainingOptions, notes, write_trained

pyramid_app = typer.Typer(no_args_is_help=True, help="Semantic Pyramid: generation from a classifier's feature "
                                                     "levels, re-painting, composition, re-labelling.")

Weights = Annotated[Path, typer.Option("--weights", help="Weights file (the generator written by "
                                                        "`netprior pyramid train`).")]
Level = Annotated[str, typer.Option("--level", help="Pyramid level: conv1 … conv5, fc7, fc8 (deeper = freer).")]
Truncation = Annotated[float, typer.Option("--truncation", help="BigGAN truncation in (0, ∞) (z entries beyond ±t "
                                                             "are redrawn), or 0 for none.")]


def _load(weights: Path, device: str):
    from ..io import check_readable
    from ..recipes.pyramid import load_generator

    check_readable(weights, "generator file")
    return load_generator(weights, check_device(device))


def _reference(path: Path, resolution: int, max_side: int):
    from ..io import load_image
    from ..recipes.pyramid import fit_reference

    raw = load_image(path, max_side=max_side)
    return raw, fit_reference(raw, resolution)


def _mask(path: Path, image, resolution: int):
    from ..io import load_mask
    from ..recipes.pyramid import fit_mask

    return fit_mask(load_mask(path, tuple(image.shape[-2:])), resolution)


def _write(out: Path, samples, shown, *, config: dict, inputs: dict, report: bool) -> None:
    """The sample grid, its sidecar and optionally the report (``shown`` images, then the samples)."""
    import torch

    from ..io import save_image
    from ..report import image_grid, write_sidecar

    save_image(image_grid(samples), out)
    write_sidecar(out, config=config, inputs=inputs)
    typer.echo(f"wrote {out}  ({samples.shape[0]} samples, {samples.shape[-1]}²)")
    typer.echo(f"wrote {out.with_suffix('.json')}")
    if report:
        rp = out.with_suffix(".report.png")
        save_image(image_grid(torch.cat([shown, samples]), nrow=shown.shape[0] + samples.shape[0]
                              if samples.shape[0] <= 8 else None), rp)
        typer.echo(f"wrote {rp}")


@dataclass(frozen=True)
class SamplingOptions:
    """The flags every application shares: the generator file, the level, how many samples, the truncation, and
    randomness, device, input guard, report and progress."""

    weights: Weights = Path("pyramid.safetensors")
    level: Level = "conv5"
    count: Count = 4
    truncation: Truncation = 0.0
    seed: Seed = 0
    device: Device = "auto"
    max_side: MaxSide = 4096
    report: Report = False
    quiet: Quiet = False

    def load(self):
        """Check the level and count, then load the generator and its classifier pyramid."""
        from ..semantic_pyramid import check_level

        check_level(self.level)
        if not 1 <= self.count <= 256:
            raise InputError(f"-n/--count must be between 1 and 256, got {self.count}")
        return _load(self.weights, self.device)

    def sample_kw(self) -> dict:
        return {"seed": self.seed, "truncation": self.truncation}

    def config(self, task: str, g, pyramid, **kw) -> dict:
        return {"method": "semantic-pyramid", "task": task, "weights": str(self.weights), "classifier": pyramid.name,
                "resolution": g.resolution, "level": self.level, "samples": self.count, **self.sample_kw(), **kw}


@pyramid_app.command("train")
@options(collection=CollectionOptions, run=TrainingOptions)
def train_cmd(
        output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the result (the generator, a "
                                                               ".safetensors file).")] = Path("pyramid.safetensors"),
        resolution: Annotated[int, typer.Option("--resolution", help="Image side: 64 or 128 on the CPU, 256 with "
                                                "a GPU.")] = 64,
        classifier: Annotated[str, typer.Option("--classifier", help="lite0 (offline) or vgg16 (torchvision "
                                                "weights in the torch hub cache).")] = "lite0",
        iters: Annotated[int, typer.Option("--iters", help="Optimisation steps (iterations of one D and one G "
                                                   "step).")] = 1000,
        batch: Annotated[int, typer.Option("--batch", help="Images per training step (even: G uses pairs of "
                                                 "noise vectors).")] = 16,
        width: Annotated[int, typer.Option("--width", help="Network width: base channels of G and D.")] = 32,
        lr: Annotated[float, typer.Option("--lr", help="Learning rate (Adam, of D and G).")] = 1e-4,
        rec_weight: Annotated[float, typer.Option("--rec-weight", help="α, weight of the feature "
                                                  "reconstruction.")] = 0.1,
        div_weight: Annotated[float, typer.Option("--div-weight", help="β, weight of the diversity term.")] = 0.1,
        p_spatial: Annotated[float, typer.Option("--p-spatial", help="Probability of a spatial mask.")] = 0.3,
        skip_z: Annotated[bool, typer.Option("--skip-z/--no-skip-z", help="Noise into every block's batch norm "
                                             "(BigGAN's hierarchical latent) or only at the coarsest level.")] = True,
        report: Report = False, *, collection: CollectionOptions, run: TrainingOptions):
    """Train the semantic pyramid generator on a folder of images (labels: the classifier's top-1 class); the
    sample grids are sheets of levels."""
    from ..data import ImageFolder
    from ..recipes.pyramid import PyramidConfig, save_generator, train_pyramid

    cfg = PyramidConfig(resolution=resolution, classifier=classifier, width=width, batch=batch, iters=iters, lr=lr,
                        rec_weight=rec_weight, div_weight=div_weight, p_spatial=p_spatial, skip_z=skip_z,
                        seed=run.seed)
    dev = check_device(run.device)
    root = collection.root
    stem = run.check_outputs(output, root, what="generator")
    with notes():
        train_set = ImageFolder(root, resolution, split="train", heldout=collection.heldout,
                                resize=collection.resize, seed=run.seed)
    trained = train_pyramid(train_set, cfg, device=dev, workers=run.loader_workers, checkpoint=run.checkpoint,
                            log=stem.with_suffix(".log.jsonl"), progress=not run.quiet,
                            sample_every=run.sample_every)
    r = trained.result
    save_generator(trained.generator, classifier, output, training=trained.config)
    write_trained(output, r, trained.config, samples=r.snapshots[-1][1], nrow=5, report=report,
                  title=f"Semantic pyramid {resolution}², {r.iterations} iterations",
                  summary=f"{r.iterations} iterations, {r.seconds:.1f} s, {r.seconds / r.iterations:.2f} s/step")


@pyramid_app.command("generate")
@options(opts=SamplingOptions)
def generate_cmd(
        image: Annotated[Path, typer.Argument(help="Reference image (a photo, a greyscale photo, a drawing…).")],
        output: Output = None, *, opts: SamplingOptions):
    """N samples from the features of one level of IMAGE (deeper levels: freer samples)."""
    from ..recipes.pyramid import generate

    g, pyr = opts.load()
    out = output_path(output, image, f"pyramid-{opts.level}", [image, opts.weights])
    _, ref = _reference(image, g.resolution, opts.max_side)
    samples = generate(g, pyr, ref, opts.level, opts.count, **opts.sample_kw())
    _write(out, samples, ref, config=opts.config("generate", g, pyr), inputs={"image": image}, report=opts.report)


@pyramid_app.command("repaint")
@options(opts=SamplingOptions)
def repaint_cmd(
        image: Annotated[Path, typer.Argument(help="Image to re-paint.")],
        mask: Annotated[Path, typer.Option("--mask", help="Mask PNG (IMAGE's size): white = keep, black = "
                                         "re-paint.")],
        output: Output = None, *, opts: SamplingOptions):
    """Regenerate the black region of MASK from LEVEL; the rest comes through the finer levels."""
    from ..recipes.pyramid import repaint

    g, pyr = opts.load()
    out = output_path(output, image, f"repaint-{opts.level}", [image, mask, opts.weights])
    raw, ref = _reference(image, g.resolution, opts.max_side)
    keep = _mask(mask, raw, g.resolution)
    samples = repaint(g, pyr, ref, keep, opts.level, opts.count, **opts.sample_kw())
    _write(out, samples, ref * (0.5 + 0.5 * keep), config=opts.config("repaint", g, pyr),
           inputs={"image": image, "mask": mask}, report=opts.report)


@pyramid_app.command("compose")
@options(opts=SamplingOptions)
def compose_cmd(
        background: Annotated[Path, typer.Argument(help="Background image.")],
        obj: Annotated[Path, typer.Argument(metavar="OBJECT", help="Image the object is taken from.")],
        mask: Annotated[Path, typer.Option("--mask", help="Mask PNG (BACKGROUND's size): white = the region "
                                           "taken from OBJECT.")],
        output: Output = None, *, opts: SamplingOptions):
    """Paste OBJECT into BACKGROUND where MASK is white, then re-paint that region from LEVEL so it blends in."""
    from ..recipes.pyramid import compose

    g, pyr = opts.load()
    out = output_path(output, background, f"compose-{opts.level}", [background, obj, mask, opts.weights])
    raw, bg = _reference(background, g.resolution, opts.max_side)
    _, fg = _reference(obj, g.resolution, opts.max_side)
    region = _mask(mask, raw, g.resolution)
    samples = compose(g, pyr, bg, fg, region, opts.level, opts.count, **opts.sample_kw())
    pasted = region * fg + (1 - region) * bg
    _write(out, samples, pasted, config=opts.config("compose", g, pyr),
           inputs={"background": background, "object": obj, "mask": mask}, report=opts.report)


@pyramid_app.command("relabel")
@options(opts=SamplingOptions)
def relabel_cmd(
        image: Annotated[Path, typer.Argument(help="Reference image.")],
        class_: Annotated[str, typer.Option("--class", help="ImageNet class index (0-999, or a class "
                                                    "name such as volcano) to generate with.")],
        output: Output = None, *, opts: SamplingOptions):
    """The features of LEVEL of IMAGE generated with another class embedding (Fig. 8)."""
    from ..recipes.pyramid import relabel
    from ..semantic_pyramid import class_index, imagenet_classes

    g, pyr = opts.load()
    label = class_index(class_)
    out = output_path(output, image, f"relabel-{label}", [image, opts.weights])
    _, ref = _reference(image, g.resolution, opts.max_side)
    was = int(pyr.labels(pyr.features(ref.to(next(g.parameters()).device))))
    samples = relabel(g, pyr, ref, label, opts.level, opts.count, **opts.sample_kw())
    names = imagenet_classes()
    if not opts.quiet:
        typer.echo(f"class {was} ({names[was]}) → {label} ({names[label]})")
    _write(out, samples, ref, config=opts.config("relabel", g, pyr, predicted_class=was, new_class=label),
           inputs={"image": image}, report=opts.report)
