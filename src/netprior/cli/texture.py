"""``netprior texture …`` and ``netprior style …``: texture synthesis and style transfer, by optimisation (Gatys et
al.) or with feed-forward networks (Texture Networks, Improved Texture Networks; thesis ch. 2–3).

    netprior texture optimize EXEMPLAR [-o out.png] [--size 256]
    netprior texture train EXEMPLAR -o tex.safetensors   (then)  netprior texture sample tex.safetensors -n 8
    netprior style optimize CONTENT STYLE [-o out.png]
    netprior style train STYLE --content-dir DIR -o style.safetensors
    (then)  netprior style apply style.safetensors IMAGE [--noise-scale k]

Model files (.safetensors: tensors + a JSON header, never pickles) hold the architecture, weights, descriptor and
training configuration, so ``sample``/``apply`` need nothing else; ``--checkpoint`` makes training resumable (a
separate file, written by the solver).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import InputError
from .common import (Count, Device, Iters, Lr, MaxSide, Output, Quiet, RunOptions, Seed, check_device, output_path,
                     write_result)
from .groups import options

texture_app = typer.Typer(no_args_is_help=True, help="Texture synthesis: by optimisation (Gatys et al.) or with a "
                                                      "trained texture network (thesis ch. 2-3).")
style_app = typer.Typer(no_args_is_help=True, help="Style transfer: by optimisation (Gatys et al.) or with a trained "
                                                    "stylisation network (thesis ch. 2-3).")

Backbone = Annotated[str, typer.Option("--backbone", help="Pretrained network (the descriptor): lite0 (offline), "
                                                          "vgg16-hed (offline; ImageNet VGG-16 fine-tuned for edges "
                                                          "by HED), vgg19, vgg16.")]
Layers = Annotated[Optional[str], typer.Option("--layers", help="Backbone taps, comma-separated (texture layers; "
                                                                "default: the backbone's, e.g. lite0 "
                                                                "block0,block1,block3,block5,block7).")]
ContentLayers = Annotated[Optional[str], typer.Option("--content-layers", help="Content layers, comma-separated "
                                                                               "(default lite0 block5, VGG relu4_2).")]
Smoothing = Annotated[str, typer.Option("--smoothing", help="Activation smoothing before the Gram matrices "
                                                             "(Wang et al. 2021): a softmax temperature T, or none.")]
Statistic = Annotated[str, typer.Option("--statistic", help="What the texture loss matches in the descriptor's "
                                                             "features: gram (Gatys et al.) or sliced-wasserstein "
                                                             "(their distributions along random directions, Heitz "
                                                             "et al. 2021).")]
ShiftWeight = Annotated[float, typer.Option("--shift-weight", help="Weight of the shifted Gram matrices (features "
                                                                   "times their neighbours 2 and 4 cells right and "
                                                                   "down, deeper layers; Berger & Memisevic 2017); "
                                                                   "0 = off.")]
Scales = Annotated[Optional[int], typer.Option("--scales", help="Coarse to fine: synthesise first at 1/2^(S-1) of "
                                                                "the size against the exemplar scaled alike, then "
                                                                "upsample and continue, each scale for --iters "
                                                                "steps; 1 = one scale (default: up to 3 while the "
                                                                "coarsest image and exemplar are >= 64 px).")]
ScaleIters = Annotated[Optional[int], typer.Option("--iters", help="Optimisation steps (at each scale of --scales; "
                                                                  "default: the optimiser's, lbfgs 300, adam 1000).")]
Init = Annotated[str, typer.Option("--init", help="Starting point of the optimisation: spectral (1/f noise with "
                                                  "the exemplar's mean and colour covariance), shuffle (the "
                                                  "exemplar's pixels in random order) or noise (U(0,1) in every "
                                                  "channel, Gatys et al.).")]
Parametrization = Annotated[str, typer.Option("--parametrization", help="What is optimised: spectral (the image in "
                                                                        "the exemplar's colour axes and a 1/f Fourier "
                                                                        "basis, a preconditioner) or pixels (Gatys "
                                                                        "et al.).")]
Optimizer = Annotated[str, typer.Option("--preset", "--optimizer", help="Named settings: the optimiser, lbfgs or "
                                                                        "adam (see `netprior presets texture`).")]
ModelOut = Annotated[Optional[Path], typer.Option("-o", "--output", help="Where to write the result (the model "
                                                                       "file, .safetensors).")]
Size = Annotated[Optional[int], typer.Option("--size", help="Side in pixels of the images made (default: the "
                                                            "exemplar's / the training size).")]
TrainSize = Annotated[int, typer.Option("--size", help="Side in pixels of the images made (in training).")]
Batch = Annotated[Optional[int], typer.Option("--batch", help="Images per training step (default 16; style_net: "
                                                                 "2).")]
LrDecay = Annotated[float, typer.Option("--lr-decay", help="Learning-rate factor at each decay.")]
LrDecayStart = Annotated[int, typer.Option("--lr-decay-start", help="Step of the first decay.")]
LrDecayEvery = Annotated[int, typer.Option("--lr-decay-every", help="Steps between later decays.")]
Diversity = Annotated[float, typer.Option("--diversity", help="Julesz diversity weight lambda (eq. 3.10); 0 = off.")]
ColourWeight = Annotated[float, typer.Option("--colour-weight", help="Weight of the colour-distribution term "
                                                                    "(the samples' pixel colours vs the exemplar's; "
                                                                    "not in the thesis); 0 = off.")]
TVWeight = Annotated[Optional[float], typer.Option("--tv-weight", help="Weight of a total-variation term (on the "
                                                                      "generated images; default 5 for style_net, "
                                                                      "0 otherwise; not in the thesis).")]
Temperature = Annotated[float, typer.Option("--temperature", help="Temperature T dividing the loss (eq. 3.10).")]
Width = Annotated[Optional[int], typer.Option("--width", help="Network width: channels per scale (texture_net, "
                                                              "stylisation_net: 8), 4x4-map channels (texture_net_v2: "
                                                              "256), base channels (style_net: 32).")]
Norm = Annotated[Optional[str], typer.Option("--norm", help="batch or instance (default: batch for the ch. 2 "
                                                            "networks, instance for style_net).")]
ContentWeight = Annotated[float, typer.Option("--content-weight", help="Weight α of the content loss.")]
NoiseScale = Annotated[float, typer.Option("--noise-scale", help="Noise magnitude k (style/content trade-off).")]

WIDTH_OPTION = {"texture_net": "channels", "stylisation_net": "channels", "texture_net_v2": "width",
                "style_net": "width"}


def _layers(text: Optional[str]) -> Optional[list[str]]:
    if text is None:
        return None
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise InputError("--layers/--content-layers: give at least one layer name")
    return names


def _smoothing(text: str) -> Optional[float]:
    if text == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise InputError(f"--smoothing must be a temperature (a number > 0) or 'none', got {text!r}") from None


@dataclass(frozen=True)
class DescriptorOptions:
    """The texture descriptor: which network, which taps, the activation smoothing and the statistics matched."""

    backbone: Backbone = "lite0"
    layers: Layers = None
    smoothing: Smoothing = "none"
    statistic: Statistic = "gram"
    shift_weight: ShiftWeight = 0.0

    def build(self, device: str, content_layers: Optional[str] = None):
        from ..recipes.texture import Descriptor

        return Descriptor(self.backbone, texture_layers=_layers(self.layers), content_layers=_layers(content_layers),
                          smoothing=_smoothing(self.smoothing), statistic=self.statistic,
                          shift_weight=self.shift_weight, device=device)


@dataclass(frozen=True)
class TrainOptions:
    """Training of a feed-forward generator (texture or style network; recipes.texture.TrainConfig)."""

    size: TrainSize = 256
    batch: Batch = None
    iters: Iters = 2000
    lr: Lr = None
    lr_decay: LrDecay = 0.7
    lr_decay_start: LrDecayStart = 1000
    lr_decay_every: LrDecayEvery = 200
    diversity: Diversity = 0.0
    colour_weight: ColourWeight = 0.0
    tv_weight: TVWeight = None
    temperature: Temperature = 1.0
    width: Width = None
    norm: Norm = None

    def config(self, arch: str, seed: int, **extra):
        from ..feedforward import ARCH_BATCH, ARCH_LR, ARCH_TV, TrainConfig

        return TrainConfig(arch=arch, net=_net_options(arch, self.width, self.norm), size=self.size,
                           batch=ARCH_BATCH[arch] if self.batch is None else self.batch, iters=self.iters,
                           lr=self.lr or ARCH_LR[arch], lr_decay=self.lr_decay,
                           lr_decay_start=self.lr_decay_start, lr_decay_every=self.lr_decay_every,
                           temperature=self.temperature, diversity=self.diversity, colour=self.colour_weight,
                           tv=ARCH_TV[arch] if self.tv_weight is None else self.tv_weight, seed=seed, **extra)


def _model_path(output: Optional[Path], image: Path, task: str, inputs: list) -> Path:
    out = output or Path.cwd() / f"{image.stem}-{task}.safetensors"
    if out.suffix.lower() != ".safetensors":
        raise InputError(f"{out}: models are written as .safetensors files; use that suffix")
    for p in inputs:
        if p is not None and Path(p).resolve() == out.resolve():
            raise InputError(f"{out}: the output path is an input file; choose another -o/--output")
    return out


def _net_options(arch: str, width: Optional[int], norm: Optional[str]) -> dict:
    options = {}
    if width is not None:
        options[WIDTH_OPTION[arch]] = width
    if norm is not None:
        if norm not in ("batch", "instance"):
            raise InputError(f"--norm must be batch or instance, got {norm!r}")
        options["normalization"] = norm
    return options


def _write_synthesis(s, out: Path, inputs: dict, report: bool, title: str) -> None:
    from ..report import write_report

    scales = s.config.get("scales", 1)  # coarse to fine: the steps of every scale, the seconds of all
    steps = f"{scales} scales x {s.result.steps} steps" if scales > 1 else f"{s.result.steps} steps"
    write_result(s, out, inputs=inputs,
                 summary=f"{steps}, {s.metrics.get('seconds_all_scales', s.result.seconds):.1f} s, texture loss "
                         f"{s.metrics['texture_loss']:.4g}",
                 report=(lambda p: write_report(p, s.result, title=title)) if report else None)


def _write_model(training, out: Path, inputs: dict, report_shows: list | None) -> None:
    """Model file, sidecar and, when ``report_shows`` (the input tiles) is given, the training report."""
    from ..texture_model import save_model
    from ..report import write_sidecar, write_terms_report

    save_model(training.model, out)
    write_sidecar(out, config=training.config, result=training.result, inputs=inputs)
    final = training.result.history
    typer.echo(f"wrote {out}  ({training.result.steps} steps, {training.result.seconds:.1f} s, final texture loss "
               f"{final['texture'][-1]:.4g})")
    typer.echo(f"wrote {out.with_suffix('.json')}")
    if report_shows is not None:
        rp = write_terms_report(out.with_suffix(".report.png"), training.result, shown=report_shows,
                                title=f"training {training.model.arch}")
        typer.echo(f"wrote {rp}")


@texture_app.command("optimize")
@options(desc=DescriptorOptions, run=RunOptions)
def texture_optimize_cmd(exemplar: Path, output: Output = None, size: Size = None, optimizer: Optimizer = "lbfgs",
                         iters: ScaleIters = None, lr: Lr = None, init: Init = "spectral",
                         parametrization: Parametrization = "spectral", scales: Scales = None, *,
                         desc: DescriptorOptions, run: RunOptions):
    """Synthesise a texture by optimising the image (Gatys et al. 2015), from noise, to match the exemplar's
    Gram matrices.  Default steps and learning rate: lbfgs 300 and 1, adam 1000 and 0.05."""
    from ..io import check_size, load_image
    from ..recipes.texture import synthesize

    device = check_device(run.device)
    out = output_path(output, exemplar, "texture", [exemplar])
    x0 = load_image(exemplar, max_side=run.max_side)
    if size is not None:
        check_size(size, size, run.max_side, what=f"--size {size}")
    s = synthesize(x0, size, descriptor=desc.build(device), optimizer=optimizer, iters=iters, lr=lr, init=init,
                   parametrization=parametrization, scales=scales, seed=run.seed, device=device,
                   checkpoint=run.checkpoint_path,
                   progress=not run.quiet, snapshot_every=max(1, (iters or 300) // 6) if run.report else 0)
    _write_synthesis(s, out, {"exemplar": exemplar}, run.report, f"texture by {optimizer}")


@texture_app.command("train")
@options(train=TrainOptions, desc=DescriptorOptions, run=RunOptions)
def texture_train_cmd(exemplar: Path, output: ModelOut = None,
                      arch: Annotated[str, typer.Option("--preset", "--arch", help="Named settings: the network "
                                                                                   "architecture, texture_net (ch. "
                                                                                   "2) or texture_net_v2 (ch. 3).")]
                      = "texture_net",
                      stage_noise: Annotated[Optional[int], typer.Option(
                          "--stage-noise", help="texture_net_v2: noise channels entering every upsampling stage "
                                                "(default 8; 0 = the thesis' network, noise only through its fully "
                                                "connected layers).")] = None,
                      *, train: TrainOptions, desc: DescriptorOptions, run: RunOptions):
    """Train a feed-forward texture generator on one exemplar (Texture Networks; with --diversity, the Julesz
    objective of Improved Texture Networks).  Default learning rate: the architecture's."""
    from ..io import load_image
    from ..recipes.texture import train_texture_net

    device = check_device(run.device)
    if arch not in ("texture_net", "texture_net_v2"):
        raise InputError(f"--arch must be texture_net or texture_net_v2, got {arch!r}")
    if stage_noise is not None and arch != "texture_net_v2":
        raise InputError("--stage-noise is an option of --arch texture_net_v2")
    out = _model_path(output, exemplar, "texture", [exemplar])
    x0 = load_image(exemplar, max_side=run.max_side)
    cfg = train.config(arch, run.seed)
    if stage_noise is not None:
        cfg = cfg.override(net={**cfg.net, "stage_noise": stage_noise})
    training = train_texture_net(x0, cfg, descriptor=desc.build(device), device=device,
                                 checkpoint=run.checkpoint_path, progress=not run.quiet,
                                 snapshot_every=max(1, train.iters // 6) if run.report else 0)
    _write_model(training, out, {"exemplar": exemplar}, [("exemplar", x0)] if run.report else None)


@texture_app.command("sample")
def texture_sample_cmd(model: Path, output: Output = None, size: Size = None, count: Count = 1,
                       noise_scale: NoiseScale = 1.0, seed: Seed = 0, device: Device = "auto",
                       max_side: MaxSide = 4096,
                       score: Annotated[bool, typer.Option("--score", help="Also compute each sample's texture loss "
                                                                           "(loads the descriptor).")] = False,
                       quiet: Quiet = False):
    """Draw textures from a trained texture model, of any size its scales reach; with -n N > 1 the output is a
    grid of the N samples."""
    from ..io import check_size, save_image
    from ..recipes.texture import sample
    from ..texture_metrics import texture_loss_of
    from ..texture_model import load_model
    from ..report import image_grid, write_sidecar

    device = check_device(device)
    if count < 1:
        raise InputError(f"-n/--count must be at least 1, got {count}")
    out = output_path(output, model, "sample", [model])
    m = load_model(model, kind="texture", device=device)
    if size is not None:
        check_size(size, size, max_side, what=f"--size {size}")
    x = sample(m, count, size, seed=seed, noise_scale=noise_scale, device=device)
    save_image(x if count == 1 else image_grid(x), out)
    metrics = {}
    if score:
        losses = texture_loss_of(m, x).tolist()
        metrics = {"texture_loss": losses, "texture_loss_mean": sum(losses) / len(losses)}
    write_sidecar(out, config={"model": m.describe(), "count": count, "size": list(x.shape[-2:]), "seed": seed,
                               "noise_scale": noise_scale, "layout": "single" if count == 1 else "grid"},
                  metrics=metrics, inputs={"model": model})
    typer.echo(f"wrote {out}  ({count} sample{'s' if count > 1 else ''} of {x.shape[-1]}x{x.shape[-2]})")
    typer.echo(f"wrote {out.with_suffix('.json')}")


@style_app.command("optimize")
@options(desc=DescriptorOptions, run=RunOptions)
def style_optimize_cmd(content: Path, style: Path, output: Output = None, content_weight: ContentWeight = 1.0,
                       init: Annotated[str, typer.Option("--init", help="Starting point of the optimisation: content "
                                                                        "or noise.")] = "content",
                       optimizer: Optimizer = "lbfgs", iters: Iters = None, lr: Lr = None,
                       content_layers: ContentLayers = None, *, desc: DescriptorOptions, run: RunOptions):
    """Style transfer by optimisation (Gatys et al. 2016): texture loss to STYLE + α × content loss to CONTENT
    (α = --content-weight).  Default steps and learning rate: lbfgs 300 and 1, adam 1000 and 0.05."""
    from ..io import load_image
    from ..recipes.style import stylize

    device = check_device(run.device)
    out = output_path(output, content, "stylized", [content, style])
    y = load_image(content, max_side=run.max_side)
    s0 = load_image(style, max_side=run.max_side)
    s = stylize(y, s0, alpha=content_weight, init=init, descriptor=desc.build(device, content_layers),
                optimizer=optimizer, iters=iters, lr=lr, seed=run.seed, device=device,
                checkpoint=run.checkpoint_path, progress=not run.quiet,
                snapshot_every=max(1, (iters or 300) // 6) if run.report else 0)
    _write_synthesis(s, out, {"content": content, "style": style}, run.report, f"style transfer by {optimizer}")


@style_app.command("train")
@options(train=TrainOptions, desc=DescriptorOptions, run=RunOptions)
def style_train_cmd(style: Path,
                    content_dir: Annotated[Path, typer.Option("--content-dir", help="Folder of content images "
                                                                                    "(the first --pool are used).")],
                    output: ModelOut = None,
                    arch: Annotated[str, typer.Option("--preset", "--arch", help="Named settings: the network "
                                                                                 "architecture, stylisation_net (ch. "
                                                                                 "2) or style_net (StyleNet, ch. 3)."
                                                                                 )] = "stylisation_net",
                    pool: Annotated[int, typer.Option("--pool", help="Content images used.")] = 16,
                    content_weight: ContentWeight = 1.0, content_layers: ContentLayers = None, *,
                    train: TrainOptions, desc: DescriptorOptions, run: RunOptions):
    """Train a feed-forward stylisation network for STYLE on a small pool of content images."""
    from ..io import load_image
    from ..recipes.style import train_style_net
    from ..inputs import load_content_pool

    device = check_device(run.device)
    if arch not in ("stylisation_net", "style_net"):
        raise InputError(f"--arch must be stylisation_net or style_net, got {arch!r}")
    out = _model_path(output, style, "style", [style])
    s0 = load_image(style, max_side=run.max_side)
    contents, names = load_content_pool(content_dir, pool, train.size)
    training = train_style_net(s0, contents, train.config(arch, run.seed, alpha=content_weight),
                               descriptor=desc.build(device, content_layers), device=device,
                               checkpoint=run.checkpoint_path, progress=not run.quiet,
                               snapshot_every=max(1, train.iters // 6) if run.report else 0)
    _write_model(training, out, {"style": style, **{f"content_{i}": p for i, p in enumerate(names)}},
                 [("style", s0)] if run.report else None)


@style_app.command("apply")
def style_apply_cmd(model: Path, image: Path, output: Output = None, noise_scale: NoiseScale = 1.0,
                    seed: Seed = 0, device: Device = "auto", max_side: MaxSide = 2048):
    """Stylise IMAGE with a trained style model (one forward pass); --noise-scale k trades style against content."""
    from ..io import load_image, save_image
    from ..inputs import crop_to_multiple
    from ..texture_model import load_model
    from ..recipes.style import apply_style
    from ..report import write_sidecar

    device = check_device(device)
    out = output_path(output, image, "styled", [image, model])
    m = load_model(model, kind="style", device=device)
    y = load_image(image, max_side=max_side)
    cropped = crop_to_multiple(y, m.net.multiple)
    if cropped.shape != y.shape:
        typer.echo(f"note: {image.name} cropped from {y.shape[-1]}x{y.shape[-2]} to {cropped.shape[-1]}x"
                   f"{cropped.shape[-2]} (a multiple of {m.net.multiple} for the network)", err=True)
    if noise_scale != 1.0 and getattr(m.net, "noise_channels", 1) == 0:
        typer.echo("note: this network takes no noise (trained without the diversity term); --noise-scale has no "
                   "effect", err=True)
    x = apply_style(m, cropped, noise_scale=noise_scale, seed=seed, device=device)
    save_image(x, out)
    write_sidecar(out, config={"model": m.describe(), "noise_scale": noise_scale, "seed": seed,
                               "size": list(x.shape[-2:])}, inputs={"model": model, "image": image})
    typer.echo(f"wrote {out}")
    typer.echo(f"wrote {out.with_suffix('.json')}")
