"""``netprior gan …``: GAN inversion (latent, two-step dense-layer, mGANprior) and its applications.

Every command parses options, calls :mod:`netprior.recipes.gan`, writes a PNG with a JSON sidecar next to it and
prints one line per file.  Images are fitted to the generator's size first (centre crop + resize, with a notice;
refused when the aspect ratio is far off).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import InputError
from .common import (Count, Device, Factor, Mask, MaxSide, Output, Reference, RunOptions, Seed, check_device,
                     output_path)
from .groups import options

gan_app = typer.Typer(no_args_is_help=True, help="Invert a pretrained GAN: reconstruct, inpaint, colourise, "
                                                 "super-resolve, interpolate, segment.")

Generator = Annotated[str, typer.Option("--generator", "-g", help="dcgan-faces, pggan or biggan.")]
Weights = Annotated[Optional[Path], typer.Option("--weights", help="Weights file (pggan: the zoo's .pt file; biggan: "
                                                                   "a folder or pytorch_model.bin).")]
ConfigFile = Annotated[Optional[Path], typer.Option("--config", help="BigGAN config.json (default: beside weights).")]
ClassIndex = Annotated[int, typer.Option("--class", help="ImageNet class index (BigGAN's class).")]
Truncation = Annotated[float, typer.Option("--truncation", help="BigGAN truncation in (0, 1].")]
Method = Annotated[str, typer.Option("--preset", "--method", "-m", help="Named settings: the inversion method, "
                                                                       "latent, two-step or mgan (see `netprior "
                                                                       "presets gan`).")]
Layer = Annotated[Optional[str], typer.Option("--split-layer", help="Generator layer to optimise at: two-step offset "
                                                                    "/ mgan composition (default dense / the mgan "
                                                                    "preset's).")]
Codes = Annotated[Optional[int], typer.Option("--codes", help="mgan: number of latent codes N (default 20).")]
Attention = Annotated[str, typer.Option("--attention", help="mgan: none, self, self-scaled or cbam.")]
Iters = Annotated[Optional[int], typer.Option("--iters", help="Optimisation steps (of the latent / mgan phase; "
                                                              "two-step adds --offset-iters).")]
OffsetIters = Annotated[Optional[int], typer.Option("--offset-iters", help="two-step: steps of the δ optimisation.")]
Lr = Annotated[Optional[float], typer.Option("--lr", help="Learning rate (Adam, latent / mgan phase).")]
Restarts = Annotated[Optional[int], typer.Option("--restarts", help="Random restarts of the latent search.")]
InitIters = Annotated[Optional[int], typer.Option("--init-iters", help="mgan: steps of the latent search that places "
                                                                       "the codes (default 500; see --init).")]
Init = Annotated[Optional[str], typer.Option("--init", help="Starting point of the optimisation (mgan: half the "
                                                            "codes around the latent solution, half Gaussian, "
                                                            "mixed, default; all around it, latent; or Gaussian, "
                                                            "random, the thesis').")]
LambdaFeat = Annotated[Optional[float], typer.Option("--lambda-feat", help="Weight of the feature distance.")]
Backbone = Annotated[Optional[str], typer.Option("--backbone", help="Pretrained network (of the feature distance: "
                                                                     "lite0, vgg16-hed, inception_v3, vgg16).")]
FeatureLayers = Annotated[Optional[str], typer.Option("--feature-layers", help="Comma-separated taps (e.g. stage3, "
                                                                               "Mixed_7a, conv4_3).")]


@dataclass(frozen=True)
class GeneratorOptions:
    """Which weights the generator loads and how it is conditioned (the generator's name is the command's, since
    its default differs between commands)."""

    weights: Weights = None
    config: ConfigFile = None
    class_index: ClassIndex = 0
    truncation: Truncation = 1.0


@dataclass(frozen=True)
class InversionOptions:
    """Settings of latent and two-step inversion (recipes.gan.make_config; None = the method's default)."""

    layer: Layer = None
    iters: Iters = None
    offset_iters: OffsetIters = None
    lr: Lr = None
    restarts: Restarts = None
    lambda_feat: LambdaFeat = None
    backbone: Backbone = None
    feature_layers: FeatureLayers = None


@dataclass(frozen=True)
class MultiCodeOptions(InversionOptions):
    """…and of mGANprior."""

    codes: Codes = None
    attention: Attention = "none"
    init: Init = None
    init_iters: InitIters = None


@dataclass(frozen=True)
class GanRunOptions(RunOptions):
    """:class:`RunOptions` with a larger input guard: images are fitted to the generator's size first."""

    max_side: MaxSide = 4096


def _generator(name: str, g: GeneratorOptions, device: str):
    from ..generators import get_generator

    return get_generator(name, g.weights, config=g.config, class_index=g.class_index, truncation=g.truncation,
                         device=check_device(device))


def _config(method: str, o: InversionOptions):
    from ..recipes.gan import make_config

    layers = tuple(s.strip() for s in o.feature_layers.split(",")) if o.feature_layers else None
    mgan = {k: getattr(o, k) for k in ("codes", "attention", "init", "init_iters") if hasattr(o, k)}
    return make_config(method, layer=o.layer, iters=o.iters, offset_iters=o.offset_iters, lr=o.lr,
                       restarts=o.restarts, feature_weight=o.lambda_feat, feature_backbone=o.backbone,
                       feature_layers=layers, **mgan)


def _load_fitted(path: Path, size, max_side: int, mode: str = "RGB"):
    from ..io import load_image
    from ..inputs import fit_image

    x, note = fit_image(load_image(path, mode, max_side=max_side), tuple(size))
    if note:
        typer.echo(f"note: {path.name}: {note}", err=True)
    return x, note


def _reference(reference: Optional[Path], size, max_side: int):
    return None if reference is None else _load_fitted(reference, size, max_side)[0]


def _write(inv, out: Path, *, inputs: dict, note: str | None, report: bool, observation,
           extra_images: dict | None = None) -> None:
    from ..io import save_image
    from ..report import write_sidecar

    save_image(inv.image[:1], out)
    extra = {"phases": {k: r.summary() for k, r in inv.results.items()}, "fit_notice": note}
    write_sidecar(out, config=inv.config, result=inv.result, metrics=inv.metrics, inputs=inputs, extra=extra)
    metrics = "".join(f", {k} {inv.metrics[k]:.3f}" for k in ("loss", "psnr", "ssim") if k in inv.metrics)
    typer.echo(f"wrote {out}  ({inv.method}, {sum(r.steps for r in inv.results.values())} steps, "
               f"{sum(r.seconds for r in inv.results.values()):.1f} s{metrics})")
    for suffix, image in (extra_images or {}).items():
        p = out.with_suffix(f".{suffix}.png")
        save_image(image[:1], p)
        typer.echo(f"wrote {p}")
    typer.echo(f"wrote {out.with_suffix('.json')}")
    if report:
        _write_report(out, inv, observation)


def _write_report(out: Path, inv, observation) -> None:
    from ..report import write_report

    p = write_report(out.with_suffix(".report.png"), inv.result, observation=observation,
                     title=f"GAN inversion ({inv.method}), last phase")
    typer.echo(f"wrote {p}")


def _run_kw(run: RunOptions, checkpoint: Optional[Path] = None) -> dict:
    """Keyword arguments of the recipes: seed, progress and the checkpoint (``run.checkpoint`` unless given)."""
    return {"seed": run.seed, "progress": not run.quiet,
            "checkpoint": str(checkpoint) if checkpoint else run.checkpoint_path}


@gan_app.command("generators")
def generators_cmd():
    """List the generators; the split layers of those available offline."""
    from ..generators import GENERATORS, get_generator

    for name, text in GENERATORS.items():
        typer.echo(f"{name:12s} {text}")
        if name == "dcgan-faces":
            g = get_generator(name)
            typer.echo(f"{'':12s} layers: {', '.join(f'{n} {g.layer_shape(n)}' for n in g.split_layers)}")


@gan_app.command("sample")
@options(gen=GeneratorOptions)
def sample_cmd(output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the result (the samples "
                                                                             "as a row).")], count: Count = 1,
               generator: Generator = "dcgan-faces", seed: Seed = 0, device: Device = "auto", *,
               gen: GeneratorOptions):
    """Draw z ~ P_z and write G(z) (test targets whose true code is known; the codes go to the sidecar)."""
    import torch

    from ..io import save_image
    from ..report import write_sidecar

    out = output_path(output, output, "sample", [])
    g = _generator(generator, gen, device)
    z = g.prior.sample(count, torch.Generator().manual_seed(seed)).to(g.device)
    with torch.no_grad():
        x = g(z)
    save_image(torch.cat(list(x), dim=-1)[None], out)
    write_sidecar(out, config={"task": "sample", "seed": seed, "count": count, "generator": g.describe()},
                  extra={"z": z.cpu().tolist()})
    typer.echo(f"wrote {out}\nwrote {out.with_suffix('.json')}")


@gan_app.command("invert")
@options(gen=GeneratorOptions, opts=MultiCodeOptions, run=GanRunOptions)
def invert_cmd(image: Path, output: Output = None, generator: Generator = "dcgan-faces", method: Method = "two-step",
               *, gen: GeneratorOptions, opts: MultiCodeOptions, run: GanRunOptions):
    """Reconstruct IMAGE with the generator: latent code, two-step dense-layer offset, or mGANprior codes.
    two-step also writes the first step's latent reconstruction (<output>.latent.png)."""
    from ..recipes.gan import invert

    out = output_path(output, image, f"gan-{method}", [image])
    cfg = _config(method, opts)
    g = _generator(generator, gen, run.device)
    x, note = _load_fitted(image, g.image_size, run.max_side)
    inv = invert(x, g, cfg, reference=x, **_run_kw(run))
    extra = {"latent": inv.latent_image} if inv.latent_image is not None else None
    _write(inv, out, inputs={"image": image}, note=note, report=run.report, observation=x, extra_images=extra)


@gan_app.command("inpaint")
@options(gen=GeneratorOptions, opts=MultiCodeOptions, run=GanRunOptions)
def inpaint_cmd(image: Path, output: Output = None, mask: Mask = None,
                missing: Annotated[Optional[float], typer.Option(help="Drop random square blocks covering this share "
                                                                      "of pixels (0.12, 0.25, 0.40).")] = None,
                generator: Generator = "dcgan-faces", method: Method = "mgan", reference: Reference = None, *,
                gen: GeneratorOptions, opts: MultiCodeOptions, run: GanRunOptions):
    """Fill missing pixels with the loss L(x ∘ m, y ∘ m) (thesis eq. 4.7).  Exactly one of --mask, --missing;
    with --missing the input is the clean image and PSNR/SSIM are measured against it."""
    from ..io import load_image, load_mask, save_image
    from ..inputs import missing_blocks_mask
    from ..recipes.gan import inpaint
    from ..inputs import fit_image

    if (mask is None) == (missing is None):
        raise InputError("give exactly one of --mask FILE or --missing SHARE")
    out = output_path(output, image, "gan-inpaint", [image, mask, reference])
    cfg = _config(method, opts)
    g = _generator(generator, gen, run.device)
    if mask is not None:
        raw = load_image(image, max_side=run.max_side)
        m = load_mask(mask, tuple(raw.shape[-2:]))
        x, note = fit_image(raw, g.image_size)
        m = (fit_image(m, g.image_size)[0] >= 0.5).float()
        if note:
            typer.echo(f"note: {image.name}: {note} (the mask likewise)", err=True)
    else:
        x, note = _load_fitted(image, g.image_size, run.max_side)
        m = missing_blocks_mask(g.image_size, missing, run.seed)
    ref = _reference(reference, g.image_size, run.max_side) if reference is not None else \
        (x if missing is not None else None)
    inv = inpaint(x, m, g, cfg, reference=ref, notes={"missing_share": float(1 - m.mean())}, **_run_kw(run))
    if mask is None:
        mpath = out.with_suffix(".mask.png")
        save_image(m, mpath)
        typer.echo(f"wrote {mpath}")
    _write(inv, out, inputs={"image": image, "mask": mask, "reference": reference}, note=note, report=run.report,
           observation=x * m)


@gan_app.command("colorize")
@options(gen=GeneratorOptions, opts=MultiCodeOptions, run=GanRunOptions)
def colorize_cmd(image: Path, output: Output = None, generator: Generator = "dcgan-faces", method: Method = "mgan",
                 *, gen: GeneratorOptions, opts: MultiCodeOptions, run: GanRunOptions):
    """Colourise a grayscale image (A = luma).  A colour input is reduced to its luma first and used as the
    reference for PSNR/SSIM."""
    from ..operators import Grayscale
    from ..recipes.gan import colorize

    out = output_path(output, image, "gan-colorize", [image])
    cfg = _config(method, opts)
    g = _generator(generator, gen, run.device)
    x, note = _load_fitted(image, g.image_size, run.max_side)
    is_colour = bool((x - x.mean(dim=1, keepdim=True)).abs().max() > 1e-3)
    gray = Grayscale()(x)
    inv = colorize(gray, g, cfg, reference=x if is_colour else None, **_run_kw(run))
    _write(inv, out, inputs={"image": image}, note=note, report=run.report, observation=gray)


@gan_app.command("super-resolve")
@options(gen=GeneratorOptions, opts=MultiCodeOptions, run=GanRunOptions)
def sr_cmd(image: Path, output: Output = None, factor: Factor = 4, generator: Generator = "dcgan-faces",
           method: Method = "mgan", reference: Reference = None, *,
           gen: GeneratorOptions, opts: MultiCodeOptions, run: GanRunOptions):
    """×factor super-resolution: the data term compares the Lanczos-downsampled reconstruction with IMAGE, which
    is fitted to (generator size / factor); the output has the generator's size."""
    from ..recipes.gan import super_resolve

    out = output_path(output, image, f"gan-x{factor}", [image, reference])
    cfg = _config(method, opts)
    g = _generator(generator, gen, run.device)
    if factor not in (2, 4, 8) or g.image_size[0] % factor or g.image_size[1] % factor:
        raise InputError(f"--factor must be 2, 4 or 8 and divide the generator size {g.image_size}")
    y, note = _load_fitted(image, (g.image_size[0] // factor, g.image_size[1] // factor), run.max_side)
    inv = super_resolve(y, factor, g, cfg, reference=_reference(reference, g.image_size, run.max_side),
                        **_run_kw(run))
    _write(inv, out, inputs={"image": image, "reference": reference}, note=note, report=run.report, observation=y)


@gan_app.command("interpolate")
@options(gen=GeneratorOptions, opts=InversionOptions, run=GanRunOptions)
def interpolate_cmd(image_a: Path, image_b: Path, output: Output = None,
                    frames: Annotated[int, typer.Option("--frames", help="Frames per path, ends included.")] = 8,
                    generator: Generator = "dcgan-faces", *,
                    gen: GeneratorOptions, opts: InversionOptions, run: GanRunOptions):
    """Invert A and B (two-step) and write a strip (rows: latent-space path A→B, dense-layer path A→B, and for A
    and B the path from the latent to the dense reconstruction, G2(G1(z*) + α·δ*)) and a GIF of the two A→B
    paths side by side.  With --checkpoint, A and B each have their own file (<stem>-a, <stem>-b)."""
    from ..io import save_gif, save_image, tagged_path
    from ..recipes.gan import invert
    from ..generators.paths import interpolation_config, interpolation_figures
    from ..report import write_sidecar

    out = output_path(output, image_a, "gan-interpolate", [image_a, image_b])
    cfg = _config("two-step", opts)
    g = _generator(generator, gen, run.device)
    (xa, note_a), (xb, note_b) = (_load_fitted(p, g.image_size, run.max_side) for p in (image_a, image_b))
    a, b = (invert(x, g, cfg, reference=x, **_run_kw(run, tagged_path(run.checkpoint, end)))
            for x, end in ((xa, "a"), (xb, "b")))
    strip, gif_frames = interpolation_figures(g, a, b, xa, xb, frames)
    save_image(strip, out)
    gif = save_gif(gif_frames, out.with_suffix(".gif"))
    write_sidecar(out, config=interpolation_config(a, frames), inputs={"a": image_a, "b": image_b},
                  metrics={"a": a.metrics, "b": b.metrics}, extra={"fit_notice": [note_a, note_b]})
    typer.echo(f"wrote {out}  (A: latent loss {a.metrics['latent_loss']:.3f} → dense {a.metrics['loss']:.3f}; "
               f"B: {b.metrics['latent_loss']:.3f} → {b.metrics['loss']:.3f})")
    typer.echo(f"wrote {gif}\nwrote {out.with_suffix('.json')}")
    if run.report:
        _write_report(out, b, xb)


@gan_app.command("segment")
@options(gen=GeneratorOptions, opts=InversionOptions, run=GanRunOptions)
def segment_cmd(image: Path, output: Output = None,
                clusters: Annotated[int, typer.Option("-k", "--clusters", help="Number of segments.")] = 8,
                generator: Generator = "biggan", *, gen: GeneratorOptions, opts: InversionOptions, run: GanRunOptions):
    """Unsupervised segmentation from the generator's self-attention map after a two-step inversion (Pividori
    §5); each segment is painted with its mean colour.  Needs a generator with attention (biggan)."""
    from ..io import save_image
    from ..recipes.gan import segment
    from ..report import write_sidecar
    from ..segmentation import mean_colour_image

    out = output_path(output, image, f"gan-segment{clusters}", [image])
    g = _generator(generator, gen, run.device)
    if g.attention_stage is None:
        raise InputError(f"generator {g.name} has no self-attention layer; segmentation needs one "
                         "(--generator biggan --weights …)")
    x, note = _load_fitted(image, g.image_size, run.max_side)
    seg = segment(x, g, clusters, _config("two-step", opts), reference=x, **_run_kw(run))
    save_image(mean_colour_image(seg.labels, x), out)
    write_sidecar(out, config=seg.config, result=seg.result, metrics=seg.metrics,
                  inputs={"image": image}, extra={"labels": seg.labels.tolist(), "fit_notice": note})
    typer.echo(f"wrote {out}  ({clusters} segments on a {seg.labels.shape[1]}x{seg.labels.shape[0]} attention grid)")
    typer.echo(f"wrote {out.with_suffix('.json')}")
    if run.report:
        _write_report(out, seg, x)
