"""Natural pre-images as a function of depth (thesis §7.3.4, Fig. 7.9): TV prior (Mahendran & Vedaldi) vs Deep Image
Prior, on the reference notebook's images building.jpg and monkey.jpg (227×227), inverting Lite0 taps from shallow
to deep.  For each (image, prior, layer): relative feature error ||Φ(x) − Φ(x0)|| / ||Φ(x0)||, PSNR and SSIM of the
pre-image to the original, seconds, steps, peak memory; plus one Fig.-7.9-style grid per image.

Default budget (≈ 9 CPU-minutes, ≈ 5–10 min on 2 idle cores): images resized to 112 px, six taps, 150 Adam steps for
TV and 200 for DIP (the notebook runs 3100 DIP steps at 227 px on a GPU).

    .venv/bin/python benchmarks/preimage.py [--size 112] [--iters-tv 150] [--iters-dip 200] [--layers ...]

Writes benchmarks/results/preimage.json, preimage.md and preimage_<image>.png.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch

from netprior.backbones import get_backbone
from netprior.io import load_image
from netprior.recipes.preimage import PRESETS, PreImageGrid, Regularisers, feature_targets, invert
from netprior.report.preimage_grid import write_grid_figure
from netprior.inputs import resize_side
from netprior.report import versions

LAYERS = "stem,stage2,stage3,stage4,stage6,logits"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data/dip"))
    ap.add_argument("--images", default="building.jpg,monkey.jpg")
    ap.add_argument("--layers", default=LAYERS, help="Lite0 taps, shallow to deep")
    ap.add_argument("--size", type=int, default=112, help="resize the longer side to this (the originals are 227)")
    ap.add_argument("--iters-tv", type=int, default=150)
    ap.add_argument("--iters-dip", type=int, default=200)
    ap.add_argument("--dip-net", default="light")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    command = "python benchmarks/preimage.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    layers = args.layers.split(",")
    iters = {"tv": args.iters_tv, "dip": args.iters_dip}
    reg = Regularisers()
    bb = get_backbone("lite0")
    rows, figures = [], []
    t_start = time.time()
    for name in args.images.split(","):
        x0 = resize_side(load_image(args.data / name), args.size)
        targets = feature_targets(bb, x0, layers)
        grid = PreImageGrid(original=x0, layers=layers, priors=["tv", "dip"])
        for prior in grid.priors:
            grid.runs[prior] = {}
            for layer in layers:
                r = invert(x0, bb, layer, prior=prior, target=targets[layer], iters=iters[prior], regularisers=reg,
                           dip_net=args.dip_net, seed=args.seed, progress=False)
                grid.runs[prior][layer] = r
                rows.append({"image": name, "prior": prior, "layer": layer, **r.metrics, "steps": r.result.steps,
                             "seconds": round(r.result.seconds, 2),
                             "peak_memory_mb": round(r.result.peak_memory_mb, 1)})
                print(f"{name:13s} {prior:3s} {layer:7s} rel.err {r.metrics['relative_feature_error']:.3f}  "
                      f"PSNR {r.metrics['psnr']:5.2f}  SSIM {r.metrics['ssim']:.3f}  {r.result.seconds:6.1f} s",
                      flush=True)
        fig = args.out / f"preimage_{Path(name).stem}.png"
        write_grid_figure(fig, grid, title=f"{name} ({args.size} px): pre-images of Lite0 taps, rows = priors")
        figures.append(fig.name)
    budget = {"size": args.size, "iters": iters, "layers": layers, "images": args.images.split(","),
              "dip_net": args.dip_net, "regularisers": reg.__dict__, "seed": args.seed, "threads": args.threads,
              "wall_seconds": round(time.time() - t_start, 1)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "preimage.json").write_text(json.dumps({"command": command, "budget": budget, "rows": rows,
                                                        "figures": figures, "versions": versions()}, indent=2))
    (args.out / "preimage.md").write_text(markdown(command, budget, rows, layers, figures))
    print(f"wrote {args.out / 'preimage.json'}, {args.out / 'preimage.md'}, {', '.join(figures)}")


def markdown(command: str, budget: dict, rows: list[dict], layers: list[str], figures: list[str]) -> str:
    def mean(prior: str, layer: str, key: str) -> float:
        vals = [r[key] for r in rows if r["prior"] == prior and r["layer"] == layer]
        return sum(vals) / len(vals)

    lines = [
        "## Natural pre-images vs depth (Lite0; TV prior vs Deep Image Prior)",
        "",
        f"Command: `{command}`",
        "",
        f"Budget: images {', '.join(budget['images'])} resized to {budget['size']} px; Adam, {budget['iters']['tv']} "
        f"steps (TV, lr {PRESETS['tv'].lr}) / {budget['iters']['dip']} steps (DIP `{budget['dip_net']}` net, "
        f"lr {PRESETS['dip'].lr}); "
        f"λ_TV {budget['regularisers']['tv_weight']}, β {budget['regularisers']['tv_beta']}, "
        f"λ_α {budget['regularisers']['alpha_weight']}, α {budget['regularisers']['alpha']}; seed {budget['seed']}; "
        f"torch threads: {budget['threads']}; seconds are wall-clock on a 2-core machine shared with other jobs "
        f"(total {budget['wall_seconds']:.0f} s), so compare them only within this table.",
        "",
        "Paper: the thesis (Fig. 7.9) and the DIP paper show AlexNet pre-images qualitatively and give no number; "
        "Mahendran & Vedaldi's AlexNet errors are for a different network, so no paper number applies here.",
        "",
        "Mean over the two images — relative feature error ||Φ(x) − Φ(x0)|| / ||Φ(x0)|| (lower = the pre-image "
        "reproduces the representation) and PSNR to the original (higher = closer to the photo):",
        "",
        "| prior | metric | " + " | ".join(layers) + " |",
        "|---|---|" + "---|" * len(layers),
    ]
    for prior in ("tv", "dip"):
        lines.append(f"| {prior} | rel. error | " + " | ".join(f"{mean(prior, l, 'relative_feature_error'):.3f}"
                                                            for l in layers) + " |")
        lines.append(f"| {prior} | PSNR (dB) | " + " | ".join(f"{mean(prior, l, 'psnr'):.2f}" for l in layers) + " |")
        lines.append(f"| {prior} | SSIM | " + " | ".join(f"{mean(prior, l, 'ssim'):.3f}" for l in layers) + " |")
    better = {k: sum((mean("dip", l, k) < mean("tv", l, k)) == (k == "relative_feature_error") for l in layers)
              for k in ("relative_feature_error", "psnr", "ssim")}
    lines += ["", f"DIP vs TV over the {len(layers)} taps (means over the images): lower relative feature error at "
              f"{better['relative_feature_error']}, higher PSNR at {better['psnr']}, higher SSIM at {better['ssim']}.",
              "", "All runs:", "",
              "| image | method | layer | rel. feature error | PSNR (dB) | SSIM | TV (mean abs(∇x)) | seconds "
              "| iterations | peak memory (MB) | paper |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['image']} | {r['prior']} | {r['layer']} | {r['relative_feature_error']:.3f} | "
                     f"{r['psnr']:.2f} | {r['ssim']:.3f} | {r['total_variation']:.4f} | {r['seconds']:.1f} | "
                     f"{r['steps']} | {r['peak_memory_mb']:.0f} | — |")
    lines += ["", "Figures (rows = priors, columns = layers, Fig. 7.9 layout): "
              + ", ".join(f"`benchmarks/results/{f}`" for f in figures), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
