"""``netprior gradcam`` and ``netprior invert-features``: looking inside a pretrained classifier.

* ``gradcam`` prints the top-5 classes and writes the Grad-CAM heat map of one class at one layer over the image
  (Selvaraju et al. 2017; :mod:`netprior.attribution`).  The image is classified after an antialiased resize that
  makes its shorter side the backbone's input size (224 for Lite0; aspect ratio kept: every backbone here ends in
  global pooling), and the map is drawn over the image at its original size.
* ``invert-features`` computes natural pre-images (Mahendran & Vedaldi; thesis §7.3.4, Fig. 7.9;
  :mod:`netprior.recipes.preimage`): one layer and one prior (``--layer``), or the layer-by-layer grid (``--layers``)
  with a Markdown table of relative feature errors.

Grey (and palette, CMYK, 16-bit) input is converted to RGB by :func:`netprior.io.load_image`, grey by replicating
its channel; a note says so.  Alpha is dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import InputError
from .common import (Checkpoint, Device, ImageNetClass, Output, Quiet, Report, Seed, check_device, output_path,
                     write_result)

features_app = typer.Typer()

BackboneOpt = Annotated[str, typer.Option("--backbone", help="Pretrained network: lite0 (offline), vgg16-hed (offline, "
                                                             "no classifier), vgg16, vgg19, resnet50, alexnet, "
                                                             "inception_v3 (need cached torchvision weights).")]
RandomWeights = Annotated[bool, typer.Option("--random-weights", help="Randomly initialised weights instead of the "
                                                                      "ImageNet ones (a control).")]
MaxSideIn = Annotated[int, typer.Option("--max-side", help="Refuse images whose longer side exceeds this (after "
                                                           "--longer-side).")]


def _load_rgb(path: Path):
    import torch

    from ..io import load_image

    x = load_image(path)
    if torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 1], x[:, 2]):
        typer.echo(f"note: {path.name} is grey; its channel is used for R, G and B", err=True)
    return x


@features_app.command("gradcam")
def gradcam_cmd(image: Path, output: Output = None, backbone: BackboneOpt = "lite0",
                random_weights: RandomWeights = False,
                layer: Annotated[str, typer.Option("--layer", help="Backbone tap: the spatial layer to explain "
                                                                   "(e.g. head, stage6).")] = "head",
                target: ImageNetClass = None,
                top: Annotated[int, typer.Option("--top", help="How many classes to print.")] = 5,
                opacity: Annotated[float, typer.Option("--opacity", help="Heat-map opacity in [0, 1].")] = 0.5,
                device: Device = "auto", max_side: MaxSideIn = 4096):
    """Grad-CAM heat map of a class at a layer, drawn over the image; prints the top classes."""
    import torch

    from ..attribution import gradcam, overlay_heatmap
    from ..backbones import class_names, get_backbone
    from ..io import save_image
    from ..inputs import resize_side
    from ..report import write_sidecar

    if not 0.0 <= opacity <= 1.0:
        raise InputError(f"--opacity must lie in [0, 1], got {opacity}")
    if top < 1:
        raise InputError(f"--top must be >= 1, got {top}")
    out = output_path(output, image, f"gradcam-{layer}", [image])
    x = _load_rgb(image)
    from ..io import check_size

    check_size(x.shape[-2], x.shape[-1], max_side, what=str(image))
    device = check_device(device)
    bb = get_backbone(backbone, "random" if random_weights else "pretrained", device=device)
    xin = resize_side(x, bb.input_size, longer=False).to(device)
    with torch.no_grad():
        probs = torch.softmax(bb.logits(xin), dim=1)[0].cpu()
    names = class_names(bb.num_classes)
    if target is not None and not 0 <= target < bb.num_classes:
        raise InputError(f"--class must be an index in [0, {bb.num_classes - 1}], got {target}")
    ranked = torch.argsort(probs, descending=True)[:min(top, bb.num_classes)].tolist()
    cls = ranked[0] if target is None else target
    try:
        cam = gradcam(bb, xin, cls, layer, create_graph=False)
    except ValueError as err:
        raise InputError(f"--layer {layer}: {err}") from None
    save_image(overlay_heatmap(x, cam.cpu(), alpha=opacity), out)
    for rank, k in enumerate(ranked, start=1):
        typer.echo(f"{rank}. {k:4d} {names[k]:30s} {probs[k].item():.4f}")
    write_sidecar(out, config={"method": "grad-cam", "backbone": bb.name, "weights": bb.weights,
                               "weights_file": bb.weights_file, "layer": layer, "class": cls,
                               "class_source": "top-1" if target is None else "given",
                               "classified_size": list(xin.shape[-2:]), "opacity": opacity},
                  inputs={"image": image},
                  metrics={"class_name": names[cls], "class_probability": probs[cls].item(),
                           "top": [{"class": k, "name": names[k], "probability": probs[k].item()} for k in ranked]})
    typer.echo(f"wrote {out}  (Grad-CAM of class {cls} '{names[cls]}' at {layer})")
    typer.echo(f"wrote {out.with_suffix('.json')}")


def _parse_layers(layer: Optional[str], layers: Optional[str]) -> tuple[list[str], bool]:
    if (layer is None) == (layers is None):
        raise InputError("give exactly one of --layer NAME (one pre-image) or --layers A,B,C (the grid)")
    if layer is not None:
        return [layer], False
    names = [s.strip() for s in layers.split(",")]
    if any(not s for s in names):
        raise InputError(f"--layers {layers!r}: empty layer name; separate names with commas, e.g. stem,stage2,head")
    return names, True


@features_app.command("invert-features")
def invert_features_cmd(
        image: Path, output: Output = None, backbone: BackboneOpt = "lite0", random_weights: RandomWeights = False,
        layer: Annotated[Optional[str], typer.Option("--layer", help="Backbone tap: invert this one.")] = None,
        layers: Annotated[Optional[str], typer.Option("--layers", help="Backbone taps, comma-separated (shallow "
                                                                       "to deep: writes the layer-by-layer grid).")]
        = None,
        prior: Annotated[Optional[str], typer.Option("--preset", "--prior", help="Named settings: the prior, tv "
                                                                                 "(pixels + TV + α-norm) or dip "
                                                                                 "(Deep Image Prior), or both (grid "
                                                                                 "only); default: tv for --layer, "
                                                                                 "both for --layers.")] = None,
        size: Annotated[Optional[int], typer.Option("--longer-side", help="Resize first so that the longer side "
                                                                          "is this many pixels.")] = None,
        iters: Annotated[Optional[int], typer.Option("--iters", help="Optimisation steps (of each pre-image; "
                                                                     "default: 300 tv, 400 dip).")] = None,
        lr: Annotated[Optional[float], typer.Option("--lr", help="Learning rate (Adam; default: 0.05 tv, "
                                                                 "0.01 dip).")] = None,
        tv_weight: Annotated[float, typer.Option("--tv-weight", help="Weight of a total-variation term (λ_TV, "
                                                                      "the tv prior).")] = 0.01,
        tv_beta: Annotated[float, typer.Option("--tv-beta", help="TV exponent β.")] = 2.0,
        alpha_weight: Annotated[float, typer.Option("--alpha-norm-weight", help="λ_α (tv prior).")] = 5e-3,
        alpha: Annotated[float, typer.Option("--alpha-norm", help="Exponent α of the α-norm (tv prior).")] = 6.0,
        dip_net: Annotated[str, typer.Option("--dip-net", help="light (default, CPU), notebook (the reference "
                                                               "notebook's 6-scale net) or skip5x128.")] = "light",
        seed: Seed = 0, device: Device = "auto", max_side: MaxSideIn = 512, report: Report = False,
        checkpoint: Checkpoint = None, quiet: Quiet = False):
    """Natural pre-image: reconstruct the image from its representation at a layer (thesis §7.3.4, Fig. 7.9)."""
    from ..backbones import get_backbone
    from ..io import _atomic_write, check_size
    from ..recipes.preimage import PRESETS, PRIORS, Regularisers, invert, invert_layers
    from ..report.preimage_grid import grid_markdown, write_grid_figure
    from ..inputs import resize_side
    from ..report import write_report, write_sidecar

    names, is_grid = _parse_layers(layer, layers)
    prior = prior or ("both" if is_grid else "tv")
    if prior not in (*PRIORS, "both"):
        raise InputError(f"unknown prior {prior!r}; use tv, dip or both")
    if prior == "both" and not is_grid:
        raise InputError("--prior both draws the grid: use --layers (a single name is fine) instead of --layer")
    reg = Regularisers(tv_weight, tv_beta, alpha_weight, alpha)
    task = f"preimage-{prior}-{names[0]}" if not is_grid else "preimage-grid"
    out = output_path(output, image, task, [image])
    x0 = _load_rgb(image)
    if size is not None:
        x0 = resize_side(x0, size)
    check_size(x0.shape[-2], x0.shape[-1], max_side, what=str(image))
    device = check_device(device)
    bb = get_backbone(backbone, "random" if random_weights else "pretrained", device=device)
    kw = {"iters": iters, "lr": lr, "regularisers": reg, "dip_net": dip_net, "seed": seed, "device": device,
          "progress": not quiet}
    inputs = {"image": image}
    if not is_grid:
        r = invert(x0, bb, names[0], prior=prior, checkpoint=str(checkpoint) if checkpoint else None,
                   snapshot_every=max(1, (iters or PRESETS[prior].iters) // 6) if report else 0, **kw)
        title = f"pre-image of {bb.name}/{names[0]} ({prior})"
        write_result(r, out, inputs=inputs, extra={"resized_to": size},
                     summary=f"{r.result.steps} steps, {r.result.seconds:.1f} s, relative feature error "
                             f"{r.metrics['relative_feature_error']:.3f}, PSNR {r.metrics['psnr']:.2f} dB",
                     report=(lambda p: write_report(p, r.result, title=title, observation=x0)) if report else None)
        return
    priors = tuple(PRIORS) if prior == "both" else (prior,)
    grid = invert_layers(x0, bb, names, priors=priors, checkpoint=str(checkpoint) if checkpoint else None, **kw)
    write_grid_figure(out, grid, title=f"pre-images of {image.name}, {bb.name} ({bb.weights})")
    md = out.with_suffix(".md")
    text = f"# Natural pre-images of {image.name} ({bb.name}, {bb.weights})\n\n{grid_markdown(grid)}"
    _atomic_write(md, lambda tmp: Path(tmp).write_text(text))
    table = grid.table()
    first = grid.runs[priors[0]][names[0]].config
    config = {"method": "natural-pre-image-grid", "backbone": bb.name, "weights": bb.weights,
              "weights_file": bb.weights_file, "layers": names, "priors": list(priors), "seed": seed,
              "device": device, "resized_to": size, "image_shape": list(x0.shape),
              "runs": {f"{p}/{l}": {k: v for k, v in grid.runs[p][l].config.items()
                                    if k not in ("backbone", "weights", "weights_file", "seed", "device")}
                       for p in priors for l in names}}
    write_sidecar(out, config=config, inputs=inputs,
                  metrics={f"{row['prior']}/{row['layer']}/relative_feature_error": row["relative_feature_error"]
                           for row in table},
                  extra={"table": table, "seconds": round(sum(row["seconds"] for row in table), 2),
                         "image_size": first["image_shape"][-2:]})
    for row in table:
        typer.echo(f"{row['prior']:3s} {row['layer']:10s} relative feature error {row['relative_feature_error']:.3f}"
                   f"  PSNR {row['psnr']:.2f} dB  ({row['steps']} steps, {row['seconds']:.1f} s)")
    typer.echo(f"wrote {out}\nwrote {md}\nwrote {out.with_suffix('.json')}")
