"""Texture Networks benchmark (thesis ch. 2 Fig. 2.6; ch. 3 Figs. 3.3–3.5) on a CPU budget.

Parts (``--parts``, all by default):

* ``speed`` — Fig. 2.6: train a texture network (``texture_net``) on one exemplar, then measure (a) the time to
  generate one sample and the mean texture loss L_T of its samples, and (b) the time the optimisation method of
  Gatys et al. (L-BFGS, and Adam, on the pixels from noise) needs to reach that loss.  The memory of each is the
  peak increase of the resident memory of a fresh subprocess while it loads what it needs and makes one image.
* ``diversity`` — Fig. 3.5: TextureNetV1 (λ = 0), TextureNetV2 with λ = 0 and with λ > 0 (eq. 3.10): mean
  pairwise RMS distance between samples and their mean texture loss.
* ``norm`` — Figs. 3.3/3.4: StyleNet with instance vs batch normalisation, same data, seed and budget: final
  training objective and the stylisation loss of test-time outputs, with a side-by-side image.
* ``quality`` — exemplar | Gatys | TextureNet v1 | v2 | v2 + diversity for each configuration of
  ``QUALITY_CONFIGS`` (before/after: Gatys' start, v2 upsampling; smoothing; the vgg16-hed descriptor), scored by
  measures that no method optimised (``netprior.texture_metrics``: colour noise, colour histogram, patch sliced
  Wasserstein, grid strength, mean-colour shift) and by the Gram loss under both descriptors.  Run alone
  (``--parts quality``) it keeps the other parts' results.

The thesis' budgets (256 px, batch 16, 2000 steps, a GPU) are out of reach on two shared CPU cores; the defaults
below are scaled down and every number is reported with its budget.  Exemplars: ``skimage.data.brick`` and
``gravel`` (grey textures, replicated to RGB), style ``CSet14/flowers.png``, content pool from ``CSet14``.

    .venv/bin/python benchmarks/texture.py            # default budget (~12 min on one core)
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from statistics import mean

import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = Path("/work/shared/data")
RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / "benchmarks" / "out" / "texture"


def exemplar(name: str, side: int) -> torch.Tensor:
    """Top-left ``side`` × ``side`` crop of a skimage texture, grey replicated to RGB."""
    from skimage import data

    from netprior.io import from_numpy

    a = getattr(data, name)()[:side, :side]
    x = from_numpy(a)
    return x.expand(1, 3, side, side).contiguous() if x.shape[1] == 1 else x


# ---------------------------------------------------------------------------------------------------------------
# Workers: each measurement runs in a fresh process, so memory freed by earlier work cannot hide its own.


class PeakRSS:
    """Peak increase of this process' resident memory during a block, polling /proc/self/statm every 2 ms."""

    def __enter__(self):
        import threading

        self.page = os.sysconf("SC_PAGE_SIZE")
        self.start = self.peak = self.now()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.poll, daemon=True)
        self.thread.start()
        return self

    def now(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self.page

    def poll(self) -> None:
        while not self.stop.wait(0.002):
            self.peak = max(self.peak, self.now())

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, self.now())

    @property
    def mb(self) -> float:
        return (self.peak - self.start) / 2**20


def worker_sample(a: dict) -> dict:
    """Load the model and generate one sample (memory), then time ``n`` more and score them."""
    from netprior.recipes.texture import sample
    from netprior.texture_metrics import texture_loss_of
    from netprior.texture_model import load_model

    with PeakRSS() as mem:
        model = load_model(a["model"], kind="texture")
        sample(model, 1, a["size"], seed=99)
    times = []
    for i in range(a["n"]):
        t0 = time.perf_counter()
        sample(model, 1, a["size"], seed=i)
        times.append(time.perf_counter() - t0)
    x = sample(model, a["n"], a["size"], seed=0)
    losses = texture_loss_of(model, x).tolist()
    return {"seconds_per_sample": sorted(times)[len(times) // 2], "memory_mb": mem.mb, "losses": losses}


def worker_optimise(a: dict) -> dict:
    """Gatys et al. from noise; the [0, 1] image is scored every ``every`` steps, outside the timed run."""
    from netprior.io import save_image
    from netprior.recipes.texture import Descriptor, synthesize

    x0 = exemplar(a["exemplar"], a["exemplar_size"])
    stamps: dict[int, float] = {}
    with PeakRSS() as mem:
        d = Descriptor()
        d.receptive_field(d.texture_layers[-1])  # measured once; excluded from the time below
        t0 = time.perf_counter()
        s = synthesize(x0, a["size"], descriptor=d, optimizer=a["optimizer"], iters=a["iters"], seed=a["seed"],
                       snapshot_every=a["every"], progress=False,
                       callback=lambda step, x: stamps.__setitem__(step, time.perf_counter() - t0))
    targets = d.grams(x0)
    curve = []
    with torch.no_grad():
        for step, im in s.result.snapshots:
            curve.append((step, stamps[step], float(d.texture_loss(im.clamp(0, 1), targets))))
    if not curve or curve[-1][0] != s.result.steps:
        curve.append((s.result.steps, stamps[s.result.steps], s.metrics["texture_loss"]))
    save_image(s.image, WORK / f"optimised-{a['optimizer']}.png")
    return {"curve": curve, "memory_mb": mem.mb, "final_loss": s.metrics["texture_loss"], "seconds": s.result.seconds}


def run_worker(name: str, args: dict, threads: int, kind: str | None = None) -> dict:
    """Run worker ``kind`` (default ``name``) in a fresh process; ``name`` names its output file."""
    out = WORK / f"worker-{name}.json"
    cmd = [sys.executable, __file__, "--worker", kind or name, "--worker-args", json.dumps(args), "--worker-out",
           str(out), "--threads", str(threads)]
    subprocess.run(cmd, check=True)
    return json.loads(out.read_text())


# ---------------------------------------------------------------------------------------------------------------


def save_sheet(rows: list[tuple[str, torch.Tensor | list[torch.Tensor]]], path: Path, scale: float = 1.0) -> None:
    """A contact sheet: one labelled row of images per entry, each a batch or a list of (C, H, W) images of any
    sizes (small PNG; ``scale`` > 1 for larger images)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from netprior.io import _atomic_write, to_numpy

    cols = max(len(x) for _, x in rows)
    fig, axes = plt.subplots(len(rows), cols, figsize=(1.6 * scale * cols, 1.7 * scale * len(rows)), squeeze=False)
    for r, (label, x) in enumerate(rows):
        for c in range(cols):
            ax = axes[r][c]
            ax.axis("off")
            if c < len(x):
                ax.imshow(to_numpy(x[c]), interpolation="nearest")
        axes[r][0].set_title(label, fontsize=7, loc="left")
    fig.tight_layout()
    _atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=80, format="png"))
    plt.close(fig)


def lr_schedule(iters: int) -> dict:
    """The §2.4.1 schedule (×0.7 at step 1000 of 2000, then every 200) scaled to ``iters`` steps."""
    return {"lr_decay_start": max(1, iters // 2), "lr_decay_every": max(1, iters // 10)}


def part_speed(args, descriptor) -> dict:
    from netprior.io import load_image
    from netprior.feedforward import ARCH_LR, TrainConfig
    from netprior.recipes.texture import sample, train_texture_net
    from netprior.texture_model import save_model

    x0 = exemplar(args.exemplar, args.exemplar_size)
    cfg = TrainConfig(arch="texture_net", size=args.size, batch=args.batch, iters=args.train_iters,
                      lr=ARCH_LR["texture_net"], seed=args.seed, **lr_schedule(args.train_iters))
    tr = train_texture_net(x0, cfg, descriptor=descriptor, progress=args.progress)
    model_path = save_model(tr.model, WORK / f"{args.exemplar}.pt")
    gen = run_worker("sample", {"model": str(model_path), "size": args.size, "n": args.samples}, args.threads)
    target = sum(gen["losses"]) / len(gen["losses"])
    big = args.size * 8 // 3 // 16 * 16
    rows = [(f"texture_net samples ({args.size} px), L_T mean {target:.3g}", sample(tr.model, 4, args.size)),
            (f"texture_net sample at {big} px (trained at {args.size} px)", sample(tr.model, 1, big, seed=5))]
    optimisation = {}
    for optimizer, iters, every in (("lbfgs", args.lbfgs_iters, 5), ("adam", args.adam_iters, 10)):
        opt = run_worker("optimise", {"exemplar": args.exemplar, "exemplar_size": args.exemplar_size,
                                      "size": args.size, "optimizer": optimizer, "iters": iters, "every": every,
                                      "seed": args.seed}, args.threads)
        reached = next(((step, t) for step, t, loss in opt["curve"] if loss <= target), None)
        optimisation[optimizer] = {
            "iters": iters, "curve": opt["curve"], "final_loss": opt["final_loss"], "seconds": opt["seconds"],
            "memory_mb": opt["memory_mb"], "reached_step": reached[0] if reached else None,
            "seconds_to_reach": reached[1] if reached else None,
            "speedup": reached[1] / gen["seconds_per_sample"] if reached else None,
            "speedup_lower_bound": None if reached else opt["seconds"] / gen["seconds_per_sample"]}
        rows.append((f"Gatys et al. {optimizer}, {iters} steps, L_T {opt['final_loss']:.3g}",
                     load_image(WORK / f"optimised-{optimizer}.png")))
    rows.append((f"exemplar ({args.exemplar_size} px crop)", x0))
    save_sheet(rows, RESULTS / "texture_speed_samples.png")
    return {
        "exemplar": args.exemplar, "exemplar_size": args.exemplar_size, "size": args.size,
        "train": {"iters": args.train_iters, "batch": args.batch, "seconds": tr.result.seconds,
                  "final_batch_loss": tr.result.history["texture"][-1]},
        "network": {"seconds_per_sample": gen["seconds_per_sample"], "loss_mean": target, "losses": gen["losses"],
                    "memory_mb": gen["memory_mb"]},
        "optimisation": optimisation,
    }


def part_diversity(args, descriptor) -> dict:
    from netprior.feedforward import ARCH_LR, TrainConfig
    from netprior.recipes.texture import sample, train_texture_net
    from netprior.texture_metrics import pairwise_distance, texture_loss_of

    x0 = exemplar(args.div_exemplar, args.exemplar_size)
    v2 = {"noise_dim": 256, "hidden": 256, "width": args.v2_width, "min_width": 16}
    runs = {"TextureNetV1, λ=0": ("texture_net", {}, 0.0), "TextureNetV2, λ=0": ("texture_net_v2", v2, 0.0)}
    for lam in (float(v) for v in args.diversity.split(",")):
        runs[f"TextureNetV2, λ={lam:g}"] = ("texture_net_v2", v2, lam)
    rows, out = [], {}
    for label, (arch, net, lam) in runs.items():
        lr = ARCH_LR[arch]
        cfg = TrainConfig(arch=arch, net=net, size=args.div_size, batch=args.batch, iters=args.div_iters, lr=lr,
                          diversity=lam, temperature=1.0, seed=args.seed, **lr_schedule(args.div_iters))
        tr = train_texture_net(x0, cfg, descriptor=descriptor, progress=args.progress)
        x = sample(tr.model, args.samples, seed=1)
        losses = texture_loss_of(tr.model, x, descriptor).tolist()
        out[label] = {"arch": arch, "lambda": lam, "lr": lr, "pairwise_rms": pairwise_distance(x),
                      "loss_mean": sum(losses) / len(losses), "train_seconds": tr.result.seconds,
                      "parameters": sum(p.numel() for p in tr.model.net.parameters())}
        rows.append((f"{label}: pairwise {out[label]['pairwise_rms']:.3f}, L_T {out[label]['loss_mean']:.3g}",
                     x[:4]))
    save_sheet(rows, RESULTS / "texture_diversity.png")
    return {"exemplar": args.div_exemplar, "size": args.div_size, "iters": args.div_iters, "batch": args.batch,
            "runs": out}


def part_norm(args, descriptor) -> dict:
    from netprior.io import load_image
    from netprior.recipes.style import apply_style, train_style_net
    from netprior.inputs import square
    from netprior.feedforward import ARCH_LR, ARCH_TV, TrainConfig
    from netprior.recipes.texture import Descriptor
    from netprior.texture_metrics import colour_histogram_distance, patch_sliced_wasserstein

    if args.norm_descriptor != descriptor.net.name:
        descriptor = Descriptor(args.norm_descriptor)
    style = load_image(DATA / "CSet14" / "flowers.png")
    names = sorted(p for p in (DATA / "CSet14").glob("*.png") if p.stem != "flowers")
    pool = torch.cat([square(load_image(p), args.style_size) for p in names[:args.pool]])
    test = square(load_image(DATA / "CSet5" / "butterfly.png"), args.style_size)
    style_grams = descriptor.grams(style)
    rows, out = [], {}
    for norm_kind in ("instance", "batch"):
        cfg = TrainConfig(arch="style_net", net={"width": args.style_width, "normalization": norm_kind},
                          size=args.style_size, batch=args.style_batch, iters=args.style_iters, lr=ARCH_LR["style_net"],
                          alpha=args.alpha, tv=ARCH_TV["style_net"],
                          seed=args.seed, **lr_schedule(args.style_iters))
        tr = train_style_net(style, pool, cfg, descriptor=descriptor, progress=args.progress)
        tail = max(1, args.style_iters // 10)
        hist = tr.result.history
        evals, shown = {}, {}
        for name, images in (("train_pool", pool[:4]), ("held_out", test)):
            y = torch.cat([apply_style(tr.model, images[i:i + 1], seed=0) for i in range(len(images))])
            with torch.no_grad():
                feats = descriptor.features(y, descriptor.layers)
                tex = float(descriptor.texture_loss(y, style_grams, feats=feats))
                c_targets = descriptor.features(images, descriptor.content_layers)
                from netprior.losses import feature_mse

                con = float(feature_mse({k: feats[k] for k in descriptor.content_layers}, c_targets,
                                        descriptor.content_weights(c_targets)))
                tex_content = float(descriptor.texture_loss(images, style_grams))
            evals[name] = {"texture": tex, "content": con, "total": tex + args.alpha * con,
                           "texture_of_content": tex_content,  # the identity's loss: what stylising must beat
                           "colour_hist_to_style": mean(colour_histogram_distance(y[i:i + 1], style)
                                                        for i in range(len(y))),
                           "colour_hist_content_to_style": mean(colour_histogram_distance(images[i:i + 1], style)
                                                                for i in range(len(images))),
                           "patch_sw2_to_style": mean(patch_sliced_wasserstein(y[i:i + 1], style)
                                                      for i in range(len(y))),
                           "patch_sw2_content_to_style": mean(patch_sliced_wasserstein(images[i:i + 1], style)
                                                              for i in range(len(images)))}
            shown[name] = y
        label = f"StyleNet {'IN' if norm_kind == 'instance' else 'BN'}"
        out[label] = {"final_train_objective": sum(hist["loss"][-tail:]) / tail, "eval": evals,
                      "curve": hist["loss"][:: max(1, args.style_iters // 50)], "train_seconds": tr.result.seconds}
        pairs = [torch.stack([c, o]) for c, o in zip(torch.cat([test, pool[:4]]),
                                                        torch.cat([shown["held_out"], shown["train_pool"]]))]
        rows.append((f"{label}: held-out content | output, then four pool contents | outputs (held-out loss "
                     f"{evals['held_out']['total']:.3g})", torch.cat(pairs)))
        architecture = f"StyleNet options: {tr.model.net.config}; TV weight {cfg.tv:g}."
    save_sheet(rows + [("style", style)], RESULTS / "texture_in_vs_bn.png", scale=1.5)
    return {"style": "CSet14/flowers.png", "pool": [p.name for p in names[:args.pool]], "held_out": "CSet5/butterfly",
            "size": args.style_size, "iters": args.style_iters, "batch": args.style_batch, "alpha": args.alpha,
            "runs": out,
            "architecture": architecture, "descriptor": descriptor.net.name}


QUALITY_SCORERS = ("lite0", "vgg16-hed")  # Gram statistics under each, without smoothing
QUALITY_CONFIGS = {  # label: (backbone, smoothing, Gatys init, Gatys optimiser, TextureNet v2 upsampling[, budget])
    "before: Lite0, noise init, v2 transposed": ("lite0", None, "noise", "lbfgs", "transposed"),
    "after: Lite0, shuffle init, v2 resize": ("lite0", None, "shuffle", "lbfgs", "resize"),
    "Lite0 + smoothing T=16": ("lite0", 16.0, "shuffle", "lbfgs", "resize"),
    "vgg16-hed, Adam": ("vgg16-hed", None, "shuffle", "adam", "resize"),
    "vgg16-hed": ("vgg16-hed", None, "shuffle", "lbfgs", "resize"),  # L-BFGS works since solve()'s line-search fix
    # The networks' budget before and after issue #16's third session (docs/methods/texture.md): trained at 64 px,
    # below the receptive field of the deep descriptor layers, and sampled in eval mode with stale BatchNorm
    # statistics; then at 128 px, with the statistics re-estimated after training.  The budget entries override
    # the command line's --quality-net-size, --quality-train-iters, --batch.
    "nets before: Lite0, 64 px, 80 steps, stale BN": ("lite0", None, "shuffle", "lbfgs", "resize",
                                                       {"net_size": 64, "train_iters": 80, "batch": 2,
                                                        "recalibrate": 0}),
    "nets after: Lite0, 128 px, BN re-estimated": ("lite0", None, "shuffle", "lbfgs", "resize", {"net_size": 128}),
    # Issue #16, fourth session: Gatys in the spectral parametrization (the exemplar's colour axes, a 1/f Fourier
    # basis; recipes.texture.synthesize's default) from spectral noise.  The configurations above optimise the pixels.
    "spectral: Lite0": ("lite0", None, "spectral", "lbfgs", "resize", {"parametrization": "spectral"}),
    "spectral: vgg16-hed": ("vgg16-hed", None, "spectral", "lbfgs", "resize", {"parametrization": "spectral"}),
    # Issue #16, seventh session (the brick layout): what the loss matches (netprior.texture_statistics: shifted
    # Gram matrices, Berger & Memisevic 2017; the sliced Wasserstein loss, Heitz et al. 2021) and coarse-to-fine
    # synthesis (synthesize(scales=S)), all in the spectral parametrization from spectral noise.
    "statistics: Lite0, Gram, 1 scale": ("lite0", None, "spectral", "lbfgs", "resize",
                                         {"parametrization": "spectral", "scales": 1}),
    "statistics: Lite0, Gram + shifted Gram": ("lite0", None, "spectral", "lbfgs", "resize",
                                               {"parametrization": "spectral", "scales": 1, "shift_weight": 1.0}),
    "statistics: Lite0, sliced Wasserstein": ("lite0", None, "spectral", "lbfgs", "resize",
                                              {"parametrization": "spectral", "scales": 1,
                                               "statistic": "sliced-wasserstein"}),
    "statistics: Lite0, Gram, 3 scales": ("lite0", None, "spectral", "lbfgs", "resize",
                                          {"parametrization": "spectral", "scales": 3}),
    "statistics: Lite0, Gram + shifted Gram, 3 scales": ("lite0", None, "spectral", "lbfgs", "resize",
                                                         {"parametrization": "spectral", "scales": 3,
                                                          "shift_weight": 1.0}),
    "statistics: Lite0, sliced Wasserstein, 3 scales": ("lite0", None, "spectral", "lbfgs", "resize",
                                                        {"parametrization": "spectral", "scales": 3,
                                                         "statistic": "sliced-wasserstein"}),
}


def quality_scorers(x0: torch.Tensor) -> dict:
    """Each scorer descriptor of ``QUALITY_SCORERS`` (no smoothing) with the exemplar's Gram matrices, as
    :func:`score_images` takes them."""
    from netprior.recipes.texture import Descriptor

    scorers = {}
    for name in QUALITY_SCORERS:
        d = Descriptor(name, smoothing=None)
        scorers[name] = (d, d.grams(x0))
    return scorers


def score_images(images: torch.Tensor, x0: torch.Tensor, scorers: dict) -> dict:
    """Mean over ``images`` of the pixel measures of netprior.texture_metrics, the plain Gram loss under each
    scorer descriptor, and the mean-colour shift |mean_rgb(x) − mean_rgb(x0)|₂."""
    from netprior.texture_metrics import colour_statistics, texture_quality

    rows = []
    ref = torch.tensor(colour_statistics(x0)["mean"])
    for x in images:
        row = texture_quality(x, x0)
        with torch.no_grad():
            for name, (d, targets) in scorers.items():
                row[f"gram_{name}"] = float(d.texture_loss(x[None], targets))
        row["colour_mean_shift"] = float((torch.tensor(colour_statistics(x)["mean"]) - ref).norm())
        rows.append(row)
    return {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}


def mosaic(model, side: int) -> torch.Tensor:
    """Fixed-size samples (TextureNet v2) tiled into a ``side`` × ``side`` image at their true scale (seams between
    independent samples are visible): the texture's scale is then comparable with the exemplar's."""
    from netprior.recipes.texture import sample

    n = side // model.training["size"]
    x = sample(model, n * n, seed=1)
    rows = [torch.cat(list(x[r * n:(r + 1) * n]), -1) for r in range(n)]
    return torch.cat(rows, -2)[None]


def worker_quality(a: dict) -> dict:
    """One configuration of the quality part: Gatys, then the texture networks; images saved under WORK."""
    from netprior.io import save_image
    from netprior.feedforward import ARCH_LR, TrainConfig
    from netprior.recipes.texture import Descriptor, sample, synthesize, train_texture_net

    x0 = exemplar(a["exemplar"], a["exemplar_size"])
    scorers = quality_scorers(x0)
    backbone, smoothing, init, optimizer, upsample, *budget = QUALITY_CONFIGS[a["config"]]
    a = {**a, "recalibrate": 8, "parametrization": "pixels", **(budget[0] if budget else {})}
    d = Descriptor(backbone, smoothing=smoothing, statistic=a.get("statistic", "gram"),
                   shift_weight=a.get("shift_weight", 0.0))
    runs, images = {}, []
    t0 = time.perf_counter()
    iters = a["gatys_iters"] * (a["adam_factor"] if optimizer == "adam" else 1)
    s = synthesize(x0, a["size"], descriptor=d, optimizer=optimizer, iters=iters, init=init, seed=a["seed"],
                   parametrization=a["parametrization"], scales=a.get("scales", 1), progress=False)
    spectral = ", spectral" if a["parametrization"] == "spectral" else ""
    spectral += f", {a['scales']} scales" if a.get("scales", 1) > 1 else ""
    runs[f"Gatys ({optimizer}, {iters} steps{spectral})"] = {"seconds": time.perf_counter() - t0,
                                                    "loss_reduction": s.metrics["loss_reduction"],
                                                    **score_images(s.image, x0, scorers)}
    images.append(s.image)
    nets = {"TextureNet v1": ("texture_net", 0.0, 0.0), "TextureNet v2": ("texture_net_v2", 0.0, 0.0),
            "TextureNet v2 + diversity": ("texture_net_v2", a["lambda"], 0.0),
            "TextureNet v2 + diversity + colour": ("texture_net_v2", a["lambda"], a.get("colour", 1.0))}
    for net_label in a["nets"]:
        arch, lam, colour = nets[net_label]
        net = {"noise_dim": 256, "hidden": 256, "width": a["v2_width"], "min_width": 16,
               "upsample": upsample} if arch == "texture_net_v2" else {}
        cfg = TrainConfig(arch=arch, net=net, size=a["net_size"], batch=a["batch"], iters=a["train_iters"],
                          lr=ARCH_LR[arch], diversity=lam, colour=colour, recalibrate=a["recalibrate"],
                          seed=a["seed"], **lr_schedule(a["train_iters"]))
        tr = train_texture_net(x0, cfg, descriptor=d, progress=False)
        x = sample(tr.model, a["samples"], a["size"] if arch == "texture_net" else None, seed=1)  # v1: any size
        runs[net_label] = {"seconds": tr.result.seconds, "side": x.shape[-1], "net_size": a["net_size"],
                           "train_iters": a["train_iters"], "batch": a["batch"], "recalibrate": a["recalibrate"],
                           **score_images(x, x0, scorers)}
        images.append(x[:1] if x.shape[-1] == a["size"] else mosaic(tr.model, a["size"]))
    for j, im in enumerate(images):
        save_image(im, WORK / f"{a.get('key', 'quality')}-{a['exemplar']}-{a['index']}-{j}.png")
    return {"runs": runs, "images": len(images)}


WORKERS = {"sample": worker_sample, "optimise": worker_optimise, "quality": worker_quality}


def part_quality(args, _descriptor) -> dict:
    """Exemplar | Gatys | TextureNet v1 | v2 | v2+diversity for each configuration (one worker process each, run
    ``--quality-jobs`` at a time), scored by measures that none of them optimised (netprior.texture_metrics) and by
    the Gram loss under both descriptors."""
    from concurrent.futures import ThreadPoolExecutor

    from netprior.io import load_image

    configs = args.quality_configs.split(";")
    common = {"exemplar_size": args.exemplar_size, "size": args.quality_size,
              "net_size": args.quality_net_size, "gatys_iters": args.quality_iters, "train_iters":
              args.quality_train_iters, "batch": args.batch, "samples": args.quality_samples, "lambda":
              args.quality_lambda, "v2_width": args.v2_width, "seed": args.seed,
              "adam_factor": args.quality_adam_factor, "colour": args.quality_colour, "key": args.quality_key}
    jobs = [(name, i) for name in args.quality_exemplars.split(",") for i in range(len(configs))]

    def job(key: tuple[str, int]) -> dict:
        name, i = key
        nets = [] if configs[i] in args.quality_gatys_only.split(";") else args.quality_nets.split(";")
        done = WORK / f"worker-{args.quality_key}-{name}-{i}.json"
        if args.quality_reuse and done.exists():  # resuming an interrupted run
            return json.loads(done.read_text())
        return run_worker(f"{args.quality_key}-{name}-{i}", {**common, "exemplar": name, "config": configs[i],
                                                             "index": i, "nets": nets}, args.threads, kind="quality")

    with ThreadPoolExecutor(args.quality_jobs) as pool:
        results = dict(zip(jobs, pool.map(job, jobs)))
    out = {}
    for name in args.quality_exemplars.split(","):
        x0 = exemplar(name, args.exemplar_size)
        crop = x0[..., :args.quality_size, :args.quality_size]
        scorers = quality_scorers(x0)
        rows = []
        for i, label in enumerate(configs):
            r = results[(name, i)]
            images = [crop] + [load_image(WORK / f"{args.quality_key}-{name}-{i}-{j}.png")
                               for j in range(r["images"])]
            rows.append((f"{label}: exemplar | " + " | ".join(r["runs"]), torch.cat(images)))
        save_sheet(rows, RESULTS / f"texture_{args.quality_key}_{name}.png",
                   scale=max(1.0, args.quality_size / 128))
        out[name] = {"runs": {label: results[(name, i)]["runs"] for i, label in enumerate(configs)},
                     "exemplar_scores": score_images(crop, x0, scorers)}
    return {**{k: v for k, v in common.items() if k != "v2_width"}, "exemplars": out}


def quality_markdown(q: dict, meta: dict, sheet: str = "texture_quality") -> list[str]:
    cols = ["colour_noise_fraction", "colour_histogram_distance", "patch_swd", "patch_swd_4", "colour_mean_shift",
            "grid_strength", *[f"gram_{n}" for n in QUALITY_SCORERS]]
    head = ["colour-noise pixels", "colour-histogram distance", "patch SW₂", "patch SW₂ at ¼ scale",
            "mean-colour shift", "grid strength", *[f"Gram loss under {n}" for n in QUALITY_SCORERS]]

    def cell(r: dict, c: str) -> str:  # runs before the ¼-scale patch measure existed lack it
        return f"{r[c]:.3g}" if c in r else "—"

    recorded = any("recalibrate" in r for e in q["exemplars"].values() for runs in e["runs"].values()
                   for r in runs.values())  # runs since issue #16's third session record the networks' budget
    lines = [f"### Quality measures no method optimised: exemplars {', '.join(f'`{n}`' for n in q['exemplars'])} "
             f"({q['exemplar_size']} px crops), Gatys images {q['size']} px", "",
             f"Command: `{meta['command']}`; CPU, {meta['threads']} thread, load average at start "
             f"{meta['load_average']} (a shared machine), {meta['seconds']:.0f} s"
             f"{' to assemble the worker results of an interrupted run' if '--quality-reuse' in meta['command'] else ''}"
             f" (each method's own seconds are in the table). Gatys: {q['gatys_iters']} "
             f"L-BFGS steps ({q['adam_factor']}× as many for Adam) from noise (init: noise = U(0,1) per channel, "
             "shuffle = the exemplar's pixels in random order, spectral = 1/f noise with the exemplar's mean and "
             "colour covariance), on the pixels unless the method says 'spectral' (the image in the exemplar's "
             "colour axes and a 1/f Fourier basis). "
             f"Texture networks: trained at {q['net_size']} px, {q['train_iters']} Adam steps, batch {q['batch']} "
             + ("unless the method column says otherwise, BatchNorm statistics re-estimated on 8 batches after "
                "training unless it says 'stale BN', " if recorded else "BatchNorm statistics as training left "
                "them, ") +
             f"λ = {q['lambda']} for the diversity run; TextureNet v1 (fully convolutional) sampled at {q['size']} "
             "px, v2 (fixed size) at its training size and shown "
             + ("as a mosaic of independent samples at their true scale (the seams are between samples)"
                if recorded else "enlarged (nearest neighbour)") +
             f"; scores are means over {q['samples']} samples. "
             "Colour-noise pixels: share of pixels whose channels differ by more than 0.15 (the grey exemplar: 0). "
             "Colour-histogram distance: total variation between joint 8×8×8 RGB histograms. Patch SW₂: sliced "
             "Wasserstein distance between 7×7 patch distributions (64 directions); at ¼ scale: the same after 4×4 "
             "average pooling of both images (7×7 patches then cover 28 px: the arrangement of bricks and stones, "
             "not only their edges). Mean-colour shift: distance "
             "between mean RGB colours. Grid strength: variance of the 64 phase means (i mod 8, j mod 8) over the "
             f"image variance (≈ 64/pixels for white noise: {64 / q['size'] ** 2:.4f} at {q['size']} px, "
             f"{64 / q['net_size'] ** 2:.4f} at {q['net_size']} px). "
             "Gram loss under a descriptor: "
             "L_T of that descriptor without smoothing, i.e. the other descriptor's view for the runs that "
             "optimised the other one. CPU budget, far below the thesis' (256 px, 2000 steps, GPU).", ""]
    for name, e in q["exemplars"].items():
        lines += [f"Exemplar `{name}`:", "", "| descriptor | method | seconds | " + " | ".join(head) + " |",
                  "|---" * (len(head) + 3) + "|",
                  f"| — | exemplar crop{' (the whole exemplar: 0 by construction)' if q['size'] >= q['exemplar_size'] else ''}"
                  " | — | " + " | ".join(cell(e["exemplar_scores"], c) for c in cols) + " |"]
        for label, runs in e["runs"].items():
            for method, r in runs.items():
                if "net_size" in r:
                    method += (f" ({r['net_size']} px, {r['train_iters']} steps, batch {r['batch']}"
                               f"{', stale BN' if not r['recalibrate'] else ''})")
                lines.append(f"| {label} | {method} | {r['seconds']:.0f} | " + " | ".join(cell(r, c) for c in cols)
                             + " |")
        gatys = {label: next(r for m, r in runs.items() if m.startswith("Gatys")) for label, runs in e["runs"].items()}
        before, after = gatys.get(next(iter(QUALITY_CONFIGS))), gatys.get(list(QUALITY_CONFIGS)[1])
        if before and after:
            lines += ["", f"Gatys with Lite0 on `{name}`: colour-noise pixels {before['colour_noise_fraction']:.0%} → "
                      f"{after['colour_noise_fraction']:.0%}, patch SW₂ {before['patch_swd']:.3g} → "
                      f"{after['patch_swd']:.3g}, Gram loss under vgg16-hed {before['gram_vgg16-hed']:.3g} → "
                      f"{after['gram_vgg16-hed']:.3g} (before → after)."]
        nets = {label: runs for label, runs in e["runs"].items() if "TextureNet v1" in runs}
        if len(nets) >= 2:
            (lb, rb), (la, ra) = list(nets.items())[:2]
            lines += ["", f"Texture networks on `{name}`, {lb} → {la}: " + "; ".join(
                f"{net}: patch SW₂ {rb[net]['patch_swd']:.3g} → {ra[net]['patch_swd']:.3g}, colour-histogram "
                f"distance {rb[net]['colour_histogram_distance']:.3g} → {ra[net]['colour_histogram_distance']:.3g}, "
                f"Gram loss under vgg16-hed {rb[net]['gram_vgg16-hed']:.3g} → {ra[net]['gram_vgg16-hed']:.3g}"
                for net in rb if net in ra and not net.startswith("Gatys")) + "."]
        lines += ["", f"![quality {name}]({sheet}_{name}.png)", ""]
    return lines + ["Paper: the thesis' and Gatys et al.'s textures (VGG-19, 256 px, GPU) have the exemplar's colours "
                    "and no pixel noise; the sheets show how far the CPU budget gets.", ""]


def v2_before_after(before: dict, after: dict) -> list[str]:
    """TextureNet v2 of the 'nets after' configuration of the main quality run (the thesis' network: noise only
    through the fully connected layers, plain sigmoid) against the same budget in ``after`` (stage noise and the
    leaky sigmoid, the defaults of new models since issue #16's fifth session)."""
    lines = []
    for name, e in after["exemplars"].items():
        old = before["exemplars"].get(name, {}).get("runs", {}).get("nets after: Lite0, 128 px, BN re-estimated", {})
        new = next(iter(e["runs"].values()))
        nets = [n for n in ("TextureNet v2", "TextureNet v2 + diversity") if n in old and n in new]
        if nets:
            lines += [f"TextureNet v2 on `{name}`, the thesis' network → stage noise and leaky sigmoid (same budget; "
                      "before: the `nets after` rows of the first quality table): " + "; ".join(
                          f"{n}: patch SW₂ {old[n]['patch_swd']:.3g} → {new[n]['patch_swd']:.3g}, colour-histogram "
                          f"distance {old[n]['colour_histogram_distance']:.3g} → "
                          f"{new[n]['colour_histogram_distance']:.3g}, grid strength {old[n]['grid_strength']:.3g} → "
                          f"{new[n]['grid_strength']:.3g}, Gram loss under vgg16-hed {old[n]['gram_vgg16-hed']:.3g} → "
                          f"{new[n]['gram_vgg16-hed']:.3g}" for n in nets) + ".", ""]
    return lines


def markdown(res: dict, command: str) -> str:
    lines = ["## Texture Networks: speed, diversity, instance normalisation, quality (thesis ch. 2-3)", ""]
    if "threads" in res:  # the shared header of the speed/diversity/norm parts
        lines += [f"Command: `{command}`", "",
                  f"CPU, {res['threads']} thread(s), load average at start {res['load_average']} (a shared "
                  f"machine); descriptor EfficientNet-Lite0, activation smoothing {res.get('smoothing') or 'none'}, "
                  f"texture taps {', '.join(res['texture_layers'])}, texture loss L_T = sum of per-layer relative "
                  f"Gram errors. Total wall time {res['seconds']:.0f} s. Other jobs shared the machine and its load "
                  "varied during the run, so timings taken minutes apart (e.g. the two sides of a speed-up) carry "
                  "that uncertainty.", ""]
    if "speed" in res:
        s = res["speed"]
        n = s["network"]
        lines += [f"### Speed (Fig. 2.6): exemplar `{s['exemplar']}` {s['exemplar_size']} px, images {s['size']} px",
                  "", f"texture_net trained {s['train']['iters']} steps, batch {s['train']['batch']} "
                  f"({s['train']['seconds']:.0f} s). The optimisation is timed until its [0, 1] image first reaches "
                  "the mean texture loss of the network's samples. Memory = peak increase of the resident memory of "
                  "a fresh process (with torch and netprior imported) while it loads what the method needs and "
                  "produces one image.", "",
                  "| method | texture loss L_T | seconds | iterations | peak memory MB | speed-up | paper |",
                  "|---|---|---|---|---|---|---|",
                  f"| texture_net, one sample (feed-forward) | {n['loss_mean']:.3g} (mean of {len(n['losses'])}) | "
                  f"{n['seconds_per_sample'] * 1000:.1f} ms | 1 forward | {n['memory_mb']:.0f} | 1 | "
                  f"~20 ms, 170 MB (GPU, 256 px) |"]
        for optimizer, o in s["optimisation"].items():
            if o["seconds_to_reach"] is not None:
                when, steps, speed = f"{o['seconds_to_reach']:.1f} s", o["reached_step"], f"**{o['speedup']:.0f}×**"
            else:
                when = f"not reached in {o['seconds']:.0f} s (final L_T {o['final_loss']:.3g})"
                steps, speed = f"> {o['iters']}", f"> {o['speedup_lower_bound']:.0f}×"
            lines.append(f"| Gatys et al., {optimizer} from noise, to the same L_T | ≤ {n['loss_mean']:.3g} | {when} | "
                         f"{steps} | {o['memory_mb']:.0f} | {speed} | ~10 s, 1100 MB, ~500× |")
        lines += ["", "![samples](texture_speed_samples.png)", ""]
    if "diversity" in res:
        d = res["diversity"]
        lines += [f"### Diversity (Fig. 3.5): exemplar `{d['exemplar']}`, {d['size']} px, {d['iters']} steps, "
                  f"batch {d['batch']}", "",
                  "| method | pairwise RMS distance | texture loss L_T | train seconds | parameters |",
                  "|---|---|---|---|---|"]
        for label, r in d["runs"].items():
            lines.append(f"| {label} | {r['pairwise_rms']:.4f} | {r['loss_mean']:.3g} | {r['train_seconds']:.0f} | "
                         f"{r['parameters']} |")
        lines += ["", "Paper (qualitative, Figs. 3.5, 3.7): V2 with λ = 0 collapses to nearly identical samples; "
                  "λ > 0 restores diversity; too large a λ trades texture loss for local brightness changes.", "",
                  "![diversity](texture_diversity.png)", ""]
    if "norm" in res:
        m = res["norm"]
        run = res.get("part_runs", {}).get("norm", {})
        lines += [f"### Instance vs batch normalisation (Figs. 3.3/3.4): StyleNet, style `{m['style']}`, pool of "
                  f"{len(m['pool'])}, {m['size']} px, {m['iters']} steps of batch {m.get('batch', 4)}, α = "
                  f"{m['alpha']}, descriptor "
                  f"{m.get('descriptor', 'lite0')}", ""]
        if run and run["command"] != command:
            lines += [f"Command: `{run['command']}`; CPU, {run['threads']} thread, load average at start "
                      f"{run['load_average']}, {run['seconds']:.0f} s. {m.get('architecture', '')}", ""]
        lines += [(f"| method | final training objective | test-time loss (pool) | test-time loss (held-out "
                   f"{m['held_out']}) | L_T pool: outputs / contents | colour-histogram distance to the style, "
                   "pool: outputs / contents | patch SW₂ to the style, pool: outputs / contents | train seconds |"),
                  "|---|---|---|---|---|---|---|---|"]
        for label, r in m["runs"].items():
            pool_eval = r["eval"]["train_pool"]
            style_stats = (f"{pool_eval['texture']:.3g} / {pool_eval['texture_of_content']:.3g} | "
                           f"{pool_eval['colour_hist_to_style']:.3f} / {pool_eval['colour_hist_content_to_style']:.3f}"
                           if "texture_of_content" in pool_eval else "— | —")
            style_stats += (f" | {pool_eval['patch_sw2_to_style']:.4f} / {pool_eval['patch_sw2_content_to_style']:.4f}"
                            if "patch_sw2_to_style" in pool_eval else " | —")
            lines.append(f"| {label} | {r['final_train_objective']:.3g} | {pool_eval['total']:.3g} | "
                         f"{r['eval']['held_out']['total']:.3g} | {style_stats} | {r['train_seconds']:.0f} |")
        lines += ["", ("Paper: IN converges faster and to a lower objective than BN (Fig. 3.3a) and stylises far "
                       "better (Fig. 3.3d/g, 3.4)."), ""]
        if m.get("reading"):
            lines += [f"Reading (the sheet looked at): {m['reading']}", ""]
        lines += ["![IN vs BN](texture_in_vs_bn.png)", ""]
    if "quality" in res:
        lines += quality_markdown(res["quality"], res["part_runs"]["quality"])
    for key in sorted(k for k in res if k.startswith("quality_") and k != "quality_descriptors"):
        lines += [f"Quality run `{key}` (`--quality-key {key}`; configurations without networks show only Gatys):",
                  ""]
        lines += quality_markdown(res[key], res["part_runs"][key], f"texture_{key}")
        if key == "quality_after" and "quality" in res:
            lines += v2_before_after(res["quality"], res[key])
    if "quality_descriptors" in res:  # an earlier quality run kept for its Gatys/descriptor rows
        lines += ["Earlier quality run, kept for its Gatys rows (start, descriptors; its networks were trained at "
                  "the old budget, 64 px, 80 steps, stale BatchNorm statistics):", ""]
        lines += quality_markdown(res["quality_descriptors"], res["part_runs"]["quality_descriptors"],
                                  "texture_quality_descriptors")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", default="speed,diversity,norm,quality",
                   help="parts to run; with only 'quality' (or none) the other parts' results are kept from "
                        "benchmarks/results/texture.json")
    p.add_argument("--exemplar", default="brick", help="skimage.data texture for the speed part")
    p.add_argument("--div-exemplar", default="gravel", help="skimage.data texture for the diversity part")
    p.add_argument("--exemplar-size", type=int, default=256, help="exemplar crop side (>= 147 px, the receptive "
                                                                  "field of lite0 block7)")
    p.add_argument("--size", type=int, default=96, help="sample / optimisation side (speed part)")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--train-iters", type=int, default=300)
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--lbfgs-iters", type=int, default=800)
    p.add_argument("--adam-iters", type=int, default=600)
    p.add_argument("--div-size", type=int, default=64)
    p.add_argument("--div-iters", type=int, default=150)
    p.add_argument("--v2-width", type=int, default=64)
    p.add_argument("--diversity", default="0.1,0.5", help="values of λ > 0 in eq. 3.10 (T = 1), comma-separated")
    p.add_argument("--style-size", type=int, default=64)
    p.add_argument("--style-iters", type=int, default=600)
    p.add_argument("--style-batch", type=int, default=2, help="StyleNet batch (norm part; >= 2 for batch norm); at "
                                                             "a fixed budget smaller batches and more steps fit the "
                                                             "style better (docs/methods/texture.md)")
    p.add_argument("--style-width", type=int, default=16)
    p.add_argument("--pool", type=int, default=8)
    p.add_argument("--alpha", type=float, default=1.0)
    p.add_argument("--norm-descriptor", default="lite0", help="descriptor of the norm part (lite0, vgg16-hed)")
    p.add_argument("--quality-size", type=int, default=128, help="image side of the quality part")
    p.add_argument("--quality-exemplars", default="brick,gravel", help="skimage.data textures of the quality part")
    p.add_argument("--quality-reuse", action="store_true",
                   help="keep the worker results of the same configurations already in benchmarks/out/texture")
    p.add_argument("--quality-iters", type=int, default=300, help="Gatys L-BFGS steps in the quality part")
    p.add_argument("--quality-train-iters", type=int, default=200, help="texture network steps (quality part)")
    p.add_argument("--quality-samples", type=int, default=4)
    p.add_argument("--quality-lambda", type=float, default=0.1, help="λ of the v2 + diversity run")
    p.add_argument("--quality-colour", type=float, default=1.0, help="colour-term weight of the v2 + diversity + "
                                                                     "colour run")
    p.add_argument("--quality-configs", default=";".join(QUALITY_CONFIGS),
                   help=f"';'-separated, from: {'; '.join(QUALITY_CONFIGS)}")
    p.add_argument("--quality-net-size", type=int, default=128, help="texture network side (quality part)")
    p.add_argument("--quality-gatys-only", default="", help="';'-separated configurations without texture networks")
    p.add_argument("--quality-adam-factor", type=int, default=3, help="Adam runs this many times the L-BFGS steps")
    p.add_argument("--quality-jobs", type=int, default=1, help="quality configurations run in parallel processes")
    p.add_argument("--quality-key", default="quality", help="key of the quality run in texture.json and prefix of "
                                                            "its sheets (another key keeps the 'quality' run)")
    p.add_argument("--quality-nets", default="TextureNet v1;TextureNet v2;TextureNet v2 + diversity",
                   help="';'-separated texture networks trained with every quality descriptor (also: "
                        "'TextureNet v2 + diversity + colour')")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared CPU)")
    p.add_argument("--progress", action="store_true")
    p.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    p.add_argument("--worker-args", help=argparse.SUPPRESS)
    p.add_argument("--worker-out", help=argparse.SUPPRESS)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.worker:
        result = WORKERS[args.worker](json.loads(args.worker_args))
        Path(args.worker_out).write_text(json.dumps(result))
        return

    from netprior.recipes.texture import Descriptor

    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/texture.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    t0 = time.perf_counter()
    parts = [part for part in args.parts.split(",") if part]  # none: only re-render texture.md from the JSON
    load = [round(v, 1) for v in os.getloadavg()]
    budget = {k: v for k, v in vars(args).items() if not k.startswith("worker")}
    descriptor = Descriptor()
    header = {"threads": args.threads, "load_average": load, "budget": budget,
              "texture_layers": list(descriptor.texture_layers), "smoothing": descriptor.smoothing}
    full = {"speed", "diversity", "norm"} <= set(parts)  # a full run sets the shared header
    new: dict = {"part_runs": {}}
    for part in parts:
        t_part = time.perf_counter()
        key = args.quality_key if part == "quality" else part
        new[key] = {"speed": part_speed, "diversity": part_diversity, "norm": part_norm,
                    "quality": part_quality}[part](args, descriptor)
        new["part_runs"][key] = {"command": command, "threads": args.threads, "load_average": load,
                                 "seconds": time.perf_counter() - t_part, "budget": budget}
        (WORK / f"part-{key}.json").write_text(json.dumps({key: new[key], "run": new["part_runs"][key]}))
        print(f"{part}: done after {time.perf_counter() - t0:.0f} s", flush=True)
    # Re-read the results just before writing: part runs started side by side keep each other's results.
    res = json.loads((RESULTS / "texture.json").read_text()) if (RESULTS / "texture.json").exists() else {}
    if full or "threads" not in res:
        res.update(header, seconds=time.perf_counter() - t0)
    res.update({k: v for k, v in new.items() if k != "part_runs"})
    res["part_runs"] = {**res.get("part_runs", {}), **new["part_runs"]}
    command = res["part_runs"].get("speed", {}).get("command", "python benchmarks/texture.py")
    (RESULTS / "texture.json").write_text(json.dumps(res, indent=1))
    (RESULTS / "texture.md").write_text(markdown(res, command))
    print(markdown(res, command))


if __name__ == "__main__":
    main()
