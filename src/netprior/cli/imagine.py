"""``netprior imagine …`` and ``netprior deepinversion``: image-guided classifier inversion (IMAGINE, Wang et al.
2021; :mod:`netprior.recipes.imagine`).

    netprior imagine TARGET -n 8 [--backbone lite0 --stages 2 --position x,y --shape CLIPART --style STYLE]
    netprior imagine counterfactual QUERY OTHER --query-mask M1 --other-mask M2
    netprior deepinversion TARGET [-n 4]

``imagine TARGET`` is the default sub-command (``imagine synth TARGET`` spelled out).  The default preset ``cpu`` is a
budget for a small CPU — 128×128 pixels and 400 steps in all (200 per stage); ``--preset paper`` is the paper's
setting, 224 px and 4000 steps (2000 per stage); flags override the preset.  With ``-n N`` > 1 the outputs are
``<output stem>-<i>.png`` for seeds seed … seed + N − 1, each with its JSON sidecar (config, seed, class,
confidence, per-term final losses, timings) and, with ``--report``, a figure of snapshots and one curve per loss
term.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from ..errors import InputError
from .common import (Count, ImageNetClass, Iters, Lr, Output, RunOptions, check_device, output_path,
                     write_result)
from .groups import options


class _SynthByDefault(TyperGroup):
    """Route ``imagine TARGET …`` to the ``synth`` sub-command when the first word is not a sub-command."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["synth", *args]
        return super().parse_args(ctx, args)


imagine_app = typer.Typer(cls=_SynthByDefault, no_args_is_help=True,
                          help="IMAGINE: synthesise variations of one image by inverting a classifier (position, "
                               "shape, style control; counterfactual explanations).")

BackboneOpt = Annotated[str, typer.Option("--backbone", help="Pretrained network (the classifier): lite0 (offline) or "
                                                             "resnet50 (cached torchvision weights); others need "
                                                             "--layers/--cam-layer.")]
Size = Annotated[int | None, typer.Option("--size", help="Side in pixels of the images made (default: the "
                                                           "preset's; paper: 224).")]
ImaginePreset = Annotated[str, typer.Option("--preset", help="Named settings (cpu: 128 px, 400 steps in all; paper: "
                                                             "224 px, 4000 steps; see `netprior presets imagine`).")]
Stages = Annotated[int, typer.Option("--stages", help="1 = warm-up only (gamma = 0); 2 = warm-up then adversarial "
                                                      "refinement with the patch critic (gamma = 10).")]
LayersOpt = Annotated[str | None, typer.Option("--layers", help="Backbone taps, comma-separated (the distribution-"
                                                                   "matching layers, shallow to deep; default lite0: "
                                                                   "stem,stage2,"
                                                                   "stage3,stage5; resnet50: conv1_1,conv2_3,conv3_4,"
                                                                   "conv4_6).")]
CamLayerOpt = Annotated[str | None, typer.Option("--cam-layer", help="Grad-CAM layer for --position "
                                                                        "(default lite0 head, resnet50 conv5_3).")]
LamOpt = Annotated[float | None, typer.Option("--lambda", help="Weight of the distribution matching term (eq. 9; "
                                                                "default: the preset's, 5).")]
GammaOpt = Annotated[float | None, typer.Option("--gamma", help="Weight of the patch-consistency term in stage 2 "
                                                                  "(default: the preset's, 10).")]
Schedule = Annotated[str | None, typer.Option("--schedule", help="cosine (decay within each stage) or constant "
                                                                   "(default: the preset's, cosine).")]
Jitter = Annotated[int | None, typer.Option("--jitter", help="DeepInversion's random roll (up to this many pixels) "
                                                             "and flip of the classifier's input; 0 = off (default: "
                                                             "the preset's).")]
LowresFactor = Annotated[int | None, typer.Option("--lowres-factor", help="Multi-resolution start: optimise at "
                                                                         "1/F of --size first, then upsample and "
                                                                         "continue; 1 = off (default: the preset's).")]

PixelParam = Annotated[str | None, typer.Option("--parametrization", help="What is optimised: spectral (the image "
                                                                          "in the target's colour axes and a 1/f "
                                                                          "Fourier basis) or pixels (DeepInversion's; "
                                                                          "default: the preset's).")]


@dataclass(frozen=True)
class ClassifierInversionOptions:
    """Settings shared by IMAGINE, its counterfactuals and DeepInversion: a preset of recipes.imagine.Settings
    and the flags that override it."""

    preset: ImaginePreset = "cpu"
    count: Count = 1
    backbone: BackboneOpt = "lite0"
    size: Size = None
    iters: Iters = None
    cls: ImageNetClass = None
    layers: LayersOpt = None
    lr: Lr = None
    lam: LamOpt = None
    schedule: Schedule = None
    jitter: Jitter = None
    lowres_factor: LowresFactor = None
    parametrization: PixelParam = None

    def settings(self, max_side: int, stages: int, gamma: float | None = None, cam_layer: str | None = None,
                 multires: bool = True, **extra):
        """The preset's settings with the flags given.  ``--iters`` counts every step: the multi-resolution start
        keeps the preset's share of them, the rest is split evenly between the stages.  ``multires=False``
        (counterfactuals) turns the multi-resolution start off."""
        from ..config import get_preset
        from ..io import check_size

        base = get_preset("imagine", self.preset)
        size = self.size or base.size
        check_size(size, size, max_side, what=f"--size {size}")
        factor = self.lowres_factor or base.lowres_factor
        if not multires:
            if factor != 1 and self.lowres_factor is not None:
                raise InputError("--lowres-factor: the multi-resolution start does not apply here")
            factor = 1
        lowres = 0 if factor == 1 else base.iters_lowres or base.total_iters
        preset_total = base.total_iters + lowres
        iters = self.iters or preset_total
        lowres = min(round(iters * lowres / preset_total), iters - stages)
        if iters < stages or (lowres < 1 and self.lowres_factor not in (None, 1)):
            raise InputError(f"--iters {iters}: give at least one step per stage ({stages}"
                             f"{' and the multi-resolution start' if factor > 1 else ''})")
        if lowres < 1:  # too few steps for the preset's multi-resolution start
            factor, lowres = 1, 0
        steps = {"iters_warmup": iters - lowres} if stages == 1 else {
            "iters_warmup": (iters - lowres) // 2, "iters_adversarial": iters - lowres - (iters - lowres) // 2}
        names = tuple(t.strip() for t in self.layers.split(",") if t.strip()) if self.layers is not None else None
        return base.override(size=size, stages=stages, **steps, lr=self.lr, lam_dm=self.lam, gamma_pc=gamma,
                             schedule=self.schedule, layers=names, cam_layer=cam_layer, jitter=self.jitter,
                             lowres_factor=factor, iters_lowres=lowres,
                             parametrization=self.parametrization, **extra)


def _position(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    parts = text.split(",")
    try:
        x, y = (float(p) for p in parts)
    except ValueError:
        raise InputError(f"--position {text!r}: give two pixel coordinates of the output image as x,y "
                         "(e.g. 32,96)") from None
    return x, y


def _outputs(output: Path | None, image: Path, task: str, n: int, inputs: list) -> list[Path]:
    if n < 1:
        raise InputError(f"-n/--count must be at least 1, got {n}")
    out = output_path(output, image, task, inputs)
    if n == 1:
        return [out]
    return [output_path(out.with_name(f"{out.stem}-{i}.png"), image, task, inputs) for i in range(n)]


def _finish(r, out: Path, inputs: dict, report: bool, title: str, shown, num_classes: int) -> None:
    from ..backbones import class_names
    from ..report import write_terms_report

    m = r.metrics
    cls = m["target_class"]
    write_result(r, out, inputs=inputs,
                 summary=f"seed {r.config['seed']}, class {cls} {class_names(num_classes)[cls]}: "
                         f"confidence {m['confidence']:.3f}; {r.result.steps} steps, {r.result.seconds:.1f} s",
                 report=(lambda p: write_terms_report(p, r.result, title=title, shown=shown)) if report else None)


def _runs(inv: ClassifierInversionOptions, run: RunOptions, backbone_device: str) -> list[dict]:
    """Keyword arguments of the ``count`` runs: seeds seed … seed + count − 1, one checkpoint file each."""
    from ..io import tagged_path

    runs = []
    for i in range(inv.count):
        ckpt = run.checkpoint if inv.count == 1 else tagged_path(run.checkpoint, i)
        runs.append({"seed": run.seed + i, "cls": inv.cls, "device": backbone_device,
                     "checkpoint": str(ckpt) if ckpt else None, "progress": not run.quiet,
                     "snapshot_every": 50 if run.report else 0})
    return runs


@imagine_app.command("synth")
@options(inv=ClassifierInversionOptions, run=RunOptions)
def synth_cmd(target: Path, output: Output = None, stages: Stages = 2,
              position: Annotated[str | None, typer.Option("--position", help="Object position x,y in output "
                                                                                 "pixels (Grad-CAM term, eq. 10).")]
              = None,
              shape: Annotated[Path | None, typer.Option("--shape", help="Clipart/drawing giving the shape on "
                                                                            "the deepest layer (eq. 11).")] = None,
              style: Annotated[Path | None, typer.Option("--style", help="Style image: stylise TARGET, starting "
                                                                            "from it (eq. 12).")] = None,
              nu: Annotated[float, typer.Option("--nu", help="Weight of the position term.")] = 10.0,
              cam_layer: CamLayerOpt = None, gamma: GammaOpt = None, *,
              inv: ClassifierInversionOptions, run: RunOptions):
    """Synthesise N variations of TARGET (eq. 9), optionally with position, shape or style control."""
    from ..io import load_image
    from ..backbones import load_backbone
    from ..recipes.imagine import imagine, stylize
    from ..inputs import fit_square

    if shape is not None and style is not None:
        raise InputError("--shape and --style both redefine the distribution-matching targets; use one of them")
    task = "stylized" if style else "imagine"
    outs = _outputs(output, target, task, inv.count, [target, shape, style])
    s = inv.settings(run.max_side, stages, gamma, cam_layer, nu_position=nu)
    x0 = load_image(target)
    xs = load_image(style) if style is not None else None
    xc = load_image(shape) if shape is not None else None
    pos = _position(position)
    device = check_device(run.device)
    bb = load_backbone(inv.backbone, device)
    shown = [("target", fit_square(x0, s.size))] + ([("style", fit_square(xs, s.size))] if xs is not None else []) \
        + ([("shape", fit_square(xc, s.size))] if xc is not None else [])
    for out, kw in zip(outs, _runs(inv, run, device)):
        kw.update(backbone=bb, settings=s, position=pos)
        r = stylize(x0, xs, **kw) if xs is not None else imagine(x0, shape=xc, **kw)
        _finish(r, out, {"target": target, "shape": shape, "style": style}, run.report,
                f"IMAGINE ({r.config['control']}), seed {kw['seed']}", shown, bb.num_classes)


@imagine_app.command("counterfactual")
@options(inv=ClassifierInversionOptions, run=RunOptions)
def counterfactual_cmd(query: Path, other: Path,
                       query_mask: Annotated[Path, typer.Option("--query-mask", help="Region of QUERY to translate "
                                                                                     "(white), same size as QUERY.")],
                       other_mask: Annotated[Path, typer.Option("--other-mask", help="Matching region of OTHER "
                                                                                     "(white), same size as OTHER.")],
                       output: Output = None, stages: Stages = 2,
                       anchor: Annotated[float, typer.Option("--anchor", help="Weight of the L1 term keeping QUERY "
                                                                              "outside the region.")] = 1.0,
                       gamma: GammaOpt = None, *, inv: ClassifierInversionOptions, run: RunOptions):
    """Counterfactual explanation (eq. 13): what the query's region would look like if it were of OTHER's class."""
    from ..io import load_image
    from ..backbones import load_backbone
    from ..recipes.imagine import counterfactual
    from ..inputs import fit_square

    outs = _outputs(output, query, "counterfactual", inv.count, [query, other, query_mask, other_mask])
    s = inv.settings(run.max_side, stages, gamma, multires=False, anchor_weight=anchor)
    xq, xo = load_image(query), load_image(other)
    mq, mo = load_image(query_mask, mode="L"), load_image(other_mask, mode="L")
    device = check_device(run.device)
    bb = load_backbone(inv.backbone, device)
    shown = [("query", fit_square(xq, s.size)), ("other", fit_square(xo, s.size))]
    for out, kw in zip(outs, _runs(inv, run, device)):
        r = counterfactual(xq, xo, mq, mo, backbone=bb, settings=s, **kw)
        _finish(r, out, {"query": query, "other": other, "query_mask": query_mask, "other_mask": other_mask},
                run.report, f"IMAGINE counterfactual, seed {kw['seed']}", shown, bb.num_classes)


@options(inv=ClassifierInversionOptions, run=RunOptions)
def deepinversion_cmd(target: Path, output: Output = None,
                      bn_weight: Annotated[float, typer.Option("--bn-weight", help="Weight of the BN-statistics "
                                                                                   "prior (eq. 3).")] = 0.01,
                      *, inv: ClassifierInversionOptions, run: RunOptions):
    """Image-guided DeepInversion, the IMAGINE paper's baseline: CE + R_img + BN-statistics prior + lambda R_dm."""
    from ..io import load_image
    from ..backbones import load_backbone
    from ..recipes.imagine import deepinversion
    from ..inputs import fit_square

    outs = _outputs(output, target, "deepinversion", inv.count, [target])
    s = inv.settings(run.max_side, 1, bn_weight=bn_weight)
    x0 = load_image(target)
    device = check_device(run.device)
    bb = load_backbone(inv.backbone, device)
    for out, kw in zip(outs, _runs(inv, run, device)):
        r = deepinversion(x0, backbone=bb, settings=s, **kw)
        _finish(r, out, {"target": target}, run.report, f"DeepInversion, seed {kw['seed']}",
                [("target", fit_square(x0, s.size))], bb.num_classes)
